"""Framework-neutral truth: block specs, the float64 oracle and architecture specs.

Nothing here imports a deep-learning framework. Suites and tests reason about units through
this package; frameworks implement what it describes and are judged against ``reference`` and
``reference_grad``.
"""

from impls.spec import models, training
from impls.spec.architectures import (
    APTX_PAPER_MLP,
    NMN_EXAMPLE_MLP,
    CNNSpec,
    LayerSpec,
    MLPSpec,
    count_params,
    hidden_layers,
    layer,
    solve_width,
)
from impls.spec.blocks import (
    BLOCKS,
    BUILDING_BLOCKS,
    DTYPES,
    UNITS,
    BlockSpec,
    check_dtype,
    check_input,
    check_params,
    check_representable,
    get_block,
    init_params,
    param_shapes,
    resolve_config,
    trainable_names,
)
from impls.spec.options import OptionError
from impls.spec.oracle import (
    actmix_coefficients,
    actmix_entropy,
    actmix_entropy_grad,
    reference,
    reference_grad,
)

__all__ = [
    "APTX_PAPER_MLP",
    "BLOCKS",
    "BUILDING_BLOCKS",
    "DTYPES",
    "NMN_EXAMPLE_MLP",
    "UNITS",
    "BlockSpec",
    "CNNSpec",
    "LayerSpec",
    "MLPSpec",
    "OptionError",
    "actmix_coefficients",
    "actmix_entropy",
    "actmix_entropy_grad",
    "check_dtype",
    "check_input",
    "check_params",
    "check_representable",
    "count_params",
    "get_block",
    "hidden_layers",
    "init_params",
    "layer",
    "models",
    "param_shapes",
    "reference",
    "reference_grad",
    "resolve_config",
    "solve_width",
    "trainable_names",
    "training",
]
