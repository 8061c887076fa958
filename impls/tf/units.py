"""Every neuronbench block as a Keras 3 layer on TensorFlow (class names shared with every framework).

Each layer is built from a :class:`~impls.spec.LayerSpec` and canonical float64 parameters,
which become Keras variables (``add_weight`` with the canonical values as initialiser;
``trainable=False`` for the parameters the spec does not train). The layer's dtype policy is
set explicitly to the requested dtype, so a float64 layer computes in float64 and Keras never
autocasts its input down to float32. Dense and convolution kernels are stored in Keras's
layouts (see :mod:`impls.tf.params`); everything else as in the canonical dict.

The maths mirrors ``impls/spec/oracle.py``; it departs from it only for memory or speed (the
APTx layer's recomputation, the Yat layers' expanded distance as in nmn) and picks, where a
function is not differentiable, the same one-sided derivative as the oracle (ReLU and the Yat
distance clamp: 0 at the kink; max pooling: the first maximum of a window).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, ClassVar

import keras
import numpy as np
import tensorflow as tf

from impls.common import dtype_table
from impls.spec import LayerSpec, blocks
from impls.tf.aptx import aptx_fused, aptx_naive, aptx_recompute
from impls.tf.functional import (
    detached,
    prelu,
    relu,
    sigmoid,
    softermax,
    squash,
    stable_softmax,
    tanh,
)
from impls.tf.params import to_native

DTYPES: Mapping[str, tf.DType] = dtype_table(float32=tf.float32, float64=tf.float64)

_SPHERE_EPS = 1e-8  # nmn normalises with v / (|v| + 1e-8)


def _constant_initializer(value: np.ndarray):
    def initialize(shape: Any, dtype: Any = None) -> tf.Tensor:
        return tf.constant(value, dtype=dtype)

    return initialize


class Block(keras.layers.Layer):
    """Base class: one Keras variable per canonical parameter, and the spec the layer came from."""

    #: canonical parameter name -> layout name of :mod:`impls.tf.params` (absent: as canonical).
    native_layout: ClassVar[Mapping[str, str]] = {}

    def __init__(self, layer_spec: LayerSpec, params: Mapping[str, np.ndarray], dtype: str) -> None:
        super().__init__(dtype=dtype)
        self.layer_spec = layer_spec
        self.config = dict(layer_spec.config)
        self.dtype_name = dtype
        self.trainable_names = tuple(blocks.get_block(layer_spec.block).trainable(layer_spec.config))
        self.param_names = tuple(params)
        by_name = {}
        for name, value in params.items():
            native = to_native(self.native_layout.get(name), np.asarray(value, dtype=np.float64))
            by_name[name] = self.add_weight(
                shape=native.shape,
                initializer=_constant_initializer(native),
                dtype=dtype,
                trainable=name in self.trainable_names,
                name=name,
            )
        vars(self)["_by_name"] = by_name  # plain dict: Keras already tracks the variables
        self.built = True

    def variable(self, name: str) -> keras.Variable:
        """The Keras variable holding canonical parameter ``name`` (in its native layout)."""
        return self._by_name[name]

    def param(self, name: str) -> tf.Tensor:
        """Value of canonical parameter ``name`` for the maths: a differentiable read of
        :meth:`variable` (custom-gradient ops take tensors, not variables)."""
        return tf.convert_to_tensor(self._by_name[name])


def _feature_view(param: tf.Tensor, rank: int, axis: int) -> tf.Tensor:
    """Reshape a per-feature vector to broadcast along ``axis`` of a rank-``rank`` input."""
    shape = [1] * rank
    shape[axis] = -1
    return tf.reshape(param, shape)


class APTxActivation(Block):
    """(alpha + tanh(beta x)) gamma x; tanh's derivative is evaluated accurately (see aptx.py)."""

    def call(self, x: tf.Tensor) -> tf.Tensor:
        a, b, g = self.param("alpha"), self.param("beta"), self.param("gamma")
        return (a + tanh(b * x)) * g * x


class APTxLayer(Block):
    """APTx neuron layer; ``impl="fused"`` (eager: the compiled CPU kernel; XLA: recompute) and
    ``impl="recompute"`` keep no [batch, out, in] tensor for the backward pass."""

    def call(self, x: tf.Tensor) -> tf.Tensor:
        args = (x, self.param("alpha"), self.param("beta"), self.param("gamma"))
        impl = {"fused": aptx_fused, "recompute": aptx_recompute, "naive": aptx_naive}[self.config["impl"]]
        y = impl(*args)
        return y + self.param("delta") if self.config["use_delta"] else y


def _actmix_basis(name: str, z: tf.Tensor, omega: float) -> tf.Tensor:
    if name == "sin":
        return tf.sin(omega * z)
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


