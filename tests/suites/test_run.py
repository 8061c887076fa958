"""The trial runner (suites/run.py): skip-finished resume, atomic records, code fingerprints,
the results-directory lock, failures and divergence, SIGKILL recovery and the executors."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from suites import results as store
from suites.run import ResultsLocked, Trial, code_fingerprint, run_grid, trial_key
from tests.suites import fake_trials as ft

REPO = Path(__file__).resolve().parents[2]
RUN_COLUMNS = ["run_id"]


@pytest.fixture
def log(tmp_path, monkeypatch) -> Path:
    """File every fake trial appends its tag to (in any process): who ran, in order."""
    path = tmp_path / "ran.log"
    monkeypatch.setenv("FAKE_TRIALS_LOG", str(path))
    return path


def ran(log: Path) -> list[str]:
    lines = log.read_text().splitlines() if log.exists() else []
    log.unlink(missing_ok=True)
    return lines


def comparable(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.drop(columns=RUN_COLUMNS).reset_index(drop=True)


def test_finished_trials_are_skipped_failed_ones_retried(tmp_path, log) -> None:
    grid = [ft.trial(x=1, tag="a"), ft.trial(x=2, tag="b"), ft.trial("boom", x=3, tag="c")]
    first = run_grid(grid, tmp_path / "r", executor="inline", progress="off")
    assert (first.ok, first.failed, first.diverged, first.skipped) == (2, 1, 0, 0)
    assert ran(log) == ["a", "b", "c"]
    trials = store.load_trials(tmp_path / "r")
    failed = trials[trials.status == "failed"].iloc[0]
    assert "RuntimeError: boom 3" in failed.error and "Traceback" in failed.error
    assert failed.label == "boom c"

    second = run_grid(grid, tmp_path / "r", executor="inline", progress="off")
    assert (second.ok, second.failed, second.skipped) == (0, 1, 2)
    assert ran(log) == ["c"]  # only the failed trial is retried
    assert second.failures and second.failures[0][2] == "RuntimeError: boom 3"
    rows = store.load_results(tmp_path / "r")
    assert sorted(rows.metric) == ["cube", "cube", "square", "square"]  # failed: no rows
    assert set(rows.status) == {"ok"} and rows.trial_key.nunique() == 2


def test_diverged_is_a_final_result_with_epoch_and_rows(tmp_path, log) -> None:
    summary = run_grid([ft.trial("diverge", x=1, tag="d")], tmp_path, executor="inline", progress="off")
    assert summary.diverged == 1
    trials = store.load_trials(tmp_path)
    assert trials.status.tolist() == ["diverged"] and trials.diverged_epoch.tolist() == [3]
    rows = store.load_results(tmp_path)
    assert rows.epoch.tolist() == [1, 2] and set(rows.status) == {"diverged"}
    again = run_grid([ft.trial("diverge", x=1, tag="d")], tmp_path, executor="inline", progress="off")
    assert again.skipped == 1 and ran(log) == ["d"]


def test_records_are_self_checking_and_a_torn_one_is_recomputed(tmp_path, log) -> None:
    grid = [ft.trial(x=x, tag=f"x{x}") for x in range(3)]
    summary = run_grid(grid, tmp_path, executor="inline", progress="off")
    ran(log)
    records = sorted((tmp_path / "trials").glob("*.json"))
    assert [p.stem for p in records] == sorted(summary.keys)
    payload = json.loads(records[0].read_text())["payload"]
    for field in ("key", "suite", "fn", "config", "fingerprint", "status", "rows", "error",
                  "diverged_epoch", "started", "finished", "wall_s", "host", "pid", "run_id"):
        assert field in payload
    torn = records[1]
    torn.write_bytes(torn.read_bytes()[: torn.stat().st_size // 2])
    before = comparable(store.load_results(tmp_path).query("trial_key != @torn.stem"))
    again = run_grid(grid, tmp_path, executor="inline", progress="off")
    assert (again.ok, again.skipped) == (1, 2)
    torn_tag = next(t.config["tag"] for t in grid if trial_key(t) == torn.stem)
    assert ran(log) == [torn_tag]
    after = store.load_results(tmp_path)
    assert after.trial_key.nunique() == 3
    pd.testing.assert_frame_equal(comparable(after.query("trial_key != @torn.stem")), before)


def test_editing_listed_source_recomputes(tmp_path, log, monkeypatch) -> None:
    package = tmp_path / "pkgs" / "nb_fake_impl"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "maths.py").write_text("SCALE = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path / "pkgs"))
    grid = [ft.trial(x=2, tag="t", code=(*ft.CODE, "nb_fake_impl"))]
    results_dir = tmp_path / "r"
    first = run_grid(grid, results_dir, executor="inline", progress="off")
    assert run_grid(grid, results_dir, executor="inline", progress="off").skipped == 1
    ran(log)

    (package / "maths.py").write_text("SCALE = 2  # edited\n")
    edited = run_grid(grid, results_dir, executor="inline", progress="off")
    assert edited.keys != first.keys and (edited.ok, edited.skipped) == (1, 0)
    assert ran(log) == ["t"]
    # the record made by the old code is retired, never reused or mixed in
    assert store.load_results(results_dir).trial_key.unique().tolist() == list(edited.keys)
    assert (results_dir / "trials" / "superseded" / f"{first.keys[0]}.json").is_file()
    # a new file in the package counts too, and the fingerprint does not import the package
    before = code_fingerprint(["nb_fake_impl"])
    (package / "extra.py").write_text("")
    assert code_fingerprint(["nb_fake_impl"]) != before
    assert "nb_fake_impl" not in sys.modules
    with pytest.raises(ValueError, match="nb_no_such_package"):
        code_fingerprint(["nb_no_such_package"])


def test_framework_versions_enter_the_key() -> None:
    with_numpy = Trial("fake", "tests.suites.fake_trials:square", {"x": 1}, ft.CODE, ("numpy",))
    without = Trial("fake", "tests.suites.fake_trials:square", {"x": 1}, ft.CODE, ())
    assert trial_key(with_numpy) != trial_key(without)
    # configs are frozen and normalised: key order and tuples vs lists do not matter
    a = Trial("fake", "m:f", {"b": [1, 2], "a": 1}, ft.CODE)
    b = Trial("fake", "m:f", {"a": 1, "b": (1, 2)}, ft.CODE)
    assert a == b and hash(a) == hash(b) and trial_key(a) == trial_key(b)
    with pytest.raises(TypeError):
        a.config["a"] = 2  # type: ignore[index]
    with pytest.raises(TypeError, match="JSON"):
        Trial("fake", "m:f", {"x": object()}, ft.CODE)


def test_rows_outside_the_schema_fail_the_trial(tmp_path) -> None:
    summary = run_grid([ft.trial("unknown_column", x=1)], tmp_path, executor="inline", progress="off")
    assert summary.failed == 1
    error = store.load_trials(tmp_path).error.iloc[0]
    assert "unknown column(s) colour" in error


def _runner(results_dir: Path, grid: str, **kwargs) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "suites.run", str(results_dir), grid, *kwargs.get("args", [])],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True, env={**os.environ, "PYTHONPATH": str(REPO)})


def test_a_second_run_on_the_same_directory_is_refused(tmp_path) -> None:
    with store.lock(tmp_path):
        proc = _runner(tmp_path, "tests.suites.fake_trials:quick_grid")
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 3
        assert str(tmp_path) in err and f"pid {os.getpid()}" in err
        with pytest.raises(ResultsLocked, match="in use by another run"):
            run_grid(ft.quick_grid(), tmp_path, executor="inline", progress="off")
    # released when the holder lets go (or dies): the next run proceeds
    assert run_grid(ft.quick_grid(), tmp_path, executor="inline", progress="off").ok == 1


def test_sigkill_mid_grid_then_rerun_gives_the_undisturbed_rows(tmp_path, log) -> None:
    killed, clean = tmp_path / "killed", tmp_path / "clean"
    proc = _runner(killed, "tests.suites.fake_trials:slow_grid")
    deadline = time.monotonic() + 60
    while len(list((killed / "trials").glob("*.json"))) < 2:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "runner produced no records"
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate()
    done_before = {p.stem for p in (killed / "trials").glob("*.json")}
    assert 2 <= len(done_before) < 6
    ran(log)

    resumed = run_grid(ft.slow_grid(), killed, executor="inline", progress="off")
    assert resumed.skipped == len(done_before) and resumed.ok == 6 - len(done_before)
    assert len(ran(log)) == 6 - len(done_before)
    run_grid(ft.slow_grid(), clean, executor="inline", progress="off")
    pd.testing.assert_frame_equal(comparable(store.load_results(killed)),
                                  comparable(store.load_results(clean)))
    states = [m["state"] for m in store.load_manifests(killed)]
    assert states == ["running", "finished"]  # the killed run's manifest says so


def test_process_pool_matches_inline_and_survives_a_worker_crash(tmp_path, log) -> None:
    grid = [ft.trial(x=1, tag="a"), ft.trial("crash", x=2, tag="crash"), ft.trial(x=3, tag="b"),
            ft.trial(x=4, tag="c")]
    summary = run_grid(grid, tmp_path / "pool", executor="processes", jobs=2, progress="off")
    assert (summary.ok, summary.failed) == (3, 1)
    trials = store.load_trials(tmp_path / "pool").set_index("label")
    assert "worker" in trials.loc["crash crash", "error"]
    assert {"a", "b", "c"} <= set(ran(log))
    ok_grid = [t for t in grid if t.fn.endswith("square")]
    run_grid(ok_grid, tmp_path / "inline", executor="inline", progress="off")
    pd.testing.assert_frame_equal(comparable(store.load_results(tmp_path / "pool")),
                                  comparable(store.load_results(tmp_path / "inline")))
    pids = {json.loads(p.read_text())["payload"]["pid"] for p in (tmp_path / "pool" / "trials").glob("*.json")}
    assert os.getpid() not in pids


def test_dask_local_cluster_matches_the_local_executor(tmp_path) -> None:
    pytest.importorskip("distributed")
    grid = [ft.trial(x=x, tag=f"x{x}") for x in range(4)]
    summary = run_grid(grid, tmp_path / "dask", executor="dask", dask_workers=2, progress="off")
    assert summary.ok == 4
    run_grid(grid, tmp_path / "local", executor="inline", progress="off")
    pd.testing.assert_frame_equal(comparable(store.load_results(tmp_path / "dask")),
                                  comparable(store.load_results(tmp_path / "local")))


def test_plain_progress_and_the_run_manifest(tmp_path, capsys) -> None:
    grid = [ft.trial(x=1, label="mnist-units relu/torch seed 1"), ft.trial("boom", x=2, label="b")]
    run_grid(grid, tmp_path, executor="inline", progress="plain", run_config={"profile": "quick"})
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("[1/2] fake mnist-units relu/torch seed 1: ok in ") and err[0].endswith(" s")
    assert err[1].startswith("[2/2] fake b: failed in ")
    (manifest,) = store.load_manifests(tmp_path)
    assert manifest["state"] == "finished" and manifest["run_config"] == {"profile": "quick"}
    assert manifest["counts"] == {"ok": 1, "failed": 1, "diverged": 0, "skipped": 0}
    info = manifest["provenance"]
    for key in ("git_sha", "git_dirty", "python", "cpu_model", "threads", "precision", "packages"):
        assert key in info
    assert info["threads"]["os.cpu_count"] == os.cpu_count()
    assert manifest["started"] <= manifest["finished"]


def test_settings_resolve_frameworks_reference_and_results(tmp_path, monkeypatch) -> None:
    from impls.registry import FRAMEWORKS
    from suites import settings

    monkeypatch.delenv(settings.ENV_FRAMEWORKS, raising=False)
    assert settings.frameworks() == FRAMEWORKS
    monkeypatch.setenv(settings.ENV_FRAMEWORKS, "torch, numpy,torch")
    assert settings.frameworks() == ("torch", "numpy")  # duplicates dropped, order kept
    assert settings.frameworks("jax") == ("jax",)  # the option wins over the environment
    with pytest.raises(ValueError, match="names no framework"):
        settings.frameworks(" , ")
    with pytest.raises(ValueError, match="unknown framework"):
        settings.frameworks("pytorch")

    monkeypatch.delenv(settings.ENV_REFERENCE, raising=False)
    assert settings.reference_root() == REPO.parent / "shared" / "reference"
    monkeypatch.setenv(settings.ENV_REFERENCE, str(tmp_path / "env"))
    assert settings.reference_root() == tmp_path / "env"
    assert settings.reference_root(tmp_path / "opt") == tmp_path / "opt"

    monkeypatch.delenv(settings.ENV_RESULTS, raising=False)
    monkeypatch.chdir(tmp_path)
    assert settings.results_dir() == tmp_path / "results"
    monkeypatch.setenv(settings.ENV_RESULTS, "elsewhere")
    assert settings.results_dir() == tmp_path / "elsewhere"
    assert settings.results_dir(tmp_path / "opt") == tmp_path / "opt"


def test_a_pool_broken_at_submit_requeues_that_trial_and_returns_the_suspects() -> None:
    """The race the crash test once hit: a worker dies while a finished trial is recorded, and
    the next submit raises BrokenProcessPool. That trial never started (back to the queue); the
    one still in flight is the suspect."""
    from collections import deque
    from types import SimpleNamespace

    from suites.run import _window

    class Broken(Exception):
        pass

    submitted: list[str] = []

    def submit(planned):
        if len(submitted) == 2:
            raise Broken("pool broken")
        submitted.append(planned)
        return f"future-{planned}"

    recorded: list[str] = []

    class Record:
        progress = SimpleNamespace(start=lambda planned: None)

        def __call__(self, planned, outcome):
            recorded.append(planned)

    queue = deque(["a", "crash", "b", "c"])
    suspects = _window(queue, 2, submit, lambda futures: [futures[0]], lambda future: {"ok": future},
                       Record(), broken=Broken)
    assert recorded == ["a"] and suspects == ["crash"] and list(queue) == ["b", "c"]
