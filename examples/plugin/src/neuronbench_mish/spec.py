"""The unit's self-describing spec and its float64 oracle.

This module is imported while neuronbench builds its registry, so it imports only NumPy and
``impls.spec.blocks`` / ``impls.spec.options`` (never ``impls`` itself or a framework); the
framework classes are named by reference and imported when a layer is built.
"""

from __future__ import annotations

import numpy as np

from impls.spec import options
from impls.spec.blocks import BlockSpec


def _softplus(z: np.ndarray) -> np.ndarray:
    return np.logaddexp(0.0, z)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return np.exp(-np.logaddexp(0.0, -z))


def _sech2(s: np.ndarray) -> np.ndarray:
    """1 - tanh(s)^2 written as 4e / (1 + e)^2 with e = exp(-2|s|): no cancellation when tanh
    saturates (an oracle must stay accurate where float32 implementations do not)."""
    e = np.exp(-2.0 * np.abs(s))
    return 4.0 * e / ((1.0 + e) * (1.0 + e))


def oracle(params, x, config, upstream):
    """Forward when ``upstream`` is None, else ``(dx, {"beta": dbeta})``.

    With z = beta x, s = softplus(z), t = tanh(s): y = x t, and since ds/dz = sigmoid(z),
    dy/dx = t + x sech^2(s) beta sigmoid(z) and dy/dbeta = x^2 sech^2(s) sigmoid(z).
    """
    beta = params["beta"]
    z = beta * x
    s = _softplus(z)
    t = np.tanh(s)
    y = x * t
    if upstream is None:
        return y
    common = _sech2(s) * _sigmoid(z)
    dx = upstream * (t + x * common * beta)
    dbeta = np.asarray(np.sum(upstream * x * x * common))
    return dx, {"beta": dbeta}


def _initialise(config, rng):
    return {"beta": np.array(float(config["beta"]))}


MISH_BETA = BlockSpec(
    name="mish_beta",
    kind="activation",
    summary="Mish with a learnable slope: x tanh(softplus(beta x))",
    defaults={"beta": 1.0},
    options={"beta": options.FINITE},
    param_shapes=lambda config: {"beta": ()},
    initialise=_initialise,
    trainable=lambda config: ("beta",),
    oracle=oracle,
    classes={
        "numpy": "neuronbench_mish.numpy_impl:MishBeta",
        "torch": "neuronbench_mish.torch_impl:MishBeta",
    },
    cases=(
        {"config": {}},
        {"config": {"beta": 0.5}},
        {"config": {"beta": 2.0}, "input_shape": (3, 4, 5)},
    ),
)
