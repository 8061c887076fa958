"""The catalogue of test cases: every unit under every hyperparameter variant that matters.

Finite-difference checks of the oracle, golden files, framework-vs-oracle tests and the
equivalence harness all iterate over ``CASES``, so a variant added here is checked everywhere.
Each case fixes the unit, its configuration, the input shape and the input distribution.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from impls.spec import blocks


@dataclass(frozen=True)
class Case:
    unit: str
    config: Mapping[str, Any] = field(default_factory=dict)
    input_shape: tuple[int, ...] = (4, 6)
    #: "normal": N(0, scale^2); "nonneg": |N(0, scale^2)| + 0.05 (squashers need scores >= 0).
    distribution: str = "normal"

    @property
    def id(self) -> str:
        options = ",".join(f"{k}={v}" for k, v in self.config.items() if k not in _SIZE_KEYS)
        return f"{self.unit}[{options}]" if options else self.unit

    def inputs(self, seed: int, scale: float = 1.0) -> np.ndarray:
        x = np.random.default_rng(seed).normal(0.0, scale, size=self.input_shape)
        return np.abs(x) + 0.05 if self.distribution == "nonneg" else x

    def params(self, seed: int, jitter: float = 0.0) -> dict[str, np.ndarray]:
        """Canonical initial parameters, optionally jittered so no parameter sits at a symmetric
        point (ActMix's equal logits, LSELU's defaults) that could hide a wrong gradient."""
        params = blocks.init_params(self.unit, self.config, seed=seed)
        if jitter:
            rng = np.random.default_rng(seed + 1)
            params = {k: np.asarray(v + jitter * rng.standard_normal(v.shape)) for k, v in params.items()}
        return params


_SIZE_KEYS = {"in_features", "out_features", "features", "in_channels", "out_channels", "kernel_size"}

_DENSE = {"in_features": 6, "out_features": 5}
_CONV = {"in_channels": 3, "out_channels": 4, "kernel_size": 3}

CASES: tuple[Case, ...] = (
    Case("aptx_activation"),
    Case("aptx_activation", {"trainable": True}),
    Case("aptx_activation", {"trainable": True, "alpha": 0.5, "beta": 2.0, "gamma": 1.5}),
    Case("aptx_layer", _DENSE),
    Case("aptx_layer", {**_DENSE, "alpha_trainable": False}),
    Case("aptx_layer", {**_DENSE, "use_delta": False}),
    Case("aptx_layer", {**_DENSE, "alpha_trainable": False, "use_delta": False}),
    Case("aptx_layer", {**_DENSE, "impl": "recompute"}),
    Case("aptx_layer", {**_DENSE, "impl": "naive"}),
    Case("actmix", {"features": 6}),
    Case("actmix", {"features": 6, "relu_bias": 0.0}),
    Case("actmix", {"features": 6, "temperature": 0.01}),
    Case("actmix", {"features": 6, "temperature": 0.01, "relu_bias": 0.0}),
    Case("actmix", {"features": 6, "basis": ("sin", "tanh", "relu", "identity", "sigmoid", "silu"),
                    "omega_0": 30.0}),
    Case("actmix", {"features": 3, "axis": 1}, input_shape=(2, 3, 4, 4)),
    Case("lselu"),
    Case("relu"),
    Case("prelu", {"features": 6}),
    Case("prelu", {"features": 3, "axis": 1, "init": 0.1}, input_shape=(2, 3, 4, 4)),
    Case("swish"),
    Case("swish", {"beta": 0.5}),
    Case("swish", {"learnable": True}),
    Case("gelu"),
    Case("gelu", {"approximate": True}),
    Case("tanh"),
    Case("sigmoid"),
    Case("softmax"),
    Case("softmax", {"temperature": 0.5}),
    Case("softmax", {"temperature": 0.01}),
    Case("softmax", {"axis": 0}),
    Case("softmax", {"epsilon": 1e-8}),
    Case("yat_dense", _DENSE),
    Case("yat_dense", {**_DENSE, "bias": False}),
    Case("yat_dense", {**_DENSE, "alpha": "sqrt2"}),
    Case("yat_dense", {**_DENSE, "alpha": 0.7}),
    Case("yat_dense", {**_DENSE, "alpha": None}),
    Case("yat_dense", {**_DENSE, "spherical": True}),
    Case("yat_dense", {**_DENSE, "spherical": True, "bias": False, "alpha": None}),
    Case("yat_dense", {**_DENSE, "epsilon": 1e-3}),
    Case("yat_dense", {**_DENSE, "semantics": "dl2-paper"}),
    Case("yat_conv2d", _CONV, input_shape=(2, 3, 6, 5)),
    Case("yat_conv2d", {**_CONV, "padding": 1, "stride": 2}, input_shape=(2, 3, 7, 6)),
    Case("yat_conv2d", {**_CONV, "bias": False, "alpha": None}, input_shape=(2, 3, 5, 5)),
    Case("softermax", distribution="nonneg"),
    Case("softermax", {"n": 2.0}, distribution="nonneg"),
    Case("softer_sigmoid", distribution="nonneg"),
    Case("softer_sigmoid", {"n": 2.0}, distribution="nonneg"),
    Case("soft_tanh", distribution="nonneg"),
    Case("soft_tanh", {"n": 0.5}, distribution="nonneg"),
    Case("linear", _DENSE),
    Case("linear", {**_DENSE, "bias": False}),
    Case("conv2d", {**_CONV, "padding": (1, 0), "stride": (1, 2)}, input_shape=(2, 3, 6, 6)),
    Case("max_pool2d", {}, input_shape=(2, 3, 6, 5)),
    Case("flatten", {}, input_shape=(2, 3, 2, 2)),
)

#: Input scales every case is checked at: ordinary values and extreme ones (|x| up to ~100).
SCALES: tuple[float, ...] = (1.0, 30.0)


def _default_case(block: blocks.BlockSpec) -> Case:
    """The smallest case a unit's kind allows, for a plug-in that lists none of its own."""
    if block.kind == "dense":
        return Case(block.name, dict(_DENSE))
    if block.kind == "conv":
        return Case(block.name, dict(_CONV), input_shape=(2, 3, 6, 5))
    config = {block.width_option: 6} if block.width_option else {}
    return Case(block.name, config, distribution="nonneg" if block.kind == "squasher" else "normal")


def cases_for(unit: str) -> tuple[Case, ...]:
    """Every case of one unit: the built-ins' from ``CASES``, a plug-in's from its spec
    (``BlockSpec.cases``: mappings of ``config``, ``input_shape``, ``distribution``), or, when
    it lists none, the default case of its kind."""
    block = blocks.get_block(unit)
    if block.origin == "neuronbench":
        return tuple(c for c in CASES if c.unit == unit)
    if not block.cases:
        return (_default_case(block),)
    default = _default_case(block)
    return tuple(
        Case(unit, dict(c.get("config", default.config)),
             tuple(c.get("input_shape", default.input_shape)),
             str(c.get("distribution", default.distribution)))
        for c in block.cases
    )