class ActMix(Block):
    """Softmax(logits / T) mixture of basis functions per feature; T is state, set by trainers.

    The temperature is a non-trainable variable outside the canonical dict, so changing it
    (:func:`impls.tf.set_temperature`) never retraces a compiled function.
    """

    def __init__(self, layer_spec: LayerSpec, params: Mapping[str, np.ndarray], dtype: str) -> None:
        super().__init__(layer_spec, params, dtype)
        self.temperature = self.add_weight(
            shape=(),
            initializer=_constant_initializer(np.float64(self.config["temperature"])),
            dtype=dtype,
            trainable=False,
            name="temperature",
        )

    def set_temperature(self, temperature: float) -> None:
        if not float(temperature) > 0:
            raise ValueError(f"unit 'actmix': temperature must be positive, received {temperature!r}")
        self.temperature.assign(float(temperature))

    def coefficients(self) -> tf.Tensor:
        # stable_softmax: at T = 0.01 the mixture saturates and the stock softmax gradient
        # loses the winning logit's gradient to cancellation (see impls/tf/functional.py).
        return stable_softmax(self.param("logits") / tf.convert_to_tensor(self.temperature), 1.0, -1)

    def entropy(self) -> tf.Tensor:
        log_c = tf.nn.log_softmax(self.param("logits") / tf.convert_to_tensor(self.temperature), axis=-1)
        return tf.reduce_mean(-tf.reduce_sum(tf.exp(log_c) * log_c, axis=-1))

    def call(self, x: tf.Tensor) -> tf.Tensor:
        coeff = self.coefficients()                                   # [F, K]
        rank, axis = x.shape.rank, self.config["axis"]
        y = None
        for k, name in enumerate(self.config["basis"]):
            term = _feature_view(coeff[:, k], rank, axis) * _actmix_basis(name, x, self.config["omega_0"])
            y = term if y is None else y + term
        return y


class LearnableSELU(Block):
    def call(self, x: tf.Tensor) -> tf.Tensor:
        lam, al, be, ga, om = (self.param(k) for k in ("lambda", "alpha", "beta", "gamma", "omega"))
        positive = x > 0
        # safe: the unselected branch sees min(x, 0), so exp never overflows (spec §4.3). A
        # where, not tf.minimum: minimum's gradient is 0 at NaN, the where's passes it on to exp.
        xn = tf.where(positive, tf.zeros_like(x), x) if self.config["safe"] else x
        negative = lam * (al * (tf.exp(be * xn) - 1.0) + ga * tf.sin(om * xn))
        return tf.where(positive, lam * x, negative)


class ReLU(Block):
    def call(self, x: tf.Tensor) -> tf.Tensor:
        return relu(x)


class PReLU(Block):
    def call(self, x: tf.Tensor) -> tf.Tensor:
        return prelu(x, _feature_view(self.param("alpha"), x.shape.rank, self.config["axis"]))


class Swish(Block):
    def call(self, x: tf.Tensor) -> tf.Tensor:
        beta = self.param("beta") if self.config["learnable"] else self.config["beta"]
        # tf.sigmoid saturates to 0 without overflow: no NaN at x = -100 (mpneuralnetwork's bug).
        return x * sigmoid(beta * x)


_GELU_K = math.sqrt(2.0 / math.pi)


class GELU(Block):
    def call(self, x: tf.Tensor) -> tf.Tensor:
        if self.config["approximate"]:
            return 0.5 * x * (1.0 + tanh(_GELU_K * (x + 0.044715 * x * x * x)))
        # Phi(x) = erfc(-x / sqrt 2) / 2 keeps relative accuracy in the left tail.
        return 0.5 * x * tf.math.erfc(-x / math.sqrt(2.0))


class Tanh(Block):
    def call(self, x: tf.Tensor) -> tf.Tensor:
        return tanh(x)           # derivative sech^2 without the 1 - t^2 cancellation


class Sigmoid(Block):
    def call(self, x: tf.Tensor) -> tf.Tensor:
        return sigmoid(x)       # derivative s(x) s(-x) without the 1 - s cancellation


class Softmax(Block):
    def call(self, x: tf.Tensor) -> tf.Tensor:
        scale = self.config["temperature"] + self.config["epsilon"]
        return stable_softmax(x, scale, self.config["axis"])


def _yat_alpha(layer: Block) -> tf.Tensor | float | None:
    mode = blocks.yat_alpha_mode(layer.config["alpha"])
    return layer.param("alpha") if mode == "learnable" else mode


