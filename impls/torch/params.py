"""Conversion between torch modules and the canonical parameter dicts.

``set_params`` is all-or-nothing: the values it replaces are cloned first and copied back if
any assignment fails, so a failed call never leaves a layer half-updated (the public API has
already validated every value; this covers a failure inside the backend itself).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np
import torch

from impls.torch.units import DTYPES, Block

if TYPE_CHECKING:  # impls.torch.models imports this module
    from impls.torch.models import Model


def dtype_name(owner: Block | Model) -> str:
    """The dtype name ("float32", "float64") a layer or model computes in."""
    return next(name for name, native in DTYPES.items() if native == owner.compute_dtype)


def get_params(layer: Block) -> dict[str, np.ndarray]:
    """Every canonical parameter (trainable or not) as a NumPy array in the layer's dtype."""
    return {name: layer.variable(name).detach().cpu().numpy().copy() for name in layer.param_names}


@torch.no_grad()
def assign_param(layer: Block, name: str, value: np.ndarray | torch.Tensor) -> None:
    """Copy one canonical value into the layer in place (dtype and device of the layer kept)."""
    target = layer.variable(name)
    target.copy_(torch.as_tensor(value, dtype=target.dtype, device=target.device))


@torch.no_grad()
def set_params(layer: Block, params: Mapping[str, np.ndarray]) -> None:
    """Copy canonical values into the layer in place; on any failure the layer is restored."""
    before = {name: layer.variable(name).detach().clone() for name in params}
    try:
        for name, value in params.items():
            assign_param(layer, name, np.asarray(value))
    except BaseException:
        for name, value in before.items():
            assign_param(layer, name, value)
        raise


def trainable_parameters(layer: Block) -> dict[str, torch.Tensor]:
    """Canonical name -> nn.Parameter, for the parameters that receive gradients."""
    return dict(layer.named_parameters(recurse=False))
