"""Devices, synchronisation, peak memory and execution modes for TensorFlow.

Two modes, as in every backend with a compiler: ``"eager"`` runs the Keras layers op by op;
``"compiled"`` wraps the same Python function in ``tf.function(jit_compile=True)`` (XLA) and
caches it on the layer or model it belongs to, so a layer is traced once per input signature
(``reduce_retracing=True`` generalises the batch dimension after the first retrace) and not
once per call.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any

import tensorflow as tf

from impls import common
from impls.common import MODES

#: Attribute under which compiled functions are cached (set through ``vars`` so that Keras's
#: attribute tracking never sees them).
_CACHE_ATTRIBUTE = "_neuronbench_functions"


def parity_settings() -> None:
    """Full-precision float32 maths: no TF32 on Ampere+ GPUs (design §4: TF32 off for parity)."""
    tf.config.experimental.enable_tensor_float_32_execution(False)


def check_mode(mode: str) -> str:
    """``mode`` if TensorFlow has it (the shared check of :mod:`impls.common`), else a ValueError."""
    return common.check_mode("tf", mode, MODES)


def in_mode(owner: Any, key: Hashable, function: Callable[..., Any], mode: str) -> Callable[..., Any]:
    """``function`` itself (eager) or its XLA-compiled twin, cached on ``owner`` under ``key``.

    ``function`` must only close over ``owner`` (and constants): the cached twin is reused for
    every later call with the same key.
    """
    check_mode(mode)
    if mode == "eager":
        return function
    cache = vars(owner).setdefault(_CACHE_ATTRIBUTE, {})
    compiled = cache.get(key)
    if compiled is None:
        compiled = tf.function(function, jit_compile=True, reduce_retracing=True)
        cache[key] = compiled
    return compiled


def tracing_count(owner: Any) -> int:
    """How many times the compiled functions cached on ``owner`` were traced (for tests)."""
    cache = vars(owner).get(_CACHE_ATTRIBUTE, {})
    return sum(int(f.experimental_get_tracing_count()) for f in cache.values())


def devices() -> list[str]:
    """Names of the logical devices TensorFlow can place work on (CPU first, then GPUs)."""
    return [d.name for d in tf.config.list_logical_devices()]


def default_device() -> str:
    gpus = tf.config.list_logical_devices("GPU")
    return gpus[0].name if gpus else tf.config.list_logical_devices("CPU")[0].name


def synchronize(value: Any = None) -> None:
    """Wait for queued device work before a timer stops.

    TensorFlow executes eagerly and synchronously on the CPU; on a GPU, kernels are queued, and
    copying a result to the host (``.numpy()``) is the portable barrier. With ``value`` given,
    the tensors in it are fetched; without, an empty op on the default device is forced.
    """
    if value is not None:
        for item in tf.nest.flatten(value):
            if isinstance(item, (tf.Tensor, tf.Variable)):
                item.numpy()
        return
    if tf.config.list_logical_devices("GPU"):
        tf.constant(0.0).numpy()


def reset_peak_memory(device: str | None = None) -> None:
    device = device or default_device()
    if "GPU" in device.upper():
        tf.config.experimental.reset_memory_stats(_short_name(device))


def peak_memory_bytes(device: str | None = None) -> int | None:
    """Peak device memory since the last reset; None where TensorFlow keeps no allocator stats
    (the CPU: measure the process RSS instead)."""
    device = device or default_device()
    try:
        info = tf.config.experimental.get_memory_info(_short_name(device))
    except (ValueError, tf.errors.OpError):
        return None
    return int(info["peak"])


def _short_name(device: str) -> str:
    """'/job:localhost/replica:0/task:0/device:GPU:0' -> 'GPU:0'."""
    return device.rsplit("device:", 1)[-1]
