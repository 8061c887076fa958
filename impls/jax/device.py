"""Devices, synchronisation, peak memory and execution modes for JAX.

Modes: ``"eager"`` runs the NNX modules op by op; ``"compiled"`` runs the same pure function
(``nnx.split`` state in, values out) under ``jax.jit``. Jitted functions are cached per layer
or model object (weakly, so they die with it) and per purpose, so a layer compiles once per
input shape and dtype however often it is called; parameter and temperature updates are
arguments, never constants, and do not trigger recompilation.

Peak memory comes from ``Device.memory_stats()``. XLA's CPU client reports no statistics
(``memory_stats()`` is ``None``), so :func:`peak_memory_bytes` returns ``None`` on CPU and the
performance suite measures process RSS there instead, as it does for the other frameworks.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Hashable
from typing import Any

import jax

from impls import common
from impls.common import MODES

_COMPILED: weakref.WeakKeyDictionary[Any, dict[Hashable, Callable[..., Any]]] = (
    weakref.WeakKeyDictionary()
)


def check_mode(mode: str) -> str:
    """``mode`` if JAX has it (the shared check of :mod:`impls.common`), else a ValueError."""
    return common.check_mode("jax", mode, MODES)


def compiled(owner: Any, key: Hashable, make: Callable[[], Callable[..., Any]]) -> Callable[..., Any]:
    """The jitted function ``make()`` for (owner, key), built on first use and cached."""
    per_owner = _COMPILED.setdefault(owner, {})
    fn = per_owner.get(key)
    if fn is None:
        fn = per_owner[key] = jax.jit(make())
    return fn


def devices() -> list[Any]:
    return list(jax.devices())


def default_device() -> Any:
    return jax.devices()[0]


def synchronize(value: Any = None) -> None:
    """Wait for the device work behind ``value`` (every live array when None)."""
    if value is None:
        for array in jax.live_arrays():
            array.block_until_ready()
    else:
        jax.block_until_ready(value)


def reset_peak_memory(device: Any = None) -> None:
    """No-op: XLA offers no reset of its peak counter; compare peaks across fresh processes."""


def peak_memory_bytes(device: Any = None) -> int | None:
    """Peak bytes in use on ``device`` (default: the first) since process start; None on CPU."""
    device = device if device is not None else default_device()
    stats = device.memory_stats()
    if not stats or "peak_bytes_in_use" not in stats:
        return None
    return int(stats["peak_bytes_in_use"])
