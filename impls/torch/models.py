"""Models as a sequence of blocks, built from the framework-neutral architecture specs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch
from torch import nn

from impls.common import assign_model_params, model_params
from impls.spec import LayerSpec
from impls.torch.params import get_params, set_params
from impls.torch.units import DTYPES, Block, build_block


class Model(nn.Module):
    """Blocks applied in order; ``layer_specs`` is the architecture it was built from."""

    def __init__(self, layers: Sequence[LayerSpec], params: Sequence[Mapping[str, np.ndarray]],
                 dtype: str = "float32") -> None:
        super().__init__()
        self.layer_specs = tuple(layers)
        self.compute_dtype = DTYPES[dtype]
        self.blocks = nn.ModuleList(
            build_block(spec, p, dtype) for spec, p in zip(self.layer_specs, params, strict=True)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x = block(x)
        return x


def build_model(layers: Sequence[LayerSpec], params: Sequence[Mapping[str, np.ndarray]],
                dtype: str = "float32") -> Model:
    return Model(layers, params, dtype)


def get_model_params(model: Model) -> list[dict[str, np.ndarray]]:
    return model_params(model.blocks, get_params)


def set_model_params(model: Model, params: Sequence[Mapping[str, np.ndarray]]) -> None:
    assign_model_params(model.blocks, params, set_params)


def set_temperature(module: nn.Module, temperature: float) -> None:
    """Set the ActMix temperature of a layer or of every ActMix layer in a model."""
    for sub in module.modules():
        if isinstance(sub, Block) and sub.layer_spec.block == "actmix":
            sub.temperature.fill_(float(temperature))
