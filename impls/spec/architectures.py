"""Architecture specs: models as ordered lists of blocks, with exact parameter counting.

A model is described framework-neutrally as a tuple of :class:`LayerSpec` (block name + resolved
configuration). Every framework's ``models.py`` turns that tuple into native layers, and the
oracle (:func:`impls.spec.models.forward` and friends) runs it in float64, so "the same model"
means the same list here, not four hand-written classes that might drift apart.

How a unit becomes a hidden layer depends on its kind (see ``blocks.KINDS``):

=============  ===============================================================
kind           hidden layer of width w after a layer of width p
=============  ===============================================================
activation     linear(p -> w) then the unit (per-feature units get features=w)
dense          the unit itself (in_features=p, out_features=w)
squasher       yat_dense(p -> w) then the unit (squashers need scores >= 0)
conv           not an MLP unit: use :class:`CNNSpec`
=============  ===============================================================
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from impls.spec import blocks


@dataclass(frozen=True)
class LayerSpec:
    """One block of a model with its fully resolved configuration."""

    block: str
    config: Mapping[str, Any]

    @property
    def n_params(self) -> int:
        return blocks.count_params(self.block, self.config)


def layer(block: str, **config: Any) -> LayerSpec:
    """Resolve and validate a block configuration into a :class:`LayerSpec`."""
    return LayerSpec(block, blocks.resolve_config(block, config))


def _activation(unit: str, width: int, unit_config: Mapping[str, Any], axis: int = -1) -> LayerSpec:
    """The unit acting on a layer of ``width`` features along ``axis``: what the spec says
    (``width_option``, an ``axis`` option), not a list of unit names kept here."""
    block = blocks.get_block(unit)
    config = dict(unit_config)
    if block.width_option is not None:
        config[block.width_option] = width
    if "axis" in block.defaults:
        config.setdefault("axis", axis)
    return layer(unit, **config)


def _yat_alpha_before(unit: str) -> str | None:
    """The Yat layer feeding a squasher gets a learnable alpha, except before a scale-invariant
    one (softermax), where alpha would be a parameter with zero gradient (Adam turns that ~0
    into sign noise)."""
    return None if blocks.get_block(unit).scale_invariant else "learnable"


def hidden_layers(unit: str, in_width: int, width: int,
                  unit_config: Mapping[str, Any] | None = None) -> list[LayerSpec]:
    """The blocks forming one hidden layer of ``width`` built from ``unit`` (see module doc)."""
    unit_config = dict(unit_config or {})
    kind = blocks.get_block(unit).kind
    if kind == "dense":
        return [layer(unit, in_features=in_width, out_features=width, **unit_config)]
    if kind == "activation":
        return [layer("linear", in_features=in_width, out_features=width),
                _activation(unit, width, unit_config)]
    if kind == "squasher":
        return [layer("yat_dense", in_features=in_width, out_features=width,
                      alpha=_yat_alpha_before(unit)),
                _activation(unit, width, unit_config)]
    raise ValueError(
        f"unit {unit!r} is a {kind} block and cannot form an MLP hidden layer; use CNNSpec"
    )


@dataclass(frozen=True)
class MLPSpec:
    """A multilayer perceptron: hidden layers built from one unit, then a linear head.

    ``MLPSpec(784, (128, 64, 32), 10, "aptx_layer")`` is the APTx paper's network.
    """

    in_features: int
    hidden: tuple[int, ...]
    out_features: int
    unit: str
    unit_config: Mapping[str, Any] = field(default_factory=dict)

    def layers(self) -> tuple[LayerSpec, ...]:
        specs: list[LayerSpec] = []
        width = self.in_features
        for h in self.hidden:
            specs.extend(hidden_layers(self.unit, width, h, self.unit_config))
            width = h
        specs.append(layer("linear", in_features=width, out_features=self.out_features))
        return tuple(specs)

    @property
    def n_params(self) -> int:
        return count_params(self.layers())


@dataclass(frozen=True)
class CNNSpec:
    """A small CNN whose "neuron" is swappable.

    Each conv block is conv(3x3, same padding) -> unit -> max_pool2d(2); then flatten, the
    dense hidden layers (as in :class:`MLPSpec`) and a linear head. Where the unit is a conv
    unit (``yat_conv2d``) it *replaces* conv + activation, and its dense twin ``yat_dense``
    forms the dense hidden layers. Dense-only units (``aptx_layer``, ``yat_dense``) keep
    ReLU conv blocks and act in the dense part, which is the only place they are defined.
    """

    in_channels: int
    image_size: int
    channels: tuple[int, ...]
    dense: tuple[int, ...]
    out_features: int
    unit: str
    unit_config: Mapping[str, Any] = field(default_factory=dict)
    kernel_size: int = 3

    def layers(self) -> tuple[LayerSpec, ...]:
        kind = blocks.get_block(self.unit).kind
        specs: list[LayerSpec] = []
        ch, size, pad = self.in_channels, self.image_size, self.kernel_size // 2
        for out_ch in self.channels:
            conv = {"in_channels": ch, "out_channels": out_ch, "kernel_size": self.kernel_size,
                    "padding": pad}
            if kind == "conv":
                specs.append(layer(self.unit, **conv, **self.unit_config))
            elif kind == "squasher":
                specs.append(layer("yat_conv2d", **conv, alpha=_yat_alpha_before(self.unit)))
                specs.append(_activation(self.unit, out_ch, self.unit_config, axis=1))
            else:
                specs.append(layer("conv2d", **conv))
                act = self.unit if kind == "activation" else "relu"
                act_config = self.unit_config if kind == "activation" else {}
                specs.append(_activation(act, out_ch, act_config, axis=1))
            specs.append(layer("max_pool2d", kernel_size=2))
            ch, size = out_ch, size // 2
        specs.append(layer("flatten"))
        width = ch * size * size
        dense_unit = "yat_dense" if kind == "conv" else self.unit
        dense_config = {} if kind == "conv" else self.unit_config
        for h in self.dense:
            specs.extend(hidden_layers(dense_unit, width, h, dense_config))
            width = h
        specs.append(layer("linear", in_features=width, out_features=self.out_features))
        return tuple(specs)

    @property
    def n_params(self) -> int:
        return count_params(self.layers())


def count_params(layers: Sequence[LayerSpec]) -> int:
    """Exact number of trainable parameter values of a model."""
    return sum(spec.n_params for spec in layers)


def solve_width(unit: str, in_features: int, out_features: int, depth: int,
                target_params: int, unit_config: Mapping[str, Any] | None = None,
                max_width: int = 1 << 16) -> int:
    """Uniform hidden width whose MLP parameter count is closest to ``target_params``.

    Parameter counts grow monotonically with the width, so a bisection finds the crossing and
    the closer of its two neighbours is returned (ties go to the smaller network). Used to
    compare units at equal parameter budgets rather than equal widths.
    """
    if depth < 1 or target_params < 1:
        raise ValueError(f"depth and target_params must be positive, received {depth}, {target_params}")

    def count(width: int) -> int:
        return MLPSpec(in_features, (width,) * depth, out_features, unit, unit_config or {}).n_params

    lo, hi = 1, max_width
    if count(hi) < target_params:
        raise ValueError(f"unit {unit!r}: no width <= {max_width} reaches {target_params} parameters")
    while lo < hi:
        mid = (lo + hi) // 2
        if count(mid) < target_params:
            lo = mid + 1
        else:
            hi = mid
    candidates = [w for w in (lo - 1, lo) if w >= 1]
    return min(candidates, key=lambda w: (abs(count(w) - target_params), w))


#: The APTx paper's MNIST network (spec §1.5): 332,330 trainable parameters.
APTX_PAPER_MLP = MLPSpec(784, (128, 64, 32), 10, "aptx_layer")
#: The NMN example MNIST network (spec §5.3): 235,148 trainable parameters.
NMN_EXAMPLE_MLP = MLPSpec(784, (256, 128), 10, "yat_dense")
