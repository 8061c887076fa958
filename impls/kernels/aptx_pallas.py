"""The fused APTx layer kernel for GPUs, in JAX Pallas: tanh recomputed, nothing [batch, out, in] in HBM.

y[b,o] = sum_i (A[o,i] + tanh(B[o,i] x[b,i])) G[o,i] x[b,i]          (delta added by the layer)

Why a kernel: the layer is bound by tanh throughput and by the [batch, out, in] intermediate
that XLA materialises (in chunks, ``impls/jax/aptx.py::aptx_recompute``) between the tanh and
the reductions. On a GPU the fused CPU kernel (``aptx_cpu.py``, numba) would be reached
through a host callback, i.e. a device->host->device copy on every call; this is its twin,
written once more for the GPU: every [tile_b, tile_o, tile_i] value lives in registers of one
program and is reduced there, so HBM sees only x, g, the [out, in] matrices and the results.

Three ``pallas_call``s, each a grid over two output dimensions with a ``lax.fori_loop`` over
the third (reduced) one, accumulating in the input dtype (float32 or float64):
    forward   grid (batch, out) tiles, loop over in:    y  = sum_i (A + t) G x
    dx        grid (batch, in) tiles,  loop over out:   dx = sum_o g G (A + t + z s)
    dA dB dG  grid (out, in) tiles,    loop over batch: sum_b g x, sum_b g x^2 s, sum_b g t x
    then dA = G sum_b g x,  dB = G sum_b g x^2 s,  dG = A sum_b g x + sum_b g t x
with z = B x, t = tanh z, s = sech^2 z. Every program owns the tile it writes, so there are no
atomics and results are deterministic. The backward recomputes t and s rather than reading a
stored [batch, out, in] tensor.

Numerics: the forward uses ``jnp.tanh`` (libdevice ``tanhf`` on the Triton backend, ~2 ulp);
the backward takes t and s together from one exponential, e = exp(-2|z|), through the
project's :func:`impls.jax.functional.tanh_and_sech2` (s = 4 e / (1 + e)^2). s is never
formed as 1 - t^2, which cancels where t rounds to +-1 (dB multiplies s by x^2: 2e-4 relative
error at |x| = 100 in float32). Reductions are plain multiply-adds in registers: no matmul
unit, so no TF32 rounding either.

Shapes that are not multiples of the tiles are zero-padded in the wrapper and sliced back:
a zero x column, a zero g row or a zero parameter row contributes exactly nothing. Tiles are
powers of two (the Triton lowering needs power-of-two loads), shrunk to the next power of two
of small dimensions. An empty batch never launches a kernel.

Pallas is imported by this module only: ``import impls.jax`` does not load it, and
``impls.jax.aptx`` imports this module when a GPU backend traces the fused layer. On CPU the
kernels run in ``interpret=True`` mode, which is how the tests exercise them.
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax import lax
from jax.experimental import pallas as pl

from impls.jax.functional import tanh_and_sech2

#: The kernel name recorded in result rows (``kernel`` column) when this kernel ran.
KERNEL_NAME = "fused-pallas"

#: Default tile sizes (batch, out, in): a [16, 16, 16] float32 temporary is 32 registers per
#: thread of a 4-warp program. Chosen for register pressure, not tuned on hardware yet.
BLOCK_BATCH = 16
BLOCK_OUT = 16
BLOCK_IN = 16

_DTYPES = (jnp.float32, jnp.float64)


# --------------------------------------------------------------------------------------------
# Input checks (messages as in impls/kernels/aptx_cpu.py)


def _check_operands(x: jax.Array, A: jax.Array, B: jax.Array, G: jax.Array) -> None:
    """TypeError / ValueError naming the offending operand, before anything is traced."""
    dtype = jnp.dtype(x.dtype)
    if dtype not in _DTYPES:
        raise TypeError(f"the fused Pallas APTx kernel takes float32 or float64 arrays, not {dtype}")
    for name, m in (("alpha", A), ("beta", B), ("gamma", G)):
        if jnp.dtype(m.dtype) != dtype or m.ndim != 2 or m.shape != A.shape:
            raise ValueError(f"APTx {name} must be a {dtype} [out, in] matrix shaped like alpha "
                             f"{A.shape}; got {m.dtype} {m.shape}")
    if x.ndim != 2 or x.shape[1] != A.shape[1]:
        raise ValueError(f"APTx input must be [batch, {A.shape[1]}]; got {x.shape}")


# --------------------------------------------------------------------------------------------
# Tiling helpers


def _tile(size: int, default: int) -> int:
    """The tile for a dimension: ``default``, or the next power of two of a smaller size."""
    return min(default, pl.next_power_of_2(max(size, 1)))


def _padded(a: jax.Array, shape: tuple[int, int]) -> jax.Array:
    """``a`` zero-padded at the end of each axis to ``shape`` (no copy when already there)."""
    widths = [(0, n - m) for m, n in zip(a.shape, shape, strict=True)]
    return a if all(w == 0 for _, w in widths) else jnp.pad(a, widths)


def _round_up(n: int, tile: int) -> int:
    return math.ceil(n / tile) * tile


class Launch(NamedTuple):
    """The static part of a call: tile sizes (batch, out, in) and the interpreter switch."""

    tiles: tuple[int, int, int]
    interpret: bool


def launch(batch: int, n_out: int, n_in: int, interpret: bool) -> Launch:
    """Tiles for a [batch, in] -> [batch, out] call, read from BLOCK_* at call time."""
    tiles = (_tile(batch, BLOCK_BATCH), _tile(n_out, BLOCK_OUT), _tile(n_in, BLOCK_IN))
    return Launch(tiles, bool(interpret))


def _window(k: jax.Array, size: int) -> pl.Slice:
    """The k-th ``size``-wide slice of a ref axis (aligned, which the Triton lowering uses)."""
    return pl.ds(pl.multiple_of(k * size, size), size)


# --------------------------------------------------------------------------------------------
# Kernel bodies: one program reduces [tb, to, ti] values held in registers


def _forward_kernel(x_ref, a_ref, b_ref, g_ref, y_ref, *, ti: int, n_steps: int) -> None:
    """y tile [tb, to] = sum over in-tiles of sum_i (A + tanh(B x)) G x."""

    def step(k, acc):
        cols = _window(k, ti)
        x = x_ref[:, cols][:, None, :]                              # [tb, 1, ti]
        A, B, G = (r[:, cols][None] for r in (a_ref, b_ref, g_ref))  # [1, to, ti]
        return acc + jnp.sum((A + jnp.tanh(B * x)) * G * x, axis=2)

    y_ref[...] = lax.fori_loop(0, n_steps, step, jnp.zeros(y_ref.shape, y_ref.dtype))


def _dx_kernel(x_ref, a_ref, b_ref, g_ref, up_ref, dx_ref, *, to: int, n_steps: int) -> None:
    """dx tile [tb, ti] = sum over out-tiles of sum_o g G (A + t + z s)."""
    x = x_ref[...][:, None, :]                                      # [tb, 1, ti]

    def step(k, acc):
        rows = _window(k, to)
        A, B, G = (r[rows, :][None] for r in (a_ref, b_ref, g_ref))  # [1, to, ti]
        up = up_ref[:, rows][:, :, None]                            # [tb, to, 1]
        z = B * x
        t, s = tanh_and_sech2(z)
        return acc + jnp.sum(up * G * (A + t + z * s), axis=1)

    dx_ref[...] = lax.fori_loop(0, n_steps, step, jnp.zeros(dx_ref.shape, dx_ref.dtype))


def _params_kernel(x_ref, a_ref, b_ref, g_ref, up_ref, da_ref, db_ref, dg_ref, *, tb: int,
                   n_steps: int) -> None:
    """dA, dB, dG tiles [to, ti] from sums over batch tiles of g x, g x^2 s and g t x."""
    B = b_ref[...][None]                                            # [1, to, ti]

    def step(k, sums):
        gx_sum, gxxs_sum, gtx_sum = sums
        rows = _window(k, tb)
        x = x_ref[rows, :][:, None, :]                              # [tb, 1, ti]
        up = up_ref[rows, :][:, :, None]                            # [tb, to, 1]
        t, s = tanh_and_sech2(B * x)
        gx = up * x
        return (gx_sum + jnp.sum(gx, axis=0), gxxs_sum + jnp.sum(gx * x * s, axis=0),
                gtx_sum + jnp.sum(gx * t, axis=0))

    zeros = jnp.zeros(da_ref.shape, da_ref.dtype)
    gx_sum, gxxs_sum, gtx_sum = lax.fori_loop(0, n_steps, step, (zeros, zeros, zeros))
    G = g_ref[...]
    da_ref[...] = G * gx_sum
    db_ref[...] = G * gxxs_sum
    dg_ref[...] = a_ref[...] * gx_sum + gtx_sum


# --------------------------------------------------------------------------------------------
# pallas_call wrappers (jitted on their own, as in impls/jax/aptx.py: eager calls must not
# re-trace and re-compile the kernels; under an outer jit they are inlined)


@functools.partial(jax.jit, static_argnums=4)
def _forward(x: jax.Array, A: jax.Array, B: jax.Array, G: jax.Array, how: Launch) -> jax.Array:
    (batch, n_in), n_out = x.shape, A.shape[0]
    if batch == 0:
        return jnp.zeros((0, n_out), x.dtype)
    tb, to, ti = how.tiles
    pb, po, pi = _round_up(batch, tb), _round_up(n_out, to), _round_up(n_in, ti)
    params = [_padded(m, (po, pi)) for m in (A, B, G)]
    param_spec = pl.BlockSpec((to, pi), lambda b, o: (o, 0))
    y = pl.pallas_call(
        functools.partial(_forward_kernel, ti=ti, n_steps=pi // ti),
        out_shape=jax.ShapeDtypeStruct((pb, po), x.dtype),
        grid=(pb // tb, po // to),
        in_specs=[pl.BlockSpec((tb, pi), lambda b, o: (b, 0))] + [param_spec] * 3,
        out_specs=pl.BlockSpec((tb, to), lambda b, o: (b, o)),
        interpret=how.interpret,
        name="aptx_forward",
    )(_padded(x, (pb, pi)), *params)
    return y[:batch, :n_out]


@functools.partial(jax.jit, static_argnums=5)
def _backward(x: jax.Array, A: jax.Array, B: jax.Array, G: jax.Array, g: jax.Array,
              how: Launch) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array]:
    (batch, n_in), n_out = x.shape, A.shape[0]
    if batch == 0:
        return jnp.zeros_like(x), jnp.zeros_like(A), jnp.zeros_like(B), jnp.zeros_like(G)
    tb, to, ti = how.tiles
    pb, po, pi = _round_up(batch, tb), _round_up(n_out, to), _round_up(n_in, ti)
    xp, gp = _padded(x, (pb, pi)), _padded(g, (pb, po))
    params = [_padded(m, (po, pi)) for m in (A, B, G)]
    dx = _dx_call(xp, params, gp, how)
    dA, dB, dG = _params_call(xp, params, gp, how)
    return dx[:batch, :n_in], dA[:n_out, :n_in], dB[:n_out, :n_in], dG[:n_out, :n_in]


def _dx_call(xp: jax.Array, params: list[jax.Array], gp: jax.Array, how: Launch) -> jax.Array:
    """dx over a (batch, in) grid, each program looping over all output tiles."""
    (tb, to, ti), (pb, pi), po = how.tiles, xp.shape, gp.shape[1]
    param_spec = pl.BlockSpec((po, ti), lambda b, i: (0, i))
    return pl.pallas_call(
        functools.partial(_dx_kernel, to=to, n_steps=po // to),
        out_shape=jax.ShapeDtypeStruct((pb, pi), xp.dtype),
        grid=(pb // tb, pi // ti),
        in_specs=[pl.BlockSpec((tb, ti), lambda b, i: (b, i)), *[param_spec] * 3,
                  pl.BlockSpec((tb, po), lambda b, i: (b, 0))],
        out_specs=pl.BlockSpec((tb, ti), lambda b, i: (b, i)),
        interpret=how.interpret,
        name="aptx_backward_dx",
    )(xp, *params, gp)


def _params_call(xp: jax.Array, params: list[jax.Array], gp: jax.Array, how: Launch
                 ) -> tuple[jax.Array, ...]:
    """dA, dB, dG over an (out, in) grid, each program looping over all batch tiles."""
    (tb, to, ti), (pb, pi), po = how.tiles, xp.shape, gp.shape[1]
    tile_spec = pl.BlockSpec((to, ti), lambda o, i: (o, i))
    out = jax.ShapeDtypeStruct((po, pi), xp.dtype)
    return pl.pallas_call(
        functools.partial(_params_kernel, tb=tb, n_steps=pb // tb),
        out_shape=(out, out, out),
        grid=(po // to, pi // ti),
        in_specs=[pl.BlockSpec((pb, ti), lambda o, i: (0, i)), *[tile_spec] * 3,
                  pl.BlockSpec((pb, to), lambda o, i: (0, o))],
        out_specs=(tile_spec, tile_spec, tile_spec),
        interpret=how.interpret,
        name="aptx_backward_params",
    )(xp, *params, gp)


# --------------------------------------------------------------------------------------------
# The differentiable function


@functools.partial(jax.custom_vjp, nondiff_argnums=(4,))
def _aptx(x: jax.Array, A: jax.Array, B: jax.Array, G: jax.Array, how: Launch) -> jax.Array:
    return _forward(x, A, B, G, how)


def _aptx_fwd(x, A, B, G, how):
    return _forward(x, A, B, G, how), (x, A, B, G)                 # operands only: no [b, o, i]


def _aptx_bwd(how, residuals, g):
    return _backward(*residuals, g.astype(residuals[0].dtype), how)


_aptx.defvjp(_aptx_fwd, _aptx_bwd)


def aptx_pallas(x: jax.Array, A: jax.Array, B: jax.Array, G: jax.Array, *,
                interpret: bool = False) -> jax.Array:
    """y = sum_i (A + tanh(B x)) G x, [batch, out] in the dtype of ``x`` (no delta).

    A ``jax.custom_vjp`` whose forward and backward are Pallas kernels and whose only residuals
    are its four operands. ``interpret=True`` runs the kernels through the Pallas interpreter
    (any backend, CPU included: how the tests run them); otherwise they are compiled for the
    default backend (Triton on GPUs). The tiles are read from BLOCK_* at call time.
    """
    x, A, B, G = (jnp.asarray(a) for a in (x, A, B, G))
    _check_operands(x, A, B, G)
    return _aptx(x, A, B, G, launch(x.shape[0], *A.shape, interpret))
