"""Conversion between torch modules and the canonical parameter dicts."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch

from impls.torch.units import Block


def get_params(layer: Block) -> dict[str, np.ndarray]:
    """Every canonical parameter (trainable or not) as a NumPy array in the layer's dtype."""
    return {name: layer.variable(name).detach().cpu().numpy().copy() for name in layer.param_names}


@torch.no_grad()
def set_params(layer: Block, params: Mapping[str, np.ndarray]) -> None:
    """Copy canonical values into the layer in place (dtype and device of the layer kept)."""
    for name, value in params.items():
        target = layer.variable(name)
        target.copy_(torch.as_tensor(np.asarray(value), dtype=target.dtype, device=target.device))


def trainable_parameters(layer: Block) -> dict[str, torch.Tensor]:
    """Canonical name -> nn.Parameter, for the parameters that receive gradients."""
    return dict(layer.named_parameters(recurse=False))
