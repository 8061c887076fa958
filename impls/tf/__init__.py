"""TensorFlow/Keras implementations of every neuronbench block (the backend contract of docs/impls.md).

Keras 3 layers on the TensorFlow backend. Importing this package sets ``KERAS_BACKEND`` to
``tensorflow`` (unless already set) and quietens TensorFlow's C++ logging before either is
imported, and refuses to load when Keras already runs on another backend in this process.
"""

from impls.tf import _env  # noqa: F401  (must run before tensorflow/keras are imported)
from impls.tf.device import MODES, parity_settings
from impls.tf.models import (
    Model,
    build_model,
    get_model_params,
    set_model_params,
    set_temperature,
)
from impls.tf.params import get_params, set_params
from impls.tf.train import forward, init_optimizer_state, model_forward, train_steps, vjp
from impls.tf.units import BLOCK_CLASSES, DTYPES, Block, build_block

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
