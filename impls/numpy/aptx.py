"""APTx layer kernels: the memory-lean recomputing pair and the package's naive broadcast.

y[b,o] = sum_i (A[o,i] + tanh(B[o,i] x[b,i])) G[o,i] x[b,i]  (+ delta[o], added by the layer)

Only the A-term is a matmul: x (A*G)^T. The tanh term couples (o, i), so it is evaluated on
[rows, out, in] slabs of a bounded size (``chunk_elements``), one batch chunk at a time, and
nothing of shape [batch, out, in] outlives a chunk. The backward pass recomputes tanh instead
of storing it (spec §1.1, §1.4; design §10: on a CPU the layer is bound by tanh throughput, so
recomputing costs one extra sweep and saves nearly all of the memory).

Gradients, with t = tanh(B x), s = 1 - t^2 = sech^2(B x), upstream g [batch, out]:
    dA = G * (g^T x)                                   a matmul
    dG = A * (g^T x) + sum_b g[b,o] t x[b,i]
    dB = G * sum_b g[b,o] x[b,i]^2 s
    dx = g (A*G) + sum_o g[b,o] G (t + B x s)
The per-chunk contractions are batched matrix products (over o or over b), so no temporary
beyond the chunk's own slabs is created.
"""

from __future__ import annotations

import numpy as np

from impls.kernels import aptx_cpu
from impls.numpy.functional import sech2

#: Default number of elements of one [rows, out, in] slab (1 MiB in float32).
CHUNK_ELEMENTS = 1 << 18


