"""JAX / Flax NNX implementations of every neuronbench block (the backend contract of docs/impls.md).

Importing this package turns on ``jax_enable_x64`` (float64 layers need it); float32 layers stay
float32 because every array is created with an explicit dtype (see :mod:`impls.jax.units`).
"""

import jax

jax.config.update("jax_enable_x64", True)

from impls.jax.device import MODES  # noqa: E402
from impls.jax.models import (  # noqa: E402
    Model,
    actmix_entropy,
    build_model,
    get_model_params,
    set_model_params,
    set_temperature,
)
from impls.jax.params import get_params, set_params  # noqa: E402
from impls.jax.train import (  # noqa: E402
    forward,
    init_optimizer_state,
    model_forward,
    train_steps,
    vjp,
)
from impls.jax.units import BLOCK_CLASSES, DTYPES, Block, build_block  # noqa: E402

__all__ = [
    "BLOCK_CLASSES",
    "DTYPES",
    "MODES",
    "Block",
    "Model",
    "actmix_entropy",
    "build_block",
    "build_model",
    "forward",
    "get_model_params",
    "get_params",
    "init_optimizer_state",
    "model_forward",
    "set_model_params",
    "set_params",
    "set_temperature",
    "train_steps",
    "vjp",
]
