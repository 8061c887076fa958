"""Non-finite inputs: one behaviour, the float64 oracle's, in every framework and mode.

The rule (docs/reliability.md), defined by ``impls.spec.oracle``:

* NaN in, NaN out, for gradients as for values: a NaN input gives a NaN output and a NaN input
  gradient at its position (relu, PReLU and ActMix's relu basis included, whose slopes are
  selected by ``x > 0`` and read finite at NaN), and NaN in every parameter gradient that sums
  over it.
* At +-inf, value and gradient are the oracle's IEEE float64 evaluation of the unit's formula:
  the one-sided limit where the formula reaches it (relu' = 1 and 0, sigmoid' = tanh' = 0,
  lselu'(+inf) = lambda, PReLU' = 1 and alpha), NaN where it meets inf * 0 or inf / inf (swish,
  gelu and APTx slopes, x^n / (1 + x^n) at +inf) or the function has no limit (sin at -inf).
* A gradient is NaN wherever the value it differentiates is NaN.
* Rows are independent: a NaN or an infinity in one row of a batch never reaches the outputs or
  input gradients of the other rows (only the parameter gradients, which sum over the batch).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pytest

import impls
from impls.spec import blocks, oracle
from impls.spec.cases import CASES, Case
from impls.spec.tolerances import relative_l2, tolerance
from tests.conftest import require_framework, selected_frameworks

FRAMEWORKS = selected_frameworks()
MODES = {"numpy": ("eager",), "torch": ("eager", "compiled"), "jax": ("eager", "compiled"),
         "tf": ("eager", "compiled")}

#: Inputs on the whole line: one row with NaN, one with infinities only (so that parameter
#: gradients, which sum over the row, are checked at +-inf without a NaN hiding them).
X_NAN = np.array([[np.nan, np.inf, -np.inf, 0.0, 1.5, -2.0]], np.float32)
X_INF = np.array([[np.inf, -np.inf, 0.0, 1.5, -2.0, 3.0]], np.float32)
#: The squashers take non-negative scores (a Yat layer's output); NaN and +inf pass the check.
XN_NAN = np.array([[np.nan, np.inf, 0.0, 1.5, 2.0, 1e-3]], np.float32)
XN_INF = np.array([[np.inf, 0.0, 1.5, 2.0, 1e-3, 7.0]], np.float32)
#: Upstream gradient: no zeros (0 * anything finite would hide a wrong slope), mixed signs.
UPSTREAM = np.array([[0.5, 2.0, 1.5, 1.0, -1.0, 0.25]], np.float32)

ALL_BASES = ("sin", "tanh", "relu", "identity", "sigmoid", "silu")
#: Every element-wise unit (activation or squasher, not normalising along an axis), with the
#: variants whose formula differs at +-inf or NaN.
ELEMENTWISE: tuple[tuple[str, Mapping[str, Any]], ...] = (
    ("relu", {}),
    ("lselu", {}),
    ("sigmoid", {}),
    ("tanh", {}),
    ("swish", {"learnable": True}),
    ("aptx_activation", {"trainable": True}),
    ("aptx_activation", {"trainable": True, "alpha": 0.5, "beta": 2.0, "gamma": 1.5}),
    ("gelu", {}),
    ("gelu", {"approximate": True}),
    ("prelu", {"features": 6}),
    ("actmix", {"features": 6}),
    ("actmix", {"features": 6, "basis": ("tanh", "relu", "identity")}),   # no sin: finite at inf
    ("actmix", {"features": 6, "basis": ALL_BASES}),
    ("softer_sigmoid", {}),
    ("softer_sigmoid", {"n": 2.0}),
    ("soft_tanh", {}),
    ("soft_tanh", {"n": 0.5}),
)
NORMALISING = ("softmax", "softermax")


def _id(item: tuple[str, Mapping[str, Any]]) -> str:
    unit, config = item
    options = ",".join(f"{k}={v}" for k, v in config.items() if k != "features")
    return f"{unit}[{options}]" if options else unit


def _inputs(unit: str) -> tuple[np.ndarray, np.ndarray]:
    return (XN_NAN, XN_INF) if blocks.get_block(unit).kind == "squasher" else (X_NAN, X_INF)


def assert_same_nonfinite(got: Any, want: Any, what: str) -> np.ndarray:
    """``got`` has NaN and +-inf exactly where the oracle's ``want`` has them; returns the mask
    of the oracle's finite entries."""
    got = np.asarray(got, np.float64)
    want = np.asarray(want, np.float64)
    assert got.shape == want.shape, f"{what}: shape {got.shape}, oracle {want.shape}"
    nan_got, nan_want = np.isnan(got), np.isnan(want)
    assert np.array_equal(nan_got, nan_want), (
        f"{what}: NaN at {np.argwhere(nan_got).tolist()}, the oracle's at "
        f"{np.argwhere(nan_want).tolist()}\n got {got.ravel()}\nwant {want.ravel()}")
    inf_want = np.isinf(want)
    assert np.array_equal(np.isinf(got), inf_want) and np.array_equal(got[inf_want], want[inf_want]), (
        f"{what}: infinities differ from the oracle's\n got {got.ravel()}\nwant {want.ravel()}")
    return np.isfinite(want)


