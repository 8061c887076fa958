"""The numba-compiled element-wise passes behind :mod:`impls.kernels.yat_cpu` (imported on use).

Each function is one pass over a [batch, out] (or [rows, cols]) array doing what NumPy would do
in eight to twelve separate array operations, each allocating a temporary and reading and
writing the whole array again. Single-threaded on purpose: the passes sit between BLAS calls,
whose threads keep spinning for milliseconds after returning and would take the second core
from a parallel loop (the same effect ``_aptx_numba.forward`` documents). ``reassoc`` lets
LLVM vectorise the row reductions; no other fast-math flag, so each element is rounded as
the NumPy formulation rounds it.

Constants come in ``consts`` = [eps, scale, 2, 0], an array of the layer dtype: a Python float
literal is float64 to numba and would promote every float32 operation it touches.
"""

from __future__ import annotations

import numba

_JIT = {"fastmath": {"reassoc", "nsz"}, "error_model": "numpy", "cache": True}


@numba.njit(**_JIT)
def scores(dot, x_sq, w_sq, bias, consts, y):
    """y = scale (dot + bias)^2 / (max(x_sq + w_sq - 2 dot, 0) + eps), in one pass."""
    eps, scale, two, zero = consts[0], consts[1], consts[2], consts[3]
    batch, n_out = dot.shape
    for b in range(batch):
        for o in range(n_out):
            d = dot[b, o]
            num = d + bias[o]
            dist = max(x_sq[b] + w_sq[o] - two * d, zero) + eps
            y[b, o] = scale * (num * num / dist)


@numba.njit(**_JIT)
def score_grads(dot, x_sq, w_sq, bias, consts, g, g_dot, row_sum, col_sum, d_bias):
    """The upstream ``g`` through the scores, in one pass; returns sum(g * ratio).

    g_dot[b, o] = g_num - 2 g_dist, with g_num = 2 scale g num / dist and
    g_dist = -scale g ratio / dist where the clamp is inactive (0 where it clamps);
    row_sum[b] = sum_o g_dist, col_sum[o] = sum_b g_dist, d_bias[o] = sum_b g_num.
    """
    eps, scale, two, zero = consts[0], consts[1], consts[2], consts[3]
    batch, n_out = dot.shape
    g_ratio = zero
    for b in range(batch):
        row = zero
        for o in range(n_out):
            d = dot[b, o]
            num = d + bias[o]
            raw = x_sq[b] + w_sq[o] - two * d
            dist = max(raw, zero) + eps
            ratio = num * num / dist
            gb = g[b, o]
            g_num = two * scale * gb * num / dist
            g_dist = -scale * gb * ratio / dist if raw > zero else zero
            g_dot[b, o] = g_num - two * g_dist
            row += g_dist
            col_sum[o] += g_dist
            d_bias[o] += g_num
            g_ratio += gb * ratio
        row_sum[b] = row
    return g_ratio


@numba.njit(**_JIT)
def add_scaled_rows(out, v, coeff):
    """out[r, :] += coeff[r] v[r, :] in place (the 2 x sum(g_dist) terms of dx and dW)."""
    rows, cols = out.shape
    for r in range(rows):
        c = coeff[r]
        for j in range(cols):
            out[r, j] += c * v[r, j]
