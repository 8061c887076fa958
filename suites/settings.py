"""Where things are and which frameworks run: the one place every command resolves them.

Before this module the framework list was parsed in three places and the reference folder was
found by two rules, and they drifted. Every command now asks here, with the same precedence:
the command-line value, else the environment variable, else the default.

* data root: ``--data-dir``, else ``NEURONBENCH_DATA``, else the user cache
  (delegated to :mod:`suites.data.root`, which documents it);
* reference root (published checkpoints): ``--reference-dir``, else ``NEURONBENCH_REFERENCE``,
  else ``../shared/reference`` beside the checkout;
* results directory (the trial store of :mod:`suites.results`): ``--results-dir``, else
  ``NEURONBENCH_RESULTS``, else ``results/`` in the current directory (git-ignored);
* frameworks: ``--frameworks``, else ``NEURONBENCH_FRAMEWORKS``, else all four; names are
  validated, duplicates dropped (first occurrence kept), an empty list refused.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterable
from pathlib import Path

ENV_REFERENCE = "NEURONBENCH_REFERENCE"
ENV_RESULTS = "NEURONBENCH_RESULTS"
ENV_FRAMEWORKS = "NEURONBENCH_FRAMEWORKS"
REPO_ROOT = Path(__file__).resolve().parents[1]

#: Distributions whose versions decide what a framework computes; they enter the code
#: fingerprint of every trial that runs that framework (see suites/run.py).
#: numba and llvmlite compile the fused APTx kernel that every framework calls
#: (impls/kernels/aptx_cpu.py), so their versions enter every trial's fingerprint.
_KERNEL_DISTRIBUTIONS = ("numpy", "numba", "llvmlite")
DISTRIBUTIONS: dict[str, tuple[str, ...]] = {
    "numpy": _KERNEL_DISTRIBUTIONS,
    "torch": (*_KERNEL_DISTRIBUTIONS, "torch"),
    "jax": (*_KERNEL_DISTRIBUTIONS, "jax", "jaxlib", "flax", "optax"),
    "tf": (*_KERNEL_DISTRIBUTIONS, "tensorflow", "tensorflow-cpu", "keras"),
}


def _given(value: str | os.PathLike[str] | None) -> bool:
    return value is not None and str(value).strip() != ""


def data_root(data_dir: str | os.PathLike[str] | None = None) -> Path:
    """The absolute data root; the rule lives in :func:`suites.data.root.resolve_data_root`."""
    from suites.data.root import resolve_data_root

    return resolve_data_root(data_dir)


def reference_root(reference_dir: str | os.PathLike[str] | None = None) -> Path:
    """Folder holding published reference weights (``aptx-mnist/...``); it need not exist."""
    if _given(reference_dir):
        return Path(os.path.abspath(Path(reference_dir).expanduser()))  # type: ignore[arg-type]
    env = os.environ.get(ENV_REFERENCE, "").strip()
    if env:
        return Path(os.path.abspath(Path(env).expanduser()))
    return REPO_ROOT.parent / "shared" / "reference"


def results_dir(value: str | os.PathLike[str] | None = None) -> Path:
    """The results directory: raw trial records, consolidated rows and run manifests."""
    if _given(value):
        return Path(os.path.abspath(Path(value).expanduser()))  # type: ignore[arg-type]
    env = os.environ.get(ENV_RESULTS, "").strip()
    if env:
        return Path(os.path.abspath(Path(env).expanduser()))
    return Path(os.path.abspath("results"))


def frameworks(value: str | Iterable[str] | None = None) -> tuple[str, ...]:
    """Frameworks to run, validated and de-duplicated, in the order given.

    An explicit value (argument, or the environment variable set to something other than
    blank) that names no framework is refused rather than silently meaning "all": a typo must
    not turn a one-framework run into a four-framework one.
    """
    from impls.registry import FRAMEWORKS, check_framework

    source = "--frameworks"
    if value is None:
        env = os.environ.get(ENV_FRAMEWORKS)
        if env is None or env == "":
            return FRAMEWORKS
        value, source = env, ENV_FRAMEWORKS
    names = value.split(",") if isinstance(value, str) else list(value)
    cleaned = [n.strip() for n in names if n.strip()]
    if not cleaned:
        raise ValueError(f"{source} names no framework; known frameworks: {', '.join(FRAMEWORKS)}")
    return tuple(dict.fromkeys(check_framework(n) for n in cleaned))


#: The packages each framework's backend imports (checked without importing them).
FRAMEWORK_PACKAGES: dict[str, tuple[str, ...]] = {
    "numpy": ("numpy",),
    "torch": ("torch",),
    "jax": ("jax", "flax", "optax"),
    "tf": ("tensorflow", "keras"),
}


def require_installed(frameworks: Iterable[str], command: str) -> None:
    """Refuse, before any work starts, frameworks whose packages are not installed (found with
    importlib.util.find_spec, so nothing heavy is imported in the parent process)."""
    import importlib.util

    from impls.registry import INSTALL_HINTS

    missing = {f: [m for m in FRAMEWORK_PACKAGES.get(f, ()) if importlib.util.find_spec(m) is None]
               for f in frameworks}
    missing = {f: mods for f, mods in missing.items() if mods}
    if missing:
        lines = [f"{f}: {', '.join(mods)} not installed (pip install {INSTALL_HINTS[f]})"
                 for f, mods in missing.items()]
        raise SystemExit(f"neuronbench {command}: requested framework(s) cannot run:\n  "
                         + "\n  ".join(lines))


def comma_choices(value: str | None, option: str, command: str,
                  choices: Iterable[str]) -> list[str] | None:
    """:func:`comma_list` whose every item must be one of ``choices`` (all unknown ones named)."""
    items = comma_list(value, option, command)
    if items is None:
        return None
    allowed = tuple(choices)
    unknown = [i for i in items if i not in allowed]
    if unknown:
        raise SystemExit(f"neuronbench {command}: --{option} {', '.join(map(repr, unknown))} unknown; "
                         f"choose from {', '.join(allowed)}")
    return items


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1 (``--checkpoint-oracle-rows 0`` would check nothing)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def comma_list(value: str | None, option: str, command: str) -> list[str] | None:
    """A ``--option a,b`` value as a list, duplicates removed (order kept); None stays None.

    An explicit value that names nothing (``--units ,``) is refused rather than meaning "all".
    """
    if value is None:
        return None
    items = list(dict.fromkeys(v.strip() for v in value.split(",") if v.strip()))
    if not items:
        raise SystemExit(f"neuronbench {command}: --{option} is empty ({value!r}); give at least one name")
    return items


def add_arguments(parser: argparse.ArgumentParser, *, frameworks: bool = True, results: bool = True,
                  data: bool = False, reference: bool = False) -> None:
    """Add the shared options with the same names and help everywhere."""
    if frameworks:
        parser.add_argument("--frameworks", help=f"comma list (default: ${ENV_FRAMEWORKS} or all four)")
    if results:
        parser.add_argument("--results-dir", type=Path, default=None,
                            help=f"trial store (default: ${ENV_RESULTS} or ./results)")
    if data:
        parser.add_argument("--data-dir", type=Path, default=None,
                            help="dataset root (default: $NEURONBENCH_DATA or the user cache)")
    if reference:
        parser.add_argument("--reference-dir", type=Path, default=None,
                            help=f"published reference weights (default: ${ENV_REFERENCE} or "
                                 "../shared/reference)")


__all__ = [
    "DISTRIBUTIONS",
    "ENV_FRAMEWORKS",
    "ENV_REFERENCE",
    "ENV_RESULTS",
    "FRAMEWORK_PACKAGES",
    "add_arguments",
    "comma_choices",
    "comma_list",
    "data_root",
    "frameworks",
    "positive_int",
    "reference_root",
    "require_installed",
    "results_dir",
]
