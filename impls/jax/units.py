"""Every neuronbench block as a Flax NNX module (class names shared with every framework).

Each module is built from a :class:`~impls.spec.LayerSpec` and canonical float64 parameters:
trainable ones become ``nnx.Param``, the others :class:`Buffer` variables (part of the
canonical dict, never differentiated), and ActMix's temperature is :class:`Temperature` state.
Parameters use Flax's layouts (dense kernels ``[in, out]``, conv kernels ``HWIO``); the
canonical ``[out, in]`` / ``OIHW`` views live in :mod:`impls.jax.params`. Inputs and outputs
keep the canonical layout (conv blocks take NCHW), so models compose exactly like the oracle.

float32 layers stay float32 although the backend enables ``jax_enable_x64``: every array is
created with an explicit dtype, and the constants inside the maths are Python scalars (weakly
typed, so they never promote). Matmuls and convolutions ask for ``Precision.HIGHEST`` so no
TF32/bf16 pass is used on GPUs (design §4).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, ClassVar

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from jax import lax
from jax.scipy.special import ndtr

from impls.common import dtype_table
from impls.jax.aptx import HIGHEST, aptx_fused, aptx_naive, aptx_recompute
from impls.jax.functional import prelu, relu, sigmoid, softermax, squash, stable_softmax, tanh
from impls.jax.params import native_slot, to_native
from impls.spec import LayerSpec, blocks

DTYPES: Mapping[str, Any] = dtype_table(float32=jnp.float32, float64=jnp.float64)


class Buffer(nnx.Variable):
    """A canonical parameter that does not train (APTx alpha when fixed, frozen APTx scalars)."""


class Temperature(nnx.Variable):
    """ActMix's softmax temperature: mutable state set by trainers, not a parameter."""


class Block(nnx.Module):
    """Base class: holds the canonical parameters as variables and the spec the layer came from."""

    #: canonical parameter name -> (native attribute, layout); absent names keep name and shape.
    native: ClassVar[Mapping[str, tuple[str, str]]] = {}

    def __init__(self, layer_spec: LayerSpec, params: Mapping[str, np.ndarray], dtype: str) -> None:
        self.layer_spec = layer_spec
        self.config = dict(layer_spec.config)
        self.dtype_name = dtype
        self.dtype = DTYPES[dtype]
        trainable = set(blocks.get_block(layer_spec.block).trainable(layer_spec.config))
        self.param_names = tuple(params)
        for name, value in params.items():
            attr, layout = native_slot(self, name)
            array = jnp.asarray(to_native(layout, np.asarray(value)), dtype=self.dtype)
            setattr(self, attr, (nnx.Param if name in trainable else Buffer)(array))

    def variable(self, name: str) -> nnx.Variable:
        """The native variable (``nnx.Param`` or :class:`Buffer`) holding canonical parameter
        ``name``, under its native attribute (``kernel``, ``lambda_``) and in its native layout."""
        return getattr(self, native_slot(self, name)[0])

    def param(self, name: str) -> jax.Array:
        """Value of canonical parameter ``name`` for the maths, in the native layout."""
        return self.variable(name)[...]


def _feature_view(param: jax.Array, x: jax.Array, axis: int) -> jax.Array:
    """Reshape a per-feature vector to broadcast along ``axis`` of ``x``."""
    shape = [1] * x.ndim
    shape[axis] = -1
    return param.reshape(shape)


def _const(value: float, like: jax.Array) -> jax.Array:
    """A scalar in the dtype of ``like`` (a bare 0.0 would enter jnp.where as a float64 literal)."""
    return jnp.asarray(value, dtype=like.dtype)


def _positive_part(x: jax.Array) -> jax.Array:
    """max(x, 0) whose derivative at 0 is 0, like the oracle (jnp.maximum splits ties 1/2): the
    Yat distance clamp (the relu unit and basis use :func:`impls.jax.functional.relu`, whose
    gradient is also NaN at NaN).

    A NaN stays NaN, as in NumPy's ``maximum``, torch and TensorFlow (``x > 0`` is false for
    NaN, so a plain ``where`` turned it into 0: JAX's relu(NaN) read 0 where the others read NaN).
    """
    return jnp.where(x > 0, x, jnp.where(jnp.isnan(x), x, _const(0.0, x)))


