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
import contextlib
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

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
    from impls.registry import FRAMEWORKS

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
    unknown = list(dict.fromkeys(n for n in cleaned if n not in FRAMEWORKS))
    if unknown:  # every unknown name at once: fixing one typo must not reveal the next
        raise ValueError(f"{source}: unknown framework{'s' if len(unknown) > 1 else ''} "
                         f"{', '.join(map(repr, unknown))}; known frameworks: {', '.join(FRAMEWORKS)}")
    return tuple(dict.fromkeys(cleaned))


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


# -- determinism ---------------------------------------------------------------------------

#: Environment the determinism switch sets, where the user has not set it (an explicit value
#: wins and is recorded). Read when a framework initialises, so it is set before any backend is
#: imported; it also reaches the subprocesses a trial starts.
DETERMINISM_ENV: dict[str, str] = {
    # cuBLAS then picks reductions that do not depend on scheduling (torch on CUDA; torch's
    # deterministic mode refuses cuBLAS work without it)
    "CUBLAS_WORKSPACE_CONFIG": ":4096:8",
    # TensorFlow's op determinism, read by its C++ kernels (the same switch as
    # tf.config.experimental.enable_op_determinism, which is called as well)
    "TF_DETERMINISTIC_OPS": "1",
}
#: XLA's deterministic GPU reductions and scatters (JAX, and TensorFlow's jit_compile). The CPU
#: builds know the flag and ignore it; XLA aborts on a flag it does not know, so it is one the
#: installed jaxlib and TensorFlow were checked to accept (tests/suites/test_determinism.py).
XLA_DETERMINISM_FLAG = "--xla_gpu_deterministic_ops=true"
#: Which framework a trial's distribution list (Trial.frameworks) makes it run.
FRAMEWORK_OF_DISTRIBUTION: dict[str, str] = {
    "numpy": "numpy", "torch": "torch", "jax": "jax", "jaxlib": "jax", "flax": "jax",
    "optax": "jax", "tensorflow": "tf", "tensorflow-cpu": "tf", "keras": "tf",
}
#: Bumped when the switch changes what it turns on; recorded in every manifest and record.
DETERMINISM_POLICY = 1


def frameworks_of(distributions: Iterable[str]) -> tuple[str, ...]:
    """The frameworks among a trial's distributions (``("scipy", "numpy", "torch")`` runs numpy
    and torch), in the registry's order."""
    from impls.registry import FRAMEWORKS

    named = {FRAMEWORK_OF_DISTRIBUTION[d] for d in distributions if d in FRAMEWORK_OF_DISTRIBUTION}
    return tuple(f for f in FRAMEWORKS if f in named)


def _set_determinism_env() -> None:
    """Environment part of the switch: only where unset, and the XLA flag added to XLA_FLAGS."""
    for name, value in DETERMINISM_ENV.items():
        os.environ.setdefault(name, value)
    flags = os.environ.get("XLA_FLAGS", "").split()
    flag_name = XLA_DETERMINISM_FLAG.split("=", 1)[0]
    if not any(f.split("=", 1)[0] == flag_name for f in flags):
        os.environ["XLA_FLAGS"] = " ".join([*flags, XLA_DETERMINISM_FLAG])


def _torch_determinism() -> None:
    """torch's deterministic algorithms (an op without one raises rather than varying) and
    cuDNN's deterministic kernels. Uninitialised memory is not filled with NaN: that costs a
    memset per allocation, which would show in the per-epoch seconds the accuracy tables
    report, and a kernel reading uninitialised memory is caught by the bitwise test anyway."""
    import torch
    import torch.utils.deterministic

    torch.use_deterministic_algorithms(True)
    torch.utils.deterministic.fill_uninitialized_memory = False
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False


def _tf_determinism() -> None:
    import tensorflow as tf

    tf.config.experimental.enable_op_determinism()


def enable_determinism(distributions: Iterable[str]) -> dict[str, Any]:
    """Turn on deterministic execution for the frameworks a trial runs; returns what is in force.

    NumPy needs nothing (its reductions have a fixed order). torch: deterministic algorithms
    and cuDNN. TensorFlow: op determinism. JAX (and TF's XLA): the XLA flag, which must be in
    XLA_FLAGS before the backend starts, so the switch runs before the trial imports anything.
    Thread counts are left alone: with the same count every framework here reduces in the same
    order run after run, and the training stages report seconds per epoch that a forced single
    thread would change. torch and TensorFlow are imported through ``impls.load_backend`` (which
    the trial does anyway), so their quiet start-up and parity settings apply first.
    """
    _set_determinism_env()
    frameworks = frameworks_of(distributions)
    switches = {"torch": _torch_determinism, "tf": _tf_determinism}
    for framework in frameworks:
        if framework in switches:  # NumPy needs nothing; JAX only the environment set above
            import impls

            impls.load_backend(framework)
            switches[framework]()
    return determinism_state(frameworks)


