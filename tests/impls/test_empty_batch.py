"""An empty batch works everywhere: every case of every unit in every selected framework and
mode gives an output with zero rows and all-zero parameter gradients; a CNN forward passes an
empty batch through convolutions, pooling and flattening (issue: reliability).

Softmax over the batch axis (axis=0) of an empty batch normalises over nothing: the output is
empty too (zero rows), and so is its gradient, as for every other unit. It used to fail in every
framework: the arg-max of the saturation-proof backward (and JAX's max shift, and the oracle's)
has nothing to reduce over."""

from __future__ import annotations

import numpy as np
import pytest

import impls
from impls.spec.architectures import CNNSpec
from impls.spec.cases import CASES
from tests.conftest import require_framework, selected_frameworks

FRAMEWORKS = selected_frameworks()
MODES = {"numpy": ("eager",), "torch": ("eager", "compiled"), "jax": ("eager", "compiled"),
         "tf": ("eager", "compiled")}


def _empty(case) -> np.ndarray:
    return np.zeros((0, *case.input_shape[1:]), np.float32)


#: Units normalising over an axis, over the batch axis: the cases an empty batch empties.
BATCH_AXIS = [("softmax", {"axis": 0}), ("softermax", {"axis": 0})]


def test_the_catalogue_has_a_batch_axis_case() -> None:
    assert any(c.unit == "softmax" and c.config.get("axis") == 0 for c in CASES)


@pytest.mark.parametrize("framework", FRAMEWORKS)
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_every_case_takes_an_empty_batch(framework: str, case) -> None:
    require_framework(framework)
    layer = impls.build(case.unit, framework, seed=0, **case.config)
    x = _empty(case)
    for mode in MODES[framework]:
        y = impls.forward(layer, x, mode=mode)
        assert y.shape[0] == 0, (mode, y.shape)
        dx, grads = impls.vjp(layer, x, np.zeros(y.shape, np.float32), mode=mode)
        assert dx.shape == x.shape, (mode, dx.shape)
        for name, grad in grads.items():
            assert not np.any(grad), f"{mode}: gradient of {name} is not zero on an empty batch"


@pytest.mark.parametrize("framework", FRAMEWORKS)
@pytest.mark.parametrize("item", BATCH_AXIS, ids=lambda item: item[0])
def test_normalising_over_an_empty_batch_axis_gives_zero_rows(framework: str, item) -> None:
    """Also after the same layer ran on a full batch: a compiled function traced again may have
    a relaxed (unknown) batch size, where TensorFlow's XLA refuses to compile an ArgMax that
    the empty case then reaches."""
    require_framework(framework)
    unit, config = item
    layer = impls.build(unit, framework, seed=0, **config)
    full = np.abs(np.random.default_rng(0).normal(size=(3, 5))).astype(np.float32)
    empty = np.zeros((0, 5), np.float32)
    for mode in MODES[framework]:
        for x in (full, empty, full, empty):
            y = impls.forward(layer, x, mode=mode)
            dx, _ = impls.vjp(layer, x, np.ones(y.shape, np.float32), mode=mode)
            assert y.shape == x.shape and dx.shape == x.shape, (mode, x.shape, y.shape, dx.shape)
            assert np.all(np.isfinite(dx)), (mode, dx)


@pytest.mark.parametrize("framework", FRAMEWORKS)
@pytest.mark.parametrize("unit", ["relu", "yat_conv2d", "aptx_layer"])
def test_a_cnn_forward_takes_an_empty_batch(framework: str, unit: str) -> None:
    require_framework(framework)
    spec = CNNSpec(in_channels=3, image_size=8, channels=(4,), dense=(8,), out_features=10, unit=unit)
    model = impls.build_model(spec, framework, seed=0)
    for mode in MODES[framework]:
        y = impls.model_forward(model, np.zeros((0, 3, 8, 8), np.float32), mode=mode)
        assert y.shape == (0, 10), (mode, y.shape)


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_flatten_of_an_empty_batch(framework: str) -> None:
    require_framework(framework)
    y = impls.forward(impls.build("flatten", framework), np.zeros((0, 2, 3, 3), np.float32))
    assert y.shape == (0, 18)
