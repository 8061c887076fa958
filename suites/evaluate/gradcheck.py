"""The oracle's gradients against central finite differences, as store rows.

A unit's oracle is the reference every framework is judged by, so before any parity check the
battery checks the oracle itself: for every case of the unit (``impls.spec.cases.cases_for``),
the gradient w.r.t. the input and each trainable parameter on a random subset of coordinates,
in float64, at points kept away from kinks. One row per (case, tensor) with the worst error
relative to the gradient's scale.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

STEP = 1e-6
#: Central differences at STEP: truncation + rounding error ~1e-8 relative for smooth maps.
TOLERANCE = 1e-6
COORDINATES = 16
PROTOCOL = "gradcheck"


def _loss(unit: str, config: Mapping[str, Any], params, x, upstream) -> float:
    from impls import spec

    return float(np.sum(upstream * spec.reference(unit, params, x, **config)))


def worst_error(unit: str, config, params, x, upstream, analytic: np.ndarray, which: str,
                rng: np.random.Generator, coordinates: int = COORDINATES) -> float:
    """Largest |numeric - analytic| / max(1, |numeric|, max|analytic|) over ``coordinates``
    sampled coordinates of the input (``which="x"``) or of parameter ``which``: the one
    finite-difference check, used by the battery and by tests/spec/test_oracle_gradients.py."""
    target = np.asarray(x if which == "x" else params[which], dtype=np.float64)
    worst = 0.0
    for i in rng.choice(target.size, size=min(coordinates, target.size), replace=False):
        idx = np.unravel_index(i, target.shape)
        h = STEP * max(1.0, abs(float(target[idx])))
        plus, minus = target.copy(), target.copy()
        plus[idx] += h
        minus[idx] -= h
        if which == "x":
            numeric = (_loss(unit, config, params, plus, upstream)
                       - _loss(unit, config, params, minus, upstream)) / (2 * h)
        else:
            numeric = (_loss(unit, config, {**params, which: plus}, x, upstream)
                       - _loss(unit, config, {**params, which: minus}, x, upstream)) / (2 * h)
        scale = max(1.0, abs(numeric), float(np.max(np.abs(analytic))))
        worst = max(worst, abs(numeric - float(analytic[idx])) / scale)
    return worst


def check_unit(unit: str, seed: int = 7) -> list[dict[str, Any]]:
    """One row per (case, input or parameter): metric ``grad <name>``, value the worst error."""
    from impls import spec
    from impls.spec.cases import cases_for

    rows = []
    for case in cases_for(unit):
        rng = np.random.default_rng(seed)
        x = case.inputs(seed=3)
        x = np.where(np.abs(x) < 1e-3, 1e-3 + np.abs(x), x)   # away from kinks at 0
        params = case.params(seed=5, jitter=0.1)
        y = spec.reference(unit, params, x, **case.config)
        upstream = rng.standard_normal(y.shape)
        dx, grads = spec.reference_grad(unit, params, x, upstream, **case.config)
        expected = set(spec.trainable_names(unit, case.config))
        problems = []
        if dx.shape != x.shape:
            problems.append(f"grad x has shape {dx.shape}, input {x.shape}")
        if set(grads) != expected:
            problems.append(f"gradients for {sorted(grads)}, trainable {sorted(expected)}")
        problems += [f"grad {n} has shape {g.shape}, parameter {params[n].shape}"
                     for n, g in grads.items() if n in params and g.shape != params[n].shape]
        if problems:
            rows.append(_row(unit, case.id, "gradient shapes: " + "; ".join(problems), np.inf))
            continue
        rows.append(_row(unit, case.id, "grad x",
                         worst_error(unit, case.config, params, x, upstream, dx, "x", rng)))
        for name, grad in grads.items():
            rows.append(_row(unit, case.id, f"grad {name}",
                             worst_error(unit, case.config, params, x, upstream, grad, name, rng)))
    return rows


def _row(unit: str, variant: str, metric: str, error: float) -> dict[str, Any]:
    return {"protocol": PROTOCOL, "unit": unit, "framework": "numpy", "mode": "eager",
            "device": "cpu", "dtype": "float64", "dataset": None, "split": None, "fold": None,
            "seed": None, "epoch": None, "n_params": None, "variant": variant, "metric": metric,
            "value": float(error), "tolerance": TOLERANCE, "passed": bool(error <= TOLERANCE),
            "detail": f"central differences, step {STEP:g}, {COORDINATES} coordinates"}


def run_trial(config: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Runner trial function (``suites.evaluate.gradcheck:run_trial``)."""
    return check_unit(config["unit"])
