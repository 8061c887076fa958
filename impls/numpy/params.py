"""Conversion between NumPy layers and the canonical parameter dicts.

The NumPy backend stores parameters in the canonical layout already (names, shapes), so the
conversion is a dtype cast and a copy: ``get_params`` never hands out the layer's own arrays.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from impls.numpy.units import Block


def get_params(layer: Block) -> dict[str, np.ndarray]:
    """Every canonical parameter (trainable or not) as a copy in the layer's dtype."""
    return {name: layer.variable(name).copy() for name in layer.param_names}


def set_params(layer: Block, params: Mapping[str, np.ndarray]) -> None:
    """Copy canonical values into the layer's arrays in place (the layer keeps its dtype)."""
    for name, value in params.items():
        layer.variable(name)[...] = np.asarray(value, dtype=layer.dtype)


def trainable_parameters(layer: Block) -> dict[str, np.ndarray]:
    """Canonical name -> the layer's own array, for the parameters that receive gradients."""
    return {name: layer.variable(name) for name in layer.trainable}
