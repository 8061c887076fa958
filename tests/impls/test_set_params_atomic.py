"""``set_params`` and ``set_model_params`` are all-or-nothing (issue 13, reliability).

Before, every framework accepted None, strings, NaN and values that overflow float32 (1e39
became inf), and a call that failed part-way left the layer half-updated. Now every value is
checked before anything is touched (the error names the unit, the layer and the parameter), and
each backend puts the previous values back if it fails itself part-way: shown here by making the
backend's second assignment raise.
"""

from __future__ import annotations

import importlib
import itertools
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import impls
from impls import spec
from tests.conftest import require_framework, selected_frameworks

FRAMEWORKS = selected_frameworks()


def _layer(framework: str, dtype: str = "float32") -> Any:
    """An APTx layer: four parameters (alpha, beta, gamma, delta), matrices and a vector."""
    require_framework(framework)
    return impls.build("aptx_layer", framework, in_features=3, out_features=2, seed=0, dtype=dtype)


def _model(framework: str) -> Any:
    """Two layers with parameters: aptx_layer (4 parameters), then linear (weight, bias)."""
    require_framework(framework)
    return impls.build_model(spec.MLPSpec(3, (4,), 2, "aptx_layer"), framework, seed=0)


def _shifted(params: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Different, valid values for every parameter (so an assignment that happened shows)."""
    return {name: value + 0.5 for name, value in params.items()}


def _assert_same(actual: dict[str, np.ndarray], expected: dict[str, np.ndarray]) -> None:
    assert actual.keys() == expected.keys()
    for name in expected:
        np.testing.assert_array_equal(actual[name], expected[name], err_msg=name)


#: Values no parameter accepts (filled to the parameter's shape), and what the error says.
BAD_VALUES: dict[str, tuple[Any, str]] = {
    "none": (None, "is None"),
    "str": ("0.5", "has dtype <U3"),
    "bool": (True, "has dtype bool"),
    "complex": (0.5 + 1j, "has dtype complex128"),
    "nan": (np.nan, r"must be finite; .*nan"),
    "inf": (np.inf, r"must be finite; .*inf"),
    "minus_inf": (-np.inf, r"must be finite; .*-inf"),
    "overflow": (1e39, r"overflows float32: magnitude 1e\+39"),
}


def _filled(value: Any, shape: tuple[int, ...]) -> Any:
    return value if value is None else np.full(shape, value)


@pytest.mark.parametrize("case", sorted(BAD_VALUES))
@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_set_params_refuses_a_bad_value_and_changes_nothing(framework: str, case: str) -> None:
    """The bad value is the last parameter; the others are new, valid values that must not be
    written either (validation happens before the layer is touched)."""
    layer = _layer(framework)
    before = impls.get_params(layer)
    params = _shifted(before)
    value, problem = BAD_VALUES[case]
    params["delta"] = _filled(value, before["delta"].shape)
    with pytest.raises(ValueError, match=f"^set_params: unit 'aptx_layer' parameter 'delta' {problem}"):
        impls.set_params(layer, params)
    _assert_same(impls.get_params(layer), before)


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_set_params_refuses_what_is_not_a_dict(framework: str) -> None:
    layer = _layer(framework)
    with pytest.raises(ValueError, match=r"^set_params: parameters of unit 'aptx_layer' must be a dict"):
        impls.set_params(layer, [np.zeros((2, 3))] * 4)


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_overflow_depends_on_the_layer_dtype_and_integers_are_cast(framework: str) -> None:
    """1e39 fits a float64 layer; integers are real numbers and arrive as the layer's dtype."""
    layer = _layer(framework, "float64")
    params = impls.get_params(layer)
    params["alpha"] = np.full(params["alpha"].shape, 1e39)
    params["delta"] = np.array([1, -2])
    impls.set_params(layer, params)
    after = impls.get_params(layer)
    assert np.all(after["alpha"] == 1e39)
    assert after["delta"].dtype == np.float64 and after["delta"].tolist() == [1.0, -2.0]


@pytest.fixture
def fail_assignment(monkeypatch: pytest.MonkeyPatch) -> Callable[[str, int], None]:
    """``arm(framework, at)``: the backend's ``assign_param`` raises on its ``at``-th call (and
    only then: the restoring assignments after it go through)."""

    def arm(framework: str, at: int) -> None:
        params = importlib.import_module(f"impls.{framework}.params")
        original = params.assign_param
        calls = itertools.count(1)

        def failing(layer: Any, name: str, value: Any) -> None:
            call = next(calls)
            if call == at:
                raise RuntimeError(f"injected failure at assignment {call} ({name})")
            original(layer, name, value)

        monkeypatch.setattr(params, "assign_param", failing)

    return arm


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_a_backend_failing_part_way_restores_the_layer(framework: str,
                                                       fail_assignment: Callable[[str, int], None]) -> None:
    layer = _layer(framework)
    before = impls.get_params(layer)
    fail_assignment(framework, 2)
    with pytest.raises(RuntimeError, match="injected failure at assignment 2"):
        impls.set_params(layer, _shifted(before))
    # The first parameter had been written when the second failed: it is back, like the rest.
    _assert_same(impls.get_params(layer), before)
    impls.set_params(layer, _shifted(before))  # the layer still works (call 2 is long past)
    _assert_same(impls.get_params(layer), _shifted(before))


@pytest.mark.parametrize("case", ["none", "nan", "overflow", "str"])
@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_set_model_params_refuses_a_bad_value_in_any_layer_and_changes_nothing(framework: str,
                                                                               case: str) -> None:
    model = _model(framework)
    before = impls.get_model_params(model)
    params = [_shifted(p) for p in before]
    value, problem = BAD_VALUES[case]
    params[1]["bias"] = _filled(value, before[1]["bias"].shape)
    with pytest.raises(ValueError, match=f"^set_model_params: unit 'linear' \\(layer 1\\) parameter 'bias' {problem}"):
        impls.set_model_params(model, params)
    for p, q in zip(impls.get_model_params(model), before, strict=True):
        _assert_same(p, q)


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_set_model_params_refuses_what_is_not_a_list_of_dicts(framework: str) -> None:
    model = _model(framework)
    with pytest.raises(ValueError, match=r"^set_model_params: expected one dict per layer"):
        impls.set_model_params(model, impls.get_model_params(model)[0])
    with pytest.raises(ValueError, match=r"^set_model_params: parameters of unit 'linear' \(layer 1\) must be a dict"):
        impls.set_model_params(model, [impls.get_model_params(model)[0], None])


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_a_backend_failing_in_a_later_layer_restores_the_whole_model(framework: str,
                                                                     fail_assignment: Callable[[str, int], None]
                                                                     ) -> None:
    """The first layer is completely written when the second layer's second assignment fails:
    every layer of the model gets its previous values back."""
    model = _model(framework)
    before = impls.get_model_params(model)
    fail_assignment(framework, len(before[0]) + 2)
    with pytest.raises(RuntimeError, match="injected failure"):
        impls.set_model_params(model, [_shifted(p) for p in before])
    for p, q in zip(impls.get_model_params(model), before, strict=True):
        _assert_same(p, q)
