"""Every neuronbench block as a NumPy layer with a hand-written backward pass.

In the spirit of mpneuralnetwork (spec §2): ``forward(x)`` computes the output and keeps what
the backward pass needs; ``backward(upstream)`` returns the gradient w.r.t. the input and
stores the parameter gradients in ``layer.grads`` (trainable parameters only). Parameters live
in ``layer.params`` under their canonical names and shapes (dense kernels [out, in], scalars
shape ()), so the canonical view is the native one.

Dtypes: a layer computes in its own dtype (float32 or float64). Constants are Python floats,
which NumPy 2 treats as weak scalars, so no float32 computation is silently promoted to
float64, and reductions use NumPy's summation in the layer dtype. One documented exception:
float32 LearnableSELU forms the rounding residual of omega * x in float64 (an exact product)
to correct sin/cos of large arguments (see ``LearnableSELU._sin_cos``). The maths follows the
spec (``docs/impls.md``, spec §1-§5); it is written independently of the float64 oracle,
against which the tests judge it. Where a textbook formula cancels in float32 (1 - tanh^2,
s (1 - s), a saturated softmax's VJP) a stable equivalent is used (``functional.py``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
from scipy import special

from impls.common import dtype_table
from impls.kernels import yat_cpu
from impls.numpy import aptx
from impls.numpy.functional import (
    col2im,
    im2col,
    nan_where_nan,
    relu_derivative,
    sech2,
    sigmoid,
    sigmoid_and_derivative,
    softermax_vjp,
    stable_softmax,
    stable_softmax_vjp,
)
from impls.spec import LayerSpec, blocks

DTYPES: Mapping[str, type[np.floating]] = dtype_table(float32=np.float32, float64=np.float64)

Cache = Any


class Block:
    """Base class: canonical parameters in the layer dtype, the spec, and the forward/backward pair.

    Subclasses implement ``_forward(x) -> (y, cache)`` and ``_backward(cache, g) -> (dx, grads)``.
    ``forward(x, training=False)`` keeps nothing (inference); ``backward`` consumes the cache of
    the last training forward pass, so each forward feeds at most one backward.
    """

    def __init__(self, layer_spec: LayerSpec, params: Mapping[str, np.ndarray],
                 dtype: str = "float32") -> None:
        self.layer_spec = layer_spec
        self.config = dict(layer_spec.config)
        self.dtype = np.dtype(DTYPES[dtype])
        self.trainable = tuple(blocks.get_block(layer_spec.block).trainable(layer_spec.config))
        self.param_names = tuple(params)
        self.params: dict[str, np.ndarray] = {
            name: np.array(value, dtype=self.dtype) for name, value in params.items()
        }
        self.grads: dict[str, np.ndarray] = {}
        self._cache: Cache = None

    # -- public pair ---------------------------------------------------------------------------

    def forward(self, x: np.ndarray, training: bool = True) -> np.ndarray:
        """Output for ``x`` (already in the layer dtype); keeps the backward cache if training."""
        y, cache = self._forward(x)
        self._cache = cache if training else None
        return y

    def backward(self, upstream: np.ndarray) -> np.ndarray:
        """Gradient w.r.t. the input of the last training forward; parameter grads to ``grads``."""
        if self._cache is None:
            raise RuntimeError(
                f"{type(self).__name__}.backward() needs a preceding forward(x, training=True)"
            )
        cache, self._cache = self._cache, None
        dx, grads = self._backward(cache, upstream)
        self.grads = {name: np.asarray(grads[name], dtype=self.dtype) for name in self.trainable}
        return dx

    __call__ = forward

    # -- to implement --------------------------------------------------------------------------

    def _forward(self, x: np.ndarray) -> tuple[np.ndarray, Cache]:  # pragma: no cover
        raise NotImplementedError

    def _backward(self, cache: Cache, g: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        raise NotImplementedError  # pragma: no cover

    # -- parameters ----------------------------------------------------------------------------

    def variable(self, name: str) -> np.ndarray:
        """The native variable holding canonical parameter ``name``: the layer's own array,
        updated in place by ``set_params`` and the optimisers."""
        return self.params[name]

    def param(self, name: str) -> np.ndarray:
        """Value of canonical parameter ``name`` for the maths (the same array here; the name
        is shared with the twins, whose variables and values differ)."""
        return self.params[name]

    # -- helpers -------------------------------------------------------------------------------

    def _scalar(self, value: Any) -> np.ndarray:
        """A reduction result as a 0-d array of the layer dtype."""
        return np.asarray(value, dtype=self.dtype)

    def __repr__(self) -> str:
        options = ", ".join(f"{k}={v!r}" for k, v in self.config.items())
        return f"{type(self).__name__}({options}, dtype={self.dtype.name})"


def _feature_shape(ndim: int, axis: int, size: int) -> tuple[int, ...]:
    """Shape that broadcasts a per-feature vector along ``axis`` of an ndim-array."""
    shape = [1] * ndim
    shape[axis] = size
    return tuple(shape)


def _sum_except(a: np.ndarray, axis: int) -> np.ndarray:
    """Sum over every axis but ``axis`` (per-feature parameter gradients)."""
    axis = axis % a.ndim
    return a.sum(axis=tuple(i for i in range(a.ndim) if i != axis))


# --------------------------------------------------------------------------------------------
# APTx


class APTxActivation(Block):
    """(alpha + tanh(beta x)) gamma x with scalar parameters (trainable only if configured)."""

    def _forward(self, x):
        a, b, gm = (self.param(k) for k in ("alpha", "beta", "gamma"))
        t = np.tanh(b * x)
        return (a + t) * gm * x, (x, t)

    def _backward(self, cache, g):
        x, t = cache
        a, b, gm = (self.param(k) for k in ("alpha", "beta", "gamma"))
        bx = b * x
        s = sech2(bx)
        dx = g * gm * (a + t + bx * s)
        if not self.trainable:
            return dx, {}
        gx = g * x
        return dx, {
            "alpha": self._scalar(np.sum(gx) * gm),
            "beta": self._scalar(np.sum(gx * x * s) * gm),
            "gamma": self._scalar(np.sum(gx * (a + t))),
        }


class APTxLayer(Block):
    """sum_i (A + tanh(B x_i)) G x_i + delta; ``impl="fused"`` (the compiled kernel) and
    ``impl="recompute"`` keep no [batch, out, in] tensor.

    ``chunk_elements`` bounds the size of the [rows, out, in] slabs evaluated at a time.
    """

    def __init__(self, layer_spec: LayerSpec, params: Mapping[str, np.ndarray],
                 dtype: str = "float32") -> None:
        super().__init__(layer_spec, params, dtype)
        self.chunk_elements = aptx.CHUNK_ELEMENTS

    def _matrices(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return self.param("alpha"), self.param("beta"), self.param("gamma")

    def _forward(self, x):
        A, B, G = self._matrices()
        if self.config["impl"] == "fused":
            y = aptx.aptx_fused(x, A, B, G)
            cache = x
        elif self.config["impl"] == "recompute":
            y = aptx.aptx_recompute(x, A, B, G, self.chunk_elements)
            cache = x
        else:
            y, t = aptx.aptx_naive(x, A, B, G)
            cache = (x, t)
        if self.config["use_delta"]:
            y += self.param("delta")
        return y, cache

    def _backward(self, cache, g):
        A, B, G = self._matrices()
        need_a = self.config["alpha_trainable"]
        if self.config["impl"] == "fused":
            dx, dA, dB, dG = aptx.aptx_fused_vjp(cache, A, B, G, g)
        elif self.config["impl"] == "recompute":
            dx, dA, dB, dG = aptx.aptx_recompute_vjp(cache, A, B, G, g, need_x=True, need_a=need_a,
                                                     chunk_elements=self.chunk_elements)
        else:
            x, t = cache
            dx, dA, dB, dG = aptx.aptx_naive_vjp(x, t, A, B, G, g)
        grads = {"beta": dB, "gamma": dG}
        if need_a:
            grads["alpha"] = dA
        if self.config["use_delta"]:
            grads["delta"] = g.sum(axis=0)
        return dx, grads


# --------------------------------------------------------------------------------------------
# ActMix


def _basis_value(name: str, z: np.ndarray, omega: float) -> np.ndarray:
    """One ActMix basis function at z (a fresh array, except the identity's z itself)."""
    if name == "sin":
        return np.sin(z if omega == 1.0 else omega * z)    # omega 1: the product is exact
    if name == "tanh":
        return np.tanh(z)
    if name == "relu":
        return np.maximum(z, 0.0)
    if name == "identity":
        return z
    if name == "sigmoid":
        return sigmoid(z)
    if name == "silu":
        return z * sigmoid(z)
    raise ValueError(f"unit 'actmix': unknown basis {name!r}")  # pragma: no cover


def _basis_derivative(name: str, z: np.ndarray, omega: float, value: np.ndarray) -> np.ndarray | None:
    """Derivative of one ActMix basis at z (``value`` is the basis at z, from the forward pass):
    None for the identity (it is 1), so the caller adds instead of forming ones."""
    if name == "sin":
        if omega == 1.0:
            return np.cos(z)
        return omega * np.cos(omega * z)
    if name == "tanh":
        return sech2(z)
    if name == "relu":
        return relu_derivative(value)       # NaN at a NaN input, like every unit
    if name == "identity":
        return None
    if name == "sigmoid":
        return sigmoid_and_derivative(z)[1]
    if name == "silu":
        s, ds = sigmoid_and_derivative(z)
        return s + z * ds
    raise ValueError(f"unit 'actmix': unknown basis {name!r}")  # pragma: no cover


class ActMix(Block):
    """Per-feature mixture sum_k softmax(logits / T)[f, k] phi_k(x) along ``config["axis"]``.

    The temperature is mutable state (``set_temperature``), not a parameter. The mixture is
    accumulated basis by basis, so no [..., F, K] tensor is formed.
    """

    def __init__(self, layer_spec: LayerSpec, params: Mapping[str, np.ndarray],
                 dtype: str = "float32") -> None:
        super().__init__(layer_spec, params, dtype)
        self.temperature = float(self.config["temperature"])

    def coefficients(self) -> np.ndarray:
        """Mixing weights softmax(logits / T) per feature, [F, K], in the layer dtype."""
        return stable_softmax(self.param("logits"), self.temperature, -1)[0]

    def entropy(self) -> float:
        """Mean over features of the mixture entropy, from a stable log-softmax."""
        z = self.param("logits") / self.temperature
        z = z - z.max(axis=-1, keepdims=True)
        log_c = z - np.log(np.exp(z).sum(axis=-1, keepdims=True))
        return float(np.mean(-np.sum(np.exp(log_c) * log_c, axis=-1)))

    def entropy_grad(self) -> np.ndarray:
        """d entropy() / d logits in the layer dtype: -c (log c + h) / (T F) per neuron (the
        derivation is in ``impls.spec.oracle.actmix_entropy_grad``)."""
        z = self.param("logits") / self.dtype.type(self.temperature)
        z = z - z.max(axis=-1, keepdims=True)
        log_c = z - np.log(np.exp(z).sum(axis=-1, keepdims=True))
        c = np.exp(log_c)
        h = -np.sum(c * log_c, axis=-1, keepdims=True)
        return -c * (log_c + h) / self.dtype.type(self.temperature * log_c.shape[0])

    def _columns(self, coeff: np.ndarray, ndim: int) -> list[np.ndarray]:
        shape = _feature_shape(ndim, self.config["axis"], coeff.shape[0])
        return [coeff[:, k].reshape(shape) for k in range(coeff.shape[1])]

    def _forward(self, x):
        coeff, top = stable_softmax(self.param("logits"), self.temperature, -1)
        y = np.empty_like(x)
        values = []   # kept for the backward pass (the coefficient gradients), K arrays like x
        for k, (name, ck) in enumerate(zip(self.config["basis"], self._columns(coeff, x.ndim),
                                           strict=True)):
            value = _basis_value(name, x, self.config["omega_0"])
            values.append(value)
            if k == 0:
                np.multiply(ck, value, out=y)
            else:
                y += ck * value
        return y, (x, values, coeff, top, self.temperature)

    def _per_feature_sum(self, g: np.ndarray, value: np.ndarray) -> np.ndarray:
        """sum of g * value over every axis but the feature axis (one einsum pass for 2-D)."""
        axis = self.config["axis"] % g.ndim
        if g.ndim == 2:
            return np.einsum("bf,bf->f" if axis == 1 else "fb,fb->f", g, value)
        return _sum_except(g * value, axis)

    def _backward(self, cache, g):
        x, values, coeff, top, temperature = cache
        dx = np.zeros_like(x)
        dcoeff = np.empty_like(coeff)
        for k, (name, ck) in enumerate(zip(self.config["basis"], self._columns(coeff, x.ndim),
                                           strict=True)):
            deriv = _basis_derivative(name, x, self.config["omega_0"], values[k])
            if deriv is None:
                dx += ck
            else:
                deriv *= ck
                dx += deriv
            dcoeff[:, k] = self._per_feature_sum(g, values[k])
        dx *= g
        dlogits = stable_softmax_vjp(coeff, dcoeff, top, temperature, -1)
        return dx, {"logits": dlogits}


# --------------------------------------------------------------------------------------------
# Learnable SELU variation


class LearnableSELU(Block):
    """lambda x (x > 0) | lambda (alpha (e^(beta x) - 1) + gamma sin(omega x)) (x <= 0).

    ``safe=True`` evaluates the negative branch on min(x, 0), so every gradient is finite for
    finite x. ``safe=False`` reproduces the original ``where`` on raw x, with autodiff's
    masked-branch arithmetic: upstream * 0 * inf = NaN in the gradients once e^(beta x)
    overflows (x > ~88.7 in float32); the forward values are identical.
    """

    _NAMES = ("lambda", "alpha", "beta", "gamma", "omega")

    #: |omega x| from which float32 sin/cos get the rounding-residual correction (below it the
    #: residual is under 4.8e-7 rad, at the level of float32 rounding of the result itself).
    _CORRECT_FROM = 8.0

    def _sin_cos(self, om: np.ndarray, xn: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """sin(omega x) and cos(omega x), accurate in float32 for large |x|.

        In float32 the product omega x is rounded to half an ulp (8e-6 rad at |omega x| = 200),
        and the omega gradient multiplies cos(omega x) by x, so that rounding alone can exceed
        the gradient tolerance at |x| = 100. The product of two float32 numbers is exact in
        float64, so the rounding residual r = omega x - fl(omega x) is formed there and sin/cos
        are corrected to first order: sin(h + r) = sin h + r cos h. Only the elements with
        |omega x| >= 8 are corrected (gathered, usually none): below that r is under float32
        rounding of the result, and converting every element to float64 cost more than the
        rest of the layer.
        """
        wx = om * xn
        s, c = np.sin(wx), np.cos(wx)
        if self.dtype == np.float32:
            with np.errstate(invalid="ignore"):
                far = np.abs(wx) >= self._CORRECT_FROM
            if far.any():
                residual = (np.float64(om) * xn[far].astype(np.float64)
                            - wx[far].astype(np.float64)).astype(np.float32)
                residual[~np.isfinite(residual)] = 0.0
                s_far, c_far = s[far], c[far]
                s[far] = s_far + residual * c_far
                c[far] = c_far - residual * s_far
        return s, c

    def _forward(self, x):
        lam, al, be, ga, om = (self.param(k) for k in self._NAMES)
        pos = x > 0
        xn = np.minimum(x, 0.0) if self.config["safe"] else x
        with np.errstate(over="ignore", invalid="ignore"):
            e = np.exp(be * xn)
            sin, cos = self._sin_cos(om, xn)
            em1 = e - 1.0
            neg_inner = al * em1 + ga * sin
            if self.config["safe"]:
                # On min(x, 0) the negative branch is exactly 0 where x > 0 (e = 1, sin 0 = 0)
                # and max(x, 0) is 0 where x <= 0, so their sum is the select without a where
                # (np.where on float32 costs ten times a multiply).
                y = lam * (np.maximum(x, 0.0) + neg_inner)
            else:
                y = np.where(pos, lam * x, lam * neg_inner)
        return y, (x, pos, xn, e, em1, sin, cos, neg_inner)

    def _backward(self, cache, g):
        x, pos, xn, e, em1, sin, co, neg_inner = cache
        lam, al, be, ga, om = (self.param(k) for k in self._NAMES)
        # Gradients as an autodiff of the where would form them: each branch's contribution is
        # the upstream masked to where that branch is selected, times the branch derivative.
        # With safe=True every factor is finite; with safe=False 0 * inf gives the original NaN.
        # The mask is a multiply by the 0/1 selection (exact for finite upstream), not a where.
        g_pos = g * pos if self.config["safe"] else np.where(pos, g, 0.0)
        g_neg = g - g_pos
        with np.errstate(over="ignore", invalid="ignore"):
            lg = g_neg * lam
            slope = (al * be) * e           # scalar products first: one array pass each
            slope += (ga * om) * co
            dx = lam * g_pos
            dx += lg * slope
            lgx = lg * xn                   # shared by the beta and omega gradients
            grads = {
                "lambda": self._scalar(np.sum(g_pos * x) + np.sum(g_neg * neg_inner)),
                "alpha": self._scalar(np.sum(lg * em1)),
                "beta": self._scalar(np.sum(lgx * e) * al),
                "gamma": self._scalar(np.sum(lg * sin)),
                "omega": self._scalar(np.sum(lgx * co) * ga),
            }
        return dx, grads


# --------------------------------------------------------------------------------------------
# Classic activations


class ReLU(Block):
    def _forward(self, x):
        y = np.maximum(x, 0.0)
        return y, y

    def _backward(self, y, g):
        return g * relu_derivative(y), {}


class PReLU(Block):
    """x if x > 0 else alpha_f x, one learnable slope per feature along ``config["axis"]``."""

    def _slope(self, ndim: int) -> np.ndarray:
        alpha = self.param("alpha")
        return alpha.reshape(_feature_shape(ndim, self.config["axis"], alpha.shape[0]))

    def _forward(self, x):
        pos = x > 0
        return np.where(pos, x, self._slope(x.ndim) * x), (x, pos)

    def _backward(self, cache, g):
        x, pos = cache
        dx = nan_where_nan(np.where(pos, g, self._slope(x.ndim) * g), x)   # NaN takes no side
        dalpha = _sum_except(np.where(pos, 0.0, g * x), self.config["axis"])
        return dx, {"alpha": dalpha}


class Swish(Block):
    """x sigmoid(beta x), beta a parameter if ``learnable`` else the constant ``config["beta"]``.

    Stable for any input: the sigmoid never exponentiates a positive number, so x = -100 in
    float32 gives finite values and gradients (mpneuralnetwork's Swish returns NaN there).
    """

    def _beta(self) -> np.ndarray | float:
        return self.param("beta") if self.config["learnable"] else float(self.config["beta"])

    def _forward(self, x):
        z = self._beta() * x
        s, ds = sigmoid_and_derivative(z)
        return x * s, (x, z, s, ds)

    def _backward(self, cache, g):
        x, z, s, ds = cache
        dx = g * (s + z * ds)
        if not self.config["learnable"]:
            return dx, {}
        return dx, {"beta": self._scalar(np.sum(g * x * x * ds))}


_GELU_K = math.sqrt(2.0 / math.pi)
_GELU_C = 0.044715
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


class GELU(Block):
    """x Phi(x) (exact, Phi from scipy.special.ndtr) or the tanh approximation."""

    def _forward(self, x):
        if self.config["approximate"]:
            u = _GELU_K * (x + _GELU_C * x * x * x)
            t = np.tanh(u)
            return 0.5 * x * (1.0 + t), (x, u, t)
        cdf = special.ndtr(x)
        return x * cdf, (x, cdf)

    def _backward(self, cache, g):
        if self.config["approximate"]:
            x, u, t = cache
            s = sech2(u)
            du = _GELU_K * (1.0 + 3.0 * _GELU_C * x * x)
            return g * (0.5 * (1.0 + t) + 0.5 * x * s * du), {}
        x, cdf = cache
        pdf = np.exp(-0.5 * x * x) * _INV_SQRT_2PI
        return g * (cdf + x * pdf), {}


class Tanh(Block):
    def _forward(self, x):
        return np.tanh(x), x

    def _backward(self, x, g):
        s = sech2(x)
        return g * s, {}


class Sigmoid(Block):
    def _forward(self, x):
        s, ds = sigmoid_and_derivative(x)
        return s, ds

    def _backward(self, ds, g):
        return g * ds, {}


class Softmax(Block):
    """softmax(x / (T + epsilon)) along ``config["axis"]`` (epsilon=1e-8: mpneuralnetwork's form)."""

    def _scale(self) -> float:
        return float(self.config["temperature"] + self.config["epsilon"])

    def _forward(self, x):
        y, top = stable_softmax(x, self._scale(), self.config["axis"])
        return y, (y, top)

    def _backward(self, cache, g):
        y, top = cache
        return stable_softmax_vjp(y, g, top, self._scale(), self.config["axis"]), {}


# --------------------------------------------------------------------------------------------
# Yat (NMN 0.3.5)

_SPHERE_EPS = 1e-8  # nmn normalises with v / (|v| + 1e-8)


def _yat_scores(dot: np.ndarray, x_sq: np.ndarray | float, w_sq: np.ndarray | float,
                numerator: np.ndarray, eps: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(ratio, dist, positive) with dist = max(|x|^2 + |w|^2 - 2 dot, 0) + eps, ratio = n^2 / dist."""
    raw = x_sq + w_sq - 2.0 * dot
    positive = raw > 0
    dist = np.maximum(raw, 0.0) + eps
    return numerator * numerator / dist, dist, positive


def _yat_score_grads(g: np.ndarray, scale: np.ndarray | float, numerator: np.ndarray,
                     ratio: np.ndarray, dist: np.ndarray, positive: np.ndarray
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(g_num, g_dot, g_dist) for y = scale * num^2 / dist with dist clamped at 0 before eps.

    The distance's gradient passes only where the clamp is inactive (raw > 0), like the
    subgradient every autodiff framework takes for max(raw, 0) away from 0.
    """
    g_num = 2.0 * scale * g * numerator / dist
    g_dist = np.where(positive, -scale * g * ratio / dist, 0.0)
    return g_num, g_num - 2.0 * g_dist, g_dist


def _yat_alpha_value(layer: Block) -> np.ndarray | float | None:
    mode = blocks.yat_alpha_mode(layer.config["alpha"])
    if mode == "learnable":
        return layer.param("alpha")
    return mode


def _normalise_rows(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """v / (|v| + 1e-8) row-wise, and |v| (kept for the backward pass)."""
    norm = np.sqrt(np.sum(v * v, axis=-1, keepdims=True))
    return v / (norm + _SPHERE_EPS), norm


def _normalise_rows_backward(v: np.ndarray, norm: np.ndarray, g_hat: np.ndarray) -> np.ndarray:
    """Gradient through v / (|v| + eps), including the norm's own dependence on v."""
    denom = norm + _SPHERE_EPS
    nonzero = norm > 0
    safe_norm = np.where(nonzero, norm, 1.0)
    radial = np.sum(v * g_hat, axis=-1, keepdims=True) / (safe_norm * denom * denom)
    return g_hat / denom - v * np.where(nonzero, radial, 0.0)


class YatDense(Block):
    """alpha (w.x + b)^2 / (max(|x|^2 + |w|^2 - 2 w.x, 0) + eps) (nmn 0.3.5), or the DL2.0 form.

    ``semantics="dl2-paper"``: s (w.x)^2 / (dist + eps) + b with s = (sqrt(O) / ln(1 + O))^alpha.
    ``spherical=True``: x and w normalised to unit norm (|v| + 1e-8), dist = 2 - 2 x^.w^ clamped.
    """

    def _scale(self) -> tuple[np.ndarray | float, float | None]:
        """(output scale, d scale / d alpha divided by the scale, for a learnable paper alpha)."""
        alpha = _yat_alpha_value(self)
        if self.config["semantics"] != "dl2-paper":
            return (1.0 if alpha is None else alpha), None
        if alpha is None:
            return 1.0, None
        out = self.param("weight").shape[0]
        base = math.sqrt(out) / math.log1p(out)
        return base ** alpha, math.log(base)

    def _forward(self, x):
        W = self.param("weight")
        c = self.config
        paper = c["semantics"] == "dl2-paper"
        bias = self.param("bias") if c["bias"] else None
        if not c["spherical"]:
            # The fused passes of impls/kernels/yat_cpu.py (one compiled pass between the BLAS
            # products instead of ~20 array operations); the paper form adds its bias outside.
            scale, _ = self._scale()
            y, kept = yat_cpu.forward(x, W, None if paper else bias, c["epsilon"], scale)
            if paper and bias is not None:
                y += bias
            return y, ("fused", x, kept)
        # Spherical: x and w on the unit sphere, so |x|^2 = |w|^2 = 1 in the distance.
        xh, x_norm = _normalise_rows(x)
        wh, w_norm = _normalise_rows(W)
        dot = xh @ wh.T
        numerator = dot + bias if bias is not None else dot
        ratio, dist, positive = _yat_scores(dot, 1.0, 1.0, numerator, c["epsilon"])
        scale, _ = self._scale()
        y = scale * ratio
        return y, ("spherical", x, xh, wh, x_norm, w_norm, numerator, ratio, dist, positive)

    def _backward(self, cache, g):
        W = self.param("weight")
        c = self.config
        paper = c["semantics"] == "dl2-paper"
        scale, dlog = self._scale()
        if cache[0] == "fused":
            _, x, kept = cache
            bias = self.param("bias") if (c["bias"] and not paper) else None
            dx, dW, d_bias, d_scale = yat_cpu.backward(x, W, bias, c["epsilon"], scale, kept, g)
            grads = {"weight": dW}
            if c["bias"]:
                grads["bias"] = g.sum(axis=0) if paper else d_bias
            if "alpha" in self.params:
                grads["alpha"] = self._scalar(d_scale * scale * dlog if paper else d_scale)
            return dx, grads
        _, x, xh, wh, x_norm, w_norm, numerator, ratio, dist, positive = cache
        g_num, g_dot, _ = _yat_score_grads(g, scale, numerator, ratio, dist, positive)
        # dist = 2 - 2 x^.w^ on (assumed) unit vectors: only the dot product carries gradient.
        dx = _normalise_rows_backward(x, x_norm, g_dot @ wh)
        dW = _normalise_rows_backward(W, w_norm, g_dot.T @ xh)
        grads = {"weight": dW}
        if c["bias"]:
            grads["bias"] = g_num.sum(axis=0)
        if "alpha" in self.params:
            grads["alpha"] = self._scalar(np.sum(g * ratio))
        return dx, grads


class YatConv2D(Block):
    """nmn 0.3.5 YatConv2D on NCHW: alpha (conv(x, W) + b)^2 / (max(|patch|^2 + |W|^2 - 2 conv, 0) + eps)."""

    def _geometry(self):
        c = self.config
        return tuple(c["kernel_size"]), tuple(c["stride"]), tuple(c["padding"])

    def _forward(self, x):
        W = self.param("weight")
        Wm = W.reshape(W.shape[0], -1)                                  # [Co, C*kh*kw]
        cols = im2col(x, *self._geometry())                             # [B, H', W', K]
        dot = cols @ Wm.T                                               # [B, H', W', Co]
        x_sq = np.sum(cols * cols, axis=-1, keepdims=True)
        w_sq = np.sum(Wm * Wm, axis=1)
        numerator = dot + self.param("bias") if self.config["bias"] else dot
        ratio, dist, positive = _yat_scores(dot, x_sq, w_sq, numerator, self.config["epsilon"])
        scale = _yat_alpha_value(self)
        y = ratio if scale is None else scale * ratio
        return y.transpose(0, 3, 1, 2), (x.shape, cols, numerator, ratio, dist, positive)

    def _backward(self, cache, g):
        x_shape, cols, numerator, ratio, dist, positive = cache
        W = self.param("weight")
        Wm = W.reshape(W.shape[0], -1)
        scale = _yat_alpha_value(self)
        gl = g.transpose(0, 2, 3, 1)                                    # [B, H', W', Co]
        g_num, g_dot, g_dist = _yat_score_grads(gl, 1.0 if scale is None else scale,
                                                numerator, ratio, dist, positive)
        dcols = g_dot @ Wm
        dcols += 2.0 * cols * np.sum(g_dist, axis=-1, keepdims=True)
        flat_cols = cols.reshape(-1, cols.shape[-1])
        dW = g_dot.reshape(-1, g_dot.shape[-1]).T @ flat_cols
        dW += 2.0 * Wm * g_dist.sum(axis=(0, 1, 2))[:, None]
        grads = {"weight": dW.reshape(W.shape)}
        if self.config["bias"]:
            grads["bias"] = g_num.sum(axis=(0, 1, 2))
        if "alpha" in self.params:
            grads["alpha"] = self._scalar(np.sum(gl * ratio))
        return col2im(dcols, x_shape, *self._geometry()), grads


# --------------------------------------------------------------------------------------------
# Squashers (non-negative scores in)


def _power(x: np.ndarray, n: float) -> tuple[np.ndarray, np.ndarray | None]:
    """x**n and d/dx (None meaning 1, for n == 1); the derivative at 0 is n 0^(n-1) as written."""
    if n == 1.0:
        return x, None
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.power(x, n), n * np.power(x, n - 1.0)


def _times(a: np.ndarray, d: np.ndarray | None) -> np.ndarray:
    return a if d is None else a * d


class Softermax(Block):
    """x^n / (epsilon + sum_j x_j^n) along ``config["axis"]``."""

    def _forward(self, x):
        xn, dxn = _power(x, float(self.config["n"]))
        total = self.config["epsilon"] + np.sum(xn, axis=self.config["axis"], keepdims=True)
        y = xn / total
        return y, (y, dxn, total)

    def _backward(self, cache, g):
        y, dxn, total = cache
        c = self.config
        return _times(softermax_vjp(y, g, total, float(c["epsilon"]), c["axis"]), dxn), {}


class SofterSigmoid(Block):
    """x^n / (1 + x^n)."""

    def _forward(self, x):
        xn, dxn = _power(x, float(self.config["n"]))
        y = xn / (1.0 + xn)
        return y, (xn, dxn, y)

    def _backward(self, cache, g):
        xn, dxn, y = cache
        d = 1.0 + xn
        # NaN where y is (x = inf: inf / inf), like the oracle; the formula alone reads 0 there.
        return nan_where_nan(_times(g / (d * d), dxn), y), {}


class SoftTanh(Block):
    """(x^n - 1) / (1 + x^n)."""

    def _forward(self, x):
        xn, dxn = _power(x, float(self.config["n"]))
        y = (xn - 1.0) / (1.0 + xn)
        return y, (xn, dxn, y)

    def _backward(self, cache, g):
        xn, dxn, y = cache
        d = 1.0 + xn
        return nan_where_nan(_times(2.0 * g / (d * d), dxn), y), {}


# --------------------------------------------------------------------------------------------
# Building blocks of models


class Linear(Block):
    """x W^T + b."""

    def _forward(self, x):
        y = x @ self.param("weight").T
        if self.config["bias"]:
            y += self.param("bias")
        return y, x

    def _backward(self, x, g):
        grads = {"weight": g.T @ x}
        if self.config["bias"]:
            grads["bias"] = g.sum(axis=0)
        return g @ self.param("weight"), grads


class Conv2D(Block):
    """Cross-correlation on NCHW through im2col (sliding_window_view) and one matmul."""

    def _geometry(self):
        c = self.config
        return tuple(c["kernel_size"]), tuple(c["stride"]), tuple(c["padding"])

    def _forward(self, x):
        W = self.param("weight")
        cols = im2col(x, *self._geometry())                             # [B, H', W', K]
        y = cols @ W.reshape(W.shape[0], -1).T                          # [B, H', W', Co]
        if self.config["bias"]:
            y += self.param("bias")
        return y.transpose(0, 3, 1, 2), (x.shape, cols)

    def _backward(self, cache, g):
        x_shape, cols = cache
        W = self.param("weight")
        Wm = W.reshape(W.shape[0], -1)
        gl = g.transpose(0, 2, 3, 1)                                    # [B, H', W', Co]
        g2 = gl.reshape(-1, gl.shape[-1])
        grads = {"weight": (g2.T @ cols.reshape(-1, cols.shape[-1])).reshape(W.shape)}
        if self.config["bias"]:
            grads["bias"] = g2.sum(axis=0)
        return col2im(gl @ Wm, x_shape, *self._geometry()), grads


class MaxPool2D(Block):
    """Non-overlapping k x k max pooling on NCHW (trailing rows/columns dropped, floor).

    Ties send the gradient to the first maximum in row-major window order (like torch).
    """

    def _windows(self, x: np.ndarray) -> np.ndarray:
        k = self.config["kernel_size"]
        b, ch, h, w = x.shape
        ho, wo = h // k, w // k
        win = x[:, :, : ho * k, : wo * k].reshape(b, ch, ho, k, wo, k)
        return win.transpose(0, 1, 2, 4, 3, 5).reshape(b, ch, ho, wo, k * k)

    def _forward(self, x):
        flat = self._windows(x)
        first = np.argmax(flat, axis=-1)[..., None]
        y = np.take_along_axis(flat, first, axis=-1)[..., 0]
        return y, (x.shape, first)

    def _backward(self, cache, g):
        (b, ch, h, w), first = cache
        k = self.config["kernel_size"]
        ho, wo = g.shape[2:]
        dflat = np.zeros((b, ch, ho, wo, k * k), dtype=g.dtype)
        np.put_along_axis(dflat, first, g[..., None], axis=-1)
        dwin = dflat.reshape(b, ch, ho, wo, k, k).transpose(0, 1, 2, 4, 3, 5)
        dx = np.zeros((b, ch, h, w), dtype=g.dtype)
        dx[:, :, : ho * k, : wo * k] = dwin.reshape(b, ch, ho * k, wo * k)
        return dx, {}


class Flatten(Block):
    """[B, C, H, W] -> [B, C*H*W] (C, H, W order)."""

    def _forward(self, x):
        # explicit width, not -1: a reshape of an empty batch cannot infer it
        return x.reshape(x.shape[0], math.prod(x.shape[1:])), x.shape

    def _backward(self, shape, g):
        return g.reshape(shape), {}


#: Block name -> class (names from impls.spec.blocks.CLASS_NAMES, shared by every framework).
BLOCK_CLASSES: Mapping[str, type[Block]] = blocks.class_table(globals(), "numpy")


def build_block(layer_spec: LayerSpec, params: Mapping[str, np.ndarray],
                dtype: str = "float32") -> Block:
    """Native layer for ``layer_spec`` holding ``params`` (canonical, any float dtype) as ``dtype``."""
    return BLOCK_CLASSES[layer_spec.block](layer_spec, params, dtype)
