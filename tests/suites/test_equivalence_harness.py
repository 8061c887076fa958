"""The equivalence harness itself: every selected framework through the real harness, plus
proof that it catches a wrong implementation, fails on a missing framework, resumes through the
trial runner (recomputing after a source edit) and rebuilds reports/ only from the store."""

from __future__ import annotations

import argparse
import csv

import numpy as np
import pytest

import impls
from impls.registry import FrameworkUnavailableError
from suites import results as store
from suites.equivalence import cli, harness, report, trials
from tests.conftest import require_framework, selected_frameworks

FRAMEWORK_UNITS = [(f, u) for f in selected_frameworks() for u in impls.UNITS]


@pytest.mark.parametrize(("framework", "unit"), FRAMEWORK_UNITS, ids=[f"{f}-{u}" for f, u in FRAMEWORK_UNITS])
def test_every_cell_passes(framework: str, unit: str) -> None:
    """The parity matrix row of one unit in one framework: every dtype and mode, trajectories too."""
    require_framework(framework)
    backend = impls.load_backend(framework)
    rows = harness.run([framework], [unit])
    cells = harness.summarise(rows)
    assert set(cells) == {(unit, framework, d, m) for d in ("float32", "float64") for m in backend.MODES}
    failures = [f"{r.variant} {r.dtype} {r.mode} {r.check}: {r.rel_l2_err:.2e} > {r.tolerance:.0e}"
                for r in rows if not r.passed]
    assert not failures, "\n".join(failures)
    checks = {r.check.split(" |x|")[0] for r in rows}
    assert {"params: names, shapes, init", "forward", "grad x", "sgd losses", "adam final params"} <= checks


def _broken_forward(real):
    def forward(layer, x, mode="eager"):
        return real(layer, x, mode) * (1.0 + 1e-3)
    return forward


def test_a_wrong_forward_is_reported_as_failed(monkeypatch) -> None:
    backend = impls.load_backend("numpy")
    monkeypatch.setattr(backend, "forward", _broken_forward(backend.forward))
    rows = harness.run(["numpy"], ["tanh"], dtypes=("float64",), trajectories=False)
    failed = [r for r in rows if not r.passed]
    assert failed and all(r.check.startswith("forward") for r in failed)
    assert "**FAIL**" in report.parity_matrix(rows)
    assert report.summary_line(rows).startswith("1 (unit, framework, dtype, mode) cases ran: 0 passed, 1 failed")


def test_a_crash_is_a_failed_row_not_a_skip(monkeypatch) -> None:
    backend = impls.load_backend("numpy")

    def explode(layer, x, upstream, mode="eager"):
        raise RuntimeError("boom")

    monkeypatch.setattr(backend, "vjp", explode)
    rows = harness.run(["numpy"], ["relu"], dtypes=("float32",), trajectories=False)
    assert any("RuntimeError: boom" in r.check and not r.passed for r in rows)


def test_unknown_unit_mode_and_missing_framework_fail_loudly(monkeypatch) -> None:
    with pytest.raises(ValueError, match="unknown"):
        harness.plan(["numpy"], ["not_a_unit"])
    with pytest.raises(ValueError, match="unknown mode"):
        harness.plan(["numpy"], ["relu"], modes=["turbo"])

    def unavailable(name):
        raise FrameworkUnavailableError(f"framework {name!r} is not installed")

    monkeypatch.setattr(harness.impls, "load_backend", unavailable)
    with pytest.raises(FrameworkUnavailableError):
        harness.plan(["jax"], ["relu"])


def _args(results_dir, **overrides) -> argparse.Namespace:
    values = {"frameworks": "numpy", "units": "relu,tanh", "dtypes": "float64", "modes": None,
              "no_trajectories": True, "no_checkpoint": True, "checkpoint_oracle_rows": None,
              "fresh": False, "results_dir": results_dir, "data_dir": None, "reference_dir": None,
              "executor": "inline", "jobs": 1, "scheduler": None, "dask_workers": None, "out": None}
    values.update(overrides)
    return argparse.Namespace(**values)


REAL_CHECK_GROUP = harness.check_group


def _counting(monkeypatch, calls: list[tuple], fail_after: int | None = None) -> None:
    """Record every cell computed; raise KeyboardInterrupt once ``fail_after`` have run."""
    real = REAL_CHECK_GROUP

    def check_group(key, trajectories=True):
        if fail_after is not None and len(calls) >= fail_after:
            raise KeyboardInterrupt  # Ctrl-C mid-grid
        calls.append(key)
        return real(key, trajectories)

    monkeypatch.setattr(harness, "check_group", check_group)


def test_cli_resumes_an_interrupted_run_and_never_writes_reports(tmp_path, monkeypatch, capsys) -> None:
    """A run stopped after its first cell keeps that cell; the rerun computes only the rest."""
    monkeypatch.chdir(tmp_path)
    calls: list[tuple] = []
    _counting(monkeypatch, calls, fail_after=1)
    with pytest.raises(KeyboardInterrupt):
        cli.run_command(_args(None))  # default results dir: ./results
    assert len(store.load_records(tmp_path / "results")) == 1

    calls.clear()
    _counting(monkeypatch, calls)
    assert cli.run_command(_args(None)) == 0
    assert calls == [("tanh", "numpy", "float64", "eager")]
    out = capsys.readouterr().out
    assert "2 (unit, framework, dtype, mode) cases ran: 2 passed, 0 failed, 0 skipped" in out
    assert "| relu | pass" in out and "| tanh | pass" in out and "1 skipped" in out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results"]  # no reports/, no partial file
    rows = store.load_results(tmp_path / "results", suite="equivalence")
    assert set(rows.protocol) == {"parity"} and rows.passed.all()
    assert rows.metric.str.startswith("forward |x|~").any() and rows.tolerance.gt(0).any()