def batch_chunks(batch: int, out_features: int, in_features: int,
                 chunk_elements: int = CHUNK_ELEMENTS) -> list[slice]:
    """Batch slices whose [rows, out, in] slabs hold at most ``chunk_elements`` values (>= 1 row)."""
    rows = max(1, int(chunk_elements) // max(1, out_features * in_features))
    return [slice(start, min(start + rows, batch)) for start in range(0, batch, rows)]


def _rows_times(g: np.ndarray, slab: np.ndarray) -> np.ndarray:
    """sum_o g[b,o] slab[b,o,i] -> [b, i] (one small matmul per row)."""
    return np.matmul(g[:, None, :], slab)[:, 0, :]


def _cols_times(g: np.ndarray, slab: np.ndarray) -> np.ndarray:
    """sum_b g[b,o] slab[b,o,i] -> [o, i].

    One small matmul per output neuron, except for slabs of one or two rows (the usual case
    for wide layers, whose slabs are sized to stay in cache), where the per-matrix overhead of
    the batched matmul dominates and einsum's single pass is several times faster.
    """
    if g.shape[0] <= 2:
        return np.einsum("bo,boi->oi", g, slab)
    return np.matmul(g.T[:, None, :], slab.transpose(1, 0, 2))[:, 0, :]


def _work_buffers(chunks: list[slice], out_features: int, in_features: int, dtype: np.dtype,
                  count: int) -> list[np.ndarray]:
    """``count`` reusable [rows, out, in] slabs for the largest chunk (no per-chunk allocation)."""
    rows = max(c.stop - c.start for c in chunks)
    return [np.empty((rows, out_features, in_features), dtype=dtype) for _ in range(count)]


def aptx_recompute(x: np.ndarray, A: np.ndarray, B: np.ndarray, G: np.ndarray,
                   chunk_elements: int = CHUNK_ELEMENTS) -> np.ndarray:
    """APTx layer output without delta; keeps no [batch, out, in] tensor.

    Same name as the twins' custom-gradient op; NumPy has no autodiff, so its backward is the
    separate :func:`aptx_recompute_vjp`.
    """
    y = x @ (A * G).T
    if x.shape[0] == 0:
        return y
    chunks = batch_chunks(x.shape[0], *A.shape, chunk_elements)
    (buffer,) = _work_buffers(chunks, *A.shape, x.dtype, 1)
    for rows in chunks:
        xs = x[rows, None, :]                               # [b, 1, I]
        slab = buffer[: rows.stop - rows.start]             # [b, O, I]
        np.multiply(B, xs, out=slab)
        np.tanh(slab, out=slab)
        np.multiply(slab, xs, out=slab)
        # sum_i t x G[o, i]: one matvec per output neuron.
        y[rows] += np.matmul(slab.transpose(1, 0, 2), G[:, :, None])[:, :, 0].T
    return y


def aptx_recompute_vjp(x: np.ndarray, A: np.ndarray, B: np.ndarray, G: np.ndarray,
                       g: np.ndarray, need_x: bool = True, need_a: bool = True,
                       chunk_elements: int = CHUNK_ELEMENTS
                       ) -> tuple[np.ndarray | None, np.ndarray | None, np.ndarray, np.ndarray]:
    """(dx, dA, dB, dG) of sum(g * y), tanh recomputed chunk by chunk (dx/dA None if not needed).

    tanh and sech^2 come from one exp per element: with e = exp(-2 |B| |x|) and
    r = 1 / (1 + e), |tanh(B x)| = 2 r - 1 and sech^2(B x) = 4 e r^2. tanh is then accurate in
    absolute terms (all these formulas need), sech^2 keeps its relative accuracy where
    1 - tanh^2 would cancel (it is multiplied by x^2 in dB). Four reusable slabs, written
    with ``out=``, hold the chunk's temporaries.
    """
    gx = g.T @ x                                            # [O, I]
    dx = g @ (A * G) if need_x else None
    dB = np.zeros_like(B)
    dG_tanh = np.zeros_like(G)
    if x.shape[0]:
        neg_two_abs_b = -2.0 * np.abs(B)
        abs_x = np.abs(x)
        chunks = batch_chunks(x.shape[0], *A.shape, chunk_elements)
        buffers = _work_buffers(chunks, *A.shape, x.dtype, 4)
        for rows in chunks:
            n = rows.stop - rows.start
            e, r, t, z = (buffer[:n] for buffer in buffers)
            xs = x[rows, None, :]                           # [b, 1, I]
            gs = g[rows]                                    # [b, O]
            np.multiply(neg_two_abs_b, abs_x[rows, None, :], out=e)
            np.exp(e, out=e)                                # e = exp(-2 |B x|)
            np.add(e, 1.0, out=r)
            np.reciprocal(r, out=r)                         # r = 1 / (1 + e)
            np.multiply(r, 2.0, out=t)
            np.subtract(t, 1.0, out=t)                      # |tanh| = (1 - e) / (1 + e) = 2 r - 1
            np.multiply(B, xs, out=z)                       # z = B x
            np.copysign(t, z, out=t)                        # t = tanh(B x)
            np.multiply(e, r, out=e)
            np.multiply(e, r, out=e)                        # e = sech^2 / 4
            if need_x:
                np.multiply(z, e, out=z)
                np.multiply(z, 4.0, out=z)
                np.add(z, t, out=z)
                np.multiply(z, G, out=z)                    # G (t + B x sech^2)
                dx[rows] += _rows_times(gs, z)
            np.multiply(e, xs, out=e)
            np.multiply(e, xs, out=e)                       # x^2 sech^2 / 4
            dB += _cols_times(gs, e)
            np.multiply(t, xs, out=t)                       # t x
            dG_tanh += _cols_times(gs, t)
    dB *= G
    dB *= 4.0
    dA = G * gx if need_a else None
    dG = A * gx
    dG += dG_tanh
    return dx, dA, dB, dG


def aptx_naive(x: np.ndarray, A: np.ndarray, B: np.ndarray, G: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray]:
    """The package's broadcast formulation; returns (y, t) with t = tanh(B x) of [batch, out, in].

    Kept to measure what the lean version saves: the layer caches t for its backward pass
    (:func:`aptx_naive_vjp`), which is why it returns t where the twins' ``aptx_naive`` does not.
    """
    xs = x[:, None, :]
    t = np.tanh(B * xs)
    y = np.sum((A + t) * G * xs, axis=2)
    return y, t


def aptx_naive_vjp(x: np.ndarray, t: np.ndarray, A: np.ndarray, B: np.ndarray, G: np.ndarray,
                   g: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(dx, dA, dB, dG) from the stored [batch, out, in] tanh, plain broadcasting throughout."""
    xs = x[:, None, :]
    gs = g[:, :, None]
    s = sech2(B * xs)
    dA = np.sum(gs * G * xs, axis=0)
    dB = np.sum(gs * G * xs * xs * s, axis=0)
    dG = np.sum(gs * (A + t) * xs, axis=0)
    dx = np.sum(gs * G * (A + t + B * xs * s), axis=1)
    return dx, dA, dB, dG


def aptx_fused(x: np.ndarray, A: np.ndarray, B: np.ndarray, G: np.ndarray) -> np.ndarray:
    """The fused compiled kernel (impls/kernels/aptx_cpu.py); the twins wrap the same one."""
    return aptx_cpu.forward(x, A, B, G)


def aptx_fused_vjp(x: np.ndarray, A: np.ndarray, B: np.ndarray, G: np.ndarray, g: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(dx, dA, dB, dG) of :func:`aptx_fused`, recomputed in one compiled pass."""
    return aptx_cpu.backward(x, A, B, G, g)


def kernel_name(impl: str, mode: str = "eager") -> str:
    """What ``impl`` runs (the ``kernel`` column of result rows); NumPy has one mode."""
    return aptx_cpu.KERNEL_NAME if impl == "fused" else impl
