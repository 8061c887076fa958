"""The oracle's analytic gradients against central finite differences, in float64.

Every case of ``impls.spec.cases.CASES`` (every unit and hyperparameter variant) is checked:
the gradient w.r.t. the input and each trainable parameter, on a random subset of coordinates.
"""

from __future__ import annotations

import numpy as np
import pytest

from impls import spec
from impls.spec.cases import CASES, Case

STEP = 1e-6
#: Central differences at STEP have truncation + rounding error ~1e-8 relative for smooth maps.
FD_TOLERANCE = 1e-6
COORDINATES = 12


def _loss(case: Case, params, x, upstream) -> float:
    return float(np.sum(upstream * spec.reference(case.unit, params, x, **case.config)))


def _fd_check(case: Case, params, x, upstream, analytic: np.ndarray, which: str, rng) -> None:
    target = np.asarray(x if which == "x" else params[which])
    flat_idx = rng.choice(target.size, size=min(COORDINATES, target.size), replace=False)
    for i in flat_idx:
        idx = np.unravel_index(i, target.shape)
        h = STEP * max(1.0, abs(float(target[idx])))
        plus, minus = target.copy(), target.copy()
        plus[idx] += h
        minus[idx] -= h
        if which == "x":
            numeric = (_loss(case, params, plus, upstream) - _loss(case, params, minus, upstream)) / (2 * h)
        else:
            numeric = (_loss(case, {**params, which: plus}, x, upstream)
                       - _loss(case, {**params, which: minus}, x, upstream)) / (2 * h)
        scale = max(1.0, abs(numeric), float(np.max(np.abs(analytic))))
        assert abs(numeric - analytic[idx]) <= FD_TOLERANCE * scale, (
            f"{case.id}: d/d{which}{idx} analytic {analytic[idx]!r} vs finite difference {numeric!r}"
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
