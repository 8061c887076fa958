"""PyTorch implementations of every neuronbench block (the backend contract of docs/impls.md)."""

from impls.torch.device import MODES, parity_settings
from impls.torch.models import (
    Model,
    build_model,
    get_model_params,
    set_model_params,
    set_temperature,
)
from impls.torch.params import get_params, set_params
from impls.torch.train import forward, init_optimizer_state, model_forward, train_steps, vjp
from impls.torch.units import BLOCK_CLASSES, DTYPES, Block, build_block

parity_settings()

__all__ = [
    "BLOCK_CLASSES",
    "DTYPES",
    "MODES",
    "Block",
    "Model",
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
