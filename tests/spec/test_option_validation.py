"""Unit options are validated once, at the boundary (impls/spec/options.py, resolve_config).

Regression tests for options that used to be coerced silently (``bool("False")`` is True,
``int(2.7)`` is 2, NaN passed as a number), for float32 layers that accepted a temperature they
cannot hold (all-NaN output), and for wrong types that escaped as raw TypeErrors. Every test
here is NumPy-only: the refusals happen before any framework is imported.
"""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np
import pytest

import impls
from impls import spec
from impls.spec import blocks, options
from impls.spec.cases import CASES
from impls.spec.options import OptionError

#: Minimal values for the required options, so one option at a time can be varied.
_REQUIRED = {
    "in_features": 3, "out_features": 2, "features": 3,
    "in_channels": 2, "out_channels": 2, "kernel_size": 3,
}


def _base(block: str) -> dict[str, Any]:
    defaults = blocks.BLOCKS[block].defaults
    return {k: _REQUIRED[k] for k, v in defaults.items() if v is blocks.REQUIRED}


def _options_of(*kind_types: type) -> list[tuple[str, str]]:
    """(block, option) for every option of every block whose kind is one of ``kind_types``."""
    return [(name, key) for name, b in blocks.BLOCKS.items() for key, kind in b.options.items()
            if isinstance(kind, kind_types)]


BOOL_OPTIONS = _options_of(options.Bool)
INT_OPTIONS = _options_of(options.Int)
PAIR_OPTIONS = _options_of(options.IntPair)
FLOAT_OPTIONS = _options_of(options.Real, options.YatAlpha)


def _refused(block: str, key: str, value: Any) -> OptionError:
    """Resolve ``block`` with ``key=value`` and return the error; fail if it was accepted."""
    with pytest.raises(OptionError) as info:
        spec.resolve_config(block, {**_base(block), key: value})
    return info.value


def _assert_names_everything(error: Exception, block: str, key: str, value: Any) -> None:
    message = str(error)
    assert isinstance(error, ValueError)
    assert f"unit {block!r}" in message
    assert f"option {key!r}" in message or f"'{key}'" in message
    assert repr(value) in message
    assert f"({type(value).__name__})" in message
    assert "must be" in message


# ----------------------------------------------------------------------------------------
# The table itself


def test_every_option_of_every_block_has_a_kind() -> None:
    for name, block in blocks.BLOCKS.items():
        assert set(block.options) == set(block.defaults), name
        for kind in block.options.values():
            assert isinstance(kind, options.OptionKind)


def test_the_table_covers_the_kinds_the_issue_names() -> None:
    assert len(BOOL_OPTIONS) >= 10 and len(INT_OPTIONS) >= 10 and len(FLOAT_OPTIONS) >= 15
    assert ("aptx_layer", "use_delta") in BOOL_OPTIONS
    assert ("conv2d", "kernel_size") in PAIR_OPTIONS
    assert ("actmix", "temperature") in FLOAT_OPTIONS


# ----------------------------------------------------------------------------------------
# Booleans given as strings or other non-bools


@pytest.mark.parametrize(("block", "key"), BOOL_OPTIONS, ids=lambda v: str(v))
@pytest.mark.parametrize("value", ["False", "True", "no", "", 0, 1, 1.0, None, (), np.int64(0)],
                         ids=repr)
def test_every_bool_option_refuses_non_bools(block, key, value) -> None:
    error = _refused(block, key, value)
    _assert_names_everything(error, block, key, value)
    assert "a bool (True/False)" in str(error)


@pytest.mark.parametrize(("block", "key"), BOOL_OPTIONS, ids=lambda v: str(v))
def test_every_bool_option_refuses_the_string_false(block, key) -> None:
    _refused(block, key, "False")


@pytest.mark.parametrize(("block", "key"), [("aptx_layer", "use_delta"),
                                            ("aptx_layer", "alpha_trainable"),
                                            ("aptx_activation", "trainable")])
def test_aptx_use_delta_string_false_is_refused(block, key) -> None:
    # bool("False") is True: use_delta="False" used to build a layer *with* delta.
    message = f"unit '{block}': option '{key}' must be a bool (True/False), got 'False' (str)"
    with pytest.raises(ValueError, match=re.escape(message)):
        impls.build(block, "numpy", **{**_base(block), key: "False"})


