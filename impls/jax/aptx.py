"""Memory-lean APTx layer maths for JAX.

The package's layer broadcasts x to [batch, out, in]; under plain autodiff JAX would keep such
tensors as residuals for the backward pass (spec §1.4). :func:`aptx_recompute` is a
``jax.custom_vjp`` whose forward saves only its four operands (x and the three [out, in]
parameter matrices); the backward pass recomputes tanh(B x) chunk by chunk over the batch
inside a ``lax.scan``, so no [batch, out, in] value is ever a residual and the temporaries
hold at most ``CHUNK_ELEMENTS`` values at a time.

Gradients (spec §1.1), with t = tanh(B[o,i] x[b,i]) and s = 1 - t^2 = sech^2(B x):
    dA[o,i] = G[o,i] sum_b g[b,o] x[b,i]                 (a matmul)
    dG[o,i] = A[o,i] sum_b g x + sum_b g t x
    dB[o,i] = G[o,i] sum_b g x^2 s
    dx[b,i] = sum_o g A G  +  sum_o g G (t + B x s)      (the first term a matmul)

Saturation: where |B x| is large, t rounds to +-1 and ``1 - t*t`` keeps only rounding noise
(absolute error ~1e-7 in float32 against a true value that may be 1e-6), which the x^2 factor
of dB then amplifies. Both t and s therefore come from
:func:`impls.jax.functional.tanh_and_sech2` (one exponential per element, accurate in
relative terms everywhere).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from impls.jax.functional import tanh, tanh_and_sech2
from impls.kernels import aptx_cpu

#: Elements of one [chunk, out, in] temporary (4 MiB in float32).
CHUNK_ELEMENTS = 1 << 20

#: Full-precision matmuls everywhere (no TF32/bf16 passes on GPUs; design §4).
HIGHEST = lax.Precision.HIGHEST


def chunk_rows(out_features: int, in_features: int) -> int:
    """Batch rows whose [rows, out, in] temporaries hold at most CHUNK_ELEMENTS values."""
    return max(1, CHUNK_ELEMENTS // max(1, out_features * in_features))


def _chunked(x: jax.Array, rows: int) -> tuple[jax.Array, int]:
    """x [B, ...] zero-padded to a multiple of ``rows`` and reshaped to [n, rows, ...]."""
    batch = x.shape[0]
    n = -(-batch // rows)
    pad = n * rows - batch
    if pad:
        x = jnp.pad(x, [(0, pad)] + [(0, 0)] * (x.ndim - 1))
    return x.reshape(n, rows, *x.shape[1:]), pad


def _unchunked(y: jax.Array, batch: int) -> jax.Array:
    return y.reshape(-1, *y.shape[2:])[:batch]


def _tanh_term(x: jax.Array, B: jax.Array, G: jax.Array) -> jax.Array:
    """sum_i G[o,i] x[b,i] tanh(B[o,i] x[b,i]) for one chunk of rows: [rows, O]."""
    t = jnp.tanh(B[None] * x[:, None, :])
    return jnp.einsum("boi,oi->bo", t * x[:, None, :], G, precision=HIGHEST)


# The forward and backward kernels are jitted on their own: a jitted kernel is a fused op of
# "eager" mode (like torch's autograd.Function), and without it every eager call would
# re-trace and re-compile its lax.scan body. Under an outer jax.jit they are simply inlined.
@functools.partial(jax.jit, static_argnums=4)
def _forward(x: jax.Array, A: jax.Array, B: jax.Array, G: jax.Array, rows: int) -> jax.Array:
    linear = jnp.dot(x, (A * G).T, precision=HIGHEST)
    if x.shape[0] <= rows:
        return linear + _tanh_term(x, B, G)
    xc, _ = _chunked(x, rows)
    tanh_part = lax.map(lambda xs: _tanh_term(xs, B, G), xc)
    return linear + _unchunked(tanh_part, x.shape[0])


def aptx_recompute(x: jax.Array, A: jax.Array, B: jax.Array, G: jax.Array) -> jax.Array:
    """y[b,o] = sum_i (A + tanh(B x)) G x, without keeping any [batch, out, in] residual.

    The chunk size is read from CHUNK_ELEMENTS at call time (a static argument of the kernels).
    """
    return _aptx_lean(x, A, B, G, chunk_rows(*A.shape))


@functools.partial(jax.custom_vjp, nondiff_argnums=(4,))
def _aptx_lean(x, A, B, G, rows):
    return _forward(x, A, B, G, rows)


def _lean_fwd(x, A, B, G, rows):
    return _forward(x, A, B, G, rows), (x, A, B, G)


def _lean_bwd(rows, residuals, g):
    return _backward(*residuals, g, rows)


@functools.partial(jax.jit, static_argnums=5)
def _backward(x, A, B, G, g, rows):
    batch = x.shape[0]
    if batch == 0:  # an empty batch: zero gradients (no chunks to scan)
        zeros = jnp.zeros_like(A)
        return jnp.zeros_like(x), zeros, zeros, zeros
    gx = jnp.dot(g.T, x, precision=HIGHEST)                       # [O, I]
    dx_linear = jnp.dot(g, A * G, precision=HIGHEST)              # [B, I]
    rows = min(batch, rows)
    xc, _ = _chunked(x, rows)
    gc, _ = _chunked(g, rows)                                      # padded rows: g = 0

    def body(carry, chunk):
        dB_acc, dG_acc = carry
        xs, gs = chunk                                             # [r, I], [r, O]
        xb = xs[:, None, :]
        t, s = tanh_and_sech2(B[None] * xb)                       # [r, O, I]
        dG_acc = dG_acc + jnp.einsum("bo,boi->oi", gs, t * xb, precision=HIGHEST)
        dB_acc = dB_acc + jnp.einsum("bo,boi->oi", gs, s * (xb * xb), precision=HIGHEST)
        dx = jnp.einsum("bo,boi->bi", gs, (t + B[None] * xb * s) * G[None], precision=HIGHEST)
        return (dB_acc, dG_acc), dx

    zeros = jnp.zeros_like(A)
    (dB_sum, dG_tanh), dx_tanh = lax.scan(body, (zeros, zeros), (xc, gc))
    dx = dx_linear + _unchunked(dx_tanh, batch)
    return dx, G * gx, G * dB_sum, A * gx + dG_tanh


_aptx_lean.defvjp(_lean_fwd, _lean_bwd)


def aptx_naive(x: jax.Array, A: jax.Array, B: jax.Array, G: jax.Array) -> jax.Array:
    """The package's broadcast formulation (materialises [batch, out, in]); for comparisons only."""
    xb = x[:, None, :]
    return jnp.sum((A[None] + tanh(B[None] * xb)) * G[None] * xb, axis=2)


