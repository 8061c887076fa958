"""NumPy implementations of every neuronbench block, with hand-written backward passes.

The backend contract of docs/impls.md; CPU only, one execution mode ("eager"). Each layer
class (``units.py``) has ``forward(x)`` caching what its backward needs and
``backward(upstream)`` returning the input gradient and storing parameter gradients.
"""

from impls.numpy.device import MODES, device_info, peak_memory_bytes, synchronize
from impls.numpy.models import (
    Model,
    build_model,
    get_model_params,
    set_model_params,
    set_temperature,
)
from impls.numpy.params import get_params, set_params
from impls.numpy.train import forward, init_optimizer_state, model_forward, train_steps, vjp
from impls.numpy.units import BLOCK_CLASSES, DTYPES, Block, build_block

__all__ = [
    "BLOCK_CLASSES",
    "DTYPES",
    "MODES",
    "Block",
    "Model",
    "build_block",
    "build_model",
    "device_info",
    "forward",
    "get_model_params",
    "get_params",
    "init_optimizer_state",
    "model_forward",
    "peak_memory_bytes",
    "set_model_params",
    "set_params",
    "set_temperature",
    "synchronize",
    "train_steps",
    "vjp",
]
