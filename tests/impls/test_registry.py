"""The backend contract: every framework exports the same API and class names, loaded lazily."""

from __future__ import annotations

import sys
import types

import pytest

import impls
from impls import registry, spec
from tests.conftest import require_framework, selected_frameworks


@pytest.mark.parametrize("framework", selected_frameworks())
def test_backend_implements_the_whole_contract(framework: str) -> None:
    require_framework(framework)
    backend = impls.load_backend(framework)
    assert all(hasattr(backend, name) for name in registry.BACKEND_API)
    assert set(backend.MODES) in ({"eager"}, {"eager", "compiled"})
    for block, name in spec.blocks.CLASS_NAMES.items():   # the built-ins (plug-ins live elsewhere)
        cls = backend.BLOCK_CLASSES[block]
        assert cls.__name__ == name
        assert cls.__module__.startswith(f"impls.{framework}.")


def test_half_built_backend_is_a_clear_error(monkeypatch) -> None:
    fake = types.ModuleType("impls.numpy")
    fake.MODES = ("eager",)
    monkeypatch.setitem(sys.modules, "impls.numpy", fake)
    with pytest.raises(registry.FrameworkUnavailableError, match="missing BLOCK_CLASSES, build_block"):
        registry.load_backend("numpy")


def test_class_table_names_missing_classes() -> None:
    with pytest.raises(ImportError, match=r"impls.numpy has no class for block\(s\): aptx_activation \(APTxActivation\)"):
        spec.blocks.class_table({}, "numpy")


def test_unknown_framework_and_mode_are_errors() -> None:
    with pytest.raises(ValueError, match="unknown framework 'mxnet'"):
        impls.load_backend("mxnet")
    layer = impls.build("relu", "numpy")
    with pytest.raises(ValueError, match="unknown mode 'compiled' for numpy"):
        impls.forward(layer, [[1.0]], mode="compiled")


def test_evaluate_accuracy_counts_argmax_hits() -> None:
    model = impls.build_model(spec.MLPSpec(2, (3,), 2, "relu"), "numpy", seed=0)
    impls.set_model_params(model, [{"weight": [[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]], "bias": [0.0] * 3}, {},
                                   {"weight": [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]], "bias": [0.0, 0.0]}])
    x = [[2.0, 1.0], [1.0, 2.0], [3.0, 0.0]]
    assert impls.evaluate_accuracy(model, x, [0, 1, 1], batch_size=2) == 2
    with pytest.raises(ValueError, match="3 inputs but 2 labels"):
        impls.evaluate_accuracy(model, x, [0, 1])