def assert_agrees(got: Any, want: Any, dtype: str, check: str, what: str) -> None:
    """Non-finite exactly where the oracle is (:func:`assert_same_nonfinite`), and the finite
    entries within the equivalence tolerance (relative L2, impls/spec/tolerances.py)."""
    finite = assert_same_nonfinite(got, want, what)
    err = relative_l2(np.asarray(got)[finite], np.asarray(want)[finite], dtype)
    assert err <= tolerance(dtype, check), f"{what}: {check} error {err:.2e} on the finite entries"


def _oracle(unit: str, params: Mapping[str, np.ndarray], x: np.ndarray, g: np.ndarray | None,
            config: Mapping[str, Any]):
    with np.errstate(all="ignore"):
        if g is None:
            return impls.spec.reference(unit, params, x.astype(np.float64), **config)
        return impls.spec.reference_grad(unit, params, x.astype(np.float64), g.astype(np.float64),
                                         **config)


def test_the_list_is_every_elementwise_unit() -> None:
    kinds = ("activation", "squasher")
    want = {u for u in impls.UNITS if blocks.get_block(u).kind in kinds} - set(NORMALISING)
    assert {unit for unit, _ in ELEMENTWISE} == want


@pytest.mark.parametrize("item", ELEMENTWISE, ids=_id)
def test_the_oracle_gives_nan_gradients_exactly_where_the_rule_says(item) -> None:
    """The rule is the oracle's: NaN input -> NaN gradient; NaN value -> NaN gradient."""
    unit, config = item
    params = impls.spec.init_params(unit, impls.spec.resolve_config(unit, config), seed=0)
    for x in _inputs(unit):
        y = _oracle(unit, params, x, None, config)
        dx, _ = _oracle(unit, params, x, UPSTREAM, config)
        assert np.all(np.isnan(y[np.isnan(x)])), f"{unit}: value at NaN is not NaN"
        assert np.all(np.isnan(dx[np.isnan(x)])), f"{unit}: gradient at NaN is {dx[np.isnan(x)]}"
        assert np.all(np.isnan(dx[np.isnan(y)])), f"{unit}: finite gradient where the value is NaN"


