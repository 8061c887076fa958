"""The numba-compiled loops behind :mod:`impls.kernels.aptx_cpu` (imported only when used).

Module-level functions, so numba's on-disk cache (``cache=True``) finds them again in every
new process: the first process compiles for about 15 s, later ones load the machine code.
``tanh_only`` and ``tanh_sech2`` are dispatched on the element type at compile time
(``overload``): float32 gets the vectorisable rational tanh (forward) and one vectorisable
exp2 (backward), float64 libm's.

Every term is computed here, the A-terms too (no BLAS call: see ``forward``). The loops run over blocks of output
neurons in parallel; the backward pass takes the batch four rows at a time, so each parameter
element loaded serves four rows and each accumulator row of dB, dG is read and written once
per four rows.
``error_model="numpy"`` drops numba's division-by-zero check, which otherwise stops LLVM from
vectorising the tanh's division.
"""

from __future__ import annotations

import math

import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic, overload

from impls.kernels.tanh_fit import CLAMP, EXP2, P, Q

FASTMATH = {"nsz", "arcp", "contract", "afn", "reassoc"}
_JIT = {"fastmath": FASTMATH, "error_model": "numpy", "cache": True}

_P0, _P1, _P2, _P3, _P4, _P5 = (np.float32(c) for c in P)
_Q1, _Q2, _Q3 = (np.float32(c) for c in Q[1:])
_CLAMP32 = np.float32(CLAMP)
_ONE32 = np.float32(1.0)
_ZERO32 = np.float32(0.0)
_FOUR32 = np.float32(4.0)
_E0, _E1, _E2, _E3, _E4, _E5, _E6 = (np.float32(c) for c in EXP2)
_MINUS_2_LOG2E = np.float32(-2.0 / math.log(2.0))
_EXP2_FLOOR = np.float32(-126.0)       # 2^-126: the smallest normal float32
_BIAS = np.int32(127)
_MANTISSA_BITS = np.int32(23)


@intrinsic
def _float32_from_bits(typingctx, bits):
    """Reinterpret an int32 as the float32 with the same bits (an LLVM bitcast, vectorisable)."""
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.FloatType())
    return types.float32(types.int32), codegen


@numba.njit(inline="always", **_JIT)
def exp2_f32(w):
    """2^w for float32 w <= 0: 2^floor(w) from the exponent bits times a polynomial 2^frac."""
    w = max(w, _EXP2_FLOOR)
    n = np.floor(w)                    # np.floor stays float32 (math.floor gives int64: scalar)
    f = w - n
    p = (((((_E6 * f + _E5) * f + _E4) * f + _E3) * f + _E2) * f + _E1) * f + _E0
    return p * _float32_from_bits((np.int32(n) + _BIAS) << _MANTISSA_BITS)


@numba.njit(inline="always", **_JIT)
def tanh_f32(z):
    """z P(z^2) / Q(z^2) with z clamped to [-9, 9] (under 7 ulps; may exceed 1 by an ulp)."""
    z = min(max(z, -_CLAMP32), _CLAMP32)
    u = z * z
    p = (((((_P5 * u + _P4) * u + _P3) * u + _P2) * u + _P1) * u + _P0)
    q = (((_Q3 * u + _Q2) * u + _Q1) * u + _ONE32)
    return z * p / q


def tanh_sech2(z):  # pragma: no cover - a stub that numba replaces by the overload below
    raise NotImplementedError


@overload(tanh_sech2, inline="always", fastmath=FASTMATH)
def _tanh_sech2_overload(z):
    if isinstance(z, types.Float) and z.bitwidth == 32:
        def float32_impl(z):
            # One exponential gives both: e = exp(-2|z|), tanh|z| = (1 - e) / (1 + e) and
            # sech^2 = 4 e / (1 + e)^2. Not 1 - t^2, which cancels where t rounds to +-1 (dB
            # multiplies it by x^2: |x| = 100 gave 2e-4 relative error); this s keeps e's
            # relative accuracy everywhere, and costs one exp2 and one division instead of the
            # rational tanh plus an exp2 (measured 10-15 % faster backward). t loses relative
            # (not absolute: ~1 ulp of 1) accuracy near z = 0, where the gradients that use it
            # add it to A or to z s and so only need it absolutely.
            e = exp2_f32(_MINUS_2_LOG2E * abs(z))
            r = _ONE32 / (_ONE32 + e)
            t = (_ONE32 - e) * r
            return (t if z >= _ZERO32 else -t), _FOUR32 * e * r * r
        return float32_impl

    def float64_impl(z):
        e = math.exp(-2.0 * abs(z))
        d = 1.0 + e
        return math.tanh(z), 4.0 * e / (d * d)
    return float64_impl


def tanh_only(z):  # pragma: no cover - replaced by the overload below
    raise NotImplementedError


@overload(tanh_only, inline="always", fastmath=FASTMATH)
def _tanh_only_overload(z):
    if isinstance(z, types.Float) and z.bitwidth == 32:
        return lambda z: tanh_f32(z)
    return lambda z: math.tanh(z)