def _yat_ratio(dot: tf.Tensor, x_sq: Any, w_sq: Any, numerator: tf.Tensor, eps: float) -> tf.Tensor:
    """numerator^2 / (max(|x|^2 + |w|^2 - 2 dot, 0) + eps), derivative 0 where clamped.

    The clamp selects 0 where raw <= 0, so a NaN distance (an infinite input: inf - inf) stays
    NaN, as in the oracle; ``raw > 0`` would have clamped it to 0 and given inf / eps.
    """
    raw = x_sq + w_sq - 2.0 * dot
    dist = tf.where(raw <= 0, tf.zeros_like(raw), raw) + eps
    return numerator * numerator / dist


def _safe_norm(v: tf.Tensor, axis: int) -> tf.Tensor:
    """|v| along ``axis`` (kept), with a zero (not NaN) gradient for an all-zero vector."""
    sq = tf.reduce_sum(v * v, axis=axis, keepdims=True)
    positive = sq > 0
    return tf.where(positive, tf.sqrt(tf.where(positive, sq, tf.ones_like(sq))), tf.zeros_like(sq))


class YatDense(Block):
    """nmn 0.3.5 YatNMN semantics (or the DL2.0-era ones with semantics='dl2-paper').

    The kernel is stored as Keras stores it, ``[in, out]`` (the canonical ``weight`` is its
    transpose), exactly like ``nmn.keras.YatNMN``.
    """

    native_layout: ClassVar[Mapping[str, str]] = {"weight": "dense"}

    def call(self, x: tf.Tensor) -> tf.Tensor:
        W, c = self.param("weight"), self.config                     # W: [I, O]
        if c["spherical"]:
            x = x / (_safe_norm(x, axis=1) + _SPHERE_EPS)
            W = W / (_safe_norm(W, axis=0) + _SPHERE_EPS)
            x_sq, w_sq = 1.0, 1.0
        else:
            x_sq = tf.reduce_sum(x * x, axis=1, keepdims=True)
            w_sq = tf.reduce_sum(W * W, axis=0)
        dot = tf.matmul(x, W)
        bias = self.param("bias") if c["bias"] else None
        alpha = _yat_alpha(self)
        if c["semantics"] == "dl2-paper":
            y = _yat_ratio(dot, x_sq, w_sq, dot, c["epsilon"])
            if alpha is not None:
                o = W.shape[1]
                base = math.sqrt(o) / math.log1p(o)
                # (sqrt(O) / ln(1 + O)) ** alpha, written so that a learnable alpha differentiates.
                y = y * (base**alpha if isinstance(alpha, float) else tf.exp(alpha * math.log(base)))
            return y + bias if bias is not None else y
        y = _yat_ratio(dot, x_sq, w_sq, dot + bias if bias is not None else dot, c["epsilon"])
        return y * alpha if alpha is not None else y


def _conv_padding(padding: tuple[int, int]) -> Any:
    ph, pw = padding
    return "VALID" if ph == pw == 0 else [[0, 0], [ph, ph], [pw, pw], [0, 0]]


def _conv_nhwc(x: tf.Tensor, kernel: tf.Tensor, config: Mapping[str, Any]) -> tf.Tensor:
    if x.shape[0] == 0:
        # TensorFlow's CPU convolution returns an empty batch in its *input's* shape; the
        # output shape is computed here instead, so an empty batch flows through a CNN.
        (ph, pw), (sh, sw) = config["padding"], config["stride"]
        height = (x.shape[1] + 2 * ph - kernel.shape[0]) // sh + 1
        width = (x.shape[2] + 2 * pw - kernel.shape[1]) // sw + 1
        empty = tf.zeros([0, height, width, kernel.shape[3]], dtype=x.dtype)
        # zero terms that keep x and the kernel connected: their gradients are zeros of the
        # right shape and dtype (an unconnected Keras variable has no usable dtype there)
        return empty + 0 * tf.reduce_sum(x) + 0 * tf.reduce_sum(tf.cast(kernel, x.dtype))
    return tf.nn.conv2d(x, kernel, strides=[1, *config["stride"], 1],
                        padding=_conv_padding(config["padding"]))


def _to_nhwc(x: tf.Tensor) -> tf.Tensor:
    return tf.transpose(x, [0, 2, 3, 1])


def _to_nchw(x: tf.Tensor) -> tf.Tensor:
    return tf.transpose(x, [0, 3, 1, 2])


