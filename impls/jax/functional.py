"""tanh, sigmoid, sech^2 and softmax for JAX with derivatives that keep full relative precision.

Autodiff writes tanh' as 1 - tanh^2 and sigmoid' as s (1 - s); both cancel once the function
saturates (float32: one digit left at z = 10), and a learnable slope multiplies that
derivative by x^2 (APTx beta, swish beta). Every unit built on tanh or the logistic uses these
instead of the jnp/jax.nn originals; a saturated softmax cancels the same way at its arg-max
(:func:`stable_softmax`). Same names as impls/{numpy,torch,tf}/functional.py.
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


def tanh_and_sech2(z: jax.Array) -> tuple[jax.Array, jax.Array]:
    """(tanh z, sech^2 z) from a single exponential, both accurate in relative terms."""
    e = jnp.exp(-2.0 * jnp.abs(z))
    r = 1.0 / (1.0 + e)
    return jnp.sign(z) * ((1.0 - e) * r), 4.0 * e * (r * r)


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
    m = jnp.argmax(y, axis=axis, keepdims=True)
    g_m = jnp.take_along_axis(g, m, axis=axis)
    du = y * ((g - g_m) + jnp.sum(y * (g_m - g), axis=axis, keepdims=True))
    u = (x - jnp.max(x, axis=axis, keepdims=True)) / temperature
    dtemperature = -jnp.sum(du * u) / temperature
    return (du / temperature,
            jnp.reshape(dtemperature, jnp.shape(temperature)).astype(jnp.result_type(temperature)))


stable_softmax.defvjp(_softmax_fwd, _softmax_bwd)