@numba.njit(parallel=True, **_JIT)
def forward(x, A, B, G, y, out_block):
    """y[b, o] = sum_i G x (A + tanh(B x)), in parallel over blocks of ``out_block`` neurons.

    The A-term rides along in the same loop (one load and one add per element of a loop bound
    by the tanh) rather than going to BLAS: a BLAS call leaves its threads spinning for
    milliseconds after it returns, and on two cores they took a core from these loops (the
    forward pass measured 2x slower with the matmul beside it).
    One row at a time: with several rows per pass LLVM falls back to 4-wide vectors here
    (measured 1.5x slower); the single-row loop runs near the tanh's own throughput.
    """
    batch, n_in = x.shape
    n_out = B.shape[0]
    n_blocks = (n_out + out_block - 1) // out_block
    for blk in numba.prange(n_blocks):
        o_end = min(n_out, (blk + 1) * out_block)
        for b in range(batch):
            for o in range(blk * out_block, o_end):
                acc = y[b, o] * 0
                for i in range(n_in):
                    xi = x[b, i]
                    acc += G[o, i] * xi * (A[o, i] + tanh_only(B[o, i] * xi))
                y[b, o] = acc


@numba.njit(parallel=True, **_JIT)
def backward(x, A, B, G, g, dx_parts, gx, dB_sum, dG_tanh, out_block):
    """Accumulate every sum of the gradients in one pass (``aptx_cpu.backward`` scales them):

        dx_parts[p, b, i] += sum_o g G (A + t + z s)   (part p owns neuron blocks p, p + P, ...)
        gx[o, i]          += sum_b g x                 (dA = G gx, dG = A gx + dG_tanh)
        dB_sum[o, i]      += sum_b g x^2 s             (dB = G dB_sum)
        dG_tanh[o, i]     += sum_b g x t

    Four rows per pass: each parameter element loaded serves four rows, and each accumulator
    element of gx, dB, dG is read and written once per four rows (eight rows spill registers:
    measured 10x slower; two rows 1.2x slower).
    """
    batch, n_in = x.shape
    n_out = B.shape[0]
    n_blocks = (n_out + out_block - 1) // out_block
    n_parts = dx_parts.shape[0]
    quads = batch // 4
    for part in numba.prange(n_parts):
        dx = dx_parts[part]
        for blk in range(part, n_blocks, n_parts):
            o_end = min(n_out, (blk + 1) * out_block)
            for q in range(quads):
                b = 4 * q
                for o in range(blk * out_block, o_end):
                    g0, g1, g2, g3 = g[b, o], g[b + 1, o], g[b + 2, o], g[b + 3, o]
                    for i in range(n_in):
                        ao, bo, go = A[o, i], B[o, i], G[o, i]
                        x0, x1, x2, x3 = x[b, i], x[b + 1, i], x[b + 2, i], x[b + 3, i]
                        z0, z1, z2, z3 = bo * x0, bo * x1, bo * x2, bo * x3
                        t0, s0 = tanh_sech2(z0)
                        t1, s1 = tanh_sech2(z1)
                        t2, s2 = tanh_sech2(z2)
                        t3, s3 = tanh_sech2(z3)
                        gx0, gx1, gx2, gx3 = g0 * x0, g1 * x1, g2 * x2, g3 * x3
                        dx[b, i] += g0 * go * (ao + t0 + z0 * s0)
                        dx[b + 1, i] += g1 * go * (ao + t1 + z1 * s1)
                        dx[b + 2, i] += g2 * go * (ao + t2 + z2 * s2)
                        dx[b + 3, i] += g3 * go * (ao + t3 + z3 * s3)
                        gx[o, i] += gx0 + gx1 + gx2 + gx3
                        dB_sum[o, i] += gx0 * x0 * s0 + gx1 * x1 * s1 + gx2 * x2 * s2 + gx3 * x3 * s3
                        dG_tanh[o, i] += gx0 * t0 + gx1 * t1 + gx2 * t2 + gx3 * t3
            for b in range(4 * quads, batch):
                for o in range(blk * out_block, o_end):
                    gb = g[b, o]
                    for i in range(n_in):
                        xi = x[b, i]
                        z = B[o, i] * xi
                        t, s = tanh_sech2(z)
                        gxb = gb * xi
                        dx[b, i] += gb * G[o, i] * (A[o, i] + t + z * s)
                        gx[o, i] += gxb
                        dB_sum[o, i] += gxb * xi * s
                        dG_tanh[o, i] += gxb * t


@numba.vectorize(["float32(float32)"], cache=True)
def tanh_f32_ufunc(z):
    """The kernel's float32 tanh as a ufunc (for its accuracy test and the tanh ceiling)."""
    return tanh_f32(z)


@numba.vectorize(["float32(float32)"], cache=True)
def sech2_f32_ufunc(z):
    """The kernel's float32 sech^2 as a ufunc (for its accuracy test)."""
    return tanh_sech2(z)[1]
