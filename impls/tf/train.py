"""Forward, gradients, losses and the train step for TensorFlow, following impls/spec/training.py.

The optimiser rules are written out here, on the trainable variables, instead of using
``keras.optimizers``: Keras's ``Adam`` adds epsilon to the square root of the *uncorrected*
second moment (it folds the bias corrections into the step size), which moves numbers, while
the project's rule (spec/training.py, torch/optax convention) adds epsilon after the
bias-corrected square root::

    m <- b1 m + (1 - b1) g;  v <- b2 v + (1 - b2) g^2
    p <- p - lr (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)

Every ``train_steps`` call starts from fresh optimiser state (t = 0, m = v = 0), exactly like
``impls.spec.training.train_trajectory``. The state lives in variables cached on the model, so
the compiled step is traced once per model, loss and optimiser kind, not once per call;
hyperparameters are passed as tensors for the same reason.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np
import tensorflow as tf

from impls.spec.training import SGD, Adam
from impls.tf.device import in_mode
from impls.tf.models import Model
from impls.tf.params import to_canonical
from impls.tf.units import DTYPES, Block

LOSS_NAMES = ("cross_entropy", "mse")


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


class _OptimizerState:
    """Adam's moments and step counter for one model, as variables (reset by every call)."""

    def __init__(self, variables: Sequence[tf.Variable], dtype: tf.DType) -> None:
        self.t = tf.Variable(0.0, dtype=dtype, trainable=False)
        self.m = [tf.Variable(tf.zeros(v.shape, dtype), trainable=False) for v in variables]
        self.v = [tf.Variable(tf.zeros(v.shape, dtype), trainable=False) for v in variables]

    def reset(self) -> None:
        self.t.assign(0.0)
        for slot in (*self.m, *self.v):
            slot.assign(tf.zeros_like(slot))


def _optimizer_state(model: Model) -> _OptimizerState:
    state = vars(model).get("_neuronbench_adam")
    if state is None:
        state = _OptimizerState(model.trainable_variables, DTYPES[model.dtype_name])
        vars(model)["_neuronbench_adam"] = state
    return state


def _step_function(model: Model, loss: str, rule: str) -> Callable[..., tf.Tensor]:
    """One update of every trainable variable with the spec's SGD or Adam rule."""
    variables = model.trainable_variables
    state = _optimizer_state(model) if rule == "adam" else None

    def step(x: tf.Tensor, target: tf.Tensor, hyper: tf.Tensor) -> tf.Tensor:
        with tf.GradientTape() as tape:
            value = loss_value(loss, model(x), target)
        grads = tape.gradient(value, variables, unconnected_gradients=tf.UnconnectedGradients.ZERO)
        if state is None:
            lr = hyper[0]
            for p, g in zip(variables, grads, strict=True):
                p.assign(p - lr * g)
            return value
        lr, b1, b2, eps = hyper[0], hyper[1], hyper[2], hyper[3]
        state.t.assign_add(1.0)
        t = tf.convert_to_tensor(state.t)
        c1, c2 = 1.0 - tf.pow(b1, t), 1.0 - tf.pow(b2, t)
        for p, g, m, v in zip(variables, grads, state.m, state.v, strict=True):
            m.assign(b1 * m + (1.0 - b1) * g)
            v.assign(b2 * v + (1.0 - b2) * g * g)
            p.assign(p - lr * (m / c1) / (tf.sqrt(v / c2) + eps))
        return value

    return step


def train_steps(model: Model, batches: Iterable[tuple[np.ndarray, np.ndarray]], loss: str,
                optimizer: SGD | Adam, mode: str = "eager") -> list[float]:
    """One update per batch with the spec's rule; returns the loss before each update."""
    if loss not in LOSS_NAMES:
        raise ValueError(f"unknown loss {loss!r}; known losses: {', '.join(LOSS_NAMES)}")
    if isinstance(optimizer, Adam):
        rule, hyper = "adam", (optimizer.lr, optimizer.b1, optimizer.b2, optimizer.eps)
        _optimizer_state(model).reset()
    elif isinstance(optimizer, SGD):
        rule, hyper = "sgd", (optimizer.lr,)
    else:
        raise ValueError(f"unknown optimizer {optimizer!r}; expected impls.spec.training.SGD or Adam")
    hyper_t = _tensor(model, hyper)
    run = in_mode(model, ("train", loss, rule), _step_function(model, loss, rule), mode)
    losses: list[float] = []
    for x, target in batches:
        target_t = (tf.convert_to_tensor(np.asarray(target).astype(np.int64)) if loss == "cross_entropy"
                    else _tensor(model, target))
        losses.append(float(run(_tensor(model, x), target_t, hyper_t)))
    return losses
