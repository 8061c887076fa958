"""Fault injection: a Dask worker and a pool worker SIGKILLed in the middle of a trial, a disk
that fills up while a record is written, two runs started at the same instant on one results
directory, and a report build that dies half-way.

Every test ends with the same check against an undisturbed run of the same grid: nothing lost
(every trial has one valid record), nothing duplicated (no other record, one row set per
trial), nothing half-written (no temporary file, every record passes its sha256), and rows
identical to the undisturbed run's (the run id aside).
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
import pytest

from suites import results as store
from suites.run import Trial, run_grid, trial_key
from tests.suites import fake_trials as ft

REPO = Path(__file__).resolve().parents[2]


# -- helpers ---------------------------------------------------------------------------------


@pytest.fixture
def log(tmp_path, monkeypatch) -> Path:
    """Where fake trials note who ran (``$FAKE_TRIALS_LOG``) and in which process
    (``$FAKE_TRIALS_PIDS``, the file beside it)."""
    monkeypatch.setenv("FAKE_TRIALS_LOG", str(tmp_path / "ran.log"))
    monkeypatch.setenv("FAKE_TRIALS_PIDS", str(tmp_path / "pids.log"))
    return tmp_path / "ran.log"


def ran(log: Path) -> list[str]:
    """Tags of the trials that started since the last call, in order (the log is emptied)."""
    lines = log.read_text().splitlines() if log.exists() else []
    log.unlink(missing_ok=True)
    return lines


def starts(pids: Path, tag: str) -> list[int]:
    """The pids of the processes that started trial ``tag``, in order."""
    lines = pids.read_text().splitlines() if pids.exists() else []
    return [int(pid) for name, pid in (line.split() for line in lines) if name == tag]


def comparable(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.drop(columns=["run_id"]).reset_index(drop=True)


def undisturbed(grid: Sequence[Trial], folder: Path) -> pd.DataFrame:
    """The rows of the grid run inline into a fresh folder, nothing injected."""
    summary = run_grid(grid, folder, executor="inline", progress="off")
    assert summary.ok == len(grid)
    return comparable(store.load_results(folder))


def assert_complete(results_dir: Path, grid: Sequence[Trial], clean: pd.DataFrame) -> None:
    """Nothing lost, nothing duplicated, nothing half-written, rows as undisturbed."""
    files = sorted((results_dir / "trials").glob("*.json"))
    assert sorted(p.stem for p in files) == sorted(trial_key(t) for t in grid)
    assert all((store.read_record(p) or {}).get("status") == "ok" for p in files)
    assert not [p for p in results_dir.rglob("*") if p.name.endswith(".tmp")]
    rows = store.load_results(results_dir)
    assert rows.groupby("trial_key").size().eq(2).all()  # fake trials return two rows each
    pd.testing.assert_frame_equal(comparable(rows), clean)


class Killer:
    """SIGKILLs the process running trial ``tag`` ``delay`` seconds after it started (the pid
    the trial wrote to ``$FAKE_TRIALS_PIDS``), the first time only: what the OOM killer or a
    pre-empted node does to a worker."""

    def __init__(self, pids: Path, tag: str, delay: float = 0.2, timeout: float = 60.0) -> None:
        self.pids, self.tag, self.delay, self.timeout = pids, tag, delay, timeout
        self.killed: int | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        deadline = time.monotonic() + self.timeout
        while not self._stop.is_set() and time.monotonic() < deadline:
            found = starts(self.pids, self.tag)
            if found:
                time.sleep(self.delay)
                os.kill(found[0], signal.SIGKILL)
                self.killed = found[0]
                return
            time.sleep(0.02)

    def join(self) -> int | None:
        """The pid it killed, or None if the trial never started."""
        self._stop.set()
        self._thread.join()
        return self.killed


def victim_grid(prefix: str) -> list[Trial]:
    """Four quick trials; the one tagged ``<prefix>1`` runs for 1.5 s, long enough to be killed
    in the middle."""
    return [ft.trial(x=x, tag=f"{prefix}{x}", sleep=1.5 if x == 1 else 0.05) for x in range(4)]


# -- worker kills ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dask_scheduler(tmp_path_factory):
    """A 2-worker LocalCluster (processes) whose scheduler gives up on a task the first time its
    worker dies (``allowed-failures`` 0, as some clusters are set), so the retry that saves the
    trial must be the runner's own. Its nannies start workers from this process, so the fake
    trials' log variables are set before the cluster starts."""
    import dask
    from distributed import LocalCluster

    folder = tmp_path_factory.mktemp("dask")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FAKE_TRIALS_LOG", str(folder / "ran.log"))
        patch.setenv("FAKE_TRIALS_PIDS", str(folder / "pids.log"))
        with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
            cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                   host="127.0.0.1", dashboard_address=None)
        try:
            yield cluster.scheduler_address, folder
        finally:
            cluster.close()


