"""Arrays at the public API boundary (issue 13, reliability): every entry point refuses what is
not an array of real numbers with one message that names the entry point, the argument and the
problem, in every framework, before any framework sees the value.

Before ``impls.spec.arrays.check_array``, a string array was parsed into numbers by NumPy, JAX
and TensorFlow and refused by torch, complex input lost its imaginary part, and a ragged list
raised NumPy's own message. Integer inputs are accepted and cast to the layer's dtype (they
give exactly the float result); NaN inputs are accepted (non-finite inputs have a documented
behaviour, tests/impls/test_nonfinite.py).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import impls
from impls import spec
from impls.spec.cases import CASES
from tests.conftest import require_framework, selected_frameworks

FRAMEWORKS = selected_frameworks()
N_IN, N_OUT, BATCH = 3, 2, 2


@functools.cache
def _objects(framework: str) -> dict[str, Any]:
    """One layer, model and training state per framework, shared by this module's tests (no
    test here changes them: every call below is refused before the backend runs)."""
    require_framework(framework)
    model = impls.build_model(spec.MLPSpec(N_IN, (4,), N_OUT, "relu"), framework, seed=0)
    return {
        "layer": impls.build("aptx_layer", framework, in_features=N_IN, out_features=N_OUT, seed=0),
        "model": model,
        "state": impls.init_train_state(model, "cross_entropy", spec.training.SGD(lr=0.1)),
    }


def _good_x() -> np.ndarray:
    return np.linspace(-1.0, 1.0, BATCH * N_IN, dtype=np.float32).reshape(BATCH, N_IN)


LABELS = np.array([0, 1])

#: Every public entry point that takes an array, called with ``bad`` in one argument; the
#: regular expression its error must start with.
ENTRY_POINTS: dict[str, tuple[Callable[[dict[str, Any], Any], Any], str]] = {
    "forward": (lambda o, bad: impls.forward(o["layer"], bad), "forward: input x"),
    "vjp_x": (lambda o, bad: impls.vjp(o["layer"], bad, np.ones((BATCH, N_OUT))), "vjp: input x"),
    "vjp_upstream": (lambda o, bad: impls.vjp(o["layer"], _good_x(), bad), "vjp: upstream"),
    "model_forward": (lambda o, bad: impls.model_forward(o["model"], bad), "model_forward: input x"),
    "predict": (lambda o, bad: impls.predict(o["model"], bad), "predict: input x"),
    "evaluate_accuracy_x": (lambda o, bad: impls.evaluate_accuracy(o["model"], bad, LABELS),
                            "evaluate_accuracy: input x"),
    "evaluate_accuracy_labels": (lambda o, bad: impls.evaluate_accuracy(o["model"], _good_x(), bad),
                                 "evaluate_accuracy: labels"),
    "train_steps": (lambda o, bad: impls.train_steps(o["state"], [(bad, LABELS)]),
                    "train_steps: batch 0 input x"),
}

#: Values no entry point accepts, and the words the error must use for them.
BAD_VALUES: dict[str, tuple[Any, str]] = {
    "str": (np.full((BATCH, N_IN), "1.5"), r"has dtype <U3; expected real numbers .*strings"),
    "bytes": (np.full((BATCH, N_IN), b"1"), r"has dtype \|S1; expected real numbers .*bytes"),
    "object": (np.array([[1.0, None, 2.0], [1.0, 2.0, 3.0]]), r"has dtype object; expected real numbers"),
    "numbers_as_objects": (np.ones((BATCH, N_IN), dtype=object), r"has dtype object; expected real numbers"),
    "complex": (np.ones((BATCH, N_IN)) + 1j, r"has dtype complex128; .*imaginary part"),
    "ragged": ([[1.0, 2.0, 3.0], [1.0, 2.0]], r"is a ragged sequence"),
    "bool": (np.ones((BATCH, N_IN), dtype=bool), r"has dtype bool; .*booleans are refused"),
    "none": (None, r"is None; expected real numbers"),
    "datetime": (np.full((BATCH, N_IN), np.datetime64("2020-01-01")), r"has dtype datetime64"),
}


@pytest.mark.parametrize("value", sorted(BAD_VALUES))
@pytest.mark.parametrize("entry", sorted(ENTRY_POINTS))
@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_every_entry_point_refuses_what_is_not_real_numbers(framework: str, entry: str, value: str) -> None:
    objects = _objects(framework)
    call, where = ENTRY_POINTS[entry]
    bad, problem = BAD_VALUES[value]
    with pytest.raises(ValueError, match=f"^{where} {problem}"):
        call(objects, bad)
    assert objects["state"].step == 0  # a refused batch trains nothing


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_integer_inputs_give_exactly_the_float_result(framework: str) -> None:
    """Integers (signed and unsigned, as image data comes) are cast to the layer's dtype at the
    boundary and compute exactly what the same numbers as floats do."""
    objects = _objects(framework)
    layer, model = objects["layer"], objects["model"]
    ints = np.array([[0, 1, 2], [3, 0, 1]], dtype=np.uint8)
    floats = ints.astype(np.float32)
    for x in (ints, ints.astype(np.int64)):
        np.testing.assert_array_equal(impls.forward(layer, x), impls.forward(layer, floats))
        np.testing.assert_array_equal(impls.model_forward(model, x), impls.model_forward(model, floats))
        np.testing.assert_array_equal(impls.predict(model, x, batch_size=1),
                                      impls.predict(model, floats, batch_size=1))
        assert impls.evaluate_accuracy(model, x, LABELS) == impls.evaluate_accuracy(model, floats, LABELS)
        upstream = np.array([[1, -2], [0, 3]])
        dx, grads = impls.vjp(layer, x, upstream)
        dx_f, grads_f = impls.vjp(layer, floats, upstream.astype(np.float32))
        np.testing.assert_array_equal(dx, dx_f)
        for name in grads_f:
            np.testing.assert_array_equal(grads[name], grads_f[name])


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_integer_training_batches_train_like_floats(framework: str) -> None:
    ints = np.array([[0, 1, 2], [3, 0, 1]], dtype=np.int64)
    losses = []
    for x in (ints, ints.astype(np.float32)):
        require_framework(framework)
        model = impls.build_model(spec.MLPSpec(N_IN, (4,), N_OUT, "relu"), framework, seed=0)
        state = impls.init_train_state(model, "cross_entropy", spec.training.SGD(lr=0.1))
        losses.append(impls.train_steps(state, [(x, LABELS), (x, LABELS)]))
    assert losses[0] == losses[1]


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_nan_and_inf_inputs_are_still_accepted(framework: str) -> None:
    """Non-finite inputs are not validation errors: they propagate (docs/reliability.md)."""
    layer = _objects(framework)["layer"]
    x = _good_x()
    x[0, 1] = np.nan
    x[1, 0] = np.inf
    y = impls.forward(layer, x)
    assert y.shape == (BATCH, N_OUT) and np.all(np.isnan(y[0])), y
    dx, _ = impls.vjp(layer, x, np.ones((BATCH, N_OUT)))
    assert dx.shape == x.shape


#: (unit, config, input shape, output shape): one block of each kind whose output shape differs
#: from its input's, and one that keeps it.
SHAPES = [
    ("aptx_layer", {"in_features": 3, "out_features": 2}, (2, 3), (2, 2)),
    ("conv2d", {"in_channels": 1, "out_channels": 2, "kernel_size": 2}, (2, 1, 4, 4), (2, 2, 3, 3)),
    ("flatten", {}, (2, 2, 3, 3), (2, 18)),
    ("relu", {}, (2, 3), (2, 3)),
]


@pytest.mark.parametrize("framework", FRAMEWORKS)
@pytest.mark.parametrize(("unit", "config", "x_shape", "y_shape"), SHAPES, ids=[s[0] for s in SHAPES])
def test_vjp_upstream_must_have_the_output_shape(framework: str, unit: str, config: dict,
                                                  x_shape: tuple, y_shape: tuple) -> None:
    """No framework broadcasts an upstream of another shape: the error names both shapes."""
    require_framework(framework)
    layer = impls.build(unit, framework, seed=0, **config)
    x = np.ones(x_shape, np.float32)
    for wrong in ((*x_shape[:-1], x_shape[-1] + 1), (1, *y_shape[1:]), y_shape[1:], ()):
        with pytest.raises(ValueError, match=rf"^vjp: upstream has shape {_shape_re(wrong)}, but the "
                                             rf"output of unit '{unit}' .* has shape {_shape_re(y_shape)}"):
            impls.vjp(layer, x, np.ones(wrong))
    dx, _ = impls.vjp(layer, x, np.ones(y_shape))
    assert dx.shape == x_shape


def _shape_re(shape: tuple) -> str:
    return re.escape(str(tuple(shape)))


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_the_expected_upstream_shape_is_the_output_shape_of_every_case(case) -> None:
    """The upstream shape is computed from the spec (impls._output_shape); for every case it
    must be exactly the shape the layer outputs, or vjp would refuse a correct upstream."""
    framework = FRAMEWORKS[0]
    require_framework(framework)
    layer = impls.build(case.unit, framework, seed=0, **case.config)
    x = case.inputs(seed=0)
    y = impls.forward(layer, x)
    dx, _ = impls.vjp(layer, x, np.ones(y.shape))
    assert dx.shape == x.shape


#: Labels evaluate_accuracy refuses, and what its error says (LABELS-sized model: 2 outputs).
BAD_LABELS: dict[str, tuple[Any, str]] = {
    "float": (np.array([0.0, 1.0]), r"labels must be integers, received dtype float64"),
    "two_d": (np.array([[0], [1]]), r"labels must have shape \(2,\)"),
    "too_short": (np.array([0]), r"2 inputs but 1 labels"),
    "too_long": (np.array([0, 1, 1]), r"2 inputs but 3 labels"),
    "negative": (np.array([0, -1]), r"labels must lie in \[0, 2\) .*\[-1\]"),
    "equal_to_outputs": (np.array([2, 1]), r"labels must lie in \[0, 2\) .*\[2\]"),
    "str": (np.array(["0", "1"]), r"labels has dtype <U1"),
    "bool": (np.array([True, False]), r"labels has dtype bool"),
}


@pytest.mark.parametrize("case", sorted(BAD_LABELS))
@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_evaluate_accuracy_refuses_bad_labels(framework: str, case: str) -> None:
    model = _objects(framework)["model"]
    labels, message = BAD_LABELS[case]
    with pytest.raises(ValueError, match=f"^evaluate_accuracy: {message}"):
        impls.evaluate_accuracy(model, _good_x(), labels)


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_evaluate_accuracy_counts_with_any_integer_labels(framework: str) -> None:
    model = _objects(framework)["model"]
    x = _good_x()
    predicted = np.argmax(impls.predict(model, x), axis=1)
    for dtype in (np.int64, np.int32, np.uint8):
        assert impls.evaluate_accuracy(model, x, predicted.astype(dtype)) == BATCH
        assert impls.evaluate_accuracy(model, x, (1 - predicted).astype(dtype)) == 0