def test_swish_learnable_no_is_refused_with_the_documented_message() -> None:
    message = "unit 'swish': option 'learnable' must be a bool (True/False), got 'no' (str)"
    with pytest.raises(ValueError, match=re.escape(message)):
        impls.build("swish", "numpy", learnable="no")
    with pytest.raises(ValueError, match=re.escape(message)):
        spec.resolve_config("swish", {"learnable": "no"})


@pytest.mark.parametrize("block", ["yat_dense", "yat_conv2d", "linear", "conv2d"])
def test_yat_bias_no_is_refused(block) -> None:
    error = _refused(block, "bias", "no")
    expected = f"unit {block!r}: option 'bias' must be a bool (True/False), got 'no' (str)"
    assert str(error) == expected


@pytest.mark.parametrize(("block", "key"), BOOL_OPTIONS, ids=lambda v: str(v))
def test_numpy_bools_are_accepted_as_python_bools(block, key) -> None:
    for value in (np.True_, np.False_):
        resolved = spec.resolve_config(block, {**_base(block), key: value})
        assert resolved[key] is bool(value)


# ----------------------------------------------------------------------------------------
# Integer options: no truncation, no parsing, positive where it makes sense


@pytest.mark.parametrize(("block", "key"), PAIR_OPTIONS, ids=lambda v: str(v))
@pytest.mark.parametrize("value", [2.7, "3", 3.0, True, None, (3, 2.0), (3,), (3, 3, 3), ("3", "3"),
                                   np.float64(2.0), [2, True]], ids=repr)
def test_conv_geometry_is_never_truncated_or_parsed(block, key, value) -> None:
    error = _refused(block, key, value)
    _assert_names_everything(error, block, key, value)


@pytest.mark.parametrize("block", ["conv2d", "yat_conv2d"])
def test_conv_kernel_size_2_7_and_string_3_are_refused(block) -> None:
    # _pair used to int() them: 2.7 -> 2, "3" -> 3.
    for value in (2.7, "3"):
        with pytest.raises(ValueError,
                           match=r"option 'kernel_size' must be a positive integer or a pair"):
            impls.build(block, "numpy", in_channels=2, out_channels=2, kernel_size=value)


@pytest.mark.parametrize("block", ["conv2d", "yat_conv2d"])
def test_conv_geometry_ranges(block) -> None:
    for key in ("kernel_size", "stride"):
        for value in (0, -1, (1, 0)):
            assert "positive integer" in str(_refused(block, key, value))
    for value in (-1, (0, -1)):
        assert "non-negative integer" in str(_refused(block, "padding", value))
    resolved = spec.resolve_config(block, {**_base(block), "padding": 0, "stride": [np.int64(2), 1],
                                           "kernel_size": np.int32(3)})
    assert resolved["padding"] == (0, 0) and resolved["stride"] == (2, 1)
    assert resolved["kernel_size"] == (3, 3)
    assert all(type(v) is int for k in ("padding", "stride", "kernel_size") for v in resolved[k])


@pytest.mark.parametrize(("block", "key"), INT_OPTIONS, ids=lambda v: str(v))
@pytest.mark.parametrize("value", [2.7, "3", 3.0, True, False, None, np.float32(3.0), 3 + 0j],
                         ids=repr)
def test_every_int_option_refuses_non_integers(block, key, value) -> None:
    error = _refused(block, key, value)
    _assert_names_everything(error, block, key, value)


@pytest.mark.parametrize(("block", "key"), INT_OPTIONS, ids=lambda v: str(v))
def test_every_int_option_accepts_numpy_integers_as_python_ints(block, key) -> None:
    # features must match the feature axis; 3 is valid for every int option here (axis -1).
    value = np.int64(-1) if key == "axis" else np.int64(3)
    resolved = spec.resolve_config(block, {**_base(block), key: value})
    assert resolved[key] == int(value) and type(resolved[key]) is int


@pytest.mark.parametrize(("block", "key"),
                         [(b, k) for b, k in INT_OPTIONS if k != "axis"], ids=lambda v: str(v))
def test_widths_channels_and_pool_sizes_must_be_positive(block, key) -> None:
    for value in (0, -2):
        assert "positive integer" in str(_refused(block, key, value))


