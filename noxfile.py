"""Task runner: every stage of neuronbench is one nox session (see README.md).

CPU-only machines (CI included) install torch through ``constraints/ci.txt``, which pins the
CPU wheel; pyproject.toml itself stays open so GPU users get their CUDA build.
"""

from __future__ import annotations

import os
from pathlib import Path

import nox

ROOT = Path(__file__).parent
CONSTRAINTS = ("-c", str(ROOT / "constraints" / "ci.txt"))
DEFAULT_DATA = str((ROOT / ".." / "shared" / "datasets").resolve())

nox.options.sessions = ["lint", "tests"]
nox.options.reuse_existing_virtualenvs = True
nox.options.default_venv_backend = "venv"


def _install(session: nox.Session, extras: str) -> None:
    session.install("--upgrade", "pip")
    session.install("-e", f".[{extras}]", *CONSTRAINTS)
    # The XGBoost baseline of the tabular protocols: the CPU-only wheel (5 MB) instead of the
    # "xgboost" extra's CUDA build (with NCCL, about 300 MB), as constraints/ci.txt does for torch.
    session.install("xgboost-cpu>=2.1", *CONSTRAINTS)


def _env() -> dict[str, str]:
    """Data root and framework selection: the caller's settings win over the defaults."""
    env = {"NEURONBENCH_DATA": os.environ.get("NEURONBENCH_DATA", DEFAULT_DATA)}
    for key in ("NEURONBENCH_FRAMEWORKS", "NEURONBENCH_CONFORMANCE", "NEURONBENCH_OFFLINE",
                "NEURONBENCH_RESULTS", "NEURONBENCH_REFERENCE"):
        if key in os.environ:
            env[key] = os.environ[key]
    return env


@nox.session(python="3.11")
def tests(session: nox.Session) -> None:
    """The test suite (what .ci/run calls): oracle, every framework, conformance, data."""
    _install(session, "all")
    workers = os.environ.get("NEURONBENCH_TEST_WORKERS", "2")
    session.run("pytest", "-n", workers, "--durations=15", *session.posargs, env=_env())


@nox.session(python="3.11")
def lint(session: nox.Session) -> None:
    """ruff over the whole repository."""
    session.install("ruff>=0.5")
    session.run("ruff", "check", ".")


@nox.session(python="3.11")
def equivalence(session: nox.Session) -> None:
    """The parity matrix: every unit x framework x dtype x mode against the oracle."""
    _install(session, "all")
    session.run("neuronbench", "equivalence", *session.posargs, env=_env())


@nox.session(python="3.11")
def accuracy(session: nox.Session) -> None:
    """Train the accuracy protocols into results/ (``-- --protocol mnist-aptx --profile paper``)."""
    _install(session, "all")
    session.run("neuronbench", "accuracy", *session.posargs, env=_env())


@nox.session(python="3.11")
def report(session: nox.Session) -> None:
    """Rebuild reports/ (tables, figures, equivalence matrix, rows) from the results store."""
    _install(session, "all")
    session.run("neuronbench", "report", *session.posargs, env=_env())


@nox.session(python="3.11")
def reproduce(session: nox.Session) -> None:
    """data -> equivalence -> accuracy -> report (``-- --profile paper`` for full protocols)."""
    _install(session, "all")
    session.run("neuronbench", "reproduce", *session.posargs, env=_env())


@nox.session(python="3.11")
def perf(session: nox.Session) -> None:
    """The performance suite into the results store, then its report alone (``-- --quick``:
    every kind of case, fewer of each; the other suites' committed reports stay as they are)."""
    _install(session, "all")
    session.run("neuronbench", "perf", *session.posargs, env=_env())
    session.run("neuronbench", "report", "--only", "performance", env=_env())


def _asv_runs(session: nox.Session, *args: str) -> None:
    _install(session, "all")
    env = {**_env(), "NEURONBENCH_ASV_FRAMEWORKS": os.environ.get("NEURONBENCH_ASV_FRAMEWORKS", "numpy,torch")}
    session.run("python", "-m", "suites.performance.asv_runs", *args, env=env)


@nox.session(python="3.11")
def asv(session: nox.Session) -> None:
    """ASV for HEAD in this environment, published to reports/asv/html
    (``-- --history N`` back-fills the last N commits; ``-- --quick`` one sample each)."""
    _asv_runs(session, "run", *session.posargs)


@nox.session(name="asv-compare", python="3.11")
def asv_compare(session: nox.Session) -> None:
    """``-- BASE``: BASE and HEAD benchmarked alike; fails on a benchmark >10 % slower."""
    if not session.posargs:
        session.error("usage: nox -s asv-compare -- BASE [--factor 1.1]")
    _asv_runs(session, "compare", *session.posargs)
