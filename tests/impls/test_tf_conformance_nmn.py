"""neuronbench's Keras Yat layers against nmn 0.3.5's Keras layers, given identical weights.

``nmn.keras.YatNMN`` keeps its kernel in the Keras layout ``[in, out]``, like our YatDense;
``nmn.keras.YatConv2D`` keeps ``[kh, kw, in, out]`` and runs channels-last, like our
YatConv2D inside (ours takes NCHW at the boundary). Weights are copied variable to variable,
then forward and every gradient are compared in float32 (relative L2, the tolerances of
impls/spec/tolerances.py). Under NEURONBENCH_CONFORMANCE=1 (CI) a missing nmn fails these
tests; otherwise they are skipped.
"""

from __future__ import annotations

import numpy as np
import pytest

import impls
from impls.spec.tolerances import relative_l2, tolerance
from tests.conftest import require_framework, require_original

pytestmark = pytest.mark.conformance


@pytest.fixture(autouse=True)
def _tf_selected() -> None:
    require_framework("tf")


def _nmn_keras():
    require_original("nmn")
    return require_original("nmn.keras")


def _assert_close(got, want, check: str, what: str) -> None:
    err = relative_l2(np.asarray(got), np.asarray(want), "float32")
    assert err <= tolerance("float32", check), f"{what}: relative error {err:.2e}"


def _their_gradients(layer, x: np.ndarray, upstream: np.ndarray, names: dict[str, str]):
    import tensorflow as tf

    xt = tf.constant(x, tf.float32)
    variables = [getattr(layer, their) for their in names.values()]
    with tf.GradientTape() as tape:
        tape.watch(xt)
        y = layer(xt)
    grads = tape.gradient(y, [xt, *variables], output_gradients=tf.constant(upstream, tf.float32))
    return y.numpy(), grads[0].numpy(), dict(zip(names, (g.numpy() for g in grads[1:]), strict=True))


#: (our alpha option, nmn.keras.YatNMN keyword arguments)
_ALPHAS = [
    ("learnable", {"use_alpha": True}),
    (0.7, {"constant_alpha": 0.7}),
    ("sqrt2", {"constant_alpha": True}),
    (None, {"use_alpha": False}),
]


@pytest.mark.parametrize("spherical", [False, True], ids=["euclidean", "spherical"])
@pytest.mark.parametrize(("alpha", "alpha_kwargs"), _ALPHAS, ids=[str(a) for a, _ in _ALPHAS])
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "nobias"])
def test_yat_dense_matches_nmn_keras(bias: bool, alpha, alpha_kwargs, spherical: bool) -> None:
    nmn_keras = _nmn_keras()
    in_features, out_features = 7, 5
    ours = impls.build("yat_dense", "tf", seed=1, in_features=in_features, out_features=out_features,
                       bias=bias, alpha=alpha, spherical=spherical)
    params = impls.get_params(ours)
    rng = np.random.default_rng(2)
    if "alpha" in params:  # away from the initial 1.0, so a dropped alpha would show
        params["alpha"] = np.asarray(1.3, np.float32)
    if "bias" in params:
        params["bias"] = rng.normal(0, 0.5, out_features).astype(np.float32)
    impls.set_params(ours, params)

    theirs = nmn_keras.YatNMN(out_features, use_bias=bias, spherical=spherical, epsilon=1e-5, **alpha_kwargs)
    theirs.build((None, in_features))
    theirs.kernel.assign(ours.variable("weight").numpy())          # both [in, out]
    names = {"weight": "kernel"}
    if bias:
        theirs.bias.assign(params["bias"])
        names["bias"] = "bias"
    if alpha == "learnable":
        theirs.alpha.assign(np.reshape(params["alpha"], (1,)))
        names["alpha"] = "alpha"
    else:
        assert theirs.alpha is None

    x = rng.normal(0, 2, (16, in_features)).astype(np.float32)
    upstream = rng.standard_normal((16, out_features)).astype(np.float32)
    y_theirs, dx_theirs, grads_theirs = _their_gradients(theirs, x, upstream, names)
    _assert_close(impls.forward(ours, x), y_theirs, "forward", "forward")
    dx, grads = impls.vjp(ours, x, upstream)
    assert set(grads) == set(names)
    _assert_close(dx, dx_theirs, "gradient", "grad x")
    for name, their in grads_theirs.items():
        want = their.T if name == "weight" else np.reshape(their, grads[name].shape)
        _assert_close(grads[name], want, "gradient", f"grad {name}")


@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("alpha", ["learnable", None], ids=["learnable", "none"])
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "nobias"])
def test_yat_conv2d_matches_nmn_keras(bias: bool, alpha, stride: int) -> None:
    nmn_keras = _nmn_keras()
    ours = impls.build("yat_conv2d", "tf", seed=3, in_channels=3, out_channels=4, kernel_size=3,
                       stride=stride, bias=bias, alpha=alpha)
    params = impls.get_params(ours)
    rng = np.random.default_rng(4)
    if "alpha" in params:
        params["alpha"] = np.asarray(0.8, np.float32)
    impls.set_params(ours, params)

    theirs = nmn_keras.YatConv2D(4, 3, strides=stride, padding="valid", use_bias=bias,
                                 use_alpha=alpha is not None, epsilon=1e-5)
    theirs.build((None, 9, 8, 3))
    theirs.kernel.assign(ours.variable("weight").numpy())          # both [kh, kw, in, out]
    names = {"weight": "kernel"}
    if bias:
        theirs.bias.assign(params["bias"])
        names["bias"] = "bias"
    if alpha is not None:
        theirs.alpha.assign(np.reshape(params["alpha"], (1,)))
        names["alpha"] = "alpha"

    x = rng.normal(0, 1, (2, 3, 9, 8)).astype(np.float32)          # NCHW for ours
    x_nhwc = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
    y = impls.forward(ours, x)
    upstream = rng.standard_normal(y.shape).astype(np.float32)
    y_theirs, dx_theirs, grads_theirs = _their_gradients(
        theirs, x_nhwc, np.ascontiguousarray(upstream.transpose(0, 2, 3, 1)), names)
    _assert_close(y, y_theirs.transpose(0, 3, 1, 2), "forward", "forward")
    dx, grads = impls.vjp(ours, x, upstream)
    _assert_close(dx, dx_theirs.transpose(0, 3, 1, 2), "gradient", "grad x")
    for name, their in grads_theirs.items():
        want = their.transpose(3, 2, 0, 1) if name == "weight" else np.reshape(their, grads[name].shape)
        _assert_close(grads[name], want, "gradient", f"grad {name}")
