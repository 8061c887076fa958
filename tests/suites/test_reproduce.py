"""``neuronbench reproduce``: which stages run, with which arguments, and what it records."""

from __future__ import annotations

import argparse

from suites import reproduce
from suites.stages import STAGES


def _args(tmp_path, **overrides) -> argparse.Namespace:
    values = {"profile": "quick", "frameworks": "numpy,tf", "data_dir": tmp_path / "data",
              "no_download": True, "results_dir": tmp_path / "results", "out": tmp_path / "reports",
              "jobs": 1, "stages": None}
    values.update(overrides)
    return argparse.Namespace(**values)


def test_runs_built_stages_and_names_the_missing_ones(tmp_path, monkeypatch, capsys) -> None:
    calls: list[list[str]] = []
    monkeypatch.setattr("suites.cli.main", lambda argv: calls.append(list(argv)) or 0)
    assert reproduce.run_command(_args(tmp_path)) == 0
    by_stage = {argv[0]: argv for argv in calls}
    assert by_stage["data"] == ["data", "verify", "--data-dir", str(tmp_path / "data"), "--no-download"]
    # The full matrix in every profile, into the results store; never into reports/.
    from suites.stages import parity_jobs

    jobs = str(parity_jobs(reproduce.StageOptions("quick", ("numpy",), None, False, tmp_path, tmp_path, 1)))
    assert by_stage["equivalence"] == ["equivalence", "--frameworks", "numpy,tf", "--results-dir",
                                       str(tmp_path / "results"), "--jobs", jobs,
                                       "--data-dir", str(tmp_path / "data"), "--no-download"]
    stages = (tmp_path / "reports" / "STAGES.md").read_text()
    printed = capsys.readouterr().out
    assert "| equivalence | ok |" in stages
    for stage in STAGES:
        if not stage.available():
            assert f"| {stage.name} | not built yet |" in stages
            assert f"stage {stage.name!r}: not built yet" in printed


