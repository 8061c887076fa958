"""neuronbench's PyTorch units against the original packages, given identical weights.

aptx-neuron 0.0.10 (aptx_layer, aptx_neuron, aptx_activation_function), nmn 0.3.5
(nmn.torch.YatNMN, nmn.torch.YatConv2D) and mpneuralnetwork 1.1.1's activations where their
maths is correct (spec §2.1: Swish below -88.7 and PReLU above slope 1 are not). Under
NEURONBENCH_CONFORMANCE=1 (CI) a missing package fails these tests.
"""

from __future__ import annotations

import numpy as np
import pytest

import impls
from impls.spec.tolerances import relative_l2, tolerance
from tests.conftest import require_framework, require_original

pytestmark = pytest.mark.conformance

torch = pytest.importorskip("torch", reason="conformance with the torch originals needs torch")


@pytest.fixture(autouse=True)
def _torch_selected() -> None:
    require_framework("torch")


def _assert_close(got, want, check: str, what: str) -> None:
    err = relative_l2(np.asarray(got), np.asarray(want), "float32")
    assert err <= tolerance("float32", check), f"{what}: relative error {err:.2e}"


def _compare_module(ours, theirs, x: np.ndarray, names: dict[str, str], reshape=None) -> None:
    """Forward and every gradient of ours (via the public API) and theirs (a torch module)."""
    y = impls.forward(ours, x)
    xt = torch.tensor(x, dtype=torch.float32, requires_grad=True)
    y_theirs = theirs(xt)
    _assert_close(y, y_theirs.detach().numpy(), "forward", "forward")
    upstream = np.random.default_rng(1).standard_normal(y.shape).astype(np.float32)
    dx, grads = impls.vjp(ours, x, upstream)
    y_theirs.backward(torch.tensor(upstream))
    _assert_close(dx, xt.grad.numpy(), "gradient", "grad x")
    for ours_name, their_name in names.items():
        their_grad = getattr(theirs, their_name).grad.numpy()
        if reshape is not None:
            their_grad = reshape(ours_name, their_grad)
        _assert_close(grads[ours_name], their_grad.reshape(grads[ours_name].shape), "gradient", f"grad {ours_name}")


def _load(module, params: dict[str, np.ndarray], mapping: dict[str, str]) -> None:
    with torch.no_grad():
        for ours_name, their_name in mapping.items():
            target = getattr(module, their_name)
            target.copy_(torch.tensor(params[ours_name], dtype=torch.float32).reshape(target.shape))


@pytest.mark.parametrize("alpha_trainable", [True, False])
@pytest.mark.parametrize("use_delta", [True, False])
def test_aptx_layer_matches_package(alpha_trainable: bool, use_delta: bool) -> None:
    aptx = require_original("aptx_neuron")
    ours = impls.build("aptx_layer", "torch", seed=1, in_features=7, out_features=5,
                       alpha_trainable=alpha_trainable, use_delta=use_delta)
    theirs = aptx.aptx_layer(7, 5, is_alpha_trainable=alpha_trainable, use_delta=use_delta)
    names = [n for n in ("alpha", "beta", "gamma", "delta") if n in impls.get_params(ours)]
    _load(theirs, impls.get_params(ours), {n: n for n in names})
    x = np.random.default_rng(0).normal(0, 3, (16, 7)).astype(np.float32)
    trainable = [n for n in names if n != "alpha" or alpha_trainable]
    _compare_module(ours, theirs, x, {n: n for n in trainable})


def test_aptx_neuron_is_a_one_output_layer() -> None:
    aptx = require_original("aptx_neuron")
    ours = impls.build("aptx_layer", "torch", seed=2, in_features=9, out_features=1)
    theirs = aptx.aptx_neuron(9)
    _load(theirs, impls.get_params(ours), {n: n for n in ("alpha", "beta", "gamma", "delta")})
    x = np.random.default_rng(3).standard_normal((8, 9)).astype(np.float32)
    _compare_module(ours, theirs, x, {n: n for n in ("alpha", "beta", "gamma", "delta")})


@pytest.mark.parametrize("trainable", [True, False])
def test_aptx_activation_matches_package(trainable: bool) -> None:
    aptx = require_original("aptx_neuron")
    ours = impls.build("aptx_activation", "torch", alpha=0.7, beta=1.3, gamma=0.4, trainable=trainable)
    theirs = aptx.aptx_activation_function(alpha=0.7, beta=1.3, gamma=0.4, trainable=trainable)
    x = np.random.default_rng(4).normal(0, 4, (6, 5)).astype(np.float32)
    names = {n: n for n in ("alpha", "beta", "gamma")} if trainable else {}
    _compare_module(ours, theirs, x, names)


