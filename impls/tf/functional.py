"""tanh, sigmoid, sech^2 and softmax for TensorFlow with derivatives that keep full relative precision.

TF differentiates tanh as 1 - tanh^2 and the logistic as s (1 - s); both cancel once the
function saturates (float32: the tanh unit's gradient was exactly 0 at x = 10), and a learnable
slope multiplies that derivative by x^2 (APTx beta, swish beta). tanh and sech^2 come from
u = exp(-2|z|): tanh = sign(z) (1 - u) / (1 + u) (absolute error of an ulp of 1, like tanh
itself) and sech^2 = 4u / (1 + u)^2 (full relative accuracy, no overflow). A saturated
softmax cancels the same way at its arg-max (:func:`stable_softmax`). Same names as
impls/{numpy,torch,jax}/functional.py.
"""

from __future__ import annotations

import tensorflow as tf


def detached(*tensors: tf.Tensor) -> list[tf.Tensor]:
    """``tf.stop_gradient`` of each tensor, for the forward pass of a ``tf.custom_gradient``.

    In eager mode ``tf.custom_gradient`` runs its forward function *while the tape records*:
    every op on a watched input is taped and its tensors stay alive until the gradient is
    taken, custom gradient or not. For the APTx layer that is every [chunk, out, in]
    temporary of the loop, i.e. the whole [batch, out, in] tensor the layer exists to avoid
    (measured: 792 MiB at batch 256, 784 -> 256). Computing the forward pass from detached
    inputs keeps the tape to the one custom op.
    """
    return [tf.stop_gradient(t) for t in tensors]


def tanh_and_sech2(z: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """tanh(z) and sech^2(z) = 1 - tanh^2(z), both accurate (see the module docstring)."""
    u = tf.exp(-2.0 * tf.abs(z))
    inv = 1.0 / (1.0 + u)
    return tf.sign(z) * (1.0 - u) * inv, 4.0 * u * inv * inv


def sech2(z: tf.Tensor) -> tf.Tensor:
    """sech^2(z) alone (the second half of :func:`tanh_and_sech2`), under the twins' name."""
    return tanh_and_sech2(z)[1]


@tf.custom_gradient
def tanh(z: tf.Tensor):
    """tf.tanh whose derivative is the accurate sech^2 of :func:`tanh_and_sech2`, not 1 - tanh^2."""
    (z,) = detached(z)

    def grad(g: tf.Tensor) -> tf.Tensor:
        return g * tanh_and_sech2(z)[1]

    return tf.tanh(z), grad


@tf.custom_gradient
def sigmoid(z: tf.Tensor):
    """tf.sigmoid with derivative sigmoid(z) sigmoid(-z) instead of s (1 - s).

    1 - s cancels once s rounds to within an ulp of 1 (z of a few units upward); Swish's beta
    gradient multiplies that derivative by x^2, so the accurate form matters there.
    """
    (z,) = detached(z)

    def grad(g: tf.Tensor) -> tf.Tensor:
        return g * tf.sigmoid(z) * tf.sigmoid(-z)

    return tf.sigmoid(z), grad


def stable_softmax(x: tf.Tensor, temperature: float, axis: int) -> tf.Tensor:
    """softmax(x / temperature) along ``axis`` with a backward pass accurate when it saturates.

    The usual VJP y (g - sum(y g)) / T cancels at the winning entry once its probability is
    close to 1. Shifting the upstream by its value at the arg-max, h = g - g[argmax], is exact
    (the weights sum to one) and makes the winning term exactly zero:
    dx = y (h - sum(y h)) / T. The same rule as the oracle and the other backends.
    ``temperature`` is a Python float and receives no gradient (ActMix divides its logits by
    the temperature variable first and passes 1.0).
    """
    axis = axis % x.shape.rank

    @tf.custom_gradient
    def softmax(x: tf.Tensor):
        (x,) = detached(x)
        y = tf.nn.softmax(x / temperature, axis=axis)

        def grad(g: tf.Tensor) -> tf.Tensor:
            winner = tf.one_hot(tf.argmax(y, axis=axis), tf.shape(y)[axis], axis=axis, dtype=g.dtype)
            h = g - tf.reduce_sum(g * winner, axis=axis, keepdims=True)
            return y * (h - tf.reduce_sum(y * h, axis=axis, keepdims=True)) / temperature

        return y, grad

    return softmax(x)
