"""The ``@triton.jit`` kernels behind :mod:`impls.kernels.aptx_triton` (imported only when used).

A separate module because Triton decides at decoration time whether a kernel is compiled for
the GPU or run by its NumPy interpreter (``TRITON_INTERPRET=1``): importing this module is the
moment that choice is made, and it happens on the first kernel call, never on ``import impls``.

Every kernel forms [BB, BO, BI] blocks of z = B x in registers and reduces them at once; no
[batch, out, in] value reaches global memory. Loads are masked with zeros, and a zero x, g or
gamma contributes nothing to any sum, so the ragged edges need no other masking.
"""

from __future__ import annotations

import triton
import triton.language as tl

#: Below this |z| tanh is an odd Taylor polynomial: (1 - e) / (1 + e) loses relative accuracy
#: near 0 (1 - e cancels); at 0.3 the polynomial's truncation error is under half an ulp with
#: 6 terms in float32 and 11 in float64, and the exp form is within 4 ulps above it.
SMALL_Z = tl.constexpr(0.3)


@triton.jit
def _tanh_poly(a, IS_F64: tl.constexpr):
    """tanh(a) for 0 <= a <= SMALL_Z: a (1 + c3 a^2 + c5 a^4 + ...), Taylor coefficients."""
    u = a * a
    if IS_F64:
        p = 9.6915379569294503256e-05
        p = p * u - 2.3912911424355248149e-04
        p = p * u + 5.9002744094558598138e-04
        p = p * u - 1.4558343870513182682e-03
        p = p * u + 3.5921280365724810169e-03
        p = p * u - 8.8632355299021965689e-03
        p = p * u + 2.1869488536155202822e-02
        p = p * u - 5.3968253968253968254e-02
        p = p * u + 1.3333333333333333333e-01
        p = p * u - 3.3333333333333333333e-01
    else:
        p = u * -8.8632355299021965689e-03 + 2.1869488536155202822e-02
        p = p * u - 5.3968253968253968254e-02
        p = p * u + 1.3333333333333333333e-01
        p = p * u - 3.3333333333333333333e-01
    return a + a * (p * u)


@triton.jit
def _tanh_sech2(z, IS_F64: tl.constexpr):
    """tanh(z) and sech^2(z), both from e = exp(-2|z|), never 1 - t^2.

    tanh|z| = (1 - e) / (1 + e), sech^2 z = 4 e / (1 + e)^2: e only underflows to 0 where
    tanh is 1 and sech^2 below the smallest normal number, so both keep relative accuracy.
    The forward kernel drops s, and the compiler drops the two multiplies that make it.
    """
    a = tl.abs(z)
    e = tl.exp(-2.0 * a)
    r = 1.0 / (1.0 + e)
    small = tl.minimum(a, SMALL_Z)              # clamped: no overflow in the lane not taken
    t = tl.where(a < SMALL_Z, _tanh_poly(small, IS_F64), (1.0 - e) * r)
    t = tl.where(z < 0, -t, t)
    return t, 4.0 * e * r * r


@triton.jit
def _param_block(a_ptr, b_ptr, g_ptr, ro, ri, n_out, n_in):
    """The [BO, BI] tiles of alpha, beta, gamma at rows ``ro``, columns ``ri`` (zeros outside)."""
    offs = ro[:, None] * n_in + ri[None, :]
    mask = (ro[:, None] < n_out) & (ri[None, :] < n_in)
    A = tl.load(a_ptr + offs, mask=mask, other=0.0)
    B = tl.load(b_ptr + offs, mask=mask, other=0.0)
    G = tl.load(g_ptr + offs, mask=mask, other=0.0)
    return A, B, G


@triton.jit
def _rows_block(ptr, rows, cols, n_rows, n_cols):
    """The [len(rows), len(cols)] tile of a row-major [n_rows, n_cols] matrix (zeros outside)."""
    mask = (rows[:, None] < n_rows) & (cols[None, :] < n_cols)
    return tl.load(ptr + rows[:, None] * n_cols + cols[None, :], mask=mask, other=0.0)


@triton.jit
def forward_kernel(x_ptr, a_ptr, b_ptr, g_ptr, y_ptr, n_batch, n_out, n_in,
                   BB: tl.constexpr, BO: tl.constexpr, BI: tl.constexpr, IS_F64: tl.constexpr):
    """y[b, o] = sum_i (A + tanh(B x)) G x for one [BB, BO] tile of y, looping over in-tiles."""
    rb = tl.program_id(0) * BB + tl.arange(0, BB)
    ro = tl.program_id(1) * BO + tl.arange(0, BO)
    acc = tl.zeros((BB, BO), dtype=y_ptr.dtype.element_ty)
    for i0 in range(0, n_in, BI):
        ri = i0 + tl.arange(0, BI)
        x = _rows_block(x_ptr, rb, ri, n_batch, n_in)[:, None, :]          # [BB, 1, BI]
        A, B, G = _param_block(a_ptr, b_ptr, g_ptr, ro, ri, n_out, n_in)
        t, _ = _tanh_sech2(B[None, :, :] * x, IS_F64)              # [BB, BO, BI]
        acc += tl.sum((A[None, :, :] + t) * G[None, :, :] * x, axis=2)
    mask = (rb[:, None] < n_batch) & (ro[None, :] < n_out)
    tl.store(y_ptr + rb[:, None] * n_out + ro[None, :], acc, mask=mask)