# ----------------------------------------------------------------------------------------
# Float options: finite real numbers, with the ranges the maths needs


_NOT_FINITE = [math.nan, math.inf, -math.inf, np.float64("nan"), np.float32("inf"), 10 ** 400]
_NOT_REAL = ["1.0", "nan", 1 + 0j, True, False, [1.0], np.array(1.0)]


@pytest.mark.parametrize(("block", "key"), FLOAT_OPTIONS, ids=lambda v: str(v))
@pytest.mark.parametrize("value", _NOT_FINITE, ids=repr)
def test_every_float_option_refuses_nan_and_inf(block, key, value) -> None:
    error = _refused(block, key, value)
    _assert_names_everything(error, block, key, value)
    assert "finite number" in str(error)


@pytest.mark.parametrize(("block", "key", "value"), [
    (block, key, value) for block, key in FLOAT_OPTIONS for value in _NOT_REAL
    # alpha=False is the Yat layers' documented "no scale".
    if not (key == "alpha" and value is False and block.startswith("yat"))
], ids=repr)
def test_every_float_option_refuses_non_numbers(block, key, value) -> None:
    _assert_names_everything(_refused(block, key, value), block, key, value)


@pytest.mark.parametrize(("block", "key", "value"), [
    ("aptx_activation", "alpha", math.nan), ("aptx_activation", "beta", math.inf),
    ("aptx_activation", "gamma", -math.inf), ("prelu", "init", math.nan),
    ("actmix", "relu_bias", math.nan), ("actmix", "omega_0", math.inf),
    ("actmix", "temperature", math.nan), ("yat_dense", "alpha", math.nan),
    ("yat_conv2d", "alpha", math.inf), ("yat_dense", "epsilon", math.inf),
    ("softmax", "temperature", math.inf), ("softmax", "epsilon", math.nan),
    ("softermax", "epsilon", math.nan), ("softer_sigmoid", "n", math.nan),
    ("swish", "beta", math.nan),
])
def test_named_nan_and_inf_hyperparameters_are_refused(block, key, value) -> None:
    with pytest.raises(ValueError, match=rf"unit '{block}': option '{key}' must be"):
        impls.build(block, "numpy", **{**_base(block), key: value})


@pytest.mark.parametrize(("block", "key", "bad", "good"), [
    ("actmix", "temperature", (0.0, -1.0), (1e-3, 2)),
    ("softmax", "temperature", (-0.5,), (0.0 + 1e-9, 3)),
    ("softmax", "epsilon", (-1e-8,), (0.0, 1e-8)),
    ("yat_dense", "epsilon", (0.0, -1e-5), (1e-5, 1)),
    ("yat_conv2d", "epsilon", (0.0,), (7e-3,)),
    ("softermax", "epsilon", (-1e-12,), (0.0, 1e-12)),
    ("softermax", "n", (0.0, -1.0), (0.5, 2)),
    ("softer_sigmoid", "n", (0,), (1,)),
    ("soft_tanh", "n", (-2.0,), (0.5,)),
])
def test_float_ranges_follow_the_maths(block, key, bad, good) -> None:
    for value in bad:
        _refused(block, key, value)
    for value in good:
        assert spec.resolve_config(block, {**_base(block), key: value})[key] == value


def test_softmax_refuses_a_zero_sum_of_temperature_and_epsilon() -> None:
    with pytest.raises(OptionError, match=r"'temperature' \+ 'epsilon' must be positive"):
        spec.resolve_config("softmax", {"temperature": 0.0, "epsilon": 0.0})
    # mpneuralnetwork's T = 0 with its epsilon is a valid (hard arg-max) softmax.
    assert spec.resolve_config("softmax", {"temperature": 0, "epsilon": 1e-8})["temperature"] == 0


def test_numpy_floats_resolve_to_equal_python_floats() -> None:
    resolved = spec.resolve_config("actmix", {"features": 3, "temperature": np.float32(0.25),
                                              "relu_bias": np.float64(1.5), "omega_0": np.int16(2)})
    assert resolved["temperature"] == 0.25 and type(resolved["temperature"]) is float
    assert type(resolved["relu_bias"]) is float and resolved["omega_0"] == 2
    assert type(resolved["omega_0"]) is int