def determinism_state(frameworks: Iterable[str] = ()) -> dict[str, Any]:
    """What is in force now, for a record: the policy, the environment and, for each framework
    given that is imported, its own switch read back (not assumed)."""
    import sys

    state: dict[str, Any] = {
        "policy": DETERMINISM_POLICY,
        "frameworks": list(frameworks),
        "env": {name: os.environ.get(name) for name in (*DETERMINISM_ENV, "XLA_FLAGS")},
    }
    torch = sys.modules.get("torch") if "torch" in state["frameworks"] else None
    if torch is not None:
        state["torch.deterministic_algorithms"] = bool(torch.are_deterministic_algorithms_enabled())
        state["torch.cudnn.deterministic"] = bool(torch.backends.cudnn.deterministic)
        state["torch.num_threads"] = int(torch.get_num_threads())
    if "tf" in state["frameworks"] and "tensorflow" in sys.modules:
        from tensorflow.python.framework import config as tf_config

        state["tf.op_determinism"] = bool(tf_config.is_op_determinism_enabled())
    return state


#: torch's switches as torch starts, restored after an inline run that imported torch.
_TORCH_DEFAULTS = {"deterministic": False, "fill": True, "cudnn.deterministic": False,
                   "cudnn.benchmark": False}


def _torch_switches() -> dict[str, bool] | None:
    """torch's determinism switches now, or None when torch is not imported."""
    import sys

    torch = sys.modules.get("torch")
    if torch is None:
        return None
    import torch.utils.deterministic

    return {"deterministic": torch.are_deterministic_algorithms_enabled(),
            "fill": bool(torch.utils.deterministic.fill_uninitialized_memory),
            "cudnn.deterministic": bool(torch.backends.cudnn.deterministic),
            "cudnn.benchmark": bool(torch.backends.cudnn.benchmark)}


def _tf_switch() -> bool | None:
    import sys

    if "tensorflow" not in sys.modules:
        return None
    from tensorflow.python.framework import config as tf_config

    return bool(tf_config.is_op_determinism_enabled())


@contextlib.contextmanager
def determinism_scope() -> Iterator[None]:
    """Undo, on exit, what :func:`enable_determinism` changed in this process: the environment,
    torch's switches and TensorFlow's op determinism, as they were on entry (as each framework
    starts, for one first imported inside). The inline executor runs its trials in the caller's
    process (a test session, a notebook), where the switch must not outlive the run: a later
    unseeded ``tf.random`` call would raise under TensorFlow's op determinism."""
    names = (*DETERMINISM_ENV, "XLA_FLAGS")
    env = {name: os.environ.get(name) for name in names}
    torch_before, tf_before = _torch_switches(), _tf_switch()
    try:
        yield
    finally:
        for name, value in env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        _restore_torch(torch_before or _TORCH_DEFAULTS)
        _restore_tf(bool(tf_before))


def _restore_torch(switches: dict[str, bool]) -> None:
    import sys

    torch = sys.modules.get("torch")
    if torch is None:
        return
    import torch.utils.deterministic

    torch.use_deterministic_algorithms(switches["deterministic"])
    torch.utils.deterministic.fill_uninitialized_memory = switches["fill"]
    torch.backends.cudnn.deterministic = switches["cudnn.deterministic"]
    torch.backends.cudnn.benchmark = switches["cudnn.benchmark"]


def _restore_tf(enabled: bool) -> None:
    import sys

    if "tensorflow" not in sys.modules:
        return
    from tensorflow.python.framework import config as tf_config

    if enabled:
        tf_config.enable_op_determinism()
    else:
        tf_config.disable_op_determinism()


def determinism_policy(enabled: bool) -> dict[str, Any]:
    """The switch as a run manifest records it (the workers report what they applied)."""
    return {"enabled": bool(enabled), "policy": DETERMINISM_POLICY, "env": dict(DETERMINISM_ENV),
            "xla_flag": XLA_DETERMINISM_FLAG,
            "torch": "use_deterministic_algorithms(True), cudnn.deterministic",
            "tf": "enable_op_determinism()", "numpy": "nothing needed", "threads": "unchanged"}


__all__ = [
    "DETERMINISM_ENV",
    "DISTRIBUTIONS",
    "ENV_FRAMEWORKS",
    "ENV_REFERENCE",
    "ENV_RESULTS",
    "FRAMEWORK_PACKAGES",
    "add_arguments",
    "comma_choices",
    "comma_list",
    "data_root",
    "determinism_policy",
    "determinism_scope",
    "determinism_state",
    "enable_determinism",
    "frameworks",
    "frameworks_of",
    "positive_int",
    "reference_root",
    "require_installed",
    "results_dir",
]