# --- the fused kernels: numba on CPU (host callback), Pallas on GPU ---------------------------
# jax.pure_callback runs the compiled NumPy kernel (impls/kernels/aptx_cpu.py) from inside jit
# (and eagerly): XLA sees one opaque call per direction, so nothing is unrolled and compile
# time does not grow with the batch. The custom_vjp keeps only the operands as residuals, like
# aptx_recompute. On a GPU the callback would copy every operand device -> host -> device, so
# there aptx_fused runs the Pallas twin (impls/kernels/aptx_pallas.py) on the device instead.

#: Values of ``jax.default_backend()`` for which the fused layer runs the Pallas kernel.
GPU_BACKENDS = frozenset({"gpu", "cuda", "rocm"})


def uses_pallas() -> bool:
    """Whether the fused layer runs the Pallas kernel: JAX's default backend is a GPU.

    Decided from ``jax.default_backend()`` when the layer is traced, not from the inputs'
    devices: under ``jax.jit`` the inputs are tracers that carry no device, and the package
    puts every array on the default device (:func:`impls.jax.device.default_device`), so the
    default backend is where the traced computation runs.
    """
    return jax.default_backend() in GPU_BACKENDS


def _host_forward(x, A, B, G):
    return aptx_cpu.forward(*(np.asarray(a) for a in (x, A, B, G)))


def _host_backward(x, A, B, G, g):
    return aptx_cpu.backward(*(np.asarray(a) for a in (x, A, B, G, g)))


def aptx_fused(x: jax.Array, A: jax.Array, B: jax.Array, G: jax.Array) -> jax.Array:
    """y[b,o] = sum_i (A + tanh(B x)) G x by a fused kernel (no [batch, out, in] value).

    The numba CPU kernel through a host callback on CPU, the Pallas kernel on a GPU backend
    (:func:`uses_pallas`; Pallas is imported only then). Both are custom VJPs whose residuals
    are the four operands.
    """
    if uses_pallas():
        from impls.kernels import aptx_pallas

        return aptx_pallas.aptx_pallas(x, A, B, G)
    return _aptx_host(x, A, B, G)


@jax.custom_vjp
def _aptx_host(x: jax.Array, A: jax.Array, B: jax.Array, G: jax.Array) -> jax.Array:
    """The fused CPU kernel through ``jax.pure_callback``."""
    out = jax.ShapeDtypeStruct((x.shape[0], A.shape[0]), x.dtype)
    return jax.pure_callback(_host_forward, out, x, A, B, G)


def _fused_fwd(x, A, B, G):
    return _aptx_host(x, A, B, G), (x, A, B, G)


def _fused_bwd(residuals, g):
    x, A, B, G = residuals
    shapes = tuple(jax.ShapeDtypeStruct(a.shape, a.dtype) for a in residuals)
    return jax.pure_callback(_host_backward, shapes, x, A, B, G, g.astype(x.dtype))


_aptx_host.defvjp(_fused_fwd, _fused_bwd)


def kernel_name(impl: str, mode: str = "eager") -> str:
    """What ``impl`` runs in either mode (the ``kernel`` column of result rows).

    ``"fused"`` is the Pallas kernel's name on a GPU backend and the CPU kernel's elsewhere,
    by the same test as :func:`aptx_fused`.
    """
    if impl != "fused":
        return impl
    if uses_pallas():
        from impls.kernels import aptx_pallas

        return aptx_pallas.KERNEL_NAME
    return aptx_cpu.KERNEL_NAME