def _nonpositive_part(x: jax.Array) -> jax.Array:
    """min(x, 0) whose derivative at 0 is 1 (the negative branch owns x = 0, as in the oracle)."""
    return jnp.where(x > 0, _const(0.0, x), x)


# --------------------------------------------------------------------------------------------
# APTx


class APTxActivation(Block):
    def __call__(self, x: jax.Array) -> jax.Array:
        a, b, g = self.param("alpha"), self.param("beta"), self.param("gamma")
        return (a + tanh(b * x)) * g * x


class APTxLayer(Block):
    """impl="fused": the compiled CPU kernel through a host callback, or the Pallas kernel on a
    GPU backend; impl="recompute": custom VJP over chunked XLA ops; both keep no
    [batch, out, in] residual. impl="naive": autodiff."""

    def __call__(self, x: jax.Array) -> jax.Array:
        fn = {"fused": aptx_fused, "recompute": aptx_recompute, "naive": aptx_naive}[self.config["impl"]]
        y = fn(x, self.param("alpha"), self.param("beta"), self.param("gamma"))
        return y + self.param("delta") if self.config["use_delta"] else y

# --------------------------------------------------------------------------------------------
# ActMix


class ActMix(Block):
    """Softmax(logits / T) mixture of basis functions per feature; T is state, set by trainers."""

    def __init__(self, layer_spec: LayerSpec, params: Mapping[str, np.ndarray], dtype: str) -> None:
        super().__init__(layer_spec, params, dtype)
        self.temperature = Temperature(jnp.asarray(float(self.config["temperature"]), dtype=self.dtype))

    def basis(self, name: str, z: jax.Array) -> jax.Array:
        if name == "sin":
            return jnp.sin(self.config["omega_0"] * z)
        if name == "tanh":
            return tanh(z)
        if name == "relu":
            return relu(z)
        if name == "identity":
            return z
        if name == "sigmoid":
            return sigmoid(z)
        if name == "silu":
            return z * sigmoid(z)
        raise ValueError(f"unit 'actmix': unknown basis {name!r}")

    def coefficients(self) -> jax.Array:
        """Mixing weights softmax(logits / T), shape [features, basis]."""
        return stable_softmax(self.param("logits"), self.temperature[...], -1)

    def entropy(self) -> jax.Array:
        """Mean over features of the mixture entropy (from log-softmax: finite at small T)."""
        log_c = jax.nn.log_softmax(self.param("logits") / self.temperature[...], axis=-1)
        return -jnp.mean(jnp.sum(jnp.exp(log_c) * log_c, axis=-1))

    def __call__(self, x: jax.Array) -> jax.Array:
        axis = self.config["axis"]
        z = jnp.moveaxis(x, axis, -1)
        phi = jnp.stack([self.basis(b, z) for b in self.config["basis"]], axis=-1)
        return jnp.moveaxis(jnp.sum(phi * self.coefficients(), axis=-1), -1, axis)


# --------------------------------------------------------------------------------------------
# Learnable SELU variation


class LearnableSELU(Block):
    """safe=True evaluates the negative branch on min(x, 0): finite gradients for finite x."""

    native: ClassVar[Mapping[str, tuple[str, str]]] = {"lambda": ("lambda_", "same")}

    def __call__(self, x: jax.Array) -> jax.Array:
        lam, al, be, ga, om = (self.param(k) for k in ("lambda", "alpha", "beta", "gamma", "omega"))
        xn = _nonpositive_part(x) if self.config["safe"] else x
        negative = lam * (al * (jnp.exp(be * xn) - 1.0) + ga * jnp.sin(om * xn))
        return jnp.where(x > 0, lam * x, negative)


# --------------------------------------------------------------------------------------------
# Classic activations


class ReLU(Block):
    def __call__(self, x: jax.Array) -> jax.Array:
        return relu(x)


class PReLU(Block):
    def __call__(self, x: jax.Array) -> jax.Array:
        return prelu(x, _feature_view(self.param("alpha"), x, self.config["axis"]))


