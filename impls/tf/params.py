"""Conversion between Keras variables and the canonical parameter dicts.

Parameters live in Keras's own layouts where Keras has one: dense kernels ``[in, out]``
(canonical ``[out, in]``) and convolution kernels ``[kh, kw, in, out]`` (canonical
``[out, in, kh, kw]``). Everything else (scalars, per-feature vectors, the APTx and ActMix
matrices) has no Keras convention and is stored as in the canonical dict. The layout of each
parameter is named by the block class (``native_layout``); this module is the only place that
knows how to turn one into the other.

``set_params`` is all-or-nothing: the values it replaces are copied first and assigned back if
any assignment fails, so a failed call never leaves a layer half-updated (the public API has
already validated every value; this covers a failure inside the backend itself).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

#: layout name -> (canonical -> native, native -> canonical)
_LAYOUTS = {
    "dense": (lambda a: np.transpose(a), lambda a: np.transpose(a)),
    "conv": (lambda a: np.transpose(a, (2, 3, 1, 0)), lambda a: np.transpose(a, (3, 2, 0, 1))),
}


def dtype_name(owner: Any) -> str:
    """The dtype name ("float32", "float64") a layer or model computes in."""
    return owner.dtype_name


def to_native(layout: str | None, value: np.ndarray) -> np.ndarray:
    """A canonical array in the layout Keras keeps it in."""
    value = np.asarray(value)
    return value if layout is None else np.ascontiguousarray(_LAYOUTS[layout][0](value))


def to_canonical(layout: str | None, value: np.ndarray) -> np.ndarray:
    """A native array (or gradient) in the canonical layout."""
    value = np.asarray(value)
    return value if layout is None else np.ascontiguousarray(_LAYOUTS[layout][1](value))


def get_params(layer: Any) -> dict[str, np.ndarray]:
    """Every canonical parameter (trainable or not) as a NumPy array in the layer's dtype."""
    return {
        name: to_canonical(layer.native_layout.get(name), layer.variable(name).numpy()).copy()
        for name in layer.param_names
    }


def assign_param(layer: Any, name: str, value: np.ndarray) -> None:
    """Assign one canonical value to the layer's variable in place (cast to the layer dtype)."""
    variable = layer.variable(name)
    native = to_native(layer.native_layout.get(name), value)
    variable.assign(native.astype(variable.dtype))


def set_params(layer: Any, params: Mapping[str, np.ndarray]) -> None:
    """Assign canonical values to the layer's variables; on any failure the layer is restored."""
    before = {name: to_canonical(layer.native_layout.get(name), layer.variable(name).numpy()).copy()
              for name in params}
    try:
        for name, value in params.items():
            assign_param(layer, name, value)
    except BaseException:
        for name, value in before.items():
            assign_param(layer, name, value)
        raise
