"""The equivalence harness itself: every selected framework through the real harness, plus
proof that it catches a wrong implementation, fails on a missing framework and resumes."""

from __future__ import annotations

import argparse

import numpy as np
import pytest

import impls
from impls.registry import FrameworkUnavailableError
from suites.equivalence import cli, harness, report
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


def _args(out, **overrides) -> argparse.Namespace:
    values = {"frameworks": "numpy", "units": "relu,tanh", "dtypes": "float64", "modes": None,
              "no_trajectories": True, "no_checkpoint": True, "checkpoint_oracle_rows": None,
              "fresh": False, "out": out, "data_dir": None}
    values.update(overrides)
    return argparse.Namespace(**values)


def test_cli_resumes_an_interrupted_run(tmp_path, monkeypatch, capsys) -> None:
    """A run killed after its first cell keeps that cell; the rerun computes only the rest."""
    real = harness.check_group
    calls: list[tuple] = []

    def interrupted(key, trajectories=True):
        if calls:
            raise KeyboardInterrupt
        calls.append(key)
        return real(key, trajectories)

    monkeypatch.setattr(harness, "check_group", interrupted)
    with pytest.raises(KeyboardInterrupt):
        cli.run_command(_args(tmp_path))
    assert (tmp_path / cli.PARTIAL_NAME).is_file()

    calls.clear()
    monkeypatch.setattr(harness, "check_group", lambda key, trajectories=True: calls.append(key) or real(key, trajectories))
    assert cli.run_command(_args(tmp_path)) == 0
    assert calls == [("tanh", "numpy", "float64", "eager")]
    assert not (tmp_path / cli.PARTIAL_NAME).exists()
    out = capsys.readouterr().out
    assert "2 (unit, framework, dtype, mode) cases ran: 2 passed, 0 failed, 0 skipped" in out
    text = (tmp_path / "parity.md").read_text()
    assert "| relu | pass" in text and "| tanh | pass" in text and "git sha" in text


def test_cli_does_not_reuse_cells_from_other_options(tmp_path, monkeypatch) -> None:
    partial = tmp_path / cli.PARTIAL_NAME
    partial.write_text('{"git sha": "someone else", "trajectories": false}\n'
                       '{"key": ["relu", "numpy", "float64", "eager"], "rows": []}\n')
    calls: list[tuple] = []
    real = harness.check_group
    monkeypatch.setattr(harness, "check_group", lambda key, trajectories=True: calls.append(key) or real(key, trajectories))
    assert cli.run_command(_args(tmp_path, units="relu")) == 0
    assert calls == [("relu", "numpy", "float64", "eager")]


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
