"""tanh, sigmoid, sech^2 and softmax for JAX with derivatives that keep full relative precision.

Autodiff writes tanh' as 1 - tanh^2 and sigmoid' as s (1 - s); both cancel once the function
saturates (float32: one digit left at z = 10), and a learnable slope multiplies that
derivative by x^2 (APTx beta, swish beta). Every unit built on tanh or the logistic uses these
instead of the jnp/jax.nn originals; a saturated softmax cancels the same way at its arg-max
(:func:`stable_softmax`). Same names as impls/{numpy,torch,tf}/functional.py.

Non-finite inputs follow the oracle (docs/reliability.md): a NaN input has a NaN gradient.
A ``where`` selects a finite slope at NaN (relu's 1, PReLU's a), so :func:`relu` and
:func:`prelu` carry their own derivative rules.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from jax import lax


def sech2(z: jax.Array) -> jax.Array:
    """1 - tanh(z)^2 without cancellation: 4 e / (1 + e)^2 with e = exp(-2|z|) <= 1."""
    e = jnp.exp(-2.0 * jnp.abs(z))
    return 4.0 * e / ((1.0 + e) * (1.0 + e))


@jax.custom_jvp
def tanh(z: jax.Array) -> jax.Array:
    """jnp.tanh whose derivative is :func:`sech2` (not the cancelling 1 - tanh^2)."""
    return jnp.tanh(z)


@tanh.defjvp
def _tanh_jvp(primals, tangents):
    (z,), (dz,) = primals, tangents
    return jnp.tanh(z), dz * sech2(z)


@jax.custom_jvp
def sigmoid(z: jax.Array) -> jax.Array:
    """Logistic sigmoid (never overflows) whose derivative e / (1 + e)^2, e = exp(-|z|),
    is accurate in both tails (s (1 - s) cancels for large z)."""
    return jax.nn.sigmoid(z)


@sigmoid.defjvp
def _sigmoid_jvp(primals, tangents):
    (z,), (dz,) = primals, tangents
    e = jnp.exp(-jnp.abs(z))
    return jax.nn.sigmoid(z), dz * (e / ((1.0 + e) * (1.0 + e)))


@jax.custom_jvp
def relu(z: jax.Array) -> jax.Array:
    """max(z, 0), NaN at NaN (``z > 0`` alone would read 0 there), with derivative 0 at 0 like
    the oracle (jnp.maximum splits a tie 1/2) and NaN at a NaN input."""
    return jnp.where(z > 0, z, jnp.where(jnp.isnan(z), z, jnp.zeros_like(z)))


@relu.defjvp
def _relu_jvp(primals, tangents):
    (z,), (dz,) = primals, tangents
    y = relu(z)
    return y, dz * jnp.sign(y)          # y >= 0 or NaN: the step 1 / 0, and NaN at NaN


@jax.custom_jvp
def prelu(x: jax.Array, a: jax.Array) -> jax.Array:
    """x if x > 0 else a x (``a`` shaped to broadcast against x); NaN gradient at a NaN input."""
    return jnp.where(x > 0, x, a * x)


@prelu.defjvp
def _prelu_jvp(primals, tangents):
    (x, a), (dx, da) = primals, tangents
    positive = x > 0
    # A NaN input is on neither side: its slope is x itself, NaN.
    slope = jnp.where(positive, jnp.ones_like(x), jnp.where(x <= 0, a, x))
    return prelu(x, a), slope * dx + jnp.where(positive, jnp.zeros_like(x), x) * da


def tanh_and_sech2(z: jax.Array) -> tuple[jax.Array, jax.Array]:
    """(tanh z, sech^2 z) from a single exponential, both accurate in relative terms."""
    e = jnp.exp(-2.0 * jnp.abs(z))
    r = 1.0 / (1.0 + e)
    return jnp.sign(z) * ((1.0 - e) * r), 4.0 * e * (r * r)


@functools.partial(jax.custom_vjp, nondiff_argnums=(1, 2))
def softermax(u: jax.Array, epsilon: float, axis: int) -> jax.Array:
    """u / (epsilon + sum(u)) along ``axis`` with the oracle's saturation-proof backward
    (impls.spec.oracle.softermax_vjp): autodiff's g / total - sum(g u) / total^2 cancels when
    one y is close to 1 (an axis of one element gave 100 % error)."""
    return u / (epsilon + jnp.sum(u, axis=axis, keepdims=True))


def _softermax_fwd(u, epsilon, axis):
    total = epsilon + jnp.sum(u, axis=axis, keepdims=True)
    y = u / total
    return y, (y, total)


def _softermax_bwd(epsilon, axis, residuals, g):
    y, total = residuals
    if y.shape[axis] == 0:
        return (jnp.zeros_like(g),)
    g_m = jnp.take_along_axis(g, jnp.argmax(y, axis=axis, keepdims=True), axis=axis)
    h = g - g_m
    return ((h - jnp.sum(h * y, axis=axis, keepdims=True) + g_m * (epsilon / total)) / total,)


softermax.defvjp(_softermax_fwd, _softermax_bwd)


@functools.partial(jax.custom_jvp, nondiff_argnums=(1,))
def squash(u: jax.Array, shift: float) -> jax.Array:
    """(u - shift) / (1 + u), derivative (1 + shift) / (1 + u)^2: the softer sigmoid (shift 0)
    and soft tanh (shift 1) of u = x^n. Autodiff's 1 / (1 + u) - u / (1 + u)^2 cancels for
    large u; NaN where the value is NaN (u = inf), like the oracle."""
    return (u - shift) / (1.0 + u) if shift else u / (1.0 + u)


@squash.defjvp
def _squash_jvp(shift, primals, tangents):
    (u,), (du,) = primals, tangents
    y = squash(u, shift)
    d = 1.0 + u
    slope = jnp.where(jnp.isnan(y), y, (1.0 + shift) / (d * d))
    return y, slope * du


# --------------------------------------------------------------------------------------------
# Softmax with a shift-invariant, cancellation-free backward


@functools.partial(jax.custom_vjp, nondiff_argnums=(2,))
def stable_softmax(x: jax.Array, temperature: jax.Array | float, axis: int) -> jax.Array:
    """softmax(x / temperature) along ``axis``, the max subtracted *before* dividing.

    Subtracting first keeps the exponent's rounding error proportional to the exponent itself
    (x / T first would add |x / T| * eps to every exponent: 6e-4 at |x| = 100, T = 0.01).
    Unlike the torch/tf twins, ``temperature`` may be an array and gets a gradient.
    """
    return _softmax_forward(x, temperature, axis)


def _softmax_forward(x, temperature, axis):
    if x.shape[axis] == 0:               # an empty axis: nothing to normalise, nothing out
        return x / temperature
    shift = lax.stop_gradient(jnp.max(x, axis=axis, keepdims=True))
    e = jnp.exp((x - shift) / temperature)
    return e / jnp.sum(e, axis=axis, keepdims=True)


def _softmax_fwd(x, temperature, axis):
    y = _softmax_forward(x, temperature, axis)
    return y, (x, y, temperature)


def _softmax_bwd(axis, residuals, g):
    """dx = y (g - sum_j y_j g_j) / T, written as y ((g - g_m) + sum_j y_j (g_m - g_j)) / T.

    m is the position of the largest y. Both forms are equal because sum_j y_j = 1, but the
    usual one cancels catastrophically at the dominant entry once the others fall below the
    dtype's resolution (y_m rounds to 1 and g_m - sum y g to noise), while this one never
    subtracts two nearly equal numbers there.
    """
    x, y, temperature = residuals
    if y.shape[axis] == 0:
        return jnp.zeros_like(g), jnp.zeros(jnp.shape(temperature), jnp.result_type(temperature))
    m = jnp.argmax(y, axis=axis, keepdims=True)
    g_m = jnp.take_along_axis(g, m, axis=axis)
    du = y * ((g - g_m) + jnp.sum(y * (g_m - g), axis=axis, keepdims=True))
    u = (x - jnp.max(x, axis=axis, keepdims=True)) / temperature
    dtemperature = -jnp.sum(du * u) / temperature
    return (du / temperature,
            jnp.reshape(dtemperature, jnp.shape(temperature)).astype(jnp.result_type(temperature)))


stable_softmax.defvjp(_softmax_fwd, _softmax_bwd)
