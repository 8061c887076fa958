"""The tanh ceiling's loop, shared by the ceilings probe and the paired roofline of the APTx cases.

One definition of "the best tanh this project has on a CPU" (the fused kernel's vectorised
float32 tanh over cache-resident data, every thread), so the ceiling of a run and the
in-process roofline of each APTx case measure the same thing. numba is imported with this
module, so import it only inside a probe process.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numba
import numpy as np

from impls.kernels._aptx_numba import FASTMATH, tanh_f32

#: Elements per sweep: 16 KiB of float32, resident in L1/L2, so only tanh throughput counts.
SWEEP_ELEMENTS = 4096


@numba.njit(parallel=True, fastmath=FASTMATH, error_model="numpy", cache=True)
def tanh_sweeps(a, out, sweeps):
    """Each of len(out) threads evaluates tanh over ``a`` ``sweeps`` times (a sum keeps it live)."""
    n_threads = out.shape[0]
    for t in numba.prange(n_threads):
        acc = np.float32(0.0)
        for s in range(sweeps):
            scale = np.float32(1.0) + np.float32(s) * np.float32(1e-7)
            for i in range(a.shape[0]):
                acc += tanh_f32(a[i] * scale)
        out[t] = acc


def sweep_call(evaluations: int) -> tuple[Callable[[], None], int]:
    """(a call evaluating about ``evaluations`` tanh on every thread together, the exact count)."""
    threads = numba.get_num_threads()
    a = np.random.default_rng(0).standard_normal(SWEEP_ELEMENTS).astype(np.float32)
    out = np.zeros(threads, np.float32)
    sweeps = max(1, round(evaluations / (threads * SWEEP_ELEMENTS)))
    return (lambda: tanh_sweeps(a, out, sweeps)), threads * sweeps * SWEEP_ELEMENTS


def tanh_per_s(evaluations: int = 2 ** 26, repeats: int = 5) -> float:
    """Best-of-``repeats`` tanh rate of :func:`sweep_call` (after one warm-up call)."""
    call, count = sweep_call(evaluations)
    call()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        best = min(best, time.perf_counter() - start)
    return count / best
