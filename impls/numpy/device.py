"""Device facts for the NumPy backend: CPU only, one execution mode, RSS-based peak memory.

NumPy has no device queue, so synchronisation is a no-op, and no compiler, so the only mode
is "eager". Peak memory is the process's peak resident set size (``resource.getrusage``);
the performance suite measures it in a fresh subprocess per case, since the high-water mark
cannot go down (on Linux it can be reset through /proc/self/clear_refs, which
:func:`reset_peak_memory` tries).
"""

from __future__ import annotations

import os
import resource
import sys
from typing import Any

import numpy as np

from impls import common

#: No compiler, so eager only (the shared tuple of :mod:`impls.common`).
MODES: tuple[str, ...] = common.EAGER_ONLY

#: Environment variables that set the thread count of the BLAS NumPy links against.
THREAD_ENV_VARS: tuple[str, ...] = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "BLIS_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)


def check_mode(mode: str) -> str:
    """``mode`` if NumPy has it (the shared check of :mod:`impls.common`), else a ValueError."""
    return common.check_mode("numpy", mode, MODES)


def default_device() -> str:
    return "cpu"


def synchronize(device: Any = None) -> None:
    """Nothing to wait for: every NumPy call returns when its result is computed."""


def reset_peak_memory(device: Any = None) -> bool:
    """Reset the peak-RSS mark where the OS allows it (Linux clear_refs); True if it did."""
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
    except OSError:
        return False
    return True


def peak_memory_bytes(device: Any = None) -> int:
    """Peak resident set size of this process in bytes (ru_maxrss is KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)


def current_rss_bytes() -> int | None:
    """Current resident set size in bytes where /proc is available, else None."""
    try:
        with open("/proc/self/statm") as handle:
            pages = int(handle.read().split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return pages * os.sysconf("SC_PAGE_SIZE")


def thread_info() -> dict[str, Any]:
    """CPU count, usable CPUs, the BLAS thread variables and threadpoolctl's view if installed."""
    info: dict[str, Any] = {
        "cpu_count": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "env": {name: os.environ.get(name) for name in THREAD_ENV_VARS},
    }
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        info["threadpools"] = None
    else:
        info["threadpools"] = [
            {k: pool.get(k) for k in ("user_api", "internal_api", "num_threads", "version")}
            for pool in threadpool_info()
        ]
    return info


def device_info() -> dict[str, Any]:
    """What the manifests record about the NumPy backend's execution environment."""
    return {
        "framework": "numpy",
        "version": np.__version__,
        "device": default_device(),
        "modes": MODES,
        "threads": thread_info(),
    }
