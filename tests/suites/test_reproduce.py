"""``neuronbench reproduce``: which stages run, with which arguments, and what it records."""

from __future__ import annotations

import argparse

from suites import reproduce


def test_runs_built_stages_and_names_the_missing_ones(tmp_path, monkeypatch, capsys) -> None:
    calls: list[list[str]] = []

    def fake_main(argv):
        calls.append(list(argv))
        return 0

    monkeypatch.setattr("suites.cli.main", fake_main)
    args = argparse.Namespace(profile="quick", frameworks="numpy,tf", data_dir=tmp_path / "data",
                              no_download=True, out=tmp_path / "reports")
    assert reproduce.run_command(args) == 0
    by_stage = {argv[0]: argv for argv in calls}
    assert by_stage["data"] == ["data", "verify", "--data-dir", str(tmp_path / "data"), "--no-download"]
    # The full matrix in every profile: a quick run must not replace the report with a partial one.
    assert by_stage["equivalence"] == ["equivalence", "--out", str(tmp_path / "reports" / "equivalence"),
                                       "--frameworks", "numpy,tf", "--data-dir", str(tmp_path / "data")]
    stages = (tmp_path / "reports" / "STAGES.md").read_text()
    printed = capsys.readouterr().out
    assert "| equivalence | ok |" in stages
    for stage, module, _ in reproduce.STAGES:
        if not reproduce._available(module):
            assert f"| {stage} | not built yet |" in stages
            assert f"stage {stage!r}: not built yet" in printed


def test_a_failed_stage_fails_the_run(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr("suites.cli.main", lambda argv: 1 if argv[0] == "equivalence" else 0)
    args = argparse.Namespace(profile="quick", frameworks="numpy", data_dir=None, no_download=False,
                              out=tmp_path)
    assert reproduce.run_command(args) == 1
    assert "| equivalence | FAILED (exit 1) |" in (tmp_path / "STAGES.md").read_text()
