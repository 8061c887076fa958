"""The one definition of losses and optimisers that every framework's train step must follow.

Frameworks disagree on details that move numbers (Keras puts Adam's epsilon outside the bias
correction, optax and torch inside; torch's AdamW decays before the update). neuronbench
defines each rule once, here, in float64, and every framework implements exactly this rule
instead of calling its library optimiser, so a 10-step trajectory means the same thing
everywhere.

Adam (the rule used everywhere in neuronbench, torch's ``Adam``/optax's ``adam`` convention)::

    m <- b1 m + (1 - b1) g
    v <- b2 v + (1 - b2) g^2
    p <- p - lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)

with t counted from 1 and eps added *after* the square root of the bias-corrected v.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special

from impls.spec.models import ModelParams


def cross_entropy(logits: np.ndarray, labels: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean softmax cross-entropy over the batch and its gradient w.r.t. the logits."""
    logits = np.asarray(logits, np.float64)
    labels = np.asarray(labels)
    log_p = special.log_softmax(logits, axis=1)
    n = logits.shape[0]
    loss = -float(np.mean(log_p[np.arange(n), labels]))
    grad = np.exp(log_p)
    grad[np.arange(n), labels] -= 1.0
    return loss, grad / n


def mse(predictions: np.ndarray, targets: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean squared error over every element and its gradient."""
    diff = np.asarray(predictions, np.float64) - np.asarray(targets, np.float64).reshape(np.shape(predictions))
    return float(np.mean(diff * diff)), 2.0 * diff / diff.size


LOSSES = {"cross_entropy": cross_entropy, "mse": mse}


@dataclass(frozen=True)
class SGD:
    """Plain stochastic gradient descent: p <- p - lr g."""

    lr: float = 0.1

    def init(self, params: ModelParams) -> dict:
        return {}

    def update(self, params: ModelParams, grads: ModelParams, state: dict) -> tuple[ModelParams, dict]:
        new = [{k: p[k] - self.lr * g[k] if k in g else p[k] for k in p} for p, g in zip(params, grads, strict=True)]
        return new, state


@dataclass(frozen=True)
class Adam:
    """Adam with eps after the bias-corrected square root (see the module docstring)."""

    lr: float = 1e-3
    b1: float = 0.9
    b2: float = 0.999
    eps: float = 1e-8

    def init(self, params: ModelParams) -> dict:
        zeros = [{k: np.zeros_like(v) for k, v in p.items()} for p in params]
        return {"t": 0, "m": zeros, "v": [{k: z.copy() for k, z in p.items()} for p in zeros]}

    def update(self, params: ModelParams, grads: ModelParams, state: dict) -> tuple[ModelParams, dict]:
        t = state["t"] + 1
        new_params, new_m, new_v = [], [], []
        for p, g, m, v in zip(params, grads, state["m"], state["v"], strict=True):
            np_, nm, nv = {}, {}, {}
            for k in p:
                if k not in g:  # non-trainable parameter
                    np_[k], nm[k], nv[k] = p[k], m[k], v[k]
                    continue
                nm[k] = self.b1 * m[k] + (1 - self.b1) * g[k]
                nv[k] = self.b2 * v[k] + (1 - self.b2) * g[k] * g[k]
                m_hat = nm[k] / (1 - self.b1**t)
                v_hat = nv[k] / (1 - self.b2**t)
                np_[k] = p[k] - self.lr * m_hat / (np.sqrt(v_hat) + self.eps)
            new_params.append(np_)
            new_m.append(nm)
            new_v.append(nv)
        return new_params, {"t": t, "m": new_m, "v": new_v}


OPTIMIZERS = {"sgd": SGD, "adam": Adam}


def train_trajectory(architecture, params: ModelParams, batches, loss: str, optimizer) -> tuple[list[float], ModelParams]:
    """Run len(batches) oracle train steps; returns the loss before each step and the final params.

    ``batches`` is a sequence of (x, target) pairs; ``optimizer`` an :class:`SGD` or :class:`Adam`.
    This is the float64 reference of every framework's k-step trajectory check.
    """
    from impls.spec.models import model_forward, model_vjp

    loss_fn = LOSSES[loss]
    state = optimizer.init(params)
    losses = []
    for x, target in batches:
        value, upstream = loss_fn(model_forward(architecture, params, x), target)
        losses.append(value)
        _, grads = model_vjp(architecture, params, x, upstream)
        params, state = optimizer.update(params, grads, state)
    return losses, params