def test_sigkill_of_a_dask_worker_mid_trial_is_retried_and_rows_match(dask_scheduler, tmp_path) -> None:
    address, folder = dask_scheduler
    pids = folder / "pids.log"
    grid = victim_grid("d")
    killer = Killer(pids, "d1")
    summary = run_grid(grid, tmp_path / "dask", executor="dask", scheduler=address, progress="off")
    killed = killer.join()
    assert killed is not None, "the victim trial never started"
    assert (summary.ok, summary.failed) == (4, 0), summary.failures
    victim_starts = starts(pids, "d1")
    assert victim_starts[0] == killed and len(victim_starts) == 2 and victim_starts[1] != killed
    record = store.read_record(store.record_path(tmp_path / "dask", trial_key(grid[1])))
    assert record["attempts"] == 2 and record["pid"] == victim_starts[1]
    assert_complete(tmp_path / "dask", grid, undisturbed(grid, tmp_path / "clean"))


def test_sigkill_of_a_pool_worker_mid_trial_then_rerun_gives_the_undisturbed_rows(tmp_path, log) -> None:
    grid, results = victim_grid("p"), tmp_path / "pool"
    killer = Killer(tmp_path / "pids.log", "p1")
    first = run_grid(grid, results, executor="processes", jobs=1, progress="off")
    assert killer.join() is not None, "the victim trial never started"
    assert (first.ok, first.failed) == (3, 1)
    trials = store.load_trials(results).set_index("label")
    assert trials.loc["square p1", "status"] == "failed"
    assert "worker process died" in trials.loc["square p1", "error"]
    ran(log)

    again = run_grid(grid, results, executor="processes", jobs=1, progress="off")
    assert (again.ok, again.failed, again.skipped) == (1, 0, 3)
    assert ran(log) == ["p1"]  # only the killed trial runs again
    assert_complete(results, grid, undisturbed(grid, tmp_path / "clean"))


# -- a full disk -----------------------------------------------------------------------------


