"""Forward, gradients, losses and the train step for JAX, following impls/spec/training.py.

Gradients are taken functionally: ``nnx.split(module, nnx.Param, ...)`` separates the trainable
parameters from everything else (fixed parameters, ActMix temperature), ``jax.vjp`` /
``jax.value_and_grad`` differentiate ``nnx.merge(graphdef, params, rest)(x)`` with respect to
the ``nnx.Param`` state only, and ``nnx.update`` writes trained values back. The SGD and Adam
rules are written out by hand on that parameter pytree, exactly as the spec defines them (Adam:
eps after the square root of the bias-corrected second moment; the bias corrections are
computed in float64 on the host and passed in as arguments).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
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


def _update(rule: SGD | Adam, params: Any, grads: Any, state: Any, corrections: Any) -> tuple[Any, Any]:
    """One application of the spec's rule to the trainable-parameter pytree."""
    if isinstance(rule, SGD):
        return jax.tree.map(lambda p, g: p - rule.lr * g, params, grads), state
    m, v = state
    bc1, bc2 = corrections                     # 1 - b1^t, 1 - b2^t (float64 on the host)
    m = jax.tree.map(lambda m_, g: rule.b1 * m_ + (1.0 - rule.b1) * g, m, grads)
    v = jax.tree.map(lambda v_, g: rule.b2 * v_ + (1.0 - rule.b2) * g * g, v, grads)
    params = jax.tree.map(
        lambda p, m_, v_: p - rule.lr * (m_ / bc1) / (jnp.sqrt(v_ / bc2) + rule.eps), params, m, v)
    return params, (m, v)


def _make_step(graphdef: nnx.GraphDef, loss: str, rule: SGD | Adam):
    def step(params, rest, state, x, target, corrections):
        def objective(ps):
            return loss_value(loss, nnx.merge(graphdef, ps, rest)(x), target)

        value, grads = jax.value_and_grad(objective)(params)
        params, state = _update(rule, params, grads, state, corrections)
        return params, state, value

    return step


def train_steps(model: Model, batches: Iterable[tuple[np.ndarray, np.ndarray]], loss: str,
                optimizer: SGD | Adam, mode: str = "eager") -> list[float]:
    """One update per batch with the spec's rule (in place); returns the loss before each update."""
    if not isinstance(optimizer, (SGD, Adam)):
        raise ValueError(f"optimizer must be an impls.spec.training SGD or Adam, received {optimizer!r}")
    if loss not in LOSSES:
        raise ValueError(f"unknown loss {loss!r}; known losses: {', '.join(LOSSES)}")
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)
    step = _make_step(graphdef, loss, optimizer) if check_mode(mode) == "eager" else compiled(
        model, ("train", loss, optimizer), lambda: _make_step(graphdef, loss, optimizer))
    zeros = jax.tree.map(jnp.zeros_like, params)
    state = (zeros, jax.tree.map(jnp.zeros_like, params)) if isinstance(optimizer, Adam) else ()
    losses: list[float] = []
    for t, (x, target) in enumerate(batches, start=1):
        corrections = ()
        if isinstance(optimizer, Adam):
            corrections = (_array(model, 1.0 - optimizer.b1**t), _array(model, 1.0 - optimizer.b2**t))
        target = np.asarray(target)
        target = jnp.asarray(target) if loss == "cross_entropy" else _array(model, target)
        params, state, value = step(params, rest, state, _array(model, x), target, corrections)
        losses.append(float(value))
    nnx.update(model, params)
    return losses


def evaluate_accuracy(model: Model, x: np.ndarray, labels: np.ndarray, batch_size: int = 1000,
                      mode: str = "eager") -> int:
    """Number of correctly classified rows (argmax of the logits), batch by batch."""
    correct = 0
    for start in range(0, len(x), batch_size):
        logits = model_forward(model, x[start:start + batch_size], mode)
        correct += int(np.sum(np.argmax(logits, axis=1) == labels[start:start + batch_size]))
    return correct
