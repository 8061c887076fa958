"""Conversion between Flax NNX blocks and the canonical parameter dicts.

Natively the blocks use Flax's layouts: dense kernels are ``[in, out]`` (canonical ``weight``
is ``[out, in]``) and conv kernels ``HWIO`` (canonical ``OIHW``). Each block class declares,
per canonical name, its attribute and layout in ``Block.native``; this module is the only
place that converts between the two views.

``set_params`` is all-or-nothing: the values it replaces are kept and put back if any
assignment fails, so a failed call never leaves a layer half-updated (the public API has
already validated every value; this covers a failure inside the backend itself).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jax.numpy as jnp
import numpy as np

from impls.common import assign_model_params, model_params

#: layout -> (canonical -> native, native -> canonical) axis permutations (None: unchanged).
_PERMUTATIONS: Mapping[str, tuple[tuple[int, ...], tuple[int, ...]] | None] = {
    "same": None,
    "dense": ((1, 0), (1, 0)),                 # [out, in] <-> [in, out]
    "conv": ((2, 3, 1, 0), (3, 2, 0, 1)),      # OIHW <-> HWIO
}


def to_native(layout: str, value: np.ndarray) -> np.ndarray:
    perm = _PERMUTATIONS[layout]
    return np.asarray(value) if perm is None else np.transpose(value, perm[0])


def from_native(layout: str, value: np.ndarray) -> np.ndarray:
    perm = _PERMUTATIONS[layout]
    return np.asarray(value) if perm is None else np.transpose(value, perm[1])


def dtype_name(owner: Any) -> str:
    """The dtype name ("float32", "float64") a layer or model computes in."""
    return owner.dtype_name


def native_slot(layer: Any, name: str) -> tuple[str, str]:
    """(attribute, layout) of a canonical parameter of ``layer``."""
    return layer.native.get(name, (name, "same"))


def get_params(layer: Any) -> dict[str, np.ndarray]:
    """Every canonical parameter (trainable or not) as a NumPy array in the layer's dtype."""
    out = {}
    for name in layer.param_names:
        layout = native_slot(layer, name)[1]
        out[name] = np.array(from_native(layout, np.asarray(layer.variable(name)[...])))
    return out


def assign_param(layer: Any, name: str, value: np.ndarray) -> None:
    """Copy one canonical value into the layer's variable (the layer's dtype is kept)."""
    layout = native_slot(layer, name)[1]
    layer.variable(name).set_value(jnp.asarray(to_native(layout, np.asarray(value)), dtype=layer.dtype))


def set_params(layer: Any, params: Mapping[str, np.ndarray]) -> None:
    """Copy canonical values into the layer's variables; on any failure the layer is restored.

    JAX arrays are immutable, so the snapshot is the variables' current arrays themselves.
    """
    before = {name: layer.variable(name).get_value() for name in params}
    try:
        for name, value in params.items():
            assign_param(layer, name, value)
    except BaseException:
        for name, value in before.items():
            layer.variable(name).set_value(value)
        raise


def get_model_params(model: Any) -> list[dict[str, np.ndarray]]:
    return model_params(model.layers, get_params)


def set_model_params(model: Any, params: list[Mapping[str, np.ndarray]]) -> None:
    assign_model_params(model.layers, params, set_params)
