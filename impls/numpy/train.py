"""Forward, gradients, losses and the train step for NumPy, following impls/spec/training.py.

The losses and the SGD/Adam rules are written out here in the model's dtype (the spec's
definitions, not a library's): Adam adds eps after the square root of the bias-corrected v,
with t counted from 1. Optimiser state lives for one ``train_steps`` call, as in the oracle's
``train_trajectory`` and the other backends.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from impls.numpy.device import check_mode
from impls.numpy.models import Model
from impls.numpy.params import trainable_parameters
from impls.numpy.units import Block
from impls.spec.training import SGD, Adam


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


LOSSES = {"cross_entropy": cross_entropy, "mse": mse}


class Optimizer:
    """The spec's SGD or Adam applied in place to the trainable arrays of a model."""

    def __init__(self, rule: SGD | Adam, model: Model) -> None:
        if not isinstance(rule, (SGD, Adam)):
            raise ValueError(f"optimizer must be impls.spec.training.SGD or Adam, received {rule!r}")
        self.rule = rule
        self.t = 0
        self.params = [trainable_parameters(block) for block in model.blocks]
        self.m = [{k: np.zeros_like(v) for k, v in p.items()} for p in self.params]
        self.v = [{k: np.zeros_like(v) for k, v in p.items()} for p in self.params]

    def step(self, grads: list[dict[str, np.ndarray]]) -> None:
        self.t += 1
        rule = self.rule
        if isinstance(rule, SGD):
            for params, g in zip(self.params, grads, strict=True):
                for name, p in params.items():
                    p -= rule.lr * g[name]
            return
        c1 = 1.0 - rule.b1**self.t
        c2 = 1.0 - rule.b2**self.t
        for params, g, m, v in zip(self.params, grads, self.m, self.v, strict=True):
            for name, p in params.items():
                gk = g[name]
                m[name] *= rule.b1
                m[name] += (1.0 - rule.b1) * gk
                v[name] *= rule.b2
                v[name] += (1.0 - rule.b2) * (gk * gk)
                m_hat = m[name] / c1
                v_hat = v[name] / c2
                p -= rule.lr * m_hat / (np.sqrt(v_hat) + rule.eps)


def train_steps(model: Model, batches: Iterable[tuple[np.ndarray, np.ndarray]], loss: str,
                optimizer: SGD | Adam, mode: str = "eager") -> list[float]:
    """One update per batch with the spec's rule; returns the loss before each update."""
    check_mode(mode)
    if loss not in LOSSES:
        raise ValueError(f"unknown loss {loss!r}; known losses: {', '.join(LOSSES)}")
    loss_fn = LOSSES[loss]
    opt = Optimizer(optimizer, model)
    losses: list[float] = []
    for x, target in batches:
        outputs = model.forward(np.asarray(x, dtype=model.dtype), training=True)
        value, upstream = loss_fn(outputs, target)
        model.backward(upstream)
        opt.step([block.grads for block in model.blocks])
        losses.append(value)
    return losses
