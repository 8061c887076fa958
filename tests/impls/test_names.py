"""The same concept has the same name in every framework (docs/impls.md).

A twin that renames a shared helper (``StableSoftmax`` in one, ``scaled_softmax`` in another)
still passes every numerical test, so the rule needs its own check: every backend exposes the
shared names, and the shared tables come from :mod:`impls.common`, not from a local copy.
"""

from __future__ import annotations

import importlib

import pytest

from impls import common, spec
from tests.conftest import require_framework, selected_frameworks

#: module (under impls.<framework>) -> names every framework defines there.
SHARED_NAMES: dict[str, tuple[str, ...]] = {
    "functional": ("stable_softmax", "tanh", "sigmoid", "sech2", "tanh_and_sech2"),
    "aptx": ("aptx_fused", "aptx_recompute", "aptx_naive", "kernel_name"),
    "device": ("MODES", "check_mode"),
    "units": ("DTYPES", "Block", "BLOCK_CLASSES", "build_block"),
    "models": ("Model", "build_model", "get_model_params", "set_model_params", "set_temperature"),
}


@pytest.mark.parametrize("framework", selected_frameworks())
def test_every_backend_exposes_the_shared_names(framework: str) -> None:
    require_framework(framework)
    for module_name, names in SHARED_NAMES.items():
        module = importlib.import_module(f"impls.{framework}.{module_name}")
        missing = [name for name in names if not hasattr(module, name)]
        assert not missing, f"impls.{framework}.{module_name} lacks {missing}"
    units = importlib.import_module(f"impls.{framework}.units")
    assert callable(units.Block.param) and callable(units.Block.variable)
    for block, cls in units.BLOCK_CLASSES.items():
        assert cls.__name__ == spec.blocks.CLASS_NAMES[block]


@pytest.mark.parametrize("framework", selected_frameworks())
def test_shared_tables_come_from_impls_common(framework: str) -> None:
    require_framework(framework)
    device = importlib.import_module(f"impls.{framework}.device")
    units = importlib.import_module(f"impls.{framework}.units")
    assert device.MODES in (common.MODES, common.EAGER_ONLY)
    assert tuple(units.DTYPES) == common.DTYPE_NAMES
    with pytest.raises(ValueError, match=f"unknown mode 'jit' for {framework}; known modes: eager"):
        device.check_mode("jit")


def test_common_names_follow_the_spec() -> None:
    assert tuple(spec.training.LOSSES) == common.LOSS_NAMES
    assert tuple(spec.blocks.DTYPES) == common.DTYPE_NAMES
    assert common.check_mode("numpy", "eager", common.EAGER_ONLY) == "eager"
