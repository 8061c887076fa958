"""Models as a sequence of NumPy blocks, built from the framework-neutral architecture specs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from impls.common import assign_model_params, model_params
from impls.numpy.params import get_params, set_params
from impls.numpy.units import DTYPES, ActMix, Block, build_block
from impls.spec import LayerSpec


class Model:
    """Blocks applied in order; ``layer_specs`` is the architecture it was built from.

    ``forward(x, training=True)`` keeps every block's cache; ``backward(upstream)`` runs the
    blocks in reverse, leaving parameter gradients in each block's ``grads``.
    """

    def __init__(self, layers: Sequence[LayerSpec], params: Sequence[Mapping[str, np.ndarray]],
                 dtype: str = "float32") -> None:
        self.layer_specs = tuple(layers)
        self.dtype = np.dtype(DTYPES[dtype])
        self.blocks: list[Block] = [
            build_block(spec, p, dtype) for spec, p in zip(self.layer_specs, params, strict=True)
        ]

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        for block in self.blocks:
            x = block.forward(x, training=training)
        return x

    __call__ = forward

    def backward(self, upstream: np.ndarray) -> np.ndarray:
        g = upstream
        for block in reversed(self.blocks):
            g = block.backward(g)
        return g

    def __repr__(self) -> str:
        inner = ", ".join(type(b).__name__ for b in self.blocks)
        return f"Model([{inner}], dtype={self.dtype.name})"


def build_model(layers: Sequence[LayerSpec], params: Sequence[Mapping[str, np.ndarray]],
                dtype: str = "float32") -> Model:
    return Model(layers, params, dtype)


def get_model_params(model: Model) -> list[dict[str, np.ndarray]]:
    return model_params(model.blocks, get_params)


def set_model_params(model: Model, params: Sequence[Mapping[str, np.ndarray]]) -> None:
    assign_model_params(model.blocks, params, set_params)


def set_temperature(layer_or_model: Block | Model, temperature: float) -> None:
    """Set the ActMix temperature of a layer, or of every ActMix layer of a model.

    The temperature is state, not a parameter (the trainer anneals it); like the torch
    backend, this changes the layer's state and leaves its ``layer_spec`` (the configuration
    it was built from) untouched.
    """
    temperature = float(temperature)
    if not temperature > 0:
        raise ValueError(f"actmix temperature must be positive, received {temperature!r}")
    found = layer_or_model.blocks if isinstance(layer_or_model, Model) else [layer_or_model]
    for block in found:
        if isinstance(block, ActMix):
            block.temperature = temperature
