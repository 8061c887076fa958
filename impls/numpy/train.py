"""Forward, gradients, losses and the train step for NumPy, following impls/spec/training.py.

The losses and the SGD/Adam rules are written out here in the model's dtype (the spec's
definitions, not a library's): Adam adds eps after the square root of the bias-corrected v,
with t counted from 1; AdamW decays p by (1 - lr wd) before the Adam step (torch's order);
clipping scales all gradients by min(1, c / (norm + 1e-6)). The optimiser state lives in the
``impls.TrainState`` (``init_optimizer_state``), so moments persist across ``train_steps``
calls exactly like the oracle's ``impls.spec.training.train_steps``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from impls.numpy.device import check_mode
from impls.numpy.models import Model
from impls.numpy.params import trainable_parameters
from impls.numpy.units import ActMix, Block
from impls.spec.training import SGD, Adam, AdamW, clip_factor
from impls.training import TrainState


def forward(layer: Block, x: np.ndarray, mode: str = "eager") -> np.ndarray:
    """Output of one layer for a NumPy input (cast to the layer dtype); keeps no cache."""
    check_mode(mode)
    return layer.forward(np.asarray(x, dtype=layer.dtype), training=False)


def vjp(layer: Block, x: np.ndarray, upstream: np.ndarray, mode: str = "eager"
        ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """(grad_x, {trainable name: grad}) of sum(upstream * layer(x))."""
    check_mode(mode)
    y = layer.forward(np.asarray(x, dtype=layer.dtype), training=True)
    upstream = np.asarray(upstream, dtype=layer.dtype)
    if upstream.shape != y.shape:
        layer._cache = None
        raise ValueError(f"upstream gradient expected shape {y.shape}, received {upstream.shape}")
    dx = layer.backward(upstream)
    return dx, dict(layer.grads)


def model_forward(model: Model, x: np.ndarray, mode: str = "eager") -> np.ndarray:
    check_mode(mode)
    return model.forward(np.asarray(x, dtype=model.dtype), training=False)


def cross_entropy(logits: np.ndarray, labels: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean softmax cross-entropy of integer labels and its gradient, in the logits' dtype."""
    n = logits.shape[0]
    rows = np.arange(n)
    labels = np.asarray(labels).astype(np.intp, copy=False).reshape(n)
    z = logits - logits.max(axis=1, keepdims=True)
    log_p = z - np.log(np.sum(np.exp(z), axis=1, keepdims=True))
    loss = -np.mean(log_p[rows, labels])
    grad = np.exp(log_p)
    grad[rows, labels] -= 1.0
    grad /= n
    return float(loss), grad


def mse(predictions: np.ndarray, targets: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean squared error over every element and its gradient, in the predictions' dtype."""
    diff = predictions - np.asarray(targets, dtype=predictions.dtype).reshape(predictions.shape)
    return float(np.mean(diff * diff)), (2.0 / diff.size) * diff


LOSS_FUNCTIONS = {"cross_entropy": cross_entropy, "mse": mse}


@dataclass
class OptimizerState:
    """Adam's step counter and moments per trainable array, kept for the life of a TrainState.

    Moments are keyed by (block index, canonical name) rather than holding the parameter
    arrays, so ``set_model_params`` between calls (it copies in place anyway) can never leave
    the optimiser updating stale arrays.
    """

    t: int
    m: list[dict[str, np.ndarray]]
    v: list[dict[str, np.ndarray]]


def init_optimizer_state(state: TrainState) -> OptimizerState:
    """Moments at zero in the model's dtype (SGD keeps none), t = 0."""
    check_mode(state.mode)
    model: Model = state.model
    adam = isinstance(state.rule, Adam)
    params = [trainable_parameters(block) for block in model.blocks]
    m = [{k: np.zeros_like(v) for k, v in p.items()} if adam else {} for p in params]
    v = [{k: np.zeros_like(a) for k, a in p.items()} if adam else {} for p in params]
    return OptimizerState(0, m, v)


def _clip(grads: list[dict[str, np.ndarray]], max_norm: float | None) -> list[dict[str, np.ndarray]]:
    """torch's clip_grad_norm_: every gradient times min(1, c / (total norm + 1e-6))."""
    if max_norm is None:
        return grads
    total = math.sqrt(sum(float(np.vdot(g, g)) for layer in grads for g in layer.values()))
    factor = clip_factor(total, max_norm)
    if factor >= 1.0:
        return grads
    return [{k: g * g.dtype.type(factor) for k, g in layer.items()} for layer in grads]


def _update(rule: SGD | Adam, opt: OptimizerState, params: list[dict[str, np.ndarray]],
            grads: list[dict[str, np.ndarray]], lr: float) -> None:
    """One in-place update of every trainable array with the spec's SGD, Adam or AdamW."""
    opt.t += 1
    if isinstance(rule, SGD):
        for layer, g in zip(params, grads, strict=True):
            for name, p in layer.items():
                p -= lr * g[name]
        return
    c1 = 1.0 - rule.b1**opt.t
    c2 = 1.0 - rule.b2**opt.t
    decay = 1.0 - lr * rule.weight_decay if isinstance(rule, AdamW) else None
    for layer, g, m, v in zip(params, grads, opt.m, opt.v, strict=True):
        for name, p in layer.items():
            gk = g[name]
            m[name] *= rule.b1
            m[name] += (1.0 - rule.b1) * gk
            v[name] *= rule.b2
            v[name] += (1.0 - rule.b2) * (gk * gk)
            if decay is not None:  # torch's AdamW: decay with this step's lr, before Adam
                p *= decay
            p -= lr * (m[name] / c1) / (np.sqrt(v[name] / c2) + rule.eps)


def _with_entropy_penalty(model: Model, grads: list[dict[str, np.ndarray]], weight: float
                          ) -> list[dict[str, np.ndarray]]:
    """The gradients plus weight * d(mean ActMix mixture entropy)/d logits (spec §3.3)."""
    mixing = [i for i, block in enumerate(model.blocks) if isinstance(block, ActMix)]
    scale = model.dtype.type(weight / len(mixing))
    grads = list(grads)
    for i in mixing:
        grads[i] = {**grads[i], "logits": grads[i]["logits"] + scale * model.blocks[i].entropy_grad()}
    return grads


def train_steps(state: TrainState, batches: Iterable[tuple[np.ndarray, np.ndarray]]) -> list[float]:
    """One update per batch, continuing ``state``'s moments; the loss before each update.

    The learning rate is read once per call from ``state.lr`` (schedules change it between
    calls); the batches arrive validated by ``impls.training.validated_batches``.
    """
    check_mode(state.mode)
    model: Model = state.model
    loss_fn = LOSS_FUNCTIONS[state.loss]
    params = [trainable_parameters(block) for block in model.blocks]
    opt: OptimizerState = state.optimizer_state
    lr = float(state.lr)
    losses: list[float] = []
    for x, target in batches:
        outputs = model.forward(np.asarray(x, dtype=model.dtype), training=True)
        value, upstream = loss_fn(outputs, target)
        model.backward(upstream)
        grads = [block.grads for block in model.blocks]
        if state.entropy_weight:
            grads = _with_entropy_penalty(model, grads, state.entropy_weight)
        grads = _clip(grads, state.clip_norm)
        _update(state.rule, opt, params, grads, lr)
        state.step += 1
        losses.append(value)
    return losses