def test_yat_alpha_accepts_its_documented_values_only() -> None:
    def alpha(value: Any) -> Any:
        return spec.resolve_config("yat_dense", {**_base("yat_dense"), "alpha": value})["alpha"]

    for value in ("learnable", "sqrt2", 0.7, 2, None, False):
        assert alpha(value) == value
    assert alpha(np.False_) is False
    for value in (True, np.True_, "constant", "Learnable", math.nan):
        _refused("yat_dense", "alpha", value)


def test_actmix_basis_is_a_tuple_of_distinct_known_names() -> None:
    resolved = spec.resolve_config("actmix", {"features": 3, "basis": ["relu", "sin"]})
    assert resolved["basis"] == ("relu", "sin")
    for value in ("sin", [], ("sin", "sin"), ("sin", "cosine"), [["sin"]], ("sin", None), {"sin"}):
        error = _refused("actmix", "basis", value)
        _assert_names_everything(error, "actmix", "basis", value)


@pytest.mark.parametrize(("block", "key", "value"), [
    ("aptx_layer", "impl", "fast"), ("aptx_layer", "impl", None), ("aptx_layer", "impl", ["fused"]),
    ("yat_dense", "semantics", "nmn"), ("yat_dense", "semantics", 0),
])
def test_choices_name_the_allowed_strings(block, key, value) -> None:
    error = _refused(block, key, value)
    _assert_names_everything(error, block, key, value)
    assert "one of" in str(error)


# ----------------------------------------------------------------------------------------
# Wrong types: a ValueError (OptionError) naming unit, option, value and expectation, never a
# raw TypeError from deep inside a validator or an initialiser


@pytest.mark.parametrize(("block", "key", "value"), [
    ("softmax", "temperature", "1"),          # was TypeError: can only concatenate str
    ("softmax", "epsilon", "1e-8"),
    ("softermax", "epsilon", "x"),            # was TypeError: '>=' not supported
    ("conv2d", "kernel_size", None),          # was TypeError from int(None)
    ("yat_conv2d", "stride", object()),
    ("actmix", "basis", [["sin"]]),           # was TypeError: unhashable type
    ("actmix", "relu_bias", "1.5"),           # was accepted, then float()-parsed
    ("aptx_activation", "alpha", "1"),        # was accepted, then float()-parsed
    ("prelu", "init", b"0.25"),
    ("max_pool2d", "kernel_size", [2, 2]),
    ("softmax", "axis", "-1"),
])
def test_wrong_types_raise_option_errors_not_type_errors(block, key, value) -> None:
    error = _refused(block, key, value)
    assert not isinstance(error, TypeError)
    _assert_names_everything(error, block, key, value)


def test_option_error_is_a_value_error_and_also_covers_unknown_and_missing_keys() -> None:
    assert issubclass(OptionError, ValueError)
    assert spec.OptionError is OptionError
    with pytest.raises(OptionError, match="unknown option"):
        spec.resolve_config("relu", {"slope": 1})
    with pytest.raises(OptionError, match="missing required option"):
        spec.resolve_config("linear", {"in_features": 2})


# ----------------------------------------------------------------------------------------
# Representability in the layer dtype


def test_actmix_temperature_1e_300_is_refused_in_float32_before_any_backend(monkeypatch) -> None:
    # It used to build, and the float32 layer's output was all NaN (1e-300 -> 0 in float32).
    def no_backend(framework: str) -> Any:
        raise AssertionError(f"backend {framework} loaded for an invalid configuration")

    monkeypatch.setattr(impls, "load_backend", no_backend)
    for framework in impls.FRAMEWORKS:
        with pytest.raises(OptionError, match=r"unit 'actmix': option 'temperature' = 1e-300 "
                                              r"is too small for a float32 layer"):
            impls.build("actmix", framework, features=3, temperature=1e-300, dtype="float32")
    architecture = spec.MLPSpec(4, (3,), 2, "actmix", {"temperature": 1e-300})
    with pytest.raises(OptionError, match="float32"):
        impls.build_model(architecture, "numpy", dtype="float32")


def test_float64_holds_what_float32_cannot() -> None:
    config = spec.resolve_config("actmix", {"features": 3, "temperature": 1e-300})
    spec.check_representable("actmix", config, "float64")
    params = spec.init_params("actmix", config)
    y = spec.reference("actmix", params, np.linspace(-2, 2, 12).reshape(4, 3), **config)
    assert np.all(np.isfinite(y))


