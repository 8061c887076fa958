"""Devices, synchronisation, peak memory and execution modes for PyTorch."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from impls import common
from impls.common import MODES
from impls.llvm_order import check_dynamo_import_safe


def parity_settings() -> None:
    """Full-precision float32 maths: no TF32 on Ampere+ GPUs (design §4: TF32 off for parity)."""
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.set_float32_matmul_precision("highest")


def default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def synchronize(device: torch.device | str | None = None) -> None:
    """Wait for queued device work (timing must not stop the clock on an asynchronous launch)."""
    device = torch.device(device) if device is not None else default_device()
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def reset_peak_memory(device: torch.device | str | None = None) -> None:
    device = torch.device(device) if device is not None else default_device()
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)


def peak_memory_bytes(device: torch.device | str | None = None) -> int | None:
    """Peak allocated device memory since the last reset; None on CPU (measure RSS instead)."""
    device = torch.device(device) if device is not None else default_device()
    if device.type == "cuda":
        return int(torch.cuda.max_memory_allocated(device))
    return None


def check_mode(mode: str) -> str:
    """``mode`` if torch has it (the shared check of :mod:`impls.common`), else a ValueError."""
    return common.check_mode("torch", mode, MODES)


#: Dynamo compiles one graph per (code object, guards): every block class and model structure
#: at every dtype and shape is one entry. The default limit (8 per code object) is reached
#: within one parity run, after which dynamo silently runs the code *eagerly*, so "compiled"
#: rows would test eager mode. Raise the limits and make reaching them an error instead.
RECOMPILE_LIMIT = 1024


def compile_settings() -> None:
    """Generous recompile limits, and an error (never a silent eager fallback) past them."""
    check_dynamo_import_safe()  # importing torch._dynamo imports triton (impls/llvm_order.py)
    import torch._dynamo.config as dynamo_config

    dynamo_config.recompile_limit = max(dynamo_config.recompile_limit, RECOMPILE_LIMIT)
    dynamo_config.accumulated_recompile_limit = max(
        dynamo_config.accumulated_recompile_limit, 8 * RECOMPILE_LIMIT)
    dynamo_config.fail_on_recompile_limit_hit = True


def in_mode(module: Any, mode: str) -> Callable[..., Any]:
    """The module itself (eager) or its torch.compile'd twin, cached on the module.

    The compiled twin uses ``fullgraph=True``: a graph break would quietly run part of the
    block eagerly, which compiled-mode parity must not hide.
    """
    check_mode(mode)
    if mode == "eager":
        return module
    compiled = module.__dict__.get("_neuronbench_compiled")
    if compiled is None:
        compile_settings()
        compiled = torch.compile(module, dynamic=False, fullgraph=True)
        module.__dict__["_neuronbench_compiled"] = compiled
    return compiled