@pytest.mark.parametrize("framework", FRAMEWORKS)
@pytest.mark.parametrize("item", ELEMENTWISE, ids=_id)
def test_nan_propagates_and_infinities_match_the_oracle(framework: str, item) -> None:
    """Forward pass at NaN and +-inf, every mode (JAX's relu had turned NaN into 0, torch's
    float32 gelu gave NaN at +inf)."""
    require_framework(framework)
    unit, config = item
    layer = impls.build(unit, framework, seed=0, **config)
    params = impls.get_params(layer)
    for x in _inputs(unit):
        want = _oracle(unit, params, x, None, config)
        for mode in MODES[framework]:
            with np.errstate(all="ignore"):
                got = impls.forward(layer, x, mode=mode)
            assert np.all(np.isnan(got[np.isnan(x)])), f"{unit} {framework} {mode}: f(NaN) is not NaN"
            assert_agrees(got, want, "float32", "forward", f"{_id(item)} {framework} {mode} forward")


@pytest.mark.parametrize("framework", FRAMEWORKS)
@pytest.mark.parametrize("item", ELEMENTWISE, ids=_id)
def test_gradients_at_nonfinite_inputs_match_the_oracle(framework: str, item) -> None:
    """Input and parameter gradients (impls.vjp) at NaN and +-inf, every mode: NaN at a NaN
    input, the oracle's value at +-inf (relu's gradient at NaN was 1 in torch and JAX and 0 in
    NumPy and TF; lselu's was 0 in torch and TF; the squashers' at +inf differed)."""
    require_framework(framework)
    unit, config = item
    layer = impls.build(unit, framework, seed=0, **config)
    params = impls.get_params(layer)
    for x in _inputs(unit):
        dx_want, grads_want = _oracle(unit, params, x, UPSTREAM, config)
        for mode in MODES[framework]:
            where = f"{_id(item)} {framework} {mode}"
            with np.errstate(all="ignore"):
                dx, grads = impls.vjp(layer, x, UPSTREAM, mode=mode)
            assert np.all(np.isnan(dx[np.isnan(x)])), f"{where}: gradient at NaN is {dx[np.isnan(x)]}"
            assert_agrees(dx, dx_want, "float32", "gradient", f"{where} gradient of x")
            assert set(grads) == set(grads_want), where
            for name, grad in grads.items():
                assert_agrees(grad, grads_want[name], "float32", "gradient", f"{where} gradient of {name}")


# --------------------------------------------------------------------------------------------
# Layers: a bad row stays in its row


def _row_cases() -> list[Case]:
    """Each unit's first catalogue case (softmax over the batch axis is not row-wise: skipped),
    and every APTx layer implementation (the fused kernel, recompute, naive)."""
    cases = [next(c for c in CASES if c.unit == unit and c.config.get("axis") != 0)
             for unit in impls.UNITS]
    return cases + [c for c in CASES if c.unit == "aptx_layer" and c.config.get("impl") is not None]


#: Row of :func:`_batch_with_bad_rows` that holds the infinity.
INF_ROW = 2


