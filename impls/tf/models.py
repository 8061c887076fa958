"""Models as a sequence of blocks, built from the framework-neutral architecture specs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from impls.common import assign_model_params, model_params
from impls.spec import LayerSpec
from impls.tf.params import get_params, set_params
from impls.tf.units import ActMix, Block, build_block


class Model(keras.Model):
    """Blocks applied in order; ``layer_specs`` is the architecture it was built from."""

    def __init__(self, layers: Sequence[LayerSpec], params: Sequence[Mapping[str, np.ndarray]],
                 dtype: str = "float32") -> None:
        super().__init__(dtype=dtype)
        self.layer_specs = tuple(layers)
        self.dtype_name = dtype
        self.blocks = [build_block(spec, p, dtype) for spec, p in zip(self.layer_specs, params, strict=True)]
        self.built = True

    def call(self, x: tf.Tensor) -> tf.Tensor:
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


def set_temperature(layer_or_model: Any, temperature: float) -> None:
    """Set the ActMix temperature of a layer or of every ActMix layer in a model.

    The temperature is a variable, so compiled functions see the new value without retracing.
    The layer's ``layer_spec`` keeps the temperature it was built with.
    """
    blocks: Sequence[Block] = layer_or_model.blocks if isinstance(layer_or_model, Model) else [layer_or_model]
    for block in blocks:
        if isinstance(block, ActMix):
            block.set_temperature(temperature)