@pytest.mark.parametrize(("block", "key", "value"), [
    ("actmix", "temperature", 1e-40),           # subnormal in float32: flushed to 0 on FTZ
    ("actmix", "temperature", 1e-300),
    ("yat_dense", "epsilon", 1e-45),
    ("yat_conv2d", "epsilon", 1e-300),
    ("softermax", "epsilon", 1e-300),
    ("aptx_activation", "alpha", 1e39),         # finite in float64, inf in float32
    ("actmix", "relu_bias", -1e39),
    ("prelu", "init", 3.5e38),
    ("yat_dense", "alpha", 1e39),
    ("swish", "beta", 1e300),
    ("actmix", "temperature", 1e39),
])
def test_float32_refuses_values_it_cannot_represent(block, key, value) -> None:
    config = spec.resolve_config(block, {**_base(block), key: value})
    with pytest.raises(OptionError, match=rf"unit '{block}': option '{key}' = .* float32"):
        spec.check_representable(block, config, "float32")
    spec.check_representable(block, config, "float64")


def test_softmax_checks_the_sum_it_divides_by() -> None:
    tiny = spec.resolve_config("softmax", {"temperature": 0.0, "epsilon": 1e-300})
    with pytest.raises(OptionError, match=r"'temperature' \+ 'epsilon' = 1e-300 is too small"):
        spec.check_representable("softmax", tiny, "float32")
    huge = spec.resolve_config("softmax", {"temperature": 3e38, "epsilon": 3e38})
    with pytest.raises(OptionError, match="overflows a float32 layer"):
        spec.check_representable("softmax", huge, "float32")
    hard = spec.resolve_config("softmax", {"temperature": 0, "epsilon": 1e-8})
    spec.check_representable("softmax", hard, "float32")


def test_representability_boundaries() -> None:
    tiny32, max32 = float(np.finfo(np.float32).tiny), float(np.finfo(np.float32).max)
    for block, config in [("actmix", {"features": 2, "temperature": tiny32}),
                          ("aptx_activation", {"alpha": -max32}),
                          # epsilon = 0 is "no guard" for softermax: allowed in every dtype.
                          ("softermax", {"epsilon": 0.0})]:
        spec.check_representable(block, spec.resolve_config(block, config), "float32")
    with pytest.raises(ValueError, match="unknown dtype"):
        spec.check_representable("relu", spec.resolve_config("relu"), "float16")


def test_every_case_is_representable_in_both_dtypes() -> None:
    for case in CASES:
        resolved = spec.resolve_config(case.unit, case.config)
        for dtype in spec.DTYPES:
            spec.check_representable(case.unit, resolved, dtype)


# ----------------------------------------------------------------------------------------
# Valid configurations resolve exactly as before


def _expected_resolution(unit: str, config: dict[str, Any]) -> dict[str, Any]:
    """The resolution rule of the code before option kinds, written out independently."""
    block = blocks.BLOCKS[unit]
    resolved = {**block.defaults, **config}
    if block.kind == "conv":
        for key in ("kernel_size", "stride", "padding"):
            value = resolved[key]
            resolved[key] = tuple(value) if isinstance(value, (tuple, list)) else (value, value)
    if "basis" in resolved:
        resolved["basis"] = tuple(resolved["basis"])
    return resolved


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_every_case_resolves_unchanged(case) -> None:
    resolved = spec.resolve_config(case.unit, case.config)
    expected = _expected_resolution(case.unit, dict(case.config))
    assert resolved == expected
    assert {k: type(v) for k, v in resolved.items()} == {k: type(v) for k, v in expected.items()}
    # Resolving twice changes nothing (oracle and backends re-resolve resolved configs).
    assert spec.resolve_config(case.unit, resolved) == resolved


def test_defaults_are_unchanged_and_valid() -> None:
    for name, block in blocks.BLOCKS.items():
        resolved = spec.resolve_config(name, _base(name))
        for key, default in block.defaults.items():
            if default is not blocks.REQUIRED and key not in ("kernel_size", "stride", "padding"):
                assert resolved[key] == default, (name, key)
                assert type(resolved[key]) is type(default), (name, key)