def _batch_with_bad_rows(case: Case) -> np.ndarray:
    """Four rows of the case's distribution: row 1 holds a NaN, row 2 a +inf (one element
    each, so a row is only partly bad), rows 0 and 3 are clean."""
    shape = (4, *case.input_shape[1:])
    x = np.random.default_rng(5).normal(size=shape)
    if case.distribution == "nonneg":
        x = np.abs(x) + 0.05
    x = x.astype(np.float32)
    x[(1, *[0] * (x.ndim - 1))] = np.nan
    x[(INF_ROW, *[s // 2 for s in x.shape[1:]])] = np.inf
    return x


#: The APTx layer at an infinite input: every implementation but the naive one sums its terms
#: in another grouping than the oracle's (A + t) G x, to run the A-term as one matmul: recompute
#: forms x (A G)^T + sum t G x, the fused kernel (impls/kernels/_aptx_numba.py) sums dG as
#: A sum(g x) + sum(g x t). At x = inf the two halves are infinite, and where their signs differ
#: that is inf - inf = NaN where the oracle reads +-inf. The fused float32 kernel's exp2 is also
#: floored at 2^-126, so its sech^2(inf) is ~5e-38, not 0, and x^2 sech^2 in dB reads inf where
#: the oracle's inf * 0 reads NaN. A documented exception: the row holding the infinity, and the
#: parameter gradients (which sum over it), are non-finite exactly where the oracle's are, but
#: not always the same non-finite value. NaN inputs and clean rows are compared exactly, and
#: the naive implementation (the oracle's grouping) exactly everywhere.
def inf_grouping_exception(case: Case) -> bool:
    return case.unit == "aptx_layer" and case.config.get("impl", "fused") != "naive"


def assert_nonfinite_where(got: Any, want: Any, dtype: str, check: str, what: str) -> None:
    """Weaker than :func:`assert_agrees`: non-finite exactly where the oracle is, either kind."""
    got = np.asarray(got, np.float64)
    want = np.asarray(want, np.float64)
    bad_got, bad_want = ~np.isfinite(got), ~np.isfinite(want)
    assert np.array_equal(bad_got, bad_want), (
        f"{what}: non-finite at {np.argwhere(bad_got).tolist()}, the oracle's at "
        f"{np.argwhere(bad_want).tolist()}")
    err = relative_l2(got[~bad_want], want[~bad_want], dtype)
    assert err <= tolerance(dtype, check), f"{what}: {check} error {err:.2e} on the finite entries"


def _assert_rows(got: np.ndarray, want: np.ndarray, check: str, what: str, loose_row: int | None) -> None:
    """Row by row: exact (assert_agrees) except ``loose_row`` (assert_nonfinite_where)."""
    for row in range(want.shape[0]):
        compare = assert_nonfinite_where if row == loose_row else assert_agrees
        compare(got[row], want[row], "float32", check, f"{what}, row {row}")


@pytest.mark.parametrize("framework", FRAMEWORKS)
@pytest.mark.parametrize("case", _row_cases(), ids=lambda c: c.id)
def test_a_nan_or_inf_row_does_not_contaminate_the_others(framework: str, case: Case) -> None:
    """Every unit, layers included (APTx's fused kernel, Yat dense and conv, ActMix, softmax):
    outputs and gradients equal the oracle's, NaN and inf included, and the clean rows' outputs
    and input gradients are finite (TensorFlow's softmax had kept a NaN to its own position,
    its Yat clamp had turned inf - inf into 0; APTx: :func:`inf_grouping_exception`)."""
    require_framework(framework)
    unit = case.unit
    layer = impls.build(unit, framework, seed=0, **case.config)
    params = impls.get_params(layer)
    x = _batch_with_bad_rows(case)
    y_want = _oracle(unit, params, x, None, case.config)
    g = np.random.default_rng(6).uniform(0.5, 1.5, y_want.shape).astype(np.float32)
    dx_want, grads_want = _oracle(unit, params, x, g, case.config)
    clean = [0, 3]
    loose = INF_ROW if inf_grouping_exception(case) else None
    for mode in MODES[framework]:
        where = f"{case.id} {framework} {mode}"
        with np.errstate(all="ignore"):
            y = impls.forward(layer, x, mode=mode)
            dx, grads = impls.vjp(layer, x, g, mode=mode)
        assert np.all(np.isfinite(y[clean])), f"{where}: a bad row reached the outputs of the others"
        assert np.all(np.isfinite(dx[clean])), f"{where}: a bad row reached the others' gradients"
        _assert_rows(y, y_want, "forward", f"{where} forward", loose)
        _assert_rows(dx, dx_want, "gradient", f"{where} gradient of x", loose)
        for name, grad in grads.items():
            compare = assert_agrees if loose is None else assert_nonfinite_where
            compare(grad, grads_want[name], "float32", "gradient", f"{where} gradient of {name}")


def test_oracle_step_is_nan_at_nan() -> None:
    np.testing.assert_array_equal(oracle.step(np.array([np.nan, -np.inf, -1.0, 0.0, 2.0, np.inf])),
                                  [np.nan, 0.0, 0.0, 0.0, 1.0, 1.0])
