"""Conformance of the JAX YatDense with the original ``nmn.nnx.YatNMN`` (nmn 0.3.5).

Both layers receive identical weights (nmn's NNX kernel is ``[in, out]``, the canonical weight
``[out, in]``; nmn's learnable alpha has shape ``(1,)``, the canonical one ``()``) and the same
float32 inputs, at ordinary and extreme magnitudes. Forward outputs must agree to 1e-5 and the
gradients (input, kernel, bias, alpha) to 1e-4 in relative L2, the project's float32 tolerances.
Under ``NEURONBENCH_CONFORMANCE=1`` a missing nmn fails these tests instead of skipping them.
"""

from __future__ import annotations

import numpy as np
import pytest

import impls
from impls.spec.cases import SCALES
from impls.spec.tolerances import relative_l2, tolerance
from tests.conftest import require_framework, require_original

pytestmark = pytest.mark.conformance

IN, OUT, BATCH = 7, 5, 6

#: (canonical options, YatNMN keyword arguments)
VARIANTS = [
    ({}, {}),
    ({"bias": False}, {"use_bias": False}),
    ({"alpha": 0.7}, {"constant_alpha": 0.7}),
    ({"alpha": "sqrt2"}, {"constant_alpha": True}),
    ({"alpha": None}, {"use_alpha": False}),
    ({"alpha": None, "bias": False}, {"use_alpha": False, "use_bias": False}),
    ({"spherical": True}, {"spherical": True}),
    ({"spherical": True, "bias": False, "alpha": None},
     {"spherical": True, "use_bias": False, "use_alpha": False}),
    ({"epsilon": 1e-3}, {"epsilon": 1e-3}),
]


def _nmn_layer(nnx_module, kwargs: dict, params: dict):
    import jax.numpy as jnp
    from flax import nnx

    layer = nnx_module.YatNMN(IN, OUT, rngs=nnx.Rngs(0), param_dtype=jnp.float32, **kwargs)
    layer.kernel.set_value(jnp.asarray(params["weight"].T, jnp.float32))
    if "bias" in params:
        layer.bias.set_value(jnp.asarray(params["bias"], jnp.float32))
    if "alpha" in params:
        layer.alpha.set_value(jnp.asarray(params["alpha"], jnp.float32).reshape(1))
    return layer


@pytest.mark.parametrize(("options", "kwargs"), VARIANTS, ids=lambda v: ",".join(f"{k}={x}" for k, x in v.items()) or "default")
def test_yat_dense_matches_nmn_yatnmn(options: dict, kwargs: dict) -> None:
    require_framework("jax")
    nmn_nnx = require_original("nmn.nnx")
    import jax
    import jax.numpy as jnp
    from flax import nnx

    layer = impls.build("yat_dense", "jax", seed=5, in_features=IN, out_features=OUT, **options)
    rng = np.random.default_rng(17)
    params = {k: (v + 0.2 * rng.standard_normal(v.shape)).astype(np.float32)
              for k, v in impls.get_params(layer).items()}
    impls.set_params(layer, params)
    theirs = _nmn_layer(nmn_nnx, kwargs, params)
    # The configuration really is the one intended (a silent default would pass vacuously).
    assert (theirs.bias is not None) == ("bias" in params)
    assert (theirs.alpha is not None) == ("alpha" in params)

    graphdef, state = nnx.split(theirs)

    def their_output(x, state):
        return nnx.merge(graphdef, state)(x, deterministic=True)

    for scale in SCALES:
        x = (rng.standard_normal((BATCH, IN)) * scale).astype(np.float32)
        y = impls.forward(layer, x)
        y_nmn = np.asarray(their_output(jnp.asarray(x), state))
        assert y_nmn.dtype == np.float32 and y.dtype == np.float32
        err = relative_l2(y, y_nmn, "float32")
        assert err <= tolerance("float32", "forward"), f"{options} scale {scale}: forward error {err:.2e}"

        g = rng.standard_normal((BATCH, OUT)).astype(np.float32)
        dx, grads = impls.vjp(layer, x, g)
        _, pullback = jax.vjp(their_output, jnp.asarray(x), state)
        dx_nmn, dstate = pullback(jnp.asarray(g))
        theirs_grads = nnx.to_pure_dict(dstate)
        pairs = {"x": (dx, np.asarray(dx_nmn)), "weight": (grads["weight"], np.asarray(theirs_grads["kernel"]).T)}
        if "bias" in grads:
            pairs["bias"] = (grads["bias"], np.asarray(theirs_grads["bias"]))
        if "alpha" in grads:
            pairs["alpha"] = (grads["alpha"], np.asarray(theirs_grads["alpha"]).reshape(()))
        for name, (ours_g, nmn_g) in pairs.items():
            err = relative_l2(ours_g, nmn_g, "float32")
            assert err <= tolerance("float32", "gradient"), f"{options} scale {scale}: gradient of {name}: {err:.2e}"
