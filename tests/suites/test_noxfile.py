"""The noxfile: every stage has a session, the stage sessions share one environment, and the
shared environment is reinstalled only when what it was installed from changes."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
STAGE_SESSIONS = ("tests", "lint", "equivalence", "accuracy", "perf", "asv", "report", "notebooks",
                  "paper", "reproduce")


def _noxfile():
    spec = importlib.util.spec_from_file_location("neuronbench_noxfile", ROOT / "noxfile.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_stage_has_a_session() -> None:
    listing = subprocess.run([sys.executable, "-m", "nox", "-l", "-f", str(ROOT / "noxfile.py")],
                             capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert listing.returncode == 0, listing.stderr
    names = {line[2:].split(" -> ")[0] for line in listing.stdout.splitlines()
             if line[:2] in ("* ", "- ")}
    missing = [name for name in STAGE_SESSIONS if name not in names]
    assert not missing, f"noxfile.py lacks sessions {missing}; it has {sorted(names)}"


def test_stage_sessions_share_one_environment() -> None:
    """Every session but lint runs in .nox/neuronbench (venv_backend none + the shared env)."""
    source = (ROOT / "noxfile.py").read_text()
    for name in STAGE_SESSIONS:
        if name == "lint":
            continue
        header = f"def {name}(session"
        assert header in source, name
        decorator = source[:source.index(header)].rstrip().splitlines()[-1]
        assert 'venv_backend="none"' in decorator, f"session {name} builds its own venv: {decorator}"


def test_install_digest_follows_pyproject(tmp_path, monkeypatch) -> None:
    """The stamp changes when pyproject.toml or the constraints change, and only then."""
    noxfile = _noxfile()
    (tmp_path / "constraints").mkdir()
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    (tmp_path / "constraints" / "ci.txt").write_text("torch==0+cpu\n")
    monkeypatch.setattr(noxfile, "ROOT", tmp_path)
    monkeypatch.setattr(noxfile, "CONSTRAINTS_FILE", tmp_path / "constraints" / "ci.txt")
    first = noxfile._install_digest()
    assert noxfile._install_digest() == first
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\ndependencies = ['y']\n")
    assert noxfile._install_digest() != first
    second = noxfile._install_digest()
    (tmp_path / "constraints" / "ci.txt").write_text("torch==1+cpu\n")
    assert noxfile._install_digest() != second


@pytest.mark.parametrize("value, expected", [("", True), ("none", False)])
def test_constraints_switch(monkeypatch, value, expected) -> None:
    noxfile = _noxfile()
    monkeypatch.setenv("NEURONBENCH_CONSTRAINTS", value)
    assert bool(noxfile._constraints()) is expected