def test_a_full_disk_names_the_file_keeps_nothing_partial_and_a_rerun_completes(
        tmp_path, log, monkeypatch, capsys) -> None:
    grid, results = [ft.trial(x=x, tag=f"f{x}") for x in range(5)], tmp_path / "r"
    clean = undisturbed(grid, tmp_path / "clean")
    ran(log)
    real_write = store._write_data
    disk = {"records": 0, "full": False}

    def fills_up(fh, data: bytes) -> None:
        """Two records fit; the third gets half its bytes on disk, then ENOSPC, and the disk
        stays full (the run's closing manifest cannot be written either)."""
        if not disk["full"] and f"{os.sep}{store.TRIALS_DIR}{os.sep}" in fh.name:
            disk["records"] += 1
            disk["full"] = disk["records"] == 3
        if disk["full"]:
            real_write(fh, data[: len(data) // 2])
            fh.flush()
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_write(fh, data)

    monkeypatch.setattr(store, "_write_data", fills_up)
    with pytest.raises(store.StoreWriteError) as caught:
        run_grid(grid, results, executor="inline", progress="off")
    lost = store.record_path(results, trial_key(grid[2]))
    assert str(lost) in str(caught.value) and "disk full" in str(caught.value)
    assert caught.value.errno == errno.ENOSPC and caught.value.disk_full
    assert "was not updated" in capsys.readouterr().err  # the manifest failure is said, not raised
    assert ran(log) == ["f0", "f1", "f2"]  # the run stopped at the record it could not store
    assert not [p for p in results.rglob("*") if p.name.endswith(".tmp")]
    assert not lost.exists()
    stored = sorted((results / "trials").glob("*.json"))
    assert sorted(p.stem for p in stored) == sorted(trial_key(t) for t in grid[:2])
    assert all(store.read_record(p) is not None for p in stored)
    assert store.load_results(results).trial_key.nunique() == 2

    monkeypatch.setattr(store, "_write_data", real_write)  # space freed
    again = run_grid(grid, results, executor="inline", progress="off")
    assert (again.ok, again.skipped) == (3, 2) and ran(log) == ["f2", "f3", "f4"]
    assert_complete(results, grid, clean)


@pytest.mark.parametrize("command", ["runner", "accuracy"])
def test_a_full_disk_stops_a_command_with_the_message_not_a_traceback(tmp_path, monkeypatch, capsys,
                                                                       command) -> None:
    from suites import run
    from suites.cli import main

    def no_space(fh, data: bytes) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(store, "_write_data", no_space)
    results = tmp_path / "r"
    if command == "runner":
        code = run._main([str(results), "tests.suites.fake_trials:quick_grid"])
    else:
        code = main(["accuracy", "--protocol", "mnist-units", "--units", "relu", "--variants",
                     "equal-width", "--frameworks", "numpy", "--seeds", "1", "--executor", "inline",
                     "--results-dir", str(results)])
    out = capsys.readouterr()
    assert code == 4
    assert "disk full" in out.out + out.err and str(results / store.RUNS_DIR) in out.out + out.err
    assert "Traceback" not in out.out + out.err
    assert not (results / store.TRIALS_DIR).exists()  # it stopped before running a trial


# -- two runs at once ------------------------------------------------------------------------

#: A runner that imports everything, says so, then waits for "go" on stdin: both start the run
#: (and race for the lock) at the same instant, not one interpreter start-up apart.
RUNNER_ON_GO = ("import sys, suites.run as run; print('ready', flush=True); sys.stdin.readline(); "
                "sys.exit(run._main(sys.argv[1:]))")


def test_two_runs_started_together_one_proceeds_the_other_is_refused(tmp_path, log) -> None:
    results, grid = tmp_path / "r", ft.slow_grid()
    procs = [subprocess.Popen([sys.executable, "-c", RUNNER_ON_GO, str(results),
                               "tests.suites.fake_trials:slow_grid"],
                              cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True,
                              env={**os.environ, "PYTHONPATH": str(REPO)}) for _ in range(2)]
    for proc in procs:
        assert proc.stdout.readline().strip() == "ready"
    for proc in procs:
        proc.stdin.write("go\n")
        proc.stdin.flush()
    outputs = [proc.communicate(timeout=120) for proc in procs]
    codes = [proc.returncode for proc in procs]
    assert sorted(codes) == [0, 3], outputs
    _, refused_err = outputs[codes.index(3)]
    assert "in use by another run" in refused_err and str(results) in refused_err
    assert sorted(ran(log)) == sorted(t.config["tag"] for t in grid)  # each trial ran once
    (manifest,) = store.load_manifests(results)  # the refused run wrote nothing
    assert manifest["state"] == "finished"
    assert_complete(results, grid, undisturbed(grid, tmp_path / "clean"))


# -- an interrupted report -------------------------------------------------------------------


def digests(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def _small(**changes):
    from tests.report.synthetic import make_results

    return make_results(seeds=2, epochs=3, **changes)


#: Rows that change every table and figure of the small report (a framework trains worse).
CHANGED = {"bad_framework": "jax", "bad_unit": "relu", "bad_drop": 0.09}


@pytest.fixture(scope="module")
def reports(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """A report built from the small synthetic rows (the "previous" report), and the digests of
    an undisturbed build of the changed rows into a fresh folder."""
    from suites.report import build_report
    from tests.report.synthetic import MANIFESTS

    root = tmp_path_factory.mktemp("reports")
    build_report(_small(), root / "previous", manifests=MANIFESTS)
    build_report(_small(**CHANGED), root / "undisturbed", manifests=MANIFESTS)
    return root / "previous", digests(root / "undisturbed")


def test_an_exception_mid_report_leaves_the_previous_report_and_a_rerun_matches(
        reports, tmp_path, monkeypatch) -> None:
    from suites.report import build_report, figures
    from tests.report.synthetic import MANIFESTS

    previous, undisturbed_build = reports
    out = tmp_path / "reports"
    shutil.copytree(previous, out)
    before = digests(out)
    assert before != undisturbed_build
    real_figures = figures.write_figures

    def fail_after_drawing(df, folder):
        real_figures(df, folder)  # the tables and these figures are written by now
        raise RuntimeError("injected failure while the report is written")

    monkeypatch.setattr(figures, "write_figures", fail_after_drawing)
    with pytest.raises(RuntimeError, match="injected"):
        build_report(_small(**CHANGED), out, manifests=MANIFESTS)
    assert digests(out) == before  # every file as it was, no half-new report, no leftovers

    monkeypatch.setattr(figures, "write_figures", real_figures)
    build_report(_small(**CHANGED), out, manifests=MANIFESTS)
    assert digests(out) == undisturbed_build


#: A report build that SIGKILLs itself once it has drawn two figures (four files).
KILLED_BUILD = """
import os, signal, sys
from suites.report import build_report, style
from tests.report.synthetic import MANIFESTS, make_results
real, saved = style.save_figure, []
def save_then_die(*args, **kwargs):
    paths = real(*args, **kwargs)
    saved.extend(paths)
    if len(saved) >= 4:
        os.kill(os.getpid(), signal.SIGKILL)
    return paths
style.save_figure = save_then_die
build_report(make_results(seeds=2, epochs=3, bad_framework="jax", bad_unit="relu", bad_drop=0.09),
             sys.argv[1], manifests=MANIFESTS)
"""


def test_a_report_build_killed_mid_write_leaves_the_previous_report_and_a_rerun_matches(
        reports, tmp_path) -> None:
    from suites.report import build_report
    from suites.report.stage import STAGING_PREFIX
    from tests.report.synthetic import MANIFESTS

    previous, undisturbed_build = reports
    out = tmp_path / "reports"
    shutil.copytree(previous, out)
    before = digests(out)
    proc = subprocess.run([sys.executable, "-c", KILLED_BUILD, str(out)], cwd=REPO, capture_output=True,
                          text=True, env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=300)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    left = {k: v for k, v in digests(out).items() if not k.startswith(STAGING_PREFIX)}
    assert left == before  # the killed build changed nothing the report holds
    (abandoned,) = out.glob(f"{STAGING_PREFIX}*")  # it was killed while writing, not before
    assert any(p.suffix == ".png" for p in abandoned.rglob("*"))

    build_report(_small(**CHANGED), out, manifests=MANIFESTS)
    assert not abandoned.exists()  # the next build cleans up after the killed one
    assert digests(out) == undisturbed_build
