"""Framework backends, imported only when a caller asks for one.

A backend is the package ``impls.<framework>``; it must provide the functions listed in
``BACKEND_API`` (see ``docs/impls.md``). Nothing imports torch, jax or tensorflow until a
layer of that framework is built or touched, so ``import impls`` stays cheap and a machine
with only one framework installed can still use it.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

FRAMEWORKS: tuple[str, ...] = ("numpy", "torch", "jax", "tf")

#: The distribution(s) a user installs to make each framework importable.
INSTALL_HINTS = {
    "numpy": "numpy",
    "torch": "neuronbench[torch]",
    "jax": "neuronbench[jax]",
    "tf": "neuronbench[tf]",
}

#: Functions every backend module exposes (same names, same meaning, in every framework).
BACKEND_API: tuple[str, ...] = (
    "MODES",             # execution modes: ("eager", "compiled"), NumPy ("eager",)
    "BLOCK_CLASSES",     # block name -> native class (spec.blocks.class_table: the specs' classes)
    "build_block",       # (LayerSpec, canonical params, dtype name) -> native layer
    "get_params",        # native layer -> canonical dict of NumPy arrays
    "set_params",        # (native layer, canonical dict) -> None
    "forward",           # (native layer, np.ndarray, mode) -> np.ndarray
    "vjp",               # (native layer, x, upstream, mode) -> (grad_x, {trainable name: grad})
    "build_model",       # (LayerSpecs, per-layer canonical params, dtype) -> native model
    "get_model_params",  # native model -> [canonical dict per layer]
    "set_model_params",  # (native model, [canonical dict per layer]) -> None
    "model_forward",     # (native model, x, mode) -> logits
    "init_optimizer_state",  # (impls.TrainState) -> native optimiser state (moments at zero)
    "train_steps",       # (impls.TrainState, validated batches) -> loss before each update
    "set_temperature",   # (layer or model, T) -> None: every ActMix temperature
)


class FrameworkUnavailableError(ImportError):
    """A framework was requested explicitly but cannot be imported: never skipped silently."""


class UnitNotProvidedError(ValueError):
    """A unit (a plug-in's, typically) has no implementation in the requested framework.

    Reported as absent for that unit, never replaced by another framework's class.
    """


def check_framework(framework: str) -> str:
    if framework not in FRAMEWORKS:
        raise ValueError(f"unknown framework {framework!r}; known frameworks: {', '.join(FRAMEWORKS)}")
    return framework


def load_backend(framework: str) -> ModuleType:
    """Import ``impls.<framework>``; a missing framework raises FrameworkUnavailableError."""
    check_framework(framework)
    try:
        module = importlib.import_module(f"impls.{framework}")
    except ImportError as error:
        if error.name is not None and error.name.startswith("impls."):
            raise FrameworkUnavailableError(
                f"framework {framework!r} is not implemented in this checkout ({error})"
            ) from error
        raise FrameworkUnavailableError(
            f"framework {framework!r} was requested but cannot be imported ({error}); "
            f"install it with: pip install {INSTALL_HINTS[framework]}"
        ) from error
    missing = [name for name in BACKEND_API if not hasattr(module, name)]
    if missing:
        raise FrameworkUnavailableError(
            f"impls.{framework} does not implement the backend contract: missing {', '.join(missing)}"
        )
    return module


def framework_of(layer: Any) -> str:
    """Name of the framework a native layer belongs to: the backend package that defines its
    class or the nearest base class (a plug-in's layer subclasses a backend's ``Block``)."""
    for cls in type(layer).__mro__:
        parts = cls.__module__.split(".")
        if len(parts) >= 2 and parts[0] == "impls" and parts[1] in FRAMEWORKS:
            return parts[1]
    raise ValueError(
        f"{type(layer).__qualname__} from {type(layer).__module__!r} is not a neuronbench layer; "
        "build layers with impls.build(...)"
    )