@triton.jit
def dx_kernel(x_ptr, a_ptr, b_ptr, g_ptr, up_ptr, dx_ptr, n_batch, n_out, n_in,
              BB: tl.constexpr, BO: tl.constexpr, BI: tl.constexpr, IS_F64: tl.constexpr):
    """dx[b, i] = sum_o g G (A + t + z s) for one [BB, BI] tile of dx, looping over out-tiles."""
    rb = tl.program_id(0) * BB + tl.arange(0, BB)
    ri = tl.program_id(1) * BI + tl.arange(0, BI)
    x = _rows_block(x_ptr, rb, ri, n_batch, n_in)[:, None, :]              # [BB, 1, BI]
    acc = tl.zeros((BB, BI), dtype=dx_ptr.dtype.element_ty)
    for o0 in range(0, n_out, BO):
        ro = o0 + tl.arange(0, BO)
        up = _rows_block(up_ptr, rb, ro, n_batch, n_out)[:, :, None]       # [BB, BO, 1]
        A, B, G = _param_block(a_ptr, b_ptr, g_ptr, ro, ri, n_out, n_in)
        z = B[None, :, :] * x
        t, s = _tanh_sech2(z, IS_F64)
        acc += tl.sum(up * G[None, :, :] * (A[None, :, :] + t + z * s), axis=1)
    mask = (rb[:, None] < n_batch) & (ri[None, :] < n_in)
    tl.store(dx_ptr + rb[:, None] * n_in + ri[None, :], acc, mask=mask)


@triton.jit
def param_grad_kernel(x_ptr, a_ptr, b_ptr, g_ptr, up_ptr, da_ptr, db_ptr, dg_ptr,
                      n_batch, n_out, n_in,
                      BB: tl.constexpr, BO: tl.constexpr, BI: tl.constexpr, IS_F64: tl.constexpr):
    """dA, dB, dG for one [BO, BI] tile of the parameters, looping over batch tiles.

    Three sums over the batch: sum g x, sum g x^2 s and sum g t x; then dA = G sum g x,
    dB = G sum g x^2 s, dG = A sum g x + sum g t x. Each program owns its tile: no atomics.
    """
    ro = tl.program_id(0) * BO + tl.arange(0, BO)
    ri = tl.program_id(1) * BI + tl.arange(0, BI)
    A, B, G = _param_block(a_ptr, b_ptr, g_ptr, ro, ri, n_out, n_in)
    gx_sum = tl.zeros((BO, BI), dtype=da_ptr.dtype.element_ty)
    gxxs_sum = tl.zeros((BO, BI), dtype=da_ptr.dtype.element_ty)
    gxt_sum = tl.zeros((BO, BI), dtype=da_ptr.dtype.element_ty)
    for b0 in range(0, n_batch, BB):
        rb = b0 + tl.arange(0, BB)
        x = _rows_block(x_ptr, rb, ri, n_batch, n_in)[:, None, :]          # [BB, 1, BI]
        up = _rows_block(up_ptr, rb, ro, n_batch, n_out)[:, :, None]       # [BB, BO, 1]
        t, s = _tanh_sech2(B[None, :, :] * x, IS_F64)
        gx = up * x                                                        # [BB, BO, BI]
        gx_sum += tl.sum(gx, axis=0)
        gxxs_sum += tl.sum(gx * x * s, axis=0)
        gxt_sum += tl.sum(gx * t, axis=0)
    offs = ro[:, None] * n_in + ri[None, :]
    mask = (ro[:, None] < n_out) & (ri[None, :] < n_in)
    tl.store(da_ptr + offs, G * gx_sum, mask=mask)
    tl.store(db_ptr + offs, G * gxxs_sum, mask=mask)
    tl.store(dg_ptr + offs, A * gx_sum + gxt_sum, mask=mask)


@triton.jit
def tanh_sech2_kernel(z_ptr, t_ptr, s_ptr, n, BLOCK: tl.constexpr, IS_F64: tl.constexpr):
    """The kernels' tanh and sech^2, element-wise (what the accuracy tests measure)."""
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    t, s = _tanh_sech2(tl.load(z_ptr + offs, mask=mask, other=0.0), IS_F64)
    tl.store(t_ptr + offs, t, mask=mask)
    tl.store(s_ptr + offs, s, mask=mask)


def interpreted() -> bool:
    """Whether these kernels run in Triton's interpreter (TRITON_INTERPRET=1 at import)."""
    from triton.runtime.interpreter import InterpretedFunction

    return isinstance(forward_kernel, InterpretedFunction)
