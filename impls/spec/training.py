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

AdamW (torch's ``AdamW`` convention, decoupled decay applied *before* the Adam step, with the
learning rate of the step)::

    p <- p (1 - lr wd);  then the Adam update above

Gradient clipping by total norm (torch's ``clip_grad_norm_``), applied to the gradients of every
trainable parameter of the model together, before the optimiser sees them::

    n = sqrt(sum_k |g_k|^2);  g_k <- g_k min(1, c / (n + 1e-6))

Learning-rate schedules map (base lr, epoch counted from 0) to the lr of that epoch; an epoch
loop sets it on the persistent training state between epochs (``impls.set_learning_rate``):

* ``StepLR(step_size, gamma)``: ``base gamma^(epoch // step_size)``
* ``Cosine(t_max, eta_min)``: ``eta_min + (base - eta_min) (1 + cos(pi min(epoch, t_max) / t_max)) / 2``

The ActMix ``full`` variant (spec §3.3) adds an entropy penalty to the task loss:
``loss + lambda * H``, H the mean over the model's ActMix layers of each layer's mean mixture
entropy. lambda is state like the lr (``impls.set_entropy_weight``, 0 by default, set between
epochs by the warm-up schedule); the loss a train step returns stays the *task* loss, which is
what the protocol logs as ``train_loss`` (the penalty is a function of the parameters alone).

The learning rate is *state*, not part of the rule: a rule's ``lr`` is the base value, and every
framework passes the current lr into its (compiled) step as a runtime value, so a schedule never
triggers a recompile.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

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
        return {"t": 0}

    def update(self, params: ModelParams, grads: ModelParams, state: dict,
               lr: float | None = None) -> tuple[ModelParams, dict]:
        lr = self.lr if lr is None else lr
        new = [{k: p[k] - lr * g[k] if k in g else p[k] for k in p} for p, g in zip(params, grads, strict=True)]
        return new, {"t": state.get("t", 0) + 1}


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

    def _decay(self, p: np.ndarray, lr: float) -> np.ndarray:
        return p

    def update(self, params: ModelParams, grads: ModelParams, state: dict,
               lr: float | None = None) -> tuple[ModelParams, dict]:
        lr = self.lr if lr is None else lr
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
                np_[k] = self._decay(p[k], lr) - lr * m_hat / (np.sqrt(v_hat) + self.eps)
            new_params.append(np_)
            new_m.append(nm)
            new_v.append(nv)
        return new_params, {"t": t, "m": new_m, "v": new_v}


@dataclass(frozen=True)
class AdamW(Adam):
    """Adam with decoupled weight decay, torch convention: p <- p (1 - lr wd), then Adam.

    The default decay 1e-2 is torch's; optax's default is 1e-4, so protocols always state it.
    """

    weight_decay: float = 1e-2

    def _decay(self, p: np.ndarray, lr: float) -> np.ndarray:
        return p * (1.0 - lr * self.weight_decay)


Rule = SGD | Adam | AdamW
OPTIMIZERS = {"sgd": SGD, "adam": Adam, "adamw": AdamW}

#: torch's clip_grad_norm_ adds this to the norm before dividing (kept identical everywhere).
CLIP_EPS = 1e-6


def clip_factor(total_norm: float, max_norm: float) -> float:
    """The factor every gradient is multiplied by when clipping to ``max_norm``."""
    return min(1.0, max_norm / (total_norm + CLIP_EPS))


def clip_by_total_norm(grads: ModelParams, max_norm: float | None) -> ModelParams:
    """Scale all gradients together so their joint L2 norm is at most ``max_norm``."""
    if max_norm is None:
        return grads
    total = math.sqrt(sum(float(np.sum(np.square(g))) for layer in grads for g in layer.values()))
    factor = clip_factor(total, max_norm)
    return [{k: g * factor for k, g in layer.items()} for layer in grads]


@dataclass(frozen=True)
class Constant:
    """The base learning rate in every epoch."""

    def lr(self, base: float, epoch: int) -> float:
        return float(base)


@dataclass(frozen=True)
class StepLR:
    """torch's StepLR stepped once per epoch: base * gamma ** (epoch // step_size)."""

    step_size: int
    gamma: float = 0.1

    def lr(self, base: float, epoch: int) -> float:
        return float(base * self.gamma ** (epoch // self.step_size))


@dataclass(frozen=True)
class Cosine:
    """torch's CosineAnnealingLR (closed form) over ``t_max`` epochs, then held at eta_min."""

    t_max: int
    eta_min: float = 0.0

    def lr(self, base: float, epoch: int) -> float:
        e = min(epoch, self.t_max)
        return float(self.eta_min + (base - self.eta_min) * (1 + math.cos(math.pi * e / self.t_max)) / 2)


Schedule = Constant | StepLR | Cosine
SCHEDULES = {"constant": Constant, "step": StepLR, "cosine": Cosine}


def check_rule(rule: object) -> Rule:
    if not isinstance(rule, (SGD, Adam)):
        raise ValueError(f"optimizer must be impls.spec.training.SGD, Adam or AdamW, received {rule!r}")
    return rule


def check_loss(loss: str) -> str:
    if loss not in LOSSES:
        raise ValueError(f"unknown loss {loss!r}; known losses: {', '.join(LOSSES)}")
    return loss


def check_clip_norm(clip_norm: float | None) -> float | None:
    if clip_norm is None:
        return None
    if not (isinstance(clip_norm, (int, float)) and math.isfinite(clip_norm) and clip_norm > 0):
        raise ValueError(f"clip_norm must be a positive finite number or None, received {clip_norm!r}")
    return float(clip_norm)


def check_entropy_weight(weight: float) -> float:
    if isinstance(weight, bool) or not isinstance(weight, (int, float, np.floating, np.integer)):
        raise ValueError(f"entropy weight must be a number, received {weight!r}")
    if not (math.isfinite(float(weight)) and float(weight) >= 0):
        raise ValueError(f"entropy weight must be finite and >= 0, received {weight!r}")
    return float(weight)


def mixture_entropy_penalty(architecture, params: ModelParams) -> tuple[float, ModelParams]:
    """(H, dH/dparams): the mean over ActMix layers of their mean mixture entropy, and its
    gradient (only on ActMix logits). A model without ActMix layers has no penalty: an error,
    since asking for one there is a protocol mistake."""
    from impls.spec.models import as_layers
    from impls.spec.oracle import actmix_entropy_grad

    layers = as_layers(architecture)
    mixing = [i for i, spec in enumerate(layers) if spec.block == "actmix"]
    if not mixing:
        raise ValueError("an entropy weight needs at least one ActMix layer; this model has none")
    total, grads = 0.0, [{} for _ in layers]
    for i in mixing:
        h, g = actmix_entropy_grad(params[i]["logits"], layers[i].config["temperature"])
        total += h / len(mixing)
        grads[i]["logits"] = g / len(mixing)
    return total, grads


@dataclass
class OracleTrainState:
    """The oracle's persistent training state: the float64 twin of ``impls.TrainState``."""

    architecture: object
    params: ModelParams
    loss: str
    rule: Rule
    clip_norm: float | None = None
    lr: float = field(default=float("nan"))
    step: int = 0
    optimizer_state: dict = field(default_factory=dict)
    entropy_weight: float = 0.0


def init_train_state(architecture, params: ModelParams, loss: str, rule: Rule,
                     clip_norm: float | None = None) -> OracleTrainState:
    """Float64 training state: parameters copied, optimiser moments at zero, lr = rule.lr."""
    check_rule(rule)
    params = [{k: np.array(v, np.float64) for k, v in p.items()} for p in params]
    return OracleTrainState(architecture, params, check_loss(loss), rule, check_clip_norm(clip_norm),
                            float(rule.lr), 0, rule.init(params))


def train_steps(state: OracleTrainState, batches: Iterable[tuple[np.ndarray, np.ndarray]]) -> list[float]:
    """One oracle update per batch, continuing the state; returns the loss before each update."""
    from impls.spec.models import model_forward, model_vjp

    loss_fn = LOSSES[state.loss]
    losses = []
    for x, target in batches:
        value, upstream = loss_fn(model_forward(state.architecture, state.params, x), target)
        losses.append(value)
        _, grads = model_vjp(state.architecture, state.params, x, upstream)
        if state.entropy_weight:
            _, penalty = mixture_entropy_penalty(state.architecture, state.params)
            grads = [{k: g + state.entropy_weight * p.get(k, 0.0) for k, g in layer.items()}
                     for layer, p in zip(grads, penalty, strict=True)]
        grads = clip_by_total_norm(grads, state.clip_norm)
        state.params, state.optimizer_state = state.rule.update(state.params, grads, state.optimizer_state,
                                                               state.lr)
        state.step += 1
    return losses


def train_trajectory(architecture, params: ModelParams, batches, loss: str, optimizer,
                     clip_norm: float | None = None, lrs: Sequence[float] | None = None,
                     entropy_weight: float = 0.0) -> tuple[list[float], ModelParams]:
    """Run len(batches) oracle train steps from a fresh state; returns losses and final params.

    ``batches`` is a sequence of (x, target) pairs; ``optimizer`` an SGD, Adam or AdamW rule;
    ``lrs`` (optional) the learning rate of each step, as a schedule would set it;
    ``entropy_weight`` the ActMix entropy penalty's lambda (module docstring). This is the
    float64 reference of every framework's k-step trajectory check.
    """
    state = init_train_state(architecture, params, loss, optimizer, clip_norm)
    state.entropy_weight = check_entropy_weight(entropy_weight)
    batches = list(batches)
    if lrs is None:
        return train_steps(state, batches), state.params
    if len(lrs) != len(batches):
        raise ValueError(f"{len(lrs)} learning rates for {len(batches)} batches")
    losses: list[float] = []
    for batch, lr in zip(batches, lrs, strict=True):
        state.lr = float(lr)
        losses.extend(train_steps(state, [batch]))
    return losses, state.params
