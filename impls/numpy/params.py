"""Conversion between NumPy layers and the canonical parameter dicts.

The NumPy backend stores parameters in the canonical layout already (names, shapes), so the
conversion is a dtype cast and a copy: ``get_params`` never hands out the layer's own arrays.

``set_params`` is all-or-nothing: the values it replaces are copied first and written back if
any assignment fails, so a failed call never leaves a layer half-updated (the public API has
already validated every value; this covers a failure inside the backend itself).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np

from impls.numpy.units import Block

if TYPE_CHECKING:  # impls.numpy.models imports this module
    from impls.numpy.models import Model


def dtype_name(owner: Block | Model) -> str:
    """The dtype name ("float32", "float64") a layer or model computes in."""
    return np.dtype(owner.dtype).name


def get_params(layer: Block) -> dict[str, np.ndarray]:
    """Every canonical parameter (trainable or not) as a copy in the layer's dtype."""
    return {name: layer.variable(name).copy() for name in layer.param_names}


def assign_param(layer: Block, name: str, value: np.ndarray) -> None:
    """Copy one canonical value into the layer's array in place (the layer keeps its dtype)."""
    layer.variable(name)[...] = np.asarray(value, dtype=layer.dtype)


def set_params(layer: Block, params: Mapping[str, np.ndarray]) -> None:
    """Copy canonical values into the layer in place; on any failure the layer is restored."""
    before = {name: layer.variable(name).copy() for name in params}
    try:
        for name, value in params.items():
            assign_param(layer, name, value)
    except BaseException:
        for name, value in before.items():
            assign_param(layer, name, value)
        raise


def trainable_parameters(layer: Block) -> dict[str, np.ndarray]:
    """Canonical name -> the layer's own array, for the parameters that receive gradients."""
    return {name: layer.variable(name) for name in layer.trainable}
