"""Run equivalence checks and return tidy rows.

A *case* of the parity matrix is (unit, framework, dtype, mode). For each, every variant of the
unit (``impls.spec.cases.cases_for``: the built-ins' ``CASES``, a plug-in's own) is checked at every input scale: forward and each gradient
(input and every trainable parameter), plus parameter names/shapes parity and 10-step SGD and
Adam trajectories of a small model built from the unit. Every comparison becomes one
:class:`Row`, so reports can be rebuilt from rows alone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass

import numpy as np

import impls
from impls import spec
from impls.spec.cases import SCALES, Case, cases_for
from impls.spec.tolerances import max_abs, relative_l2, tolerance

TRAJECTORY_STEPS = 10
OPTIMIZERS = {"sgd": spec.training.SGD(lr=0.05), "adam": spec.training.Adam(lr=0.01)}
CaseKey = tuple[str, str, str, str, str]


@dataclass(frozen=True)
class Row:
    unit: str
    variant: str
    framework: str
    dtype: str
    mode: str
    check: str
    max_abs_err: float
    rel_l2_err: float
    tolerance: float
    passed: bool

    def as_dict(self) -> dict:
        return asdict(self)


def _rounded(a: np.ndarray, dtype: str) -> np.ndarray:
    return np.asarray(a, dtype=dtype).astype(np.float64)


def _row(key: CaseKey, check: str, kind: str, got, want) -> Row:
    unit, variant, framework, dtype, mode = key
    rel = relative_l2(got, want, dtype)
    tol = tolerance(dtype, kind)
    return Row(unit, variant, framework, dtype, mode, check, max_abs(got, want), rel, tol, bool(rel <= tol))


def _failure(key: CaseKey, check: str, error: Exception) -> Row:
    unit, variant, framework, dtype, mode = key
    return Row(unit, variant, framework, dtype, mode, f"{check}: {type(error).__name__}: {error}",
               float("inf"), float("inf"), 0.0, False)


def check_variant(case: Case, framework: str, dtype: str, mode: str) -> list[Row]:
    """Parameter parity, forward and gradient rows of one unit variant."""
    backend = impls.load_backend(framework)
    rows: list[Row] = []
    key = (case.unit, case.id, framework, dtype, mode)
    try:
        layer = impls.build(case.unit, framework, dtype=dtype, seed=3, **case.config)
        got = impls.get_params(layer)
        want = spec.init_params(case.unit, case.config, seed=3)
        same = {k: v.shape for k, v in got.items()} == {k: v.shape for k, v in want.items()} and all(
            np.array_equal(got[k], want[k].astype(dtype)) for k in want)
        rows.append(Row(case.unit, case.id, framework, dtype, mode, "params: names, shapes, init",
                        0.0, 0.0 if same else float("inf"), 0.0, same))
        params = {k: _rounded(v, dtype) for k, v in case.params(seed=3, jitter=0.1).items()}
        impls.set_params(layer, params)
        for scale in SCALES:
            x = _rounded(case.inputs(seed=11, scale=scale), dtype)
            y_ref = spec.reference(case.unit, params, x, **case.config)
            rows.append(_row(key, f"forward |x|~{scale:g}", "forward", backend.forward(layer, x, mode), y_ref))
            upstream = _rounded(np.random.default_rng(13).standard_normal(y_ref.shape), dtype)
            dx, grads = backend.vjp(layer, x, upstream, mode)
            dx_ref, grads_ref = spec.reference_grad(case.unit, params, x, upstream, **case.config)
            rows.append(_row(key, f"grad x |x|~{scale:g}", "gradient", dx, dx_ref))
            for name, want_grad in grads_ref.items():
                if name not in grads:
                    rows.append(_failure(key, f"grad {name}", KeyError("gradient missing")))
                    continue
                rows.append(_row(key, f"grad {name} |x|~{scale:g}", "gradient", grads[name], want_grad))
    except Exception as error:  # a crash is a failed check, reported, never a skip
        rows.append(_failure(key, "variant", error))
    return rows


def trajectory_architecture(unit: str):
    """Model for the k-step check: MLP 8-(6, 5)-3, or a tiny CNN for conv units."""
    if spec.get_block(unit).kind == "conv":
        return spec.CNNSpec(1, 8, (2,), (4,), 3, unit), (8, 1, 8, 8)
    return spec.MLPSpec(8, (6, 5), 3, unit), (8, 8)


def check_trajectory(unit: str, framework: str, dtype: str, mode: str, optimizer: str) -> list[Row]:
    """Losses and final parameters after TRAJECTORY_STEPS updates vs the oracle trajectory."""
    key = (unit, f"{unit}[trajectory]", framework, dtype, mode)
    try:
        architecture, in_shape = trajectory_architecture(unit)
        rng = np.random.default_rng(21)
        batches = [(_rounded(rng.standard_normal(in_shape), dtype), rng.integers(0, 3, size=in_shape[0]))
                   for _ in range(TRAJECTORY_STEPS)]
        model = impls.build_model(architecture, framework, seed=2, dtype=dtype)
        start = [{k: v.astype(np.float64) for k, v in p.items()} for p in impls.get_model_params(model)]
        rule = OPTIMIZERS[optimizer]
        losses_ref, final_ref = spec.training.train_trajectory(architecture, start, batches, "cross_entropy", rule)
        state = impls.init_train_state(model, "cross_entropy", rule, mode=mode)
        losses = impls.train_steps(state, batches)
        rows = [_row(key, f"{optimizer} losses", "trajectory", np.array(losses), np.array(losses_ref))]
        final = impls.get_model_params(model)
        flat = np.concatenate([p[k].ravel() for p in final for k in sorted(p)])
        flat_ref = np.concatenate([p[k].ravel() for p in final_ref for k in sorted(p)])
        rows.append(_row(key, f"{optimizer} final params", "trajectory", flat, flat_ref))
        return rows
    except Exception as error:
        return [_failure(key, f"{optimizer} trajectory", error)]


GroupKey = tuple[str, str, str, str]


def plan(frameworks: Sequence[str], units: Sequence[str] | None = None,
         dtypes: Sequence[str] = ("float32", "float64"),
         modes: Sequence[str] | None = None) -> list[GroupKey]:
    """Every (unit, framework, dtype, mode) the run covers, in run order.

    Unknown units raise; a requested framework that cannot be imported raises
    FrameworkUnavailableError (never a skip). A requested mode is run by the frameworks that
    have it (NumPy has no compiled mode); a mode no requested framework has raises.
    """
    units = tuple(units or impls.UNITS)
    for unit in units:
        spec.get_block(unit)
    backends = {framework: impls.load_backend(framework) for framework in frameworks}
    known = {m for backend in backends.values() for m in backend.MODES}
    unknown = [m for m in (modes or ()) if m not in known]
    if unknown:
        raise ValueError(f"unknown mode(s) {', '.join(map(repr, unknown))}; "
                         f"the requested frameworks have: {', '.join(sorted(known))}")
    keys: list[GroupKey] = []
    for framework, backend in backends.items():
        framework_modes = [m for m in (modes or backend.MODES) if m in backend.MODES]
        for unit in units:
            for dtype in dtypes:
                keys.extend((unit, framework, dtype, mode) for mode in framework_modes)
    return keys


def check_group(key: GroupKey, trajectories: bool = True) -> list[Row]:
    """Every row of one (unit, framework, dtype, mode) cell of the parity matrix."""
    unit, framework, dtype, mode = key
    rows: list[Row] = []
    for case in cases_for(unit):
        rows.extend(check_variant(case, framework, dtype, mode))
    if trajectories:
        for optimizer in OPTIMIZERS:
            rows.extend(check_trajectory(unit, framework, dtype, mode, optimizer))
    return rows


def run(frameworks: Sequence[str], units: Sequence[str] | None = None,
        dtypes: Sequence[str] = ("float32", "float64"), modes: Sequence[str] | None = None,
        trajectories: bool = True, progress: Callable[[str], None] | None = None) -> list[Row]:
    """All rows for the requested frameworks (a missing framework raises, never skips)."""
    rows: list[Row] = []
    for key in plan(frameworks, units, dtypes, modes):
        if progress:
            progress(" ".join(key))
        rows.extend(check_group(key, trajectories))
    return rows


def row_from_dict(data: dict) -> Row:
    """Inverse of Row.as_dict for rows read back from CSV or JSON (strings allowed)."""
    return Row(data["unit"], data["variant"], data["framework"], data["dtype"], data["mode"],
               data["check"], float(data["max_abs_err"]), float(data["rel_l2_err"]),
               float(data["tolerance"]), str(data["passed"]).lower() in ("true", "1"))


def summarise(rows: Iterable[Row]) -> dict[tuple[str, str, str, str], tuple[bool, float]]:
    """(unit, framework, dtype, mode) -> (all passed, worst relative error)."""
    cells: dict[tuple[str, str, str, str], tuple[bool, float]] = {}
    for row in rows:
        key = (row.unit, row.framework, row.dtype, row.mode)
        ok, worst = cells.get(key, (True, 0.0))
        cells[key] = (ok and row.passed, max(worst, row.rel_l2_err))
    return cells
