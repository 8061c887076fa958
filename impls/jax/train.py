"""Forward, gradients, losses and the train step for JAX, following impls/spec/training.py.

Gradients are taken functionally: ``nnx.split(module, nnx.Param, ...)`` separates the trainable
parameters from everything else (fixed parameters, ActMix temperature), ``jax.vjp`` /
``jax.value_and_grad`` differentiate ``nnx.merge(graphdef, params, rest)(x)`` with respect to
the ``nnx.Param`` state only, and ``nnx.update`` writes trained values back. Updates are
optax's ``sgd`` and ``adam``: optax.adam adds eps after the square root of the bias-corrected
second moment (``eps_root=0``), which is exactly the rule of impls/spec/training.py
(``test_adam_rule_equals_optax_adam`` and the trajectory tests hold it to the oracle).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from impls.jax.device import check_mode, compiled
from impls.jax.models import Model
from impls.jax.params import from_native, native_slot
from impls.jax.units import Block
from impls.spec import blocks
from impls.spec.training import SGD, Adam


def _array(module: Any, value: Any) -> jax.Array:
    return jnp.asarray(np.asarray(value), dtype=module.dtype)


def _run(module: nnx.Module, mode: str, x: jax.Array) -> jax.Array:
    if check_mode(mode) == "eager":
        return module(x)
    graphdef, state = nnx.split(module)
    fn = compiled(module, "forward", lambda: lambda s, xs: nnx.merge(graphdef, s)(xs))
    return fn(state, x)


def forward(layer: Block, x: np.ndarray, mode: str = "eager") -> np.ndarray:
    return np.asarray(_run(layer, mode, _array(layer, x)))


def model_forward(model: Model, x: np.ndarray, mode: str = "eager") -> np.ndarray:
    return np.asarray(_run(model, mode, _array(model, x)))


def _make_vjp(graphdef: nnx.GraphDef):
    def run(x, params, rest, upstream):
        def apply(xs, ps):
            return nnx.merge(graphdef, ps, rest)(xs)

        _, pullback = jax.vjp(apply, x, params)
        return pullback(upstream)

    return run


def vjp(layer: Block, x: np.ndarray, upstream: np.ndarray, mode: str = "eager"
        ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """(grad_x, {trainable canonical name: grad}) of sum(upstream * layer(x))."""
    graphdef, params, rest = nnx.split(layer, nnx.Param, ...)
    run = _make_vjp(graphdef) if check_mode(mode) == "eager" else compiled(
        layer, "vjp", lambda: _make_vjp(graphdef))
    dx, dparams = run(_array(layer, x), params, rest, _array(layer, upstream))
    native = nnx.to_pure_dict(dparams)
    grads = {}
    for name in blocks.get_block(layer.layer_spec.block).trainable(layer.layer_spec.config):
        attr, layout = native_slot(layer, name)
        grads[name] = np.array(from_native(layout, np.asarray(native[attr])))
    return np.asarray(dx), grads


# --------------------------------------------------------------------------------------------
# Losses and optimisers


def loss_value(name: str, outputs: jax.Array, target: jax.Array) -> jax.Array:
    """The spec's losses: mean softmax cross-entropy on logits, or mean squared error."""
    if name == "cross_entropy":
        log_p = jax.nn.log_softmax(outputs, axis=1)
        picked = jnp.take_along_axis(log_p, target.astype(jnp.int32)[:, None], axis=1)
        return -jnp.mean(picked)
    if name == "mse":
        diff = outputs - target.reshape(outputs.shape).astype(outputs.dtype)
        return jnp.mean(diff * diff)
    raise ValueError(f"unknown loss {name!r}; known losses: {', '.join(LOSSES)}")


LOSSES: tuple[str, ...] = ("cross_entropy", "mse")


def optax_rule(rule: SGD | Adam) -> optax.GradientTransformation:
    """The optax transformation that implements the spec's rule (same epsilon placement)."""
    if isinstance(rule, SGD):
        return optax.sgd(rule.lr)
    return optax.adam(rule.lr, b1=rule.b1, b2=rule.b2, eps=rule.eps, eps_root=0.0)


def _make_step(graphdef: nnx.GraphDef, loss: str, tx: optax.GradientTransformation):
    def step(params, rest, state, x, target):
        def objective(ps):
            return loss_value(loss, nnx.merge(graphdef, ps, rest)(x), target)

        value, grads = jax.value_and_grad(objective)(params)
        updates, state = tx.update(grads, state, params)
        return optax.apply_updates(params, updates), state, value

    return step


def train_steps(model: Model, batches: Iterable[tuple[np.ndarray, np.ndarray]], loss: str,
                optimizer: SGD | Adam, mode: str = "eager") -> list[float]:
    """One update per batch with the spec's rule (in place); returns the loss before each update."""
    if not isinstance(optimizer, (SGD, Adam)):
        raise ValueError(f"optimizer must be an impls.spec.training SGD or Adam, received {optimizer!r}")
    if loss not in LOSSES:
        raise ValueError(f"unknown loss {loss!r}; known losses: {', '.join(LOSSES)}")
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)
    tx = optax_rule(optimizer)
    step = _make_step(graphdef, loss, tx) if check_mode(mode) == "eager" else compiled(
        model, ("train", loss, optimizer), lambda: _make_step(graphdef, loss, tx))
    state = tx.init(params)
    losses: list[float] = []
    for x, target in batches:
        target = np.asarray(target)
        target = jnp.asarray(target) if loss == "cross_entropy" else _array(model, target)
        params, state, value = step(params, rest, state, _array(model, x), target)
        losses.append(float(value))
    nnx.update(model, params)
    return losses
