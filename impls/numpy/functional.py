"""Numerically careful element-wise helpers shared by the NumPy blocks.

Every helper computes in the dtype of its input: constants are Python floats (NumPy 2's weak
scalars), so a float32 array never turns into float64 on the way. Where a textbook formula
loses precision in float32 (``1 - tanh^2`` and ``s (1 - s)`` in the tails, where the true value
is tiny but is multiplied by large factors such as ``x^2`` in a parameter gradient), the
derivative is written from ``exp(-|z|)`` instead, which is accurate to a few ulps everywhere
and never overflows.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def sigmoid_and_derivative(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """sigmoid(z) and its derivative sigmoid(z) (1 - sigmoid(z)), both accurate in both tails.

    With e = exp(-|z|) in (0, 1]: sigmoid = 1 / (1 + e) for z >= 0 and e / (1 + e) below, and
    the derivative is e / (1 + e)^2 for either sign. No exp of a positive number is taken, so
    nothing overflows (x = -100 in float32 gives a denormal, not a NaN).
    """
    e = np.exp(-np.abs(z))
    inv = 1.0 / (1.0 + e)
    s = inv * _exp_of_negative_part(z)
    ds = e * inv * inv
    return s, ds


def _exp_of_negative_part(z: np.ndarray) -> np.ndarray:
    """exp(min(z, 0)): 1 exactly where z >= 0, e = exp(-|z|) exactly where z < 0.

    So inv * exp(min(z, 0)) is the select "inv where z >= 0 else e inv" bit for bit, at the
    cost of one exp, which is several times cheaper than np.where on a mixed-sign mask.
    """
    return np.exp(np.minimum(z, 0.0))


def sigmoid(z: np.ndarray) -> np.ndarray:
    """Logistic sigmoid without overflow (see :func:`sigmoid_and_derivative`)."""
    e = np.exp(-np.abs(z))
    return _exp_of_negative_part(z) / (1.0 + e)


def sech2(z: np.ndarray) -> np.ndarray:
    """1 - tanh(z)^2 = 4 e / (1 + e)^2 with e = exp(-2|z|): relative accuracy in the tails."""
    e = np.exp(-2.0 * np.abs(z))
    d = 1.0 + e
    return 4.0 * e / (d * d)


def tanh_and_sech2(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """tanh(z) and 1 - tanh(z)^2 (the latter accurate where tanh rounds to +-1)."""
    return np.tanh(z), sech2(z)


def tanh(z: np.ndarray) -> np.ndarray:
    """np.tanh, under the name the twins use (its derivative is :func:`sech2`, never 1 - t^2)."""
    return np.tanh(z)


def relu_derivative(y: np.ndarray) -> np.ndarray:
    """Derivative of relu read off its output y = max(x, 0): 1 where y > 0, 0 where y == 0 and
    NaN where y is NaN, i.e. at a NaN input.

    The usual mask ``x > 0`` reads False at NaN and gives a NaN input a zero gradient; the rule
    of every unit is NaN in, NaN out, for gradients as for values (docs/reliability.md).
    ``np.sign`` is that step in one pass, like the mask it replaces.
    """
    return np.sign(y)


def nan_where_nan(grad: np.ndarray, value: np.ndarray) -> np.ndarray:
    """``grad`` (a fresh array, changed in place) with NaN wherever ``value`` is NaN.

    For units whose gradient formula stays finite where the value is not defined: PReLU's slope
    at a NaN input, x^n / (1 + x^n) at x = inf (inf / inf). One isnan pass, and a write only when
    there is a NaN.
    """
    nan = np.isnan(value)
    if nan.any():
        grad[np.broadcast_to(nan, grad.shape)] = np.nan
    return grad


def stable_softmax(x: np.ndarray, temperature: float, axis: int) -> tuple[np.ndarray, np.ndarray]:
    """softmax(x / temperature) along ``axis`` (max subtracted first) and its arg-max (keepdims).

    The twins' ``stable_softmax`` returns only the probabilities and keeps the arg-max inside
    their autodiff rule; NumPy has no autodiff, so the arg-max that :func:`stable_softmax_vjp`
    needs is returned to the layer, which caches it for its backward pass.

    An empty ``axis`` (softmax over the batch axis of an empty batch) has nothing to normalise:
    the result is empty too, and so is its gradient (no arg-max exists to take).
    """
    z = x / temperature
    if z.shape[axis] == 0:
        return z, np.zeros(z.shape, np.intp)
    top = np.argmax(z, axis=axis)
    top = np.expand_dims(top, axis)
    e = np.exp(z - np.take_along_axis(z, top, axis=axis))
    return e / np.sum(e, axis=axis, keepdims=True), top


def stable_softmax_vjp(y: np.ndarray, g: np.ndarray, top: np.ndarray, temperature: float,
                       axis: int) -> np.ndarray:
    """Input gradient of :func:`stable_softmax`: y (g - sum(g y)) / temperature, saturation-proof.

    Using sum(y) = 1: g_i - sum_k g_k y_k = (g_i - g_m) - sum_k y_k (g_k - g_m) for any m. With
    m the arg-max, the term k = m is exactly 0, so when one y_m rounds to 1 the small
    remainder is not lost to cancellation against g_m (the textbook form returns 0 for the
    largest entry of a saturated row in float32, while the true value is about -sum of the
    others).
    """
    if y.shape[axis] == 0:
        return np.zeros_like(y)
    d = g - np.take_along_axis(g, top, axis=axis)
    return y * (d - np.sum(y * d, axis=axis, keepdims=True)) / temperature


def softermax_vjp(y: np.ndarray, g: np.ndarray, total: np.ndarray, epsilon: float,
                  axis: int) -> np.ndarray:
    """Gradient of y = u / (epsilon + sum(u)) along ``axis`` w.r.t. u, saturation-proof.

    (g - sum(g y)) / total, rewritten as (h - sum(h y) + g_m epsilon / total) / total with
    h = g - g_m at the arg-max m (exact, since 1 - sum(y) = epsilon / total): as for
    :func:`stable_softmax_vjp`, no two nearly equal numbers are subtracted when one y is close
    to 1, e.g. on an axis of one element, where the textbook form returned 0 in float32.
    """
    if y.shape[axis] == 0:
        return np.zeros_like(y)
    top = np.expand_dims(np.argmax(y, axis=axis), axis)
    g_m = np.take_along_axis(g, top, axis=axis)
    h = g - g_m
    return (h - np.sum(h * y, axis=axis, keepdims=True) + g_m * (epsilon / total)) / total


# --------------------------------------------------------------------------------------------
# Convolution helpers: NCHW at the boundary, patches as [B, H', W', C * kh * kw] inside.


def im2col(x: np.ndarray, kernel: tuple[int, int], stride: tuple[int, int],
           padding: tuple[int, int]) -> np.ndarray:
    """Patches of an NCHW input, channel-major within a patch (matches weight.reshape(Co, -1))."""
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    if ph or pw:
        x = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    windows = sliding_window_view(x, (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw]  # B,C,H',W',kh,kw
    batch, channels, ho, wo = windows.shape[:4]
    return windows.transpose(0, 2, 3, 1, 4, 5).reshape(batch, ho, wo, channels * kh * kw)


def col2im(cols: np.ndarray, x_shape: tuple[int, ...], kernel: tuple[int, int],
           stride: tuple[int, int], padding: tuple[int, int]) -> np.ndarray:
    """Adjoint of :func:`im2col`: add every patch gradient back where the patch was read."""
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    batch, channels, height, width = x_shape
    ho, wo = cols.shape[1:3]
    # [B, H', W', C, kh, kw] -> [kh, kw, B, C, H', W'] so each kernel offset is one strided add.
    patches = cols.reshape(batch, ho, wo, channels, kh, kw).transpose(4, 5, 0, 3, 1, 2)
    out = np.zeros((batch, channels, height + 2 * ph, width + 2 * pw), dtype=cols.dtype)
    for i in range(kh):
        rows = slice(i, i + sh * (ho - 1) + 1, sh)
        for j in range(kw):
            out[:, :, rows, j:j + sw * (wo - 1) + 1:sw] += patches[i, j]
    return out[:, :, ph:ph + height, pw:pw + width]