def test_a_failed_stage_fails_the_run(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr("suites.cli.main", lambda argv: 1 if argv[0] == "equivalence" else 0)
    assert reproduce.run_command(_args(tmp_path, frameworks="numpy")) == 1
    assert "| equivalence | FAILED (exit 1) |" in (tmp_path / "reports" / "STAGES.md").read_text()


def test_the_equivalence_stage_arguments_parse(tmp_path, monkeypatch) -> None:
    """The argv reproduce builds for the equivalence stage is accepted by its real parser."""
    from suites.cli import build_parser

    calls: list[list[str]] = []
    monkeypatch.setattr("suites.cli.main", lambda argv: calls.append(list(argv)) or 0)
    reproduce.run_command(_args(tmp_path, frameworks="numpy"))
    argv = next(a for a in calls if a[0] == "equivalence")
    parsed = build_parser().parse_args(argv)
    assert parsed.frameworks == "numpy" and parsed.results_dir == tmp_path / "results"
    assert parsed.handler.__module__ == "suites.equivalence.cli"


def test_a_crashing_stage_is_a_failed_row_not_a_traceback(tmp_path, monkeypatch) -> None:
    def crash(argv):
        if argv[0] == "accuracy":
            raise RuntimeError("disk on fire")
        return 0

    monkeypatch.setattr("suites.cli.main", crash)
    assert reproduce.run_command(_args(tmp_path, frameworks="numpy")) == 1
    stages = (tmp_path / "reports" / "STAGES.md").read_text()
    assert "| accuracy | FAILED (RuntimeError: disk on fire) |" in stages
    assert "| report | ok |" in stages  # later stages still run on what exists


def test_every_stage_argv_parses_and_carries_the_data_options(tmp_path, monkeypatch) -> None:
    from suites.cli import build_parser

    calls: list[list[str]] = []
    monkeypatch.setattr("suites.cli.main", lambda argv: calls.append(list(argv)) or 0)
    reproduce.run_command(_args(tmp_path, frameworks="numpy,jax", profile="paper"))
    parser = build_parser()
    for argv in calls:
        parsed = parser.parse_args(argv)
        if argv[0] in ("data", "equivalence", "accuracy"):
            assert str(parsed.data_dir) == str(tmp_path / "data") and parsed.no_download, argv
    accuracy = parser.parse_args(next(a for a in calls if a[0] == "accuracy"))
    assert accuracy.profile == "paper" and accuracy.frameworks == "numpy,jax"
    assert accuracy.results_dir == tmp_path / "results"
    report = parser.parse_args(next(a for a in calls if a[0] == "report"))
    assert report.results_dir == tmp_path / "results" and report.out == tmp_path / "reports"
    perf = parser.parse_args(next(a for a in calls if a[0] == "perf"))
    assert perf.frameworks == "numpy,jax" and perf.results_dir == tmp_path / "results"
    assert not perf.quick                    # the paper profile times the full grid


def test_the_quick_profile_times_the_quick_performance_grid(tmp_path, monkeypatch) -> None:
    calls: list[list[str]] = []
    monkeypatch.setattr("suites.cli.main", lambda argv: calls.append(list(argv)) or 0)
    reproduce.run_command(_args(tmp_path, frameworks="numpy"))
    perf = next(a for a in calls if a[0] == "perf")
    assert "--quick" in perf
    # the performance stage runs after the accuracy stages and before the report
    order = [a[0] if a[0] != "accuracy" else "accuracy" for a in calls]
    assert order.index("perf") > order.index("accuracy") and order.index("perf") < order.index("report")


def test_unknown_stage_is_refused(tmp_path) -> None:
    import pytest

    with pytest.raises(SystemExit, match="unknown or empty --stages"):
        reproduce.run_command(_args(tmp_path, stages="equivalence,notebook"))


def test_quick_profile_runs_the_costly_protocols_in_two_frameworks(tmp_path, monkeypatch) -> None:
    calls: list[list[str]] = []
    monkeypatch.setattr("suites.cli.main", lambda argv: calls.append(list(argv)) or 0)
    reproduce.run_command(_args(tmp_path, frameworks="numpy,torch,jax,tf"))
    frameworks = {(a[0], a[a.index("--protocol") + 1] if "--protocol" in a else None):
                  a[a.index("--frameworks") + 1] for a in calls if "--frameworks" in a}
    assert frameworks[("accuracy", None)] == "numpy,torch,jax,tf"
    assert frameworks[("accuracy", "uci-actmix")] == "numpy,torch"
    assert frameworks[("accuracy", "cifar10")] == "torch,jax"
    calls.clear()
    reproduce.run_command(_args(tmp_path, frameworks="numpy,torch,jax,tf", profile="paper"))
    assert all(a[a.index("--frameworks") + 1] == "numpy,torch,jax,tf" for a in calls
               if "--frameworks" in a)


def test_the_summary_counts_what_each_stage_produced(tmp_path, monkeypatch) -> None:
    """Trial counts are read from the run manifests a stage wrote, not assumed."""
    import json

    def fake(argv):
        if argv[0] == "equivalence":
            runs = tmp_path / "results" / "runs"
            runs.mkdir(parents=True, exist_ok=True)
            (runs / "r1.json").write_text(json.dumps({"counts": {"ok": 3, "skipped": 5, "failed": 1,
                                                                  "diverged": 0}}))
        if argv[0] == "report":
            (tmp_path / "reports" / "tables").mkdir(parents=True, exist_ok=True)
            (tmp_path / "reports" / "tables" / "t.md").write_text("x")
        return 0

    monkeypatch.setattr("suites.cli.main", fake)
    reproduce.run_command(_args(tmp_path, frameworks="numpy"))
    summary = {s["stage"]: s for s in json.loads((tmp_path / "results" / "stages.json").read_text())["stages"]}
    assert summary["equivalence"]["produced"] == "3 trials run, 5 finished earlier, 1 failed"
    assert summary["accuracy"]["produced"] == "0 trials run, 0 finished earlier"
    assert summary["report"]["produced"].startswith("1 files written")
