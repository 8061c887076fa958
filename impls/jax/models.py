"""Models as a sequence of blocks, built from the framework-neutral architecture specs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import jax.numpy as jnp
import numpy as np
from flax import nnx

from impls.jax.params import get_model_params, set_model_params
from impls.jax.units import DTYPES, ActMix, build_block
from impls.spec import LayerSpec


class Model(nnx.Module):
    """Blocks applied in order; ``layer_specs`` is the architecture it was built from."""

    def __init__(self, layers: Sequence[LayerSpec], params: Sequence[Mapping[str, np.ndarray]],
                 dtype: str = "float32") -> None:
        self.layer_specs = tuple(layers)
        self.dtype_name = dtype
        self.dtype = DTYPES[dtype]
        self.layers = nnx.List(
            [build_block(spec, p, dtype) for spec, p in zip(self.layer_specs, params, strict=True)]
        )

    def __call__(self, x: Any) -> Any:
        for block in self.layers:
            x = block(x)
        return x


def build_model(layers: Sequence[LayerSpec], params: Sequence[Mapping[str, np.ndarray]],
                dtype: str = "float32") -> Model:
    return Model(layers, params, dtype)


def set_temperature(module: nnx.Module, temperature: float) -> None:
    """Set the ActMix temperature of a layer or of every ActMix layer in a model."""
    for _, node in nnx.iter_graph(module):
        if isinstance(node, ActMix):
            node.temperature.set_value(jnp.asarray(float(temperature), dtype=node.dtype))


def actmix_entropy(module: nnx.Module) -> Any:
    """Mean mixture entropy over the ActMix layers of a layer or model (None without any)."""
    values = [node.entropy() for _, node in nnx.iter_graph(module) if isinstance(node, ActMix)]
    return sum(values) / len(values) if values else None


__all__ = [
    "Model",
    "actmix_entropy",
    "build_model",
    "get_model_params",
    "set_model_params",
    "set_temperature",
]