class Swish(Block):
    """x sigmoid(beta x); the logistic never overflows, so no NaN at x = -100 (spec §2.1)."""

    def __call__(self, x: jax.Array) -> jax.Array:
        beta = self.param("beta") if self.config["learnable"] else float(self.config["beta"])
        return x * sigmoid(beta * x)


_GELU_K = math.sqrt(2.0 / math.pi)


class GELU(Block):
    def __call__(self, x: jax.Array) -> jax.Array:
        if self.config["approximate"]:
            return 0.5 * x * (1.0 + tanh(_GELU_K * (x + 0.044715 * (x * x * x))))
        return x * ndtr(x)


class Tanh(Block):
    def __call__(self, x: jax.Array) -> jax.Array:
        return tanh(x)


class Sigmoid(Block):
    def __call__(self, x: jax.Array) -> jax.Array:
        return sigmoid(x)


class Softmax(Block):
    def __call__(self, x: jax.Array) -> jax.Array:
        scale = jnp.asarray(self.config["temperature"] + self.config["epsilon"], dtype=x.dtype)
        return stable_softmax(x, scale, self.config["axis"])


# --------------------------------------------------------------------------------------------
# Yat (NMN)

_SPHERE_EPS = 1e-8  # nmn normalises with v / (|v| + 1e-8)


def _row_norm(v: jax.Array, axis: int) -> jax.Array:
    """|v| along ``axis`` with a zero (not NaN) gradient at v = 0, like the oracle."""
    sq = jnp.sum(v * v, axis=axis, keepdims=True)
    positive = sq > 0
    return jnp.where(positive, jnp.sqrt(jnp.where(positive, sq, _const(1.0, v))), _const(0.0, v))


def _yat_alpha(layer: Block) -> jax.Array | float | None:
    mode = blocks.yat_alpha_mode(layer.config["alpha"], layer.layer_spec.block)
    return layer.param("alpha") if mode == "learnable" else mode


def _yat_ratio(dot: jax.Array, x_sq: jax.Array, w_sq: jax.Array, numerator: jax.Array,
               eps: float) -> jax.Array:
    """numerator^2 / (max(|x|^2 + |w|^2 - 2 dot, 0) + eps), the clamp's derivative 0 at 0."""
    dist = _positive_part(x_sq + w_sq - 2.0 * dot) + eps
    return numerator * numerator / dist


class YatDense(Block):
    """nmn 0.3.5 YatNMN semantics (or the DL2.0-era ones with semantics='dl2-paper')."""

    native: ClassVar[Mapping[str, tuple[str, str]]] = {"weight": ("kernel", "dense")}

    def __call__(self, x: jax.Array) -> jax.Array:
        kernel, c = self.param("weight"), self.config                       # [in, out]
        if c["spherical"]:
            x = x / (_row_norm(x, 1) + _SPHERE_EPS)
            kernel = kernel / (_row_norm(kernel, 0) + _SPHERE_EPS)
            dot = jnp.dot(x, kernel, precision=HIGHEST)
            x_sq, w_sq = 1.0, 1.0
        else:
            dot = jnp.dot(x, kernel, precision=HIGHEST)
            x_sq = jnp.sum(x * x, axis=1, keepdims=True)
            w_sq = jnp.sum(kernel * kernel, axis=0)
        bias = self.param("bias") if c["bias"] else None
        alpha = _yat_alpha(self)
        if c["semantics"] == "dl2-paper":
            y = _yat_ratio(dot, x_sq, w_sq, dot, c["epsilon"])
            if alpha is not None:
                out = kernel.shape[1]
                base = math.sqrt(out) / math.log1p(out)
                # base ** alpha; a learnable alpha differentiates to scale * ln(base).
                learnable = not isinstance(alpha, float)
                y = y * (jnp.exp(alpha * math.log(base)) if learnable else base**alpha)
            return y + bias if bias is not None else y
        y = _yat_ratio(dot, x_sq, w_sq, dot + bias if bias is not None else dot, c["epsilon"])
        return y * alpha if alpha is not None else y


