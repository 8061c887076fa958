"""The oracle's analytic gradients against central finite differences, in float64.

Every case of ``impls.spec.cases.CASES`` (every unit and hyperparameter variant) is checked:
the gradient w.r.t. the input and each trainable parameter, on a random subset of coordinates.
"""

from __future__ import annotations

import numpy as np
import pytest

from impls import spec
from impls.spec.cases import CASES, Case
from suites.evaluate import gradcheck

#: Central differences at gradcheck.STEP have truncation + rounding error ~1e-8 relative for smooth maps.
FD_TOLERANCE = 1e-6
COORDINATES = 12


def _fd_check(case: Case, params, x, upstream, analytic: np.ndarray, which: str, rng) -> None:
    error = gradcheck.worst_error(case.unit, case.config, params, x, upstream, analytic, which,
                                  rng, COORDINATES)
    assert error <= FD_TOLERANCE, (
        f"{case.id}: d/d{which} analytic vs finite differences, worst relative error {error:.3g}"
    )


def _away_from_kinks(case: Case, x: np.ndarray) -> np.ndarray:
    """Keep inputs a few steps from non-differentiable points (0 for relu-like maps, ties in
    max-pooling) so that finite differences are meaningful there."""
    x = np.where(np.abs(x) < 1e-3, 1e-3 + np.abs(x), x)
    if case.unit == "max_pool2d":
        x = x + np.arange(x.size).reshape(x.shape) * 1e-3
    return x


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_oracle_gradients_match_finite_differences(case: Case) -> None:
    rng = np.random.default_rng(7)
    x = _away_from_kinks(case, case.inputs(seed=3))
    params = case.params(seed=5, jitter=0.1)
    if case.unit == "aptx_layer" and not case.config.get("alpha_trainable", True):
        params["alpha"] = np.ones_like(params["alpha"])  # fixed alpha is ones by definition
    y = spec.reference(case.unit, params, x, **case.config)
    upstream = rng.standard_normal(y.shape)
    dx, grads = spec.reference_grad(case.unit, params, x, upstream, **case.config)
    assert dx.shape == x.shape
    assert set(grads) == set(spec.trainable_names(case.unit, case.config))
    _fd_check(case, params, x, upstream, dx, "x", rng)
    for name, grad in grads.items():
        assert grad.shape == params[name].shape, f"{case.id}: gradient of {name} has the wrong shape"
        _fd_check(case, params, x, upstream, grad, name, rng)


def test_every_block_has_a_case() -> None:
    assert {c.unit for c in CASES} == {n for n, b in spec.BLOCKS.items() if b.origin == "neuronbench"}
