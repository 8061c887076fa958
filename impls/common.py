"""What the four backends share that is not tied to any framework: names, tables and plumbing.

The project rule is "the same concept gets the same name in every framework". Each twin used
to carry its own copy of the mode check, the dtype names, the loss names and the loops over a
model's blocks; the copies had drifted in spelling (``LOSSES`` vs ``LOSS_NAMES``) though not in
meaning. They live here once; a backend keeps only its native part (the torch/jax/tf/numpy
dtype objects, how to read one block's parameters) and passes it in.

Nothing here imports a framework, so every backend can import this module at no cost.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import Any, TypeVar

from impls.spec import blocks, training

#: Execution modes of a backend with a compiler (torch, jax, tf); the NumPy twin has only eager.
MODES: tuple[str, ...] = ("eager", "compiled")

#: The modes of a backend without a compiler.
EAGER_ONLY: tuple[str, ...] = ("eager",)

#: Dtype names every backend accepts; each maps them to its native dtype with :func:`dtype_table`.
DTYPE_NAMES: tuple[str, ...] = tuple(blocks.DTYPES)

#: Loss names, in the order of the one definition (impls/spec/training.py).
LOSS_NAMES: tuple[str, ...] = tuple(training.LOSSES)

T = TypeVar("T")


def check_mode(framework: str, mode: str, available: Sequence[str] = MODES) -> str:
    """Return ``mode`` if ``framework`` has it; otherwise a ValueError naming the known modes."""
    if mode not in available:
        raise ValueError(f"unknown mode {mode!r} for {framework}; known modes: {', '.join(available)}")
    return mode


def dtype_table(float32: T, float64: T) -> Mapping[str, T]:
    """Dtype name -> native dtype, read-only.

    Keyword arguments named after :data:`DTYPE_NAMES`, so a backend cannot map a dtype the
    project does not know or forget one it does.
    """
    table = {"float32": float32, "float64": float64}
    if tuple(table) != DTYPE_NAMES:
        raise RuntimeError(f"impls.common.dtype_table maps {tuple(table)}, the spec knows {DTYPE_NAMES}")
    return MappingProxyType(table)


def model_params(blocks_: Iterable[Any], get_params: Callable[[Any], dict[str, Any]]
                 ) -> list[dict[str, Any]]:
    """Canonical parameter dicts of a model's blocks, in order (``get_params`` is the backend's)."""
    return [get_params(block) for block in blocks_]


def assign_model_params(blocks_: Iterable[Any], params: Sequence[Mapping[str, Any]],
                        set_params: Callable[[Any, Mapping[str, Any]], None]) -> None:
    """``set_params`` on each block with its dict; a length mismatch is an error, not a truncation."""
    for block, p in zip(blocks_, params, strict=True):
        set_params(block, p)
