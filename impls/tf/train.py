"""Forward, gradients, losses and the train step for TensorFlow, following impls/spec/training.py.

The optimiser rules are written out here, on the trainable variables, instead of using
``keras.optimizers``: Keras's ``Adam`` adds epsilon to the square root of the *uncorrected*
second moment (it folds the bias corrections into the step size), which moves numbers, while
the project's rule (spec/training.py, torch/optax convention) adds epsilon after the
bias-corrected square root::

    m <- b1 m + (1 - b1) g;  v <- b2 v + (1 - b2) g^2
    p <- p - lr (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)

AdamW decays ``p (1 - lr wd)`` before the Adam step (torch's order); clipping follows torch's
``clip_grad_norm_``. The optimiser state (step count, moments) lives in variables owned by the
``impls.TrainState`` and persists across ``train_steps`` calls, like the oracle's
``impls.spec.training.train_steps``; the compiled step is cached on that state and takes the
learning rate as a tensor, so it is traced once per run, not once per call or per lr.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np
import tensorflow as tf

from impls.common import LOSS_NAMES
from impls.spec.training import CLIP_EPS, SGD, Adam, AdamW
from impls.tf.device import check_mode, in_mode
from impls.tf.models import Model
from impls.tf.params import to_canonical
from impls.tf.units import DTYPES, ActMix, Block
from impls.training import TrainState


def _tensor(owner: Block | Model, array: Any) -> tf.Tensor:
    """A NumPy array as a tensor in the owner's dtype."""
    return tf.convert_to_tensor(np.asarray(array), dtype=DTYPES[owner.dtype_name])


def forward(layer: Block, x: np.ndarray, mode: str = "eager") -> np.ndarray:
    run = in_mode(layer, "forward", lambda x: layer(x), mode)
    return run(_tensor(layer, x)).numpy()


def _vjp_function(layer: Block) -> Callable[[tf.Tensor, tf.Tensor], list[tf.Tensor]]:
    variables = [layer.variable(name) for name in layer.trainable_names]

    def vjp_fn(x: tf.Tensor, upstream: tf.Tensor) -> list[tf.Tensor]:
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x)
        return tape.gradient(y, [x, *variables], output_gradients=upstream,
                             unconnected_gradients=tf.UnconnectedGradients.ZERO)

    return vjp_fn


def vjp(layer: Block, x: np.ndarray, upstream: np.ndarray, mode: str = "eager"
        ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    run = in_mode(layer, "vjp", _vjp_function(layer), mode)
    dx, *grads = run(_tensor(layer, x), _tensor(layer, upstream))
    return dx.numpy(), {
        name: to_canonical(layer.native_layout.get(name), g.numpy())
        for name, g in zip(layer.trainable_names, grads, strict=True)
    }


def model_forward(model: Model, x: np.ndarray, mode: str = "eager") -> np.ndarray:
    run = in_mode(model, "forward", lambda x: model(x), mode)
    return run(_tensor(model, x)).numpy()


def loss_value(name: str, outputs: tf.Tensor, target: tf.Tensor) -> tf.Tensor:
    """The spec's losses: mean softmax cross-entropy on logits, or mean squared error."""
    if name == "cross_entropy":
        return tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
            labels=tf.cast(target, tf.int64), logits=outputs))
    if name == "mse":
        diff = outputs - tf.reshape(tf.cast(target, outputs.dtype), tf.shape(outputs))
        return tf.reduce_mean(diff * diff)
    raise ValueError(f"unknown loss {name!r}; known losses: {', '.join(LOSS_NAMES)}")


class OptimizerState:
    """Adam's step count and moments for one training run, as non-trainable variables.

    Created by ``init_optimizer_state`` and kept in ``impls.TrainState.optimizer_state``, so
    moments persist across ``train_steps`` calls. The run's compiled step is cached on this
    object (``device.in_mode``): it closes over these variables and the model's, so it is
    traced once per run (plus once for a smaller last batch), never once per call or per lr.
    """

    def __init__(self, variables: Sequence[tf.Variable], dtype: tf.DType, adam: bool) -> None:
        self.t = tf.Variable(tf.constant(0, tf.int64), trainable=False)
        self.m = [tf.Variable(tf.zeros(v.shape, dtype), trainable=False) for v in variables] if adam else []
        self.v = [tf.Variable(tf.zeros(v.shape, dtype), trainable=False) for v in variables] if adam else []


