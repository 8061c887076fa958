"""Entry-point targets for tests/plugins/test_registry_plugins.py: good and broken plug-ins."""

from __future__ import annotations

import numpy as np

from impls.spec import options
from impls.spec.blocks import BlockSpec


def _oracle(params, x, config, upstream):
    """y = scale * x (forward), or its gradients."""
    if upstream is None:
        return params["scale"] * x
    return upstream * params["scale"], {"scale": np.asarray(np.sum(upstream * x))}


GOOD = BlockSpec(
    name="scaled_identity", kind="activation", summary="scale * x, scale learnable",
    defaults={"init": 1.0}, options={"init": options.FINITE},
    param_shapes=lambda c: {"scale": ()},
    initialise=lambda c, rng: {"scale": np.array(float(c["init"]))},
    trainable=lambda c: ("scale",), oracle=_oracle,
    classes={"numpy": "tests.plugins.fake_numpy:ScaledIdentity"},
)


def several():
    """An entry point may name a function returning several specs."""
    from dataclasses import replace

    return [replace(GOOD, name="scaled_identity_a"), replace(GOOD, name="scaled_identity_b")]


#: Collides with a built-in unit: refused, the built-in stays.
TAKES_RELU = BlockSpec(
    name="relu", kind="activation", summary="an impostor", defaults={}, options={},
    param_shapes=lambda c: {}, initialise=lambda c, rng: {}, oracle=_oracle,
    classes={"numpy": "tests.plugins.fake_numpy:ScaledIdentity"},
)

#: An option without a kind and no oracle: refused with both problems named.
NO_ORACLE = BlockSpec(
    name="half_done", kind="activation", summary="missing pieces", defaults={"k": 1.0},
    options={}, param_shapes=lambda c: {}, initialise=lambda c, rng: {},
    classes={"numpy": "tests.plugins.fake_numpy:ScaledIdentity"},
)

NOT_A_SPEC = {"name": "a dict is not a spec"}
