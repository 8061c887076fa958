"""The fused APTx layer kernel for CPUs: one pass over (batch, out, in), nothing stored.

y[b,o] = sum_i (A[o,i] + tanh(B[o,i] x[b,i])) G[o,i] x[b,i]          (delta added by the layer)

The layer is bound by tanh throughput (design §10), so the kernel is built around a tanh that
the compiler can vectorise: in float32 a rational approximation t = z P(z^2) / Q(z^2) on
[-9, 9] (``impls/kernels/tanh_fit.py``: under 7 ulps, well inside the float32 parity
tolerances); float64 calls libm's tanh, so float64 oracle comparisons stay exact to rounding.

The kernel is compiled with numba (LLVM, shipped as a wheel: a fresh ``pip install`` gets it
with no compiler or toolchain download), in parallel over blocks of output neurons, so every
thread owns the rows of dA, dB, dG it writes; dx is summed from one private buffer per thread.
Every term runs in these loops, the A-terms included: no BLAS call, whose spinning threads
took a core from the loops on a two-core machine. It works on NumPy arrays and is framework-neutral: the NumPy layer calls it directly, the torch,
JAX and TensorFlow twins call it through their host-function mechanisms (custom op, callback,
numpy_function), so all four run the same machine code.

Gradients, with t = tanh(z), z = B x, s = sech^2(z), upstream g [batch, out]:
    dA = sum_b g G x                  dB = sum_b g G x^2 s
    dG = sum_b g (A + t) x            dx = sum_o g G (A + t + z s)
s is never formed as 1 - t^2, which cancels where t rounds to +-1 (and dB multiplies s by
x^2): with e = exp(-2|z|) (float32: a vectorisable exp2), t = sign(z) (1 - e) / (1 + e) and
s = 4 e / (1 + e)^2, which keeps s's relative accuracy everywhere.
"""

from __future__ import annotations

import numpy as np

#: The kernel name recorded in result rows (``kernel`` column) when this kernel ran.
KERNEL_NAME = "fused-numba"

#: Output neurons per work item: the parameter rows of one block stay in the core's L2 cache.
OUT_BLOCK = 8


class KernelUnavailableError(RuntimeError):
    """The fused kernel needs numba, which is not installed."""


def _loops():
    """The compiled loops (numba imported on first use: ``import impls`` stays fast)."""
    try:
        from impls.kernels import _aptx_numba
    except ImportError as error:
        raise KernelUnavailableError(
            "the fused APTx kernel (impl='fused') needs numba, a dependency of neuronbench: "
            "pip install numba; impl='recompute' runs without it") from error
    return _aptx_numba


def _checked(x: np.ndarray, A: np.ndarray, B: np.ndarray, G: np.ndarray) -> list[np.ndarray]:
    dtype = x.dtype
    if dtype not in (np.float32, np.float64):
        raise TypeError(f"the fused APTx kernel takes float32 or float64 arrays, not {dtype}")
    for name, m in (("alpha", A), ("beta", B), ("gamma", G)):
        if m.dtype != dtype or m.ndim != 2 or m.shape != A.shape:
            raise ValueError(f"APTx {name} must be a {dtype} [out, in] matrix shaped like alpha "
                             f"{A.shape}; got {m.dtype} {m.shape}")
    if x.ndim != 2 or x.shape[1] != A.shape[1]:
        raise ValueError(f"APTx input must be [batch, {A.shape[1]}]; got {x.shape}")
    return [np.ascontiguousarray(a) for a in (x, A, B, G)]


def forward(x: np.ndarray, A: np.ndarray, B: np.ndarray, G: np.ndarray) -> np.ndarray:
    """y = sum_i (A + tanh(B x)) G x, [batch, out], in the dtype of ``x`` (no delta)."""
    x, A, B, G = _checked(x, A, B, G)
    y = np.zeros((x.shape[0], A.shape[0]), dtype=x.dtype)     # zeros: the loop reads its dtype from y
    _loops().forward(x, A, B, G, y, OUT_BLOCK)
    return y


def backward(x: np.ndarray, A: np.ndarray, B: np.ndarray, G: np.ndarray, g: np.ndarray
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(dx, dA, dB, dG) of sum(g * y), tanh and sech^2 recomputed in the same pass."""
    x, A, B, G = _checked(x, A, B, G)
    if g.shape != (x.shape[0], A.shape[0]):
        raise ValueError(f"APTx upstream gradient must be [{x.shape[0]}, {A.shape[0]}]; got {g.shape}")
    loops = _loops()
    g = np.ascontiguousarray(g, dtype=x.dtype)
    import numba

    n_blocks = -(-A.shape[0] // OUT_BLOCK)
    parts = max(1, min(numba.get_num_threads(), n_blocks))
    dx_parts = np.zeros((parts, *x.shape), dtype=x.dtype)
    gx, dB_sum, dG_tanh = np.zeros_like(A), np.zeros_like(B), np.zeros_like(G)
    loops.backward(x, A, B, G, g, dx_parts, gx, dB_sum, dG_tanh, OUT_BLOCK)
    dx = dx_parts.sum(axis=0) if parts > 1 else dx_parts[0]
    dG = A * gx
    dG += dG_tanh
    return dx, G * gx, G * dB_sum, dG


def tanh_f32(z: np.ndarray) -> np.ndarray:
    """The kernel's float32 tanh, element-wise (what its accuracy test measures)."""
    return _loops().tanh_f32_ufunc(np.asarray(z, dtype=np.float32))