YAT_VARIANTS = [
    ({"bias": True, "alpha": "learnable"}, {"bias": True, "alpha": True}),
    ({"bias": False, "alpha": "learnable"}, {"bias": False, "alpha": True}),
    ({"alpha": "sqrt2"}, {"constant_alpha": True}),
    ({"alpha": 0.5}, {"constant_alpha": 0.5}),
    ({"alpha": None}, {"alpha": False}),
    ({"alpha": False}, {"constant_alpha": False}),  # the fixed "False trap": means no scale
    ({"spherical": True}, {"spherical": True}),
    ({"spherical": True, "bias": False}, {"spherical": True, "bias": False}),
]


@pytest.mark.parametrize(("ours_config", "their_config"), YAT_VARIANTS, ids=[str(v[0]) for v in YAT_VARIANTS])
def test_yat_dense_matches_nmn(ours_config, their_config) -> None:
    nmn_torch = require_original("nmn.torch")
    ours = impls.build("yat_dense", "torch", seed=5, in_features=6, out_features=4, **ours_config)
    theirs = nmn_torch.YatNMN(6, 4, **their_config)
    params = impls.get_params(ours)
    _load(theirs, params, {n: n for n in params})
    x = np.random.default_rng(6).standard_normal((10, 6)).astype(np.float32)
    trainable = {n: n for n in params}
    _compare_module(ours, theirs, x, trainable)


@pytest.mark.parametrize(("config", "their_extra"), [
    ({"stride": 1, "padding": 0}, {}),
    ({"stride": 2, "padding": 1}, {}),
    ({"bias": False, "alpha": None}, {"use_alpha": False}),
    ({"alpha": "sqrt2"}, {"constant_alpha": True}),
])
def test_yat_conv2d_matches_nmn(config, their_extra) -> None:
    nmn_torch = require_original("nmn.torch")
    ours = impls.build("yat_conv2d", "torch", seed=7, in_channels=3, out_channels=4, kernel_size=3, **config)
    theirs = nmn_torch.YatConv2D(3, 4, 3, stride=config.get("stride", 1), padding=config.get("padding", 0),
                                 bias=config.get("bias", True), **their_extra)
    params = impls.get_params(ours)
    _load(theirs, params, {n: n for n in params})
    x = np.random.default_rng(8).standard_normal((2, 3, 9, 8)).astype(np.float32)
    _compare_module(ours, theirs, x, {n: n for n in params})


MPNN_CASES = [
    ("relu", {}, "ReLU", {}),
    ("tanh", {}, "Tanh", {}),
    ("sigmoid", {}, "Sigmoid", {}),
    ("swish", {}, "Swish", {}),
    ("prelu", {"features": 5, "init": 0.01}, "PReLU", {"alpha": 0.01}),
    ("prelu", {"features": 5, "init": 0.5}, "PReLU", {"alpha": 0.5}),
    ("softmax", {"epsilon": 1e-8}, "Softmax", {}),
    ("softmax", {"epsilon": 1e-8, "temperature": 0.5}, "Softmax", {"temperature": 0.5}),
]


@pytest.mark.parametrize(("unit", "config", "cls", "their_config"), MPNN_CASES, ids=[f"{c[2]}{c[3]}" for c in MPNN_CASES])
def test_activations_match_mpneuralnetwork(unit, config, cls, their_config) -> None:
    mpnn = require_original("mpneuralnetwork.activations")
    ours = impls.build(unit, "torch", **config)
    theirs = getattr(mpnn, cls)(**their_config)
    # |x| < 80: inside the range where mpneuralnetwork's formulas are correct (spec §2.1).
    x = np.random.default_rng(9).normal(0, 5, (8, 5)).astype(np.float32).clip(-80, 80)
    _assert_close(impls.forward(ours, x), theirs.forward(x.copy()), "forward", f"{cls} forward")
    upstream = np.random.default_rng(10).standard_normal(x.shape).astype(np.float32)
    dx, _ = impls.vjp(ours, x, upstream)
    _assert_close(dx, theirs.backward(upstream.copy()), "gradient", f"{cls} backward")