def _conv(x: jax.Array, kernel: jax.Array, config: Mapping[str, Any]) -> jax.Array:
    """Cross-correlation of NCHW input with an HWIO kernel, NCHW output."""
    (ph, pw) = config["padding"]
    return lax.conv_general_dilated(
        x, kernel, window_strides=tuple(config["stride"]), padding=((ph, ph), (pw, pw)),
        dimension_numbers=("NCHW", "HWIO", "NCHW"), precision=HIGHEST,
    )


class YatConv2D(Block):
    """nmn 0.3.5 YatConv2D semantics on NCHW input."""

    native: ClassVar[Mapping[str, tuple[str, str]]] = {"weight": ("kernel", "conv")}

    def __call__(self, x: jax.Array) -> jax.Array:
        kernel, c = self.param("weight"), self.config                       # HWIO
        dot = _conv(x, kernel, c)
        ones = jnp.ones((*kernel.shape[:3], 1), dtype=x.dtype)
        x_sq = _conv(x * x, ones, c)                                     # patch |x|^2, [B,1,H,W]
        w_sq = jnp.sum(kernel * kernel, axis=(0, 1, 2)).reshape(1, -1, 1, 1)
        numerator = dot + self.param("bias").reshape(1, -1, 1, 1) if c["bias"] else dot
        y = _yat_ratio(dot, x_sq, w_sq, numerator, c["epsilon"])
        alpha = _yat_alpha(self)
        return y * alpha if alpha is not None else y


# --------------------------------------------------------------------------------------------
# Squashers


def _power(x: jax.Array, n: float) -> jax.Array:
    return x if n == 1.0 else jnp.power(x, n)


class Softermax(Block):
    def __call__(self, x: jax.Array) -> jax.Array:
        return softermax(_power(x, self.config["n"]), float(self.config["epsilon"]), self.config["axis"])


class SofterSigmoid(Block):
    def __call__(self, x: jax.Array) -> jax.Array:
        return squash(_power(x, self.config["n"]), 0.0)


class SoftTanh(Block):
    def __call__(self, x: jax.Array) -> jax.Array:
        return squash(_power(x, self.config["n"]), 1.0)


# --------------------------------------------------------------------------------------------
# Building blocks of models


class Linear(Block):
    native: ClassVar[Mapping[str, tuple[str, str]]] = {"weight": ("kernel", "dense")}

    def __call__(self, x: jax.Array) -> jax.Array:
        y = jnp.dot(x, self.param("weight"), precision=HIGHEST)
        return y + self.param("bias") if self.config["bias"] else y


class Conv2D(Block):
    native: ClassVar[Mapping[str, tuple[str, str]]] = {"weight": ("kernel", "conv")}

    def __call__(self, x: jax.Array) -> jax.Array:
        y = _conv(x, self.param("weight"), self.config)
        return y + self.param("bias").reshape(1, -1, 1, 1) if self.config["bias"] else y


class MaxPool2D(Block):
    """Non-overlapping max pooling (floor); a tie sends the gradient to the first maximum in
    row-major window order, like torch and the oracle (jnp.max would split it between ties)."""

    def __call__(self, x: jax.Array) -> jax.Array:
        k = self.config["kernel_size"]
        b, ch, h, w = x.shape
        ho, wo = h // k, w // k
        win = x[:, :, : ho * k, : wo * k].reshape(b, ch, ho, k, wo, k)
        win = win.transpose(0, 1, 2, 4, 3, 5).reshape(b, ch, ho, wo, k * k)
        first = jnp.argmax(win, axis=-1)[..., None]
        return jnp.take_along_axis(win, first, axis=-1)[..., 0]


class Flatten(Block):
    def __call__(self, x: jax.Array) -> jax.Array:
        # explicit width, not -1: a reshape of an empty batch cannot infer it
        return x.reshape(x.shape[0], math.prod(x.shape[1:]))


#: Block name -> class (names from impls.spec.blocks.CLASS_NAMES, shared by every framework).
BLOCK_CLASSES: Mapping[str, type[Block]] = blocks.class_table(globals(), "jax")


def build_block(layer_spec: LayerSpec, params: Mapping[str, np.ndarray], dtype: str = "float32") -> Block:
    """Native module for ``layer_spec`` holding ``params`` (canonical, any float dtype) as ``dtype``."""
    return BLOCK_CLASSES[layer_spec.block](layer_spec, params, dtype)
