"""Whole training runs through the public API: a persistent training state per model.

An epoch loop needs optimiser moments that survive across calls, a learning rate it can change
between epochs (StepLR, cosine) and the freedom to evaluate or anneal an ActMix temperature in
between. So training is split in two calls, the same in every framework::

    state = impls.init_train_state(model, "cross_entropy", spec.training.Adam(lr=4e-3), mode="compiled")
    for epoch in range(20):
        impls.set_learning_rate(state, schedule.lr(rule.lr, epoch))
        losses = impls.train_steps(state, batches_of(epoch))     # loss before each update
        logits = impls.predict(model, x_test, batch_size=1000, mode="compiled")

``TrainState`` is framework-neutral; only ``optimizer_state`` is native (tensors, variables or
optax state) and only the backend that created it reads it. Labels and targets are validated
here, once, before any framework sees them: integer class labels in ``[0, classes)`` for
cross-entropy (a label of -1 or ``classes`` is an error in every framework, not a silently
wrong class or a NaN), finite numbers of the output's shape for MSE. Every batch's ``x`` passes the
array check of every public entry point (``impls.spec.arrays.check_array``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from impls.spec import training as rules
from impls.spec.arrays import check_array


@dataclass(eq=False)
class TrainState:
    """A model in training: the rule, the current learning rate, steps taken, native moments."""

    model: Any
    framework: str
    loss: str
    rule: rules.Rule
    mode: str
    clip_norm: float | None
    lr: float
    step: int
    n_outputs: int
    dtype: str                      # the model's dtype name: every batch's x is cast to it
    optimizer_state: Any = None
    entropy_weight: float = 0.0     # lambda of the ActMix entropy penalty (impls.set_entropy_weight)


def output_width(model: Any) -> int:
    """Number of outputs (classes) of a native model, from its last block's configuration."""
    for layer_spec in reversed(model.layer_specs):
        if "out_features" in layer_spec.config:
            return int(layer_spec.config["out_features"])
    raise ValueError("cannot tell the output width of this model: no block has out_features")


def check_labels(labels: Any, n_classes: int, batch: int, what: str = "cross-entropy labels"
                 ) -> np.ndarray:
    """Integer class labels of shape [batch] with every value in [0, n_classes).

    ``what`` starts every error message (training and ``impls.evaluate_accuracy`` share this).
    """
    labels = check_array(labels, what=what)
    if labels.dtype.kind not in "iu":
        raise ValueError(f"{what} must be integers, received dtype {labels.dtype}")
    if labels.shape != (batch,):
        raise ValueError(f"{what} must have shape ({batch},) for a batch of {batch}, "
                         f"received {labels.shape}")
    if labels.size and (labels.min() < 0 or labels.max() >= n_classes):
        bad = labels[(labels < 0) | (labels >= n_classes)]
        raise ValueError(f"{what} must lie in [0, {n_classes}) for a model with {n_classes} outputs; "
                         f"received {bad[:5].tolist()}")
    return labels.astype(np.int64, copy=False)


def check_targets(targets: Any, n_outputs: int, batch: int) -> np.ndarray:
    """Finite real regression targets with one value per output of each row."""
    targets = np.asarray(targets)
    if targets.dtype.kind not in "iuf":
        raise ValueError(f"regression targets must be real numbers, received dtype {targets.dtype}")
    if targets.size != batch * n_outputs:
        raise ValueError(f"regression targets must hold {batch} x {n_outputs} values, "
                         f"received shape {targets.shape}")
    if not np.all(np.isfinite(targets)):
        raise ValueError("regression targets must be finite (found NaN or inf)")
    return targets.reshape(batch, n_outputs)


def validated_batches(state: TrainState, batches: Iterable[tuple[Any, Any]]
                      ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """The batches with inputs checked against the first block and targets against the loss.

    Each ``x`` passes the public API's array check (``impls.spec.arrays.check_array``: real
    numbers, not ragged) and is cast to the model's dtype, as in ``impls.model_forward``.
    """
    from impls.spec import check_input

    first = state.model.layer_specs[0]
    for index, (x, target) in enumerate(batches):
        x = check_array(x, what=f"train_steps: batch {index} input x", dtype=state.dtype)
        check_input(first.block, first.config, x)
        if state.loss == "cross_entropy":
            yield x, check_labels(target, state.n_outputs, x.shape[0])
        else:
            yield x, check_targets(target, state.n_outputs, x.shape[0])


def check_learning_rate(lr: Any) -> float:
    if isinstance(lr, bool) or not isinstance(lr, (int, float, np.floating, np.integer)):
        raise ValueError(f"learning rate must be a number, received {lr!r}")
    if not (math.isfinite(float(lr)) and float(lr) >= 0):
        raise ValueError(f"learning rate must be finite and >= 0, received {lr!r}")
    return float(lr)
