"""Task runner: every stage of neuronbench is one nox session (see README.md).

One environment for every stage. The sessions that run neuronbench's own code (tests,
equivalence, accuracy, perf, asv, report, notebooks, paper, reproduce) share the virtual
environment ``.nox/neuronbench``: it is about 3.5 GB with four frameworks, and a venv per session
(nox's default) cost 5 GB of disk and 2 minutes of installing for each session a user ran. The
environment is created on first use and reinstalled only when what it was installed from
changes (pyproject.toml, the constraints file, the extras): a stamp file records a digest of
those, so a rerun of any session starts at once. ``lint`` keeps its own small venv (ruff only).

CPU-only machines (CI included) install torch through ``constraints/ci.txt``, which pins the
CPU wheel; pyproject.toml itself stays open so GPU users get their CUDA build
(``NEURONBENCH_CONSTRAINTS=none`` installs without it).

Works with ``--download-python never``: the shared environment is built from the interpreter
that runs nox.
"""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

import nox

ROOT = Path(__file__).parent
ENV_DIR = ROOT / ".nox" / "neuronbench"
STAMP = ENV_DIR / ".neuronbench-installed"
CONSTRAINTS_FILE = ROOT / "constraints" / "ci.txt"
DEFAULT_DATA = str((ROOT / ".." / "shared" / "datasets").resolve())
#: Every dependency is declared once, in pyproject.toml. "xgboost-cpu" is the XGBoost baseline
#: as its CPU-only wheel (5 MB) instead of the "xgboost" extra's CUDA build (with NCCL, about
#: 300 MB), as the constraints do for torch.
EXTRAS = "all,xgboost-cpu"

nox.options.sessions = ["lint", "tests"]
nox.options.reuse_existing_virtualenvs = True
nox.options.default_venv_backend = "venv"

#: Passed through to every stage from the caller's environment.
PASSED_ENV = ("NEURONBENCH_FRAMEWORKS", "NEURONBENCH_CONFORMANCE", "NEURONBENCH_OFFLINE",
              "NEURONBENCH_RESULTS", "NEURONBENCH_REFERENCE", "NEURONBENCH_TEST_WORKERS")


def _constraints() -> tuple[str, ...]:
    if os.environ.get("NEURONBENCH_CONSTRAINTS", "") == "none":
        return ()
    return ("-c", str(CONSTRAINTS_FILE))


def _install_digest() -> str:
    """What the shared environment was installed from: a change to any of it reinstalls."""
    digest = hashlib.sha256()
    for path in (ROOT / "pyproject.toml", CONSTRAINTS_FILE):
        digest.update(path.read_bytes())
    digest.update(repr((EXTRAS, _constraints(), sys.version_info[:2])).encode())
    return digest.hexdigest()


def _bin() -> Path:
    return ENV_DIR / ("Scripts" if os.name == "nt" else "bin")


def _shared_env(session: nox.Session) -> Path:
    """The shared environment, created and installed when missing or stale; its bin folder."""
    python = _bin() / ("python.exe" if os.name == "nt" else "python")
    if not python.exists():
        session.log(f"creating the shared environment {ENV_DIR.relative_to(ROOT)}")
        session.run(sys.executable, "-m", "venv", str(ENV_DIR), external=True)
    digest = _install_digest()
    if STAMP.is_file() and STAMP.read_text().strip() == digest:
        session.log(f"reusing {ENV_DIR.relative_to(ROOT)} (installed from this pyproject.toml)")
        return _bin()
    STAMP.unlink(missing_ok=True)
    pip = (str(python), "-m", "pip", "install", "--quiet")
    session.run(*pip, "--upgrade", "pip", external=True)
    session.run(*pip, "-e", f".[{EXTRAS}]", *_constraints(), external=True)
    STAMP.write_text(digest + "\n")
    return _bin()


def _env(bin_dir: Path) -> dict[str, str]:
    """Data root, framework selection and the shared environment first on PATH (child processes
    such as notebook kernels and ASV find its interpreter); the caller's settings win."""
    env = {"NEURONBENCH_DATA": os.environ.get("NEURONBENCH_DATA", DEFAULT_DATA),
           "VIRTUAL_ENV": str(ENV_DIR),
           "PATH": os.pathsep.join([str(bin_dir), os.environ.get("PATH", "")])}
    env.update({key: os.environ[key] for key in PASSED_ENV if key in os.environ})
    return env


