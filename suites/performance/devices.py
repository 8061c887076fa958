"""Which devices each framework can run on, and the device's own peak-memory counter.

The performance suite times the same cases on a CPU, a GPU or a TPU (``neuronbench perf
--device``). Devices are discovered per framework, because a machine's GPU may be visible to
one framework and not to another (a CPU-only torch wheel beside a CUDA jaxlib is common): a
case is planned only where its framework sees the device, and a requested device that a
requested framework cannot see is an error before any case runs, never a silent fallback to the
CPU. Every row records the device that ran it.

On a CPU the peak memory is the resident set's high-water mark (``layer.probe``); on a GPU or
TPU it is the framework's own allocator counter (``peak_reset`` / ``peak_read``), since device
memory is not in the process's resident set.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence

DEVICES = ("cpu", "gpu", "tpu")


def available(framework: str) -> tuple[str, ...]:
    """The devices ``framework`` can place work on here (imports the framework)."""
    if framework == "numpy":
        return ("cpu",)
    if framework == "torch":
        torch = importlib.import_module("torch")
        found = ["cpu"]
        if torch.cuda.is_available():
            found.append("gpu")
        return tuple(found)
    if framework == "jax":
        jax = importlib.import_module("jax")
        platforms = set()
        for backend in ("cpu", "gpu", "tpu"):
            try:
                if jax.devices(backend):
                    platforms.add(backend)
            except RuntimeError:          # that backend is not installed or has no device
                continue
        return tuple(d for d in DEVICES if d in platforms)
    if framework == "tf":
        tf = importlib.import_module("tensorflow")
        found = ["cpu"]
        if tf.config.list_physical_devices("GPU"):
            found.append("gpu")
        if tf.config.list_logical_devices("TPU"):
            found.append("tpu")
        return tuple(found)
    raise ValueError(f"unknown framework {framework!r}; known: numpy, torch, jax, tf")


def check(frameworks: Sequence[str], device: str) -> None:
    """Raise ValueError naming every requested framework that cannot see ``device``."""
    if device not in DEVICES:
        raise ValueError(f"unknown device {device!r}; known: {', '.join(DEVICES)}")
    seen_by = {f: available(f) for f in frameworks}
    missing = {f: found for f, found in seen_by.items() if device not in found}
    if missing:
        seen = "; ".join(f"{f} sees {', '.join(found)}" for f, found in missing.items())
        raise ValueError(f"--device {device}: not visible to {', '.join(missing)} ({seen}); "
                         "drop those frameworks or run on a machine with that device")


def torch_device(device: str) -> str:
    """torch's name for ``device`` (torch reaches TPUs only through torch_xla, not supported)."""
    if device == "gpu":
        return "cuda"
    if device == "cpu":
        return "cpu"
    raise ValueError("torch cases run on cpu or gpu only")


def synchronise(framework: str, device: str) -> Callable[[], None]:
    """A call that returns once the device has finished the queued work (a no-op on a CPU:
    torch, TF and NumPy run synchronously there; JAX is waited for by ``block_until_ready``)."""
    if device == "cpu" or framework != "torch":
        return lambda: None
    torch = importlib.import_module("torch")
    return torch.cuda.synchronize


def peak_reset(framework: str, device: str) -> None:
    """Reset the device's peak-memory counter (nothing to reset on a CPU or in JAX)."""
    if device == "cpu":
        return
    if framework == "torch":
        importlib.import_module("torch").cuda.reset_peak_memory_stats()
    elif framework == "tf":
        importlib.import_module("tensorflow").config.experimental.reset_memory_stats(_tf_name(device))


def peak_read(framework: str, device: str, in_use_before: int = 0) -> int:
    """Bytes the device's allocator peaked at since ``peak_reset``, above what was in use before.

    JAX cannot reset its peak, so its figure is the peak over the process so far; taken after
    warm-up it is still the working memory's upper bound.
    """
    if framework == "torch":
        return int(importlib.import_module("torch").cuda.max_memory_allocated()) - in_use_before
    if framework == "tf":
        info = importlib.import_module("tensorflow").config.experimental.get_memory_info(_tf_name(device))
        return int(info["peak"]) - in_use_before
    if framework == "jax":
        jax = importlib.import_module("jax")
        stats = jax.devices(device)[0].memory_stats() or {}
        return int(stats.get("peak_bytes_in_use", 0)) - in_use_before
    raise ValueError(f"{framework} has no device counters")


def in_use(framework: str, device: str) -> int:
    """Bytes the device's allocator holds now (the baseline of ``peak_read``)."""
    if framework == "torch":
        return int(importlib.import_module("torch").cuda.memory_allocated())
    if framework == "tf":
        info = importlib.import_module("tensorflow").config.experimental.get_memory_info(_tf_name(device))
        return int(info["current"])
    if framework == "jax":
        jax = importlib.import_module("jax")
        stats = jax.devices(device)[0].memory_stats() or {}
        return int(stats.get("bytes_in_use", 0))
    raise ValueError(f"{framework} has no device counters")


def _tf_name(device: str) -> str:
    return {"gpu": "GPU:0", "tpu": "TPU:0"}[device]
