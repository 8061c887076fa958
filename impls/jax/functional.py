"""tanh, sigmoid and sech^2 for JAX with derivatives that keep full relative precision.

Autodiff writes tanh' as 1 - tanh^2 and sigmoid' as s (1 - s); both cancel once the function
saturates (float32: one digit left at z = 10), and a learnable slope multiplies that
derivative by x^2 (APTx beta, swish beta). Every unit built on tanh or the logistic uses these
instead of the jnp/jax.nn originals. Same names as impls/{numpy,torch,tf}/functional.py.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


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