class YatConv2D(Block):
    """nmn 0.3.5 YatConv2D semantics; NCHW at the boundary, NHWC (TensorFlow's CPU layout) inside.

    Patch |x|^2 is one convolution of x^2 with a ones kernel of a single output channel,
    broadcast over the output channels (nmn repeats it).
    """

    native_layout: ClassVar[Mapping[str, str]] = {"weight": "conv"}

    def call(self, x: tf.Tensor) -> tf.Tensor:
        W, c = self.param("weight"), self.config                     # W: [kh, kw, C_in, C_out]
        xh = _to_nhwc(x)
        dot = _conv_nhwc(xh, W, c)
        ones = tf.ones([W.shape[0], W.shape[1], W.shape[2], 1], dtype=x.dtype)
        x_sq = _conv_nhwc(xh * xh, ones, c)                          # [B, H', W', 1]
        w_sq = tf.reduce_sum(W * W, axis=(0, 1, 2))                  # [C_out]
        numerator = dot + self.param("bias") if c["bias"] else dot
        y = _yat_ratio(dot, x_sq, w_sq, numerator, c["epsilon"])
        alpha = _yat_alpha(self)
        return _to_nchw(y * alpha if alpha is not None else y)


def _power(x: tf.Tensor, n: float) -> tf.Tensor:
    return x if n == 1.0 else tf.pow(x, n)


class Softermax(Block):
    def call(self, x: tf.Tensor) -> tf.Tensor:
        return softermax(_power(x, self.config["n"]), float(self.config["epsilon"]), self.config["axis"])


class SofterSigmoid(Block):
    def call(self, x: tf.Tensor) -> tf.Tensor:
        return squash(_power(x, self.config["n"]), 0.0)


class SoftTanh(Block):
    def call(self, x: tf.Tensor) -> tf.Tensor:
        return squash(_power(x, self.config["n"]), 1.0)


class Linear(Block):
    """x W + b with the Keras kernel layout [in, out] (canonical ``weight`` is [out, in])."""

    native_layout: ClassVar[Mapping[str, str]] = {"weight": "dense"}

    def call(self, x: tf.Tensor) -> tf.Tensor:
        y = tf.matmul(x, self.param("weight"))
        return y + self.param("bias") if self.config["bias"] else y


class Conv2D(Block):
    """Cross-correlation, NCHW at the boundary, kernel [kh, kw, C_in, C_out] as in Keras."""

    native_layout: ClassVar[Mapping[str, str]] = {"weight": "conv"}

    def call(self, x: tf.Tensor) -> tf.Tensor:
        y = _conv_nhwc(_to_nhwc(x), self.param("weight"), self.config)
        if self.config["bias"]:
            y = y + self.param("bias")
        return _to_nchw(y)


def _max_pool_windows(x: tf.Tensor, k: int) -> tf.Tensor:
    """Non-overlapping k x k windows of NCHW x as [B, C, H', W', k*k] (row-major in a window)."""
    shape = tf.shape(x)
    b, ch, ho, wo = shape[0], shape[1], shape[2] // k, shape[3] // k
    win = tf.reshape(x[:, :, : ho * k, : wo * k], [b, ch, ho, k, wo, k])
    return tf.reshape(tf.transpose(win, [0, 1, 2, 4, 3, 5]), [b, ch, ho, wo, k * k])


def max_pool2d(x: tf.Tensor, k: int) -> tf.Tensor:
    """k x k max pooling of NCHW x; ties send the gradient to the first maximum (like torch)."""

    @tf.custom_gradient
    def pool(x: tf.Tensor):
        (x,) = detached(x)
        flat = _max_pool_windows(x, k)
        y = tf.reduce_max(flat, axis=-1)

        def grad(g: tf.Tensor) -> tf.Tensor:
            is_max = tf.cast(tf.equal(flat, y[..., None]), g.dtype)
            first = is_max * tf.cast(tf.equal(tf.cumsum(is_max, axis=-1, exclusive=True), 0), g.dtype)
            shape = tf.shape(x)
            b, ch, ho, wo = shape[0], shape[1], shape[2] // k, shape[3] // k
            win = tf.reshape(first * g[..., None], [b, ch, ho, wo, k, k])
            dx = tf.reshape(tf.transpose(win, [0, 1, 2, 4, 3, 5]), [b, ch, ho * k, wo * k])
            return tf.pad(dx, [[0, 0], [0, 0], [0, shape[2] - ho * k], [0, shape[3] - wo * k]])

        return y, grad

    return pool(x)


class MaxPool2D(Block):
    def call(self, x: tf.Tensor) -> tf.Tensor:
        return max_pool2d(x, self.config["kernel_size"])


class Flatten(Block):
    def call(self, x: tf.Tensor) -> tf.Tensor:
        return tf.reshape(x, [tf.shape(x)[0], -1])


#: Block name -> class (names from impls.spec.blocks.CLASS_NAMES, shared by every framework).
BLOCK_CLASSES: Mapping[str, type[Block]] = blocks.class_table(globals(), "tf")


def build_block(layer_spec: LayerSpec, params: Mapping[str, np.ndarray], dtype: str = "float32") -> Block:
    """Native layer for ``layer_spec`` holding ``params`` (canonical, any float dtype) as ``dtype``."""
    return BLOCK_CLASSES[layer_spec.block](layer_spec, params, dtype)
