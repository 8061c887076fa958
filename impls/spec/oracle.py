"""The float64 NumPy oracle: forward pass and vector-Jacobian product of every block.

Written for clarity and correctness, not speed: every framework implementation is judged
against these functions (directly, and through the committed golden files they generate).
The gradients are analytic and are themselves checked against central finite differences in
the test-suite, so the oracle does not simply trust its own algebra.

Conventions: ``params`` is the canonical dict (see :mod:`impls.spec.blocks`), ``config`` a
resolved configuration, ``upstream`` the gradient of a scalar loss w.r.t. the output. A VJP
returns ``(grad_x, {name: grad})`` for the *trainable* parameters only.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from scipy import special

from impls.spec import blocks
from impls.spec.blocks import Config, Params

Grads = tuple[np.ndarray, dict[str, np.ndarray]]

#: The APTx oracle evaluates [chunk, out, in] tensors of at most this many elements at a time,
#: so evaluating the 10,000-image test set stays within a few hundred MB.
APTX_CHUNK_ELEMENTS = 1 << 22


def _f64(a: Any) -> np.ndarray:
    return np.asarray(a, dtype=np.float64)


def sigmoid(z: np.ndarray) -> np.ndarray:
    """Logistic sigmoid accurate in both tails (no overflow, no cancellation)."""
    return np.exp(-np.logaddexp(0.0, -z))


def sech2(z: np.ndarray) -> np.ndarray:
    """sech^2(z) = 4 e / (1 + e)^2, e = exp(-2|z|): full relative precision for every z.

    1 - tanh(z)^2 cancels once tanh saturates: in float64 it keeps 3 digits at z = 15 and none
    past 19, where sech^2 is still 1e-16. The oracle is the reference, so it must not.
    """
    e = np.exp(-2.0 * np.abs(z))
    return 4.0 * e / ((1.0 + e) * (1.0 + e))


def sigmoid_prime(z: np.ndarray) -> np.ndarray:
    """s(z) (1 - s(z)) written as s(z) s(-z): no cancellation in either tail."""
    return sigmoid(z) * sigmoid(-z)


def step(z: np.ndarray) -> np.ndarray:
    """Derivative of max(z, 0): 1 above 0, 0 at and below it (the kink belongs to the flat
    side), and NaN at a NaN input.

    ``z > 0`` would read False at NaN and give a NaN input a zero gradient; the rule for every
    unit is NaN in, NaN out, for gradients as for values (docs/reliability.md).
    """
    return np.heaviside(z, 0.0)


def nan_where(value: np.ndarray, grad: np.ndarray) -> np.ndarray:
    """``grad``, but NaN wherever ``value`` is NaN: a gradient is never more defined than the
    value it differentiates (x^n / (1 + x^n) at x = inf is inf / inf, so is its slope)."""
    return np.where(np.isnan(value), np.nan, grad)


def _sum_to_scalar(a: np.ndarray) -> np.ndarray:
    return np.asarray(a.sum())


def _move_feature_axis_last(x: np.ndarray, axis: int) -> np.ndarray:
    return np.moveaxis(x, axis, -1)


def _sum_all_but_last(a: np.ndarray) -> np.ndarray:
    return a.reshape(-1, a.shape[-1]).sum(axis=0)


# --------------------------------------------------------------------------------------------
# APTx


def _aptx_activation(p: Params, x: np.ndarray, c: Config, g: np.ndarray | None):
    a, b, gm = p["alpha"], p["beta"], p["gamma"]
    t = np.tanh(b * x)
    y = (a + t) * gm * x
    if g is None:
        return y
    s2 = sech2(b * x)
    dx = g * gm * (a + t + b * x * s2)
    grads = {}
    if c["trainable"]:
        grads = {
            "alpha": _sum_to_scalar(g * gm * x),
            "beta": _sum_to_scalar(g * gm * x * x * s2),
            "gamma": _sum_to_scalar(g * (a + t) * x),
        }
    return dx, grads


def _batch_chunks(batch: int, per_row: int) -> list[slice]:
    step = max(1, APTX_CHUNK_ELEMENTS // max(per_row, 1))
    return [slice(s, min(s + step, batch)) for s in range(0, batch, step)]


def _aptx_layer(p: Params, x: np.ndarray, c: Config, g: np.ndarray | None):
    A, Bt, G = p["alpha"], p["beta"], p["gamma"]
    batch, (out, inp) = x.shape[0], A.shape
    if g is None:
        y = np.empty((batch, out))
        for s in _batch_chunks(batch, out * inp):
            xs = x[s][:, None, :]                       # [b, 1, I]
            t = np.tanh(Bt[None] * xs)                  # [b, O, I]
            y[s] = np.sum((A[None] + t) * G[None] * xs, axis=2)
        if c["use_delta"]:
            y = y + p["delta"]
        return y
    dx = np.empty_like(x)
    dA = np.zeros_like(A)
    dB = np.zeros_like(Bt)
    dG = np.zeros_like(G)
    for s in _batch_chunks(batch, out * inp):
        xs = x[s][:, None, :]
        gs = g[s][:, :, None]                           # [b, O, 1]
        t = np.tanh(Bt[None] * xs)
        s2 = sech2(Bt[None] * xs)
        dA += np.sum(gs * G[None] * xs, axis=0)
        dB += np.sum(gs * G[None] * xs * xs * s2, axis=0)
        dG += np.sum(gs * (A[None] + t) * xs, axis=0)
        dx[s] = np.sum(gs * G[None] * (A[None] + t + Bt[None] * xs * s2), axis=1)
    grads = {"beta": dB, "gamma": dG}
    if c["alpha_trainable"]:
        grads["alpha"] = dA
    if c["use_delta"]:
        grads["delta"] = g.sum(axis=0)
    return dx, grads


# --------------------------------------------------------------------------------------------
# ActMix


def _actmix_basis(name: str, z: np.ndarray, omega: float) -> tuple[np.ndarray, np.ndarray]:
    """Value and derivative of one ActMix basis function."""
    if name == "sin":
        return np.sin(omega * z), omega * np.cos(omega * z)
    if name == "tanh":
        return np.tanh(z), sech2(z)
    if name == "relu":
        return np.maximum(z, 0.0), step(z)
    if name == "identity":
        return z, np.ones_like(z)
    if name == "sigmoid":
        return sigmoid(z), sigmoid_prime(z)
    if name == "silu":
        s = sigmoid(z)
        return z * s, s + z * sigmoid_prime(z)
    raise ValueError(f"unit 'actmix': unknown basis {name!r}")


def softmax_vjp(y: np.ndarray, g: np.ndarray, axis: int) -> np.ndarray:
    """VJP of y = softmax(z) along `axis` w.r.t. z (any temperature divides the result).

    The upstream is shifted by its value at the arg-max first (exact, since sum(y) = 1), so the
    winning entry's term is exactly zero: the textbook y * (g - sum(g * y)) cancels
    catastrophically once the softmax saturates (T = 0.01 gave 0.71 relative error).
    """
    winner = np.expand_dims(np.argmax(y, axis=axis), axis)
    h = g - np.take_along_axis(g, winner, axis=axis)
    return y * (h - np.sum(h * y, axis=axis, keepdims=True))


def actmix_coefficients(logits: np.ndarray, temperature: float) -> np.ndarray:
    """Mixing weights softmax(logits / T) per neuron, shape [F, K]."""
    return special.softmax(_f64(logits) / temperature, axis=-1)


def actmix_entropy(logits: np.ndarray, temperature: float) -> float:
    """Mean over neurons of the mixture entropy (computed from log-softmax, stable at small T)."""
    log_c = special.log_softmax(_f64(logits) / temperature, axis=-1)
    return float(np.mean(-np.sum(np.exp(log_c) * log_c, axis=-1)))


def actmix_entropy_grad(logits: np.ndarray, temperature: float) -> tuple[float, np.ndarray]:
    """The mean mixture entropy H of one ActMix layer and dH/dlogits (the ``full`` variant's
    penalty, spec §3.3).

    Per neuron, with z = a / T, c = softmax(z) and h = -sum_k c_k log c_k:
    dh/dz_j = -c_j (log c_j + h), so dH/da = -c (log c + h) / (T F) for F neurons. Written from
    log-softmax, so a saturated mixture (T = 0.01) gives exact zeros, not 0 * -inf.
    """
    log_c = special.log_softmax(_f64(logits) / temperature, axis=-1)
    c = np.exp(log_c)
    h = -np.sum(c * log_c, axis=-1, keepdims=True)
    grad = -c * (log_c + h) / (temperature * log_c.shape[0])
    return float(np.mean(h)), grad


def _actmix(p: Params, x: np.ndarray, c: Config, g: np.ndarray | None):
    T = c["temperature"]
    coeff = actmix_coefficients(p["logits"], T)                     # [F, K]
    xl = _move_feature_axis_last(x, c["axis"])                      # [..., F]
    values, derivs = zip(*(_actmix_basis(b, xl, c["omega_0"]) for b in c["basis"]), strict=True)
    phi = np.stack(values, axis=-1)                                 # [..., F, K]
    if g is None:
        return np.moveaxis(np.sum(phi * coeff, axis=-1), -1, c["axis"])
    gl = _move_feature_axis_last(g, c["axis"])
    dphi = np.stack(derivs, axis=-1)
    dx = np.moveaxis(gl * np.sum(dphi * coeff, axis=-1), -1, c["axis"])
    dcoeff = (gl[..., None] * phi).reshape(-1, *coeff.shape).sum(axis=0)   # [F, K]
    return dx, {"logits": softmax_vjp(coeff, dcoeff, axis=-1) / T}


# --------------------------------------------------------------------------------------------
# Learnable SELU variation


def _lselu(p: Params, x: np.ndarray, c: Config, g: np.ndarray | None):
    lam, al, be, ga, om = (p[k] for k in ("lambda", "alpha", "beta", "gamma", "omega"))
    pos = x > 0
    # The negative branch is evaluated on min(x, 0): identical values where it is selected,
    # and no overflow where it is not (the original's NaN-gradient bug, spec §4.3).
    xn = np.minimum(x, 0.0)
    e = np.exp(be * xn)
    s, co = np.sin(om * xn), np.cos(om * xn)
    neg_inner = al * (e - 1.0) + ga * s
    y = np.where(pos, lam * x, lam * neg_inner)
    if g is None:
        return y
    neg = ~pos
    dx = g * np.where(pos, lam, lam * (al * be * e + ga * om * co))
    grads = {
        "lambda": _sum_to_scalar(g * np.where(pos, x, neg_inner)),
        "alpha": _sum_to_scalar(g * neg * lam * (e - 1.0)),
        "beta": _sum_to_scalar(g * neg * lam * al * xn * e),
        "gamma": _sum_to_scalar(g * neg * lam * s),
        "omega": _sum_to_scalar(g * neg * lam * ga * xn * co),
    }
    return dx, grads


# --------------------------------------------------------------------------------------------
# Classic activations


def _relu(p: Params, x: np.ndarray, c: Config, g: np.ndarray | None):
    if g is None:
        return np.maximum(x, 0.0)
    return g * step(x), {}


def _prelu(p: Params, x: np.ndarray, c: Config, g: np.ndarray | None):
    xl = _move_feature_axis_last(x, c["axis"])
    a = p["alpha"]
    if g is None:
        return np.moveaxis(np.where(xl > 0, xl, a * xl), -1, c["axis"])
    gl = _move_feature_axis_last(g, c["axis"])
    slope = nan_where(xl, np.where(xl > 0, 1.0, a))       # a NaN input takes neither side
    dx = np.moveaxis(gl * slope, -1, c["axis"])
    da = _sum_all_but_last(gl * np.where(xl > 0, 0.0, xl))
    return dx, {"alpha": da}


def _swish(p: Params, x: np.ndarray, c: Config, g: np.ndarray | None):
    beta = p["beta"] if c["learnable"] else np.asarray(float(c["beta"]))
    s = sigmoid(beta * x)
    if g is None:
        return x * s
    ds = sigmoid_prime(beta * x)
    dx = g * (s + beta * x * ds)
    grads = {"beta": _sum_to_scalar(g * x * x * ds)} if c["learnable"] else {}
    return dx, grads


_GELU_K = np.sqrt(2.0 / np.pi)


def _gelu(p: Params, x: np.ndarray, c: Config, g: np.ndarray | None):
    if c["approximate"]:
        u = _GELU_K * (x + 0.044715 * x**3)
        t = np.tanh(u)
        if g is None:
            return 0.5 * x * (1.0 + t)
        du = _GELU_K * (1.0 + 3 * 0.044715 * x * x)
        return g * (0.5 * (1.0 + t) + 0.5 * x * sech2(u) * du), {}
    cdf = special.ndtr(x)
    if g is None:
        return x * cdf
    pdf = np.exp(-0.5 * x * x) / np.sqrt(2.0 * np.pi)
    return g * (cdf + x * pdf), {}


def _tanh(p: Params, x: np.ndarray, c: Config, g: np.ndarray | None):
    t = np.tanh(x)
    return t if g is None else (g * sech2(x), {})


def _sigmoid(p: Params, x: np.ndarray, c: Config, g: np.ndarray | None):
    s = sigmoid(x)
    return s if g is None else (g * sigmoid_prime(x), {})


def _softmax(p: Params, x: np.ndarray, c: Config, g: np.ndarray | None):
    scale = c["temperature"] + c["epsilon"]
    y = special.softmax(x / scale, axis=c["axis"])
    if g is None:
        return y
    return softmax_vjp(y, g, axis=c["axis"]) / scale, {}


# --------------------------------------------------------------------------------------------
# Yat (NMN)

_SPHERE_EPS = 1e-8  # nmn normalises with x / (|x| + 1e-8)


def _yat_scale(p: Params, c: Config) -> float:
    mode = blocks.yat_alpha_mode(c["alpha"])
    if mode == "learnable":
        return float(p["alpha"])
    return 1.0 if mode is None else float(mode)


def _normalise_rows(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    norm = np.sqrt(np.sum(v * v, axis=-1, keepdims=True))
    return v / (norm + _SPHERE_EPS), norm


def _normalise_rows_vjp(v: np.ndarray, norm: np.ndarray, g_hat: np.ndarray) -> np.ndarray:
    """Gradient through v / (|v| + eps) (the norm's own gradient included)."""
    denom = norm + _SPHERE_EPS
    safe_norm = np.where(norm > 0, norm, 1.0)
    radial = np.sum(v * g_hat, axis=-1, keepdims=True) / (safe_norm * denom * denom)
    return g_hat / denom - v * np.where(norm > 0, radial, 0.0)


def _paper_scale(out_features: int, alpha: float) -> float:
    """DL2.0-era output scale (sqrt(O) / ln(1 + O)) ** alpha (spec §5.2)."""
    return (np.sqrt(out_features) / np.log1p(out_features)) ** alpha


def _yat_core(dot: np.ndarray, x_sq: np.ndarray, w_sq: np.ndarray, bias: np.ndarray | float,
              scale: float, eps: float, g: np.ndarray | None, paper: bool = False):
    """Shared score maths of the dense and conv Yat layers.

    Returns y, or (g_dot, g_xsq_sum_factor g_D, dscale_factor, g_bias_map) for the backward:
    g_D multiplies both squared norms' gradients, g_dot the dot product's.
    """
    raw = x_sq + w_sq - 2.0 * dot
    dist = np.maximum(raw, 0.0) + eps
    num = dot if paper else dot + bias
    ratio = num * num / dist
    if g is None:
        return scale * ratio + (bias if paper else 0.0)
    g_num = 2.0 * scale * g * num / dist
    g_dist = -scale * g * ratio / dist * (raw > 0)
    g_dot = g_num - 2.0 * g_dist
    g_bias = g if paper else g_num
    return g_dot, g_dist, g * ratio, g_bias


def _yat_dense(p: Params, x: np.ndarray, c: Config, g: np.ndarray | None):
    W = p["weight"]
    paper = c["semantics"] == "dl2-paper"
    bias = p["bias"] if c["bias"] else 0.0
    mode = blocks.yat_alpha_mode(c["alpha"])
    if paper:
        alpha = (float(p["alpha"]) if mode == "learnable" else mode) if mode is not None else None
        scale = 1.0 if alpha is None else _paper_scale(W.shape[0], alpha)
    else:
        scale = _yat_scale(p, c)
    if c["spherical"]:
        xh, x_norm = _normalise_rows(x)
        wh, w_norm = _normalise_rows(W)
        dot = xh @ wh.T
        x_sq, w_sq = np.ones((x.shape[0], 1)), np.ones((1, W.shape[0]))
    else:
        xh, wh = x, W
        dot = x @ W.T
        x_sq = np.sum(x * x, axis=1, keepdims=True)
        w_sq = np.sum(W * W, axis=1)[None, :]
    out = _yat_core(dot, x_sq, w_sq, bias, scale, c["epsilon"], g, paper)
    if g is None:
        return out
    g_dot, g_dist, g_ratio, g_bias = out
    if c["spherical"]:
        # dist = 2 - 2 dot on unit vectors: the norms are constants, only the dot product moves.
        dxh, dwh = g_dot @ wh, g_dot.T @ xh
        dx = _normalise_rows_vjp(x, x_norm, dxh)
        dW = _normalise_rows_vjp(W, w_norm, dwh)
    else:
        dx = g_dot @ W + 2.0 * x * np.sum(g_dist, axis=1, keepdims=True)
        dW = g_dot.T @ x + 2.0 * W * np.sum(g_dist, axis=0)[:, None]
    grads = {"weight": dW}
    if c["bias"]:
        grads["bias"] = g_bias.sum(axis=0)
    if mode == "learnable":
        d_scale = float(np.sum(g_ratio))
        if paper:
            d_scale *= scale * np.log(np.sqrt(W.shape[0]) / np.log1p(W.shape[0]))
        grads["alpha"] = np.asarray(d_scale)
    return dx, grads


def _im2col(x: np.ndarray, kernel: tuple[int, int], stride: tuple[int, int],
            padding: tuple[int, int]) -> np.ndarray:
    """Patches of an NCHW input as [B, H', W', C * kh * kw] (C-major, like torch's weight view)."""
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    win = np.lib.stride_tricks.sliding_window_view(xp, (kh, kw), axis=(2, 3))  # B,C,H1,W1,kh,kw
    win = win[:, :, ::sh, ::sw]
    b, ch, ho, wo = win.shape[:4]
    return win.transpose(0, 2, 3, 1, 4, 5).reshape(b, ho, wo, ch * kh * kw)


def _col2im(cols: np.ndarray, x_shape: tuple[int, ...], kernel: tuple[int, int],
            stride: tuple[int, int], padding: tuple[int, int]) -> np.ndarray:
    """Adjoint of :func:`_im2col`: scatter-add patch gradients back onto the input."""
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    b, ch, h, w = x_shape
    ho, wo = cols.shape[1:3]
    patches = cols.reshape(b, ho, wo, ch, kh, kw)
    out = np.zeros((b, ch, h + 2 * ph, w + 2 * pw))
    for i in range(kh):
        for j in range(kw):
            out[:, :, i:i + sh * ho:sh, j:j + sw * wo:sw] += patches[:, :, :, :, i, j].transpose(0, 3, 1, 2)
    return out[:, :, ph:ph + h, pw:pw + w]


def _conv_geometry(c: Config) -> tuple[tuple[int, int], tuple[int, int], tuple[int, int]]:
    return tuple(c["kernel_size"]), tuple(c["stride"]), tuple(c["padding"])  # type: ignore[return-value]


def _conv2d(p: Params, x: np.ndarray, c: Config, g: np.ndarray | None):
    kernel, stride, padding = _conv_geometry(c)
    W = p["weight"].reshape(p["weight"].shape[0], -1)                    # [Co, C*kh*kw]
    cols = _im2col(x, kernel, stride, padding)
    if g is None:
        y = cols @ W.T
        if c["bias"]:
            y = y + p["bias"]
        return y.transpose(0, 3, 1, 2)
    gl = g.transpose(0, 2, 3, 1)                                          # [B, H', W', Co]
    dcols = gl @ W
    grads = {"weight": np.einsum("bhwo,bhwk->ok", gl, cols).reshape(p["weight"].shape)}
    if c["bias"]:
        grads["bias"] = gl.sum(axis=(0, 1, 2))
    return _col2im(dcols, x.shape, kernel, stride, padding), grads


def _yat_conv2d(p: Params, x: np.ndarray, c: Config, g: np.ndarray | None):
    kernel, stride, padding = _conv_geometry(c)
    W = p["weight"].reshape(p["weight"].shape[0], -1)
    cols = _im2col(x, kernel, stride, padding)                           # [B, H', W', K]
    dot = cols @ W.T                                                      # [B, H', W', Co]
    x_sq = np.sum(cols * cols, axis=-1, keepdims=True)                   # patch |x|^2
    w_sq = np.sum(W * W, axis=1)                                          # [Co]
    bias = p["bias"] if c["bias"] else 0.0
    scale = _yat_scale(p, c)
    gl = None if g is None else g.transpose(0, 2, 3, 1)
    out = _yat_core(dot, x_sq, w_sq, bias, scale, c["epsilon"], gl)
    if g is None:
        return out.transpose(0, 3, 1, 2)
    g_dot, g_dist, g_ratio, g_bias = out
    dcols = g_dot @ W + 2.0 * cols * np.sum(g_dist, axis=-1, keepdims=True)
    dW = np.einsum("bhwo,bhwk->ok", g_dot, cols) + 2.0 * W * g_dist.sum(axis=(0, 1, 2))[:, None]
    grads = {"weight": dW.reshape(p["weight"].shape)}
    if c["bias"]:
        grads["bias"] = g_bias.sum(axis=(0, 1, 2))
    if blocks.yat_alpha_mode(c["alpha"]) == "learnable":
        grads["alpha"] = np.asarray(np.sum(g_ratio))
    return _col2im(dcols, x.shape, kernel, stride, padding), grads


# --------------------------------------------------------------------------------------------
# Squashers (non-negative scores in)


def _power(x: np.ndarray, n: float) -> tuple[np.ndarray, np.ndarray]:
    """x**n and its derivative, with the derivative at 0 taken as its right limit for n >= 1."""
    xn = np.power(x, n)
    with np.errstate(divide="ignore", invalid="ignore"):
        dxn = n * np.power(x, n - 1.0) if n != 1.0 else np.ones_like(x)
    return xn, dxn


def softermax_vjp(y: np.ndarray, g: np.ndarray, total: np.ndarray, epsilon: float,
                  axis: int) -> np.ndarray:
    """VJP of y = u / (epsilon + sum(u)) along ``axis`` w.r.t. u: (g - sum(g y)) / total.

    Written like :func:`softmax_vjp`, shifted by the upstream at the arg-max, plus the epsilon
    term that softmax lacks (1 - sum(y) = epsilon / total, exactly):
    g_i - sum_j g_j y_j = h_i - sum_j h_j y_j + g_m epsilon / total, h = g - g_m. The textbook
    g / total - sum(g u) / total^2 subtracts two nearly equal numbers once one y is close to 1
    (an axis of one element: the result is g epsilon / total^2, and float64 lost 22 % of it at
    u = 5879).
    """
    if y.shape[axis] == 0:
        return np.zeros_like(y)
    winner = np.expand_dims(np.argmax(y, axis=axis), axis)
    g_m = np.take_along_axis(g, winner, axis=axis)
    h = g - g_m
    return (h - np.sum(h * y, axis=axis, keepdims=True) + g_m * (epsilon / total)) / total


def _softermax(p: Params, x: np.ndarray, c: Config, g: np.ndarray | None):
    xn, dxn = _power(x, c["n"])
    total = c["epsilon"] + np.sum(xn, axis=c["axis"], keepdims=True)
    y = xn / total
    if g is None:
        return y
    return softermax_vjp(y, g, total, c["epsilon"], c["axis"]) * dxn, {}


def _softer_sigmoid(p: Params, x: np.ndarray, c: Config, g: np.ndarray | None):
    xn, dxn = _power(x, c["n"])
    y = xn / (1.0 + xn)
    if g is None:
        return y
    return nan_where(y, g * dxn / (1.0 + xn) ** 2), {}


def _soft_tanh(p: Params, x: np.ndarray, c: Config, g: np.ndarray | None):
    xn, dxn = _power(x, c["n"])
    y = (xn - 1.0) / (1.0 + xn)
    if g is None:
        return y
    return nan_where(y, g * 2.0 * dxn / (1.0 + xn) ** 2), {}


# --------------------------------------------------------------------------------------------
# Structural blocks


def _linear(p: Params, x: np.ndarray, c: Config, g: np.ndarray | None):
    if g is None:
        y = x @ p["weight"].T
        return y + p["bias"] if c["bias"] else y
    grads = {"weight": g.T @ x}
    if c["bias"]:
        grads["bias"] = g.sum(axis=0)
    return g @ p["weight"], grads


def _max_pool2d(p: Params, x: np.ndarray, c: Config, g: np.ndarray | None):
    k = c["kernel_size"]
    b, ch, h, w = x.shape
    ho, wo = h // k, w // k
    win = x[:, :, : ho * k, : wo * k].reshape(b, ch, ho, k, wo, k)
    y = win.max(axis=(3, 5))
    if g is None:
        return y
    # Ties: the gradient goes to the first maximum in row-major window order, like torch.
    flat = win.transpose(0, 1, 2, 4, 3, 5).reshape(b, ch, ho, wo, k * k)
    first = np.argmax(flat, axis=-1)
    mask = np.zeros_like(flat)
    np.put_along_axis(mask, first[..., None], 1.0, axis=-1)
    dwin = (mask * g[..., None]).reshape(b, ch, ho, wo, k, k).transpose(0, 1, 2, 4, 3, 5)
    dx = np.zeros_like(x)
    dx[:, :, : ho * k, : wo * k] = dwin.reshape(b, ch, ho * k, wo * k)
    return dx, {}


def _flatten(p: Params, x: np.ndarray, c: Config, g: np.ndarray | None):
    if g is None:
        return x.reshape(x.shape[0], math.prod(x.shape[1:]))  # -1 fails on an empty batch
    return g.reshape(x.shape), {}


def oracle_of(unit: str) -> Callable[..., Any]:
    """The oracle function of a block: its spec's ``oracle`` (built-ins name the functions of
    this module, plug-ins their own), so the block spec stays the only registry."""
    return blocks.get_block(unit).oracle_fn()


def _prepare(unit: str, params: Mapping[str, Any], x: Any, config: Mapping[str, Any]):
    resolved = blocks.resolve_config(unit, config)
    blocks.check_params(unit, resolved, params)
    x64 = _f64(x)
    blocks.check_input(unit, resolved, x64)
    return resolved, {k: _f64(v) for k, v in params.items()}, x64


def reference(unit: str, params: Mapping[str, Any], x: Any, **config: Any) -> np.ndarray:
    """Oracle forward pass of ``unit`` in float64."""
    resolved, p, x64 = _prepare(unit, params, x, config)
    return oracle_of(unit)(p, x64, resolved, None)


def reference_grad(unit: str, params: Mapping[str, Any], x: Any, upstream: Any,
                   **config: Any) -> Grads:
    """Oracle vector-Jacobian product: gradients of sum(upstream * y) w.r.t. x and parameters.

    Only trainable parameters appear in the returned dict (see ``blocks.trainable_names``).
    """
    resolved, p, x64 = _prepare(unit, params, x, config)
    g = _f64(upstream)
    oracle = oracle_of(unit)
    expected = oracle(p, x64, resolved, None).shape
    if g.shape != expected:
        raise ValueError(
            f"unit {unit!r}: upstream gradient expected shape {expected}, received {g.shape}"
        )
    dx, grads = oracle(p, x64, resolved, g)
    return dx, grads