def init_optimizer_state(state: TrainState) -> OptimizerState:
    """Moments at zero in the model's dtype (none for SGD), t = 0."""
    check_mode(state.mode)
    model: Model = state.model
    return OptimizerState(model.trainable_variables, DTYPES[model.dtype_name], isinstance(state.rule, Adam))


def _clip(grads: list[tf.Tensor], max_norm: float) -> list[tf.Tensor]:
    """torch's clip_grad_norm_ (not tf.clip_by_global_norm, which divides by max(norm, c)):
    every gradient times min(1, c / (joint L2 norm + 1e-6))."""
    total = tf.sqrt(tf.add_n([tf.reduce_sum(tf.square(g)) for g in grads]))
    factor = tf.minimum(tf.constant(1.0, total.dtype), max_norm / (total + CLIP_EPS))
    return [g * factor for g in grads]


def _step_function(state: TrainState, penalised: bool) -> Callable[..., tf.Tensor]:
    """One update of every trainable variable with the spec's SGD, Adam or AdamW rule.

    Only the lr and the entropy weight are arguments (scalar tensors); b1, b2, eps, weight
    decay and the clip norm are fixed for a run and traced in as constants. ``penalised`` adds
    weight * (mean ActMix mixture entropy) to the differentiated loss; the step returns the
    task loss.
    """
    model: Model = state.model
    variables = model.trainable_variables
    opt: OptimizerState = state.optimizer_state
    rule, loss, clip_norm = state.rule, state.loss, state.clip_norm
    decay = rule.weight_decay if isinstance(rule, AdamW) else None
    mixing = [block for block in model.blocks if isinstance(block, ActMix)] if penalised else []

    def step(x: tf.Tensor, target: tf.Tensor, lr: tf.Tensor, weight: tf.Tensor) -> tf.Tensor:
        with tf.GradientTape() as tape:
            value = loss_value(loss, model(x), target)
            objective = (value + weight * tf.add_n([b.entropy() for b in mixing]) / len(mixing)
                         if mixing else value)
        grads = tape.gradient(objective, variables, unconnected_gradients=tf.UnconnectedGradients.ZERO)
        if clip_norm is not None:
            grads = _clip(grads, clip_norm)
        opt.t.assign_add(1)
        if isinstance(rule, SGD):
            for p, g in zip(variables, grads, strict=True):
                p.assign(p - lr * g)
            return value
        t = tf.cast(opt.t, tf.float64)
        c1 = tf.cast(1.0 - tf.pow(tf.constant(rule.b1, tf.float64), t), value.dtype)
        c2 = tf.cast(1.0 - tf.pow(tf.constant(rule.b2, tf.float64), t), value.dtype)
        for p, g, m, v in zip(variables, grads, opt.m, opt.v, strict=True):
            m.assign(rule.b1 * m + (1.0 - rule.b1) * g)
            v.assign(rule.b2 * v + (1.0 - rule.b2) * g * g)
            decayed = p * (1.0 - lr * decay) if decay is not None else p  # torch's AdamW order
            p.assign(decayed - lr * (m / c1) / (tf.sqrt(v / c2) + rule.eps))
        return value

    return step


def train_steps(state: TrainState, batches: Iterable[tuple[np.ndarray, np.ndarray]]) -> list[float]:
    """One update per batch, continuing ``state``'s moments; the loss before each update.

    ``state.lr`` is read once per call and passed as a tensor, so a schedule never retraces;
    losses stay tensors until the end of the call (no host sync per step).
    """
    model: Model = state.model
    penalised = state.entropy_weight > 0
    run = in_mode(state.optimizer_state, ("train", penalised), _step_function(state, penalised), state.mode)
    lr = _tensor(model, state.lr)
    weight = _tensor(model, state.entropy_weight)
    values: list[tf.Tensor] = []
    for x, target in batches:
        target_t = (tf.convert_to_tensor(np.asarray(target, dtype=np.int64)) if state.loss == "cross_entropy"
                    else _tensor(model, target))
        values.append(run(_tensor(model, x), target_t, lr, weight))
        state.step += 1
    return [float(v) for v in tf.stack(values).numpy()] if values else []