def _run(session: nox.Session, program: str, *args: str, extra_env: dict[str, str] | None = None) -> None:
    """Run a program of the shared environment (installing it first when needed)."""
    bin_dir = _shared_env(session)
    session.run(str(bin_dir / program), *args, env={**_env(bin_dir), **(extra_env or {})},
                external=True)


def _neuronbench(session: nox.Session, *args: str) -> None:
    _run(session, "neuronbench", *args)


@nox.session(venv_backend="none")
def tests(session: nox.Session) -> None:
    """The test suite (what .ci/run calls): oracle, every framework, conformance, data."""
    workers = os.environ.get("NEURONBENCH_TEST_WORKERS", "2")
    _run(session, "python", "-m", "pytest", "-n", workers, "--durations=15", *session.posargs)


def _dev_requirement(name: str) -> str:
    """A requirement of the ``dev`` extra, read from pyproject.toml (declared there only)."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib

    dev = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["dev"]
    return next(req for req in dev if req.split("[")[0].split(">")[0].split("=")[0].strip() == name)


@nox.session(python="3.11")
def lint(session: nox.Session) -> None:
    """ruff over the whole repository (its own small environment: ruff only)."""
    session.install(_dev_requirement("ruff"))
    session.run("ruff", "check", ".")


@nox.session(venv_backend="none")
def equivalence(session: nox.Session) -> None:
    """The parity matrix: every unit x framework x dtype x mode against the oracle."""
    _neuronbench(session, "equivalence", *session.posargs)


@nox.session(venv_backend="none")
def accuracy(session: nox.Session) -> None:
    """Train the accuracy protocols into results/ (``-- --protocol mnist-aptx --profile paper``)."""
    _neuronbench(session, "accuracy", *session.posargs)


@nox.session(venv_backend="none")
def report(session: nox.Session) -> None:
    """Rebuild reports/ (tables, figures, equivalence matrix, rows) from the results store."""
    _neuronbench(session, "report", *session.posargs)


@nox.session(venv_backend="none")
def notebooks(session: nox.Session) -> None:
    """Execute notebooks/ against reports/ into reports/notebooks (executed .ipynb and HTML)."""
    _neuronbench(session, "notebooks", *session.posargs)


@nox.session(venv_backend="none")
def paper(session: nox.Session) -> None:
    """reports/paper.md and paper.tex (and the claims table) from the report's rows."""
    _neuronbench(session, "paper", *session.posargs)


@nox.session(venv_backend="none")
def reproduce(session: nox.Session) -> None:
    """Every stage of suites/stages.py in order, resuming (``-- --profile paper``: full protocols)."""
    _neuronbench(session, "reproduce", *session.posargs)


@nox.session(venv_backend="none")
def perf(session: nox.Session) -> None:
    """The performance suite into the results store, then its report alone (``-- --quick``:
    every kind of case, fewer of each; the other suites' committed reports stay as they are)."""
    _neuronbench(session, "perf", *session.posargs)
    _neuronbench(session, "report", "--only", "performance")


def _asv_runs(session: nox.Session, *args: str) -> None:
    frameworks = os.environ.get("NEURONBENCH_ASV_FRAMEWORKS", "numpy,torch")
    _run(session, "python", "-m", "suites.performance.asv_runs", *args,
         extra_env={"NEURONBENCH_ASV_FRAMEWORKS": frameworks})


@nox.session(venv_backend="none")
def asv(session: nox.Session) -> None:
    """ASV for HEAD in this environment, published to reports/asv/html
    (``-- --history N`` back-fills the last N commits; ``-- --quick`` one sample each)."""
    _asv_runs(session, "run", *session.posargs)


@nox.session(name="asv-compare", venv_backend="none")
def asv_compare(session: nox.Session) -> None:
    """``-- BASE``: BASE and HEAD benchmarked alike; fails on a benchmark >10 % slower."""
    if not session.posargs:
        session.error("usage: nox -s asv-compare -- BASE [--factor 1.1]")
    _asv_runs(session, "compare", *session.posargs)
