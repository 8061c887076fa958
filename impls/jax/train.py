"""Forward, gradients, losses and the train step for JAX, following impls/spec/training.py.

Gradients are taken functionally: ``nnx.split(module, nnx.Param, ...)`` separates the trainable
parameters from everything else (fixed parameters, ActMix temperature), ``jax.vjp`` /
``jax.value_and_grad`` differentiate ``nnx.merge(graphdef, params, rest)(x)`` with respect to
the ``nnx.Param`` state only, and ``nnx.update`` writes trained values back.

Updates are the spec's rules written out on the parameter tree rather than optax's: optax.adam
is the same rule (``test_adam_rule_equals_optax_adam``), but optax.adamw decays *after* the
Adam direction (``-lr (adam + wd p)``, algebraically torch's ``p (1 - lr wd) - lr adam`` but
rounded differently), and optax bakes the lr into the transformation, while neuronbench passes
it as a runtime argument so that a schedule never retraces. Moments persist across calls in
``impls.TrainState.optimizer_state``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from impls.common import LOSS_NAMES
from impls.jax.device import check_mode, compiled
from impls.jax.models import Model, actmix_entropy
from impls.jax.params import from_native, native_slot
from impls.jax.units import Block
from impls.spec import blocks
from impls.spec.training import CLIP_EPS, SGD, Adam, AdamW
from impls.training import TrainState


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
    raise ValueError(f"unknown loss {name!r}; known losses: {', '.join(LOSS_NAMES)}")




def _rule_key(rule: SGD | Adam) -> SGD | Adam:
    """The rule without its base lr: the lr is a runtime argument, so it must not key a compile."""
    return dataclasses.replace(rule, lr=0.0)


def init_optimizer_state(state: TrainState) -> dict[str, Any]:
    """``{"t": int32 step count, "m", "v": moment trees shaped like the nnx.Param state}``.

    Moments are jax arrays (zeros in each parameter's dtype) and stay on the device between
    ``train_steps`` calls; SGD keeps only the step count.
    """
    check_mode(state.mode)
    _, params, _ = nnx.split(state.model, nnx.Param, ...)
    opt: dict[str, Any] = {"t": jnp.zeros((), jnp.int32)}
    if isinstance(state.rule, Adam):
        opt["m"] = jax.tree.map(jnp.zeros_like, params)
        opt["v"] = jax.tree.map(jnp.zeros_like, params)
    return opt


def _clip(grads: Any, max_norm: float) -> Any:
    """torch's clip_grad_norm_: every gradient times min(1, c / (joint L2 norm + 1e-6))."""
    leaves = jax.tree.leaves(grads)
    total = jnp.sqrt(sum(jnp.sum(jnp.square(g)) for g in leaves))
    factor = jnp.minimum(1.0, max_norm / (total + CLIP_EPS))
    return jax.tree.map(lambda g: g * factor.astype(g.dtype), grads)


def _apply(rule: SGD | Adam, params: Any, grads: Any, opt: dict[str, Any], lr: jax.Array
           ) -> tuple[Any, dict[str, Any]]:
    """The spec's SGD, Adam or AdamW (decay by (1 - lr wd) before the Adam step), written out."""
    t = opt["t"] + 1
    if isinstance(rule, SGD):
        return jax.tree.map(lambda p, g: p - lr.astype(p.dtype) * g, params, grads), {"t": t}
    b1, b2 = rule.b1, rule.b2
    m = jax.tree.map(lambda m, g: b1 * m + (1 - b1) * g, opt["m"], grads)
    v = jax.tree.map(lambda v, g: b2 * v + (1 - b2) * g * g, opt["v"], grads)
    tf = t.astype(jnp.float64)
    c1, c2 = 1 - b1**tf, 1 - b2**tf
    decay = rule.weight_decay if isinstance(rule, AdamW) else None

    def update(p: jax.Array, m: jax.Array, v: jax.Array) -> jax.Array:
        lr_p = lr.astype(p.dtype)
        if decay is not None:
            p = p * (1 - lr_p * decay)
        return p - lr_p * (m / c1.astype(p.dtype)) / (jnp.sqrt(v / c2.astype(p.dtype)) + rule.eps)

    return jax.tree.map(update, params, m, v), {"t": t, "m": m, "v": v}


def _make_step(graphdef: nnx.GraphDef, loss: str, rule: SGD | Adam, clip_norm: float | None,
               penalised: bool = False):
    """The train step; ``penalised`` adds weight * (mean ActMix mixture entropy) to the loss
    that is differentiated (the returned value stays the task loss)."""
    def step(params, rest, opt, x, target, lr, weight):
        def objective(ps):
            model = nnx.merge(graphdef, ps, rest)
            value = loss_value(loss, model(x), target)
            if not penalised:
                return value, value
            return value + weight * actmix_entropy(model), value

        (_, value), grads = jax.value_and_grad(objective, has_aux=True)(params)
        if clip_norm is not None:
            grads = _clip(grads, clip_norm)
        params, opt = _apply(rule, params, grads, opt, lr)
        return params, opt, value

    return step


def train_steps(state: TrainState, batches: Iterable[tuple[np.ndarray, np.ndarray]]) -> list[float]:
    """One update per batch, continuing ``state``'s moments; the loss before each update.

    The model is split once per call (not per step): a call sees whatever happened to the model
    in between (``set_model_params``, an annealed ActMix temperature in ``rest``). Parameters
    and moments then stay jax arrays through the loop, one jitted step per batch in "compiled"
    mode (cached per model, loss, rule without lr and clip), and the trained parameters are
    written back with ``nnx.update`` at the end, so ``predict`` between calls sees them. The lr
    is a scalar array argument: changing it never retraces; so is the entropy weight (turning
    the penalty on, 0 -> positive, traces the penalised step once).
    """
    model: Model = state.model
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)
    rule = _rule_key(state.rule)
    penalised = state.entropy_weight > 0
    if check_mode(state.mode) == "eager":
        step = _make_step(graphdef, state.loss, rule, state.clip_norm, penalised)
    else:
        step = compiled(model, ("train", state.loss, rule, state.clip_norm, penalised),
                        lambda: _make_step(graphdef, state.loss, rule, state.clip_norm, penalised))
    lr = jnp.asarray(state.lr, dtype=model.dtype)
    weight = jnp.asarray(state.entropy_weight, dtype=model.dtype)
    opt = state.optimizer_state
    values: list[jax.Array] = []
    try:
        for x, target in batches:
            target = jnp.asarray(target) if state.loss == "cross_entropy" else _array(model, target)
            params, opt, value = step(params, rest, opt, _array(model, x), target, lr, weight)
            state.step += 1
            values.append(value)
    finally:  # keep model, moments and step count consistent even if a batch fails mid-call
        state.optimizer_state = opt
        nnx.update(model, params)
    return [float(v) for v in np.asarray(jnp.stack(values))] if values else []
