"""tanh, sigmoid, sech^2 and softmax for TensorFlow with derivatives that keep full relative precision.

TF differentiates tanh as 1 - tanh^2 and the logistic as s (1 - s); both cancel once the
function saturates (float32: the tanh unit's gradient was exactly 0 at x = 10), and a learnable
slope multiplies that derivative by x^2 (APTx beta, swish beta). tanh and sech^2 come from
u = exp(-2|z|): tanh = sign(z) (1 - u) / (1 + u) (absolute error of an ulp of 1, like tanh
itself) and sech^2 = 4u / (1 + u)^2 (full relative accuracy, no overflow). A saturated
softmax cancels the same way at its arg-max (:func:`stable_softmax`). Same names as
impls/{numpy,torch,jax}/functional.py.

Non-finite inputs follow the oracle (docs/reliability.md): a NaN input has a NaN gradient.
TensorFlow's relu gradient and a ``where``'s selected slope are finite there, so :func:`relu`
and :func:`prelu` carry their own gradients.
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
def relu(z: tf.Tensor):
    """tf.nn.relu whose gradient is NaN at a NaN input (ReluGrad reads 0 there)."""
    (z,) = detached(z)
    y = tf.nn.relu(z)

    def grad(g: tf.Tensor) -> tf.Tensor:
        return g * tf.sign(y)           # y >= 0 or NaN: the step 1 / 0, and NaN at NaN

    return y, grad


def prelu(x: tf.Tensor, a: tf.Tensor) -> tf.Tensor:
    """x if x > 0 else a x, ``a`` shaped to broadcast against x; NaN gradient at a NaN input."""
    reduce_axes = [i for i, size in enumerate(a.shape) if size == 1]

    @tf.custom_gradient
    def prelu_(x: tf.Tensor, a: tf.Tensor):
        x, a = detached(x, a)
        positive = x > 0

        def grad(g: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
            # A NaN input is on neither side: its gradient is x itself, NaN.
            dx = tf.where(positive, g, tf.where(x <= 0, a * g, x))
            da = tf.reduce_sum(tf.where(positive, tf.zeros_like(x), g * x), axis=reduce_axes,
                               keepdims=True)
            return dx, da

        return tf.where(positive, x, a * x), grad

    return prelu_(x, a)


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


def softermax(u: tf.Tensor, epsilon: float, axis: int) -> tf.Tensor:
    """u / (epsilon + sum(u)) along ``axis`` with the oracle's saturation-proof backward
    (impls.spec.oracle.softermax_vjp): autodiff's g / total - sum(g u) / total^2 cancels when
    one y is close to 1 (an axis of one element gave 100 % error in float32)."""
    axis = axis % u.shape.rank

    @tf.custom_gradient
    def softermax_(u: tf.Tensor):
        (u,) = detached(u)
        total = epsilon + tf.reduce_sum(u, axis=axis, keepdims=True)
        y = u / total

        def grad(g: tf.Tensor) -> tf.Tensor:
            if y.shape[axis] == 0:
                return tf.zeros_like(g)
            winner = _first_maximum(y, axis, g.dtype) > 0
            g_m = tf.reduce_sum(tf.where(winner, g, tf.zeros_like(g)), axis=axis, keepdims=True)
            h = g - g_m
            return (h - tf.reduce_sum(h * y, axis=axis, keepdims=True) + g_m * (epsilon / total)) / total

        return y, grad

    return softermax_(u)


def squash(u: tf.Tensor, shift: float) -> tf.Tensor:
    """(u - shift) / (1 + u), derivative (1 + shift) / (1 + u)^2: the softer sigmoid (shift 0)
    and soft tanh (shift 1) of u = x^n. Autodiff's 1 / (1 + u) - u / (1 + u)^2 cancels for
    large u; NaN where the value is NaN (u = inf), like the oracle."""

    @tf.custom_gradient
    def squash_(u: tf.Tensor):
        (u,) = detached(u)
        y = (u - shift) / (1.0 + u) if shift else u / (1.0 + u)

        def grad(g: tf.Tensor) -> tf.Tensor:
            d = 1.0 + u
            slope = (1.0 + shift) * g / (d * d) if shift else g / (d * d)
            return tf.where(tf.math.is_nan(y), y, slope)

        return y, grad

    return squash_(u)


def _first_maximum(y: tf.Tensor, axis: int, dtype: tf.DType) -> tf.Tensor:
    """One-hot of the first maximum of ``y`` along ``axis``.

    ``tf.argmax`` when the axis length is known (always when eager). A graph traced with a
    relaxed shape (``reduce_retracing``: the batch axis becomes None) may later run on an empty
    axis, where XLA refuses to even compile an ArgMax; the mask form (maximum, then the first
    of its ties, as in :func:`impls.tf.units.max_pool2d`) compiles for every length.
    """
    if y.shape[axis] is not None:
        return tf.one_hot(tf.argmax(y, axis=axis), tf.shape(y)[axis], axis=axis, dtype=dtype)
    is_max = tf.cast(tf.equal(y, tf.reduce_max(y, axis=axis, keepdims=True)), dtype)
    return is_max * tf.cast(tf.equal(tf.cumsum(is_max, axis=axis, exclusive=True), 0), dtype)


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
        # TensorFlow's CPU softmax leaves a NaN (or an inf - inf) at its own position and the
        # rest of the row finite; every output depends on the whole row, so the oracle's row
        # is NaN. The row sum is NaN exactly then (else about 1, and 0 * it adds exactly 0).
        y = y + 0.0 * tf.reduce_sum(y, axis=axis, keepdims=True)

        def grad(g: tf.Tensor) -> tf.Tensor:
            if y.shape[axis] == 0:          # an empty axis: nothing to normalise, no arg-max
                return tf.zeros_like(g)
            # g at the arg-max, picked by a where (g * one_hot would turn an infinite g
            # elsewhere into NaN: inf * 0; the oracle gathers).
            winner = _first_maximum(y, axis, g.dtype) > 0
            h = g - tf.reduce_sum(tf.where(winner, g, tf.zeros_like(g)), axis=axis, keepdims=True)
            return y * (h - tf.reduce_sum(y * h, axis=axis, keepdims=True)) / temperature

        return y, grad

    return softmax(x)