def test_a_resumed_run_after_a_source_edit_recomputes(tmp_path, monkeypatch) -> None:
    """The bug the runner exists to fix: cells from other code must never be reused."""
    package = tmp_path / "pkgs" / "nb_fake_backend"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("VERSION = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path / "pkgs"))
    real_code = trials.cell_code
    monkeypatch.setattr(trials, "cell_code", lambda framework: (*real_code(framework), "nb_fake_backend"))
    assert {"impls.numpy", "impls.spec", "impls.registry", "suites.equivalence.harness"} <= set(real_code("numpy"))
    assert "impls.torch" not in real_code("numpy")

    calls: list[tuple] = []
    _counting(monkeypatch, calls)
    args = _args(tmp_path / "results", units="relu")
    assert cli.run_command(args) == 0 and len(calls) == 1
    assert cli.run_command(args) == 0 and len(calls) == 1  # unchanged code: skipped
    (package / "__init__.py").write_text("VERSION = 2  # edited\n")
    assert cli.run_command(args) == 0
    assert calls == [("relu", "numpy", "float64", "eager")] * 2
    assert len(store.load_records(tmp_path / "results")) == 1  # the stale record is retired


def test_fresh_deletes_only_this_suites_records_and_a_held_directory_fails(tmp_path, monkeypatch, capsys) -> None:
    calls: list[tuple] = []
    _counting(monkeypatch, calls)
    assert cli.run_command(_args(tmp_path, units="relu")) == 0
    assert cli.run_command(_args(tmp_path, units="relu", fresh=True)) == 0
    assert len(calls) == 2
    with store.lock(tmp_path):
        assert cli.run_command(_args(tmp_path, units="relu")) == 2
    assert f"results directory {tmp_path} is in use" in capsys.readouterr().err


def test_write_report_rebuilds_reports_from_the_store(tmp_path, monkeypatch) -> None:
    results_dir, out = tmp_path / "results", tmp_path / "reports" / "equivalence"
    assert cli.run_command(_args(results_dir, units="relu,tanh")) == 0
    # a newer run of relu with trajectories: the report shows the newest trial of each cell
    assert cli.run_command(_args(results_dir, units="relu", no_trajectories=False)) == 0
    paths = report.write_report(results_dir, out)
    assert [p.name for p in paths] == ["rows.csv", "parity.md", "parity_heatmap.png",
                                       "parity_heatmap.pdf"]
    text = (out / "parity.md").read_text()
    assert "](parity_heatmap.png)" in text
    assert "| relu | pass" in text and "| tanh | pass" in text and "git sha" in text and "runs:" in text
    with (out / "rows.csv").open() as fh:
        rows = [harness.row_from_dict(r) for r in csv.DictReader(fh)]
    relu = [r for r in rows if r.unit == "relu"]
    assert any(r.check == "sgd losses" for r in relu)
    pairs = [(r.variant, r.dtype, r.mode, r.check) for r in relu]
    assert len(pairs) == len(set(pairs))  # one trial per cell, not the old and new run mixed
    assert all(np.isfinite(r.max_abs_err) for r in rows) and all(r.passed for r in rows)
    # a DataFrame works too (the report stage may filter first)
    frame = store.load_results(results_dir)
    report.write_report(frame[frame.unit == "tanh"], tmp_path / "only_tanh", provenance={"git sha": "x"})
    assert "| relu |" not in (tmp_path / "only_tanh" / "parity.md").read_text()


def test_checkpoint_trial_rows_round_trip_into_the_report(monkeypatch) -> None:
    from suites.equivalence import checkpoint
    from suites.equivalence.checkpoint import CheckpointResult

    monkeypatch.setattr(checkpoint, "evaluate", lambda frameworks, **kw: (
        9669, [CheckpointResult(frameworks[0], "float32", 9669, 10000, 3e-7)]))
    rows = trials.run_checkpoint({"framework": "numpy", "dtype": "float32", "oracle_rows": None})
    frame = store.rows_frame([{**r, "run_id": "r", "suite": "equivalence", "trial_key": "k"} for r in rows])
    oracle, results = report.checkpoint_from_frame(frame)
    assert oracle == 9669 and results == [CheckpointResult("numpy", "float32", 9669, 10000, 3e-7)]
    trial = trials.checkpoint_trial("numpy", 500)
    assert "torch" in trial.frameworks and "suites.data" in trial.code


def test_checkpoint_table_and_rows_round_trip() -> None:
    from suites.equivalence.checkpoint import CheckpointResult

    results = [CheckpointResult("numpy", "float32", 9669, 10000, 3e-7),
               CheckpointResult("jax", "float32", 9668, 10000, 3e-7)]
    table = report.checkpoint_table(9669, results)
    assert "| numpy | float32 | 9669/10000 | 3.0e-07 | 1e-04 | pass |" in table
    assert "| jax | float32 | 9668/10000 | 3.0e-07 | 1e-04 | **FAIL** |" in table
    row = harness.Row("relu", "relu[]", "numpy", "float64", "eager", "forward", 0.0, 1e-17, 1e-10, True)
    assert harness.row_from_dict({k: str(v) for k, v in row.as_dict().items()}) == row
    assert np.isinf(harness.row_from_dict({**row.as_dict(), "rel_l2_err": "inf"}).rel_l2_err)
