"""The dirty flag of a run's provenance follows the code, not the generated outputs."""

from __future__ import annotations

import subprocess
from pathlib import Path

from suites import provenance


def _repo(tmp_path: Path) -> Path:
    run = lambda *a: subprocess.run(["git", *a], cwd=tmp_path, check=True, capture_output=True)  # noqa: E731
    run("init", "-q")
    run("config", "user.email", "t@example.org")
    run("config", "user.name", "t")
    (tmp_path / "code.py").write_text("x = 1\n")
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / "table.md").write_text("old\n")
    run("add", ".")
    run("commit", "-qm", "init")
    return tmp_path


def test_generated_outputs_do_not_make_a_checkout_dirty(tmp_path, monkeypatch) -> None:
    repo = _repo(tmp_path)
    monkeypatch.setattr(provenance, "ROOT", repo)
    assert provenance.manifest_info()["git_dirty"] is False
    (repo / "reports" / "table.md").write_text("rewritten by a reproduction\n")
    (repo / "results").mkdir()
    (repo / "results" / "rows.csv").write_text("new\n")
    assert provenance.manifest_info()["git_dirty"] is False
    (repo / "code.py").write_text("x = 2\n")
    assert provenance.manifest_info()["git_dirty"] is True
    assert provenance.collect()["git sha"].endswith("(dirty)")
