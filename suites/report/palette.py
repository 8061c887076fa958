"""One colour and one order per unit and framework, shared by every table and figure.

Defined once so that "gelu" is the same colour in every figure of the paper and units appear in
the same order in every table; a unit not listed here gets a fallback colour fixed by a checksum of
its name, so it is the same in every figure and adding a unit never changes another unit's colour.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable

#: Baselines first, then the activations, then the trainable neurons (layers).
UNIT_ORDER: tuple[str, ...] = (
    "relu", "gelu", "prelu", "swish", "aptx_activation", "lselu", "actmix", "yat_dense",
    "aptx_layer",
)

#: Colour-blind-safe (Okabe-Ito + Tol) colours, fixed per unit. Every unit of ``impls.UNITS``
#: has its own: the checksum fallback gave tanh, sigmoid and softer_sigmoid one colour, and
#: yat_conv2d a light blue next to prelu's in the CIFAR-10 curves.
UNIT_COLORS: dict[str, str] = {
    "relu": "#000000",
    "gelu": "#E69F00",
    "prelu": "#56B4E9",
    "swish": "#009E73",
    "aptx_activation": "#CC79A7",
    "lselu": "#0072B2",
    "actmix": "#D55E00",
    "yat_dense": "#882255",
    "aptx_layer": "#999933",
    "yat_conv2d": "#661100",
    "tanh": "#332288",
    "sigmoid": "#AA4499",
    "softmax": "#117733",
    "softermax": "#44AA99",
    "softer_sigmoid": "#6699CC",
    "soft_tanh": "#DDCC77",
}

#: Colours for units not in UNIT_COLORS (a new built-in or a plug-in's unit), picked by crc32
#: of the name from Tol's light and muted schemes, none of them a colour of UNIT_COLORS: a new
#: unit never shares a colour with a listed one, and adding it changes no other unit's colour.
_FALLBACK_COLORS: tuple[str, ...] = (
    "#88CCEE", "#EE8866", "#EEDD88", "#FFAABB", "#99DDFF", "#BBCC33", "#AAAA00", "#77AADD",
)

FRAMEWORK_ORDER: tuple[str, ...] = ("numpy", "torch", "jax", "tf")
FRAMEWORK_LABELS: dict[str, str] = {"numpy": "NumPy", "torch": "PyTorch", "jax": "JAX",
                                    "tf": "TensorFlow"}


def _ordered(names: Iterable[str], order: tuple[str, ...]) -> list[str]:
    names = set(names)
    return [n for n in order if n in names] + sorted(names - set(order))


def order_units(units: Iterable[str]) -> list[str]:
    """Units in the report's fixed order (unknown units after the known ones, by name)."""
    return _ordered(units, UNIT_ORDER)


def order_frameworks(frameworks: Iterable[str]) -> list[str]:
    """Frameworks in the report's fixed order (numpy, torch, jax, tf, then others by name)."""
    return _ordered(frameworks, FRAMEWORK_ORDER)


def framework_label(framework: str) -> str:
    """How a framework is named in every table and figure ("torch" -> "PyTorch")."""
    return FRAMEWORK_LABELS.get(framework, framework)


def unit_color(unit: str) -> str:
    """Colour of one unit: UNIT_COLORS, else a fallback fixed by its name (stable across runs)."""
    if unit in UNIT_COLORS:
        return UNIT_COLORS[unit]
    return _FALLBACK_COLORS[zlib.crc32(unit.encode()) % len(_FALLBACK_COLORS)]


def unit_palette(units: Iterable[str]) -> dict[str, str]:
    """Colour of each unit, in the report's unit order (a seaborn ``palette`` mapping)."""
    return {unit: unit_color(unit) for unit in order_units(units)}
