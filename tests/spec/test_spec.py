"""Block specs, public API validation, parameter counting and the width solver."""

from __future__ import annotations

import math

import numpy as np
import pytest

import impls
from impls import spec

EXPECTED_UNITS = (
    "aptx_activation", "aptx_layer", "actmix", "lselu", "relu", "prelu", "swish", "gelu", "tanh",
    "sigmoid", "softmax", "yat_dense", "yat_conv2d", "softermax", "softer_sigmoid", "soft_tanh",
)


def test_units_and_frameworks() -> None:
    # The design card's units, in its order; a unit added later (built-in or plug-in) follows.
    assert impls.UNITS[: len(EXPECTED_UNITS)] == EXPECTED_UNITS
    assert impls.FRAMEWORKS == ("numpy", "torch", "jax", "tf")


def test_unknown_unit_names_known_units() -> None:
    with pytest.raises(ValueError, match="unknown unit 'nope'") as info:
        impls.build("nope", "torch")
    for unit in EXPECTED_UNITS:
        assert unit in str(info.value)


def test_unknown_framework_names_known_frameworks() -> None:
    with pytest.raises(ValueError, match=r"unknown framework .mxnet.*numpy, torch, jax, tf"):
        impls.build("relu", "mxnet")


def test_unknown_dtype() -> None:
    with pytest.raises(ValueError, match="unknown dtype 'float16'"):
        impls.build("relu", "numpy", dtype="float16")


@pytest.mark.parametrize(
    ("unit", "config", "message"),
    [
        ("aptx_layer", {"in_features": 3}, "missing required option.*out_features"),
        ("aptx_layer", {"in_features": 3, "out_features": 2, "alpha_trainabel": False}, "unknown option.*alpha_trainabel"),
        ("aptx_layer", {"in_features": 0, "out_features": 2}, "option 'in_features' must be a positive integer"),
        ("actmix", {"features": 4, "basis": ("sin", "cosine")}, "option 'basis' must be a non-empty .* among"),
        ("actmix", {"features": 4, "temperature": 0.0}, "option 'temperature' must be a positive finite number"),
        ("yat_dense", {"in_features": 3, "out_features": 2, "alpha": True}, "option 'alpha' must be"),
        ("softermax", {"n": 0}, "option 'n' must be a positive finite number"),
        ("softmax", {"temperature": 0.0}, "'temperature' \\+ 'epsilon' must be positive"),
    ],
)
def test_bad_options_raise_value_errors_naming_the_problem(unit, config, message) -> None:
    with pytest.raises(ValueError, match=message) as info:
        spec.resolve_config(unit, config)
    assert repr(unit) in str(info.value)


def test_bad_parameters_name_expected_and_received() -> None:
    config = spec.resolve_config("aptx_layer", {"in_features": 3, "out_features": 2})
    params = spec.init_params("aptx_layer", config)
    with pytest.raises(ValueError, match=r"expected parameters .*missing \['delta'\]"):
        spec.check_params("aptx_layer", config, {k: v for k, v in params.items() if k != "delta"})
    with pytest.raises(ValueError, match=r"parameter 'beta' expected shape \(2, 3\), received \(3, 2\)"):
        spec.check_params("aptx_layer", config, {**params, "beta": params["beta"].T})


@pytest.mark.parametrize(
    ("unit", "config", "shape", "message"),
    [
        ("aptx_layer", {"in_features": 3, "out_features": 2}, (4, 5), r"\[batch, in_features=3\], received shape \(4, 5\)"),
        ("aptx_layer", {"in_features": 3, "out_features": 2}, (2, 4, 3), r"received shape \(2, 4, 3\)"),
        ("prelu", {"features": 3}, (4, 5), "features=3 on axis -1"),
        ("yat_conv2d", {"in_channels": 3, "out_channels": 2, "kernel_size": 3}, (1, 2, 8, 8), "in_channels=3"),
        ("softer_sigmoid", {}, (2, 2), "non-negative"),
    ],
)
def test_bad_inputs_raise_value_errors(unit, config, shape, message) -> None:
    resolved = spec.resolve_config(unit, config)
    x = -np.ones(shape)
    with pytest.raises(ValueError, match=message):
        spec.check_input(unit, resolved, x)


def test_seeded_initialisation_is_deterministic_and_seed_dependent() -> None:
    config = {"in_features": 5, "out_features": 4}
    a = spec.init_params("aptx_layer", config, seed=1)
    b = spec.init_params("aptx_layer", config, seed=1)
    c = spec.init_params("aptx_layer", config, seed=2)
    for name in a:
        np.testing.assert_array_equal(a[name], b[name])
    assert not np.array_equal(a["beta"], c["beta"])
    np.testing.assert_array_equal(a["delta"], np.zeros(4))


def test_inits_follow_the_spec() -> None:
    fixed = spec.init_params("aptx_layer", {"in_features": 50, "out_features": 40, "alpha_trainable": False})
    np.testing.assert_array_equal(fixed["alpha"], np.ones((40, 50)))
    big = spec.init_params("aptx_layer", {"in_features": 200, "out_features": 100})
    assert abs(big["beta"].std() - 1.0) < 0.02  # unit normals, no fan-in scaling (spec §1.2)
    logits = spec.init_params("actmix", {"features": 3})["logits"]
    np.testing.assert_array_equal(logits, [[0, 0, 1.5, 0]] * 3)
    coefficients = spec.actmix_coefficients(logits, 1.0)[0]
    np.testing.assert_allclose(coefficients, [0.1337, 0.1337, 0.599, 0.1337], atol=5e-4)
    assert spec.actmix_entropy(logits, 1.0) == pytest.approx(1.114, abs=1e-3)
    uniform = spec.init_params("actmix", {"features": 3, "relu_bias": 0.0})["logits"]
    assert spec.actmix_entropy(uniform, 1.0) == pytest.approx(math.log(4))
    yat = spec.init_params("yat_dense", {"in_features": 300, "out_features": 200})
    assert yat["weight"].std() == pytest.approx(math.sqrt(2 / 500), rel=0.03)
    assert yat["alpha"] == 1.0


def test_paper_parameter_counts() -> None:
    assert spec.APTX_PAPER_MLP.n_params == 332_330
    assert spec.NMN_EXAMPLE_MLP.n_params == 235_148
    per_layer = [layer.n_params for layer in spec.APTX_PAPER_MLP.layers()]
    assert per_layer == [301_184, 24_640, 6_176, 330]
    fixed_alpha = spec.MLPSpec(784, (128, 64, 32), 10, "aptx_layer", {"alpha_trainable": False})
    assert fixed_alpha.n_params == 221_738


def test_actmix_paper_counts() -> None:
    """ActMix parameter counts of spec §3.2 (hidden [128, 128])."""
    for in_dim, out_dim, expected in ((4, 1, (17_281, 17_537, 18_305)), (10, 2, (18_178, 18_434, 19_202)),
                                      (104, 2, (30_210, 30_466, 31_234))):
        counts = tuple(spec.MLPSpec(in_dim, (128, 128), out_dim, unit).n_params for unit in ("relu", "prelu", "actmix"))
        assert counts == expected


def test_count_params_matches_the_formula() -> None:
    for o, i in ((3, 7), (128, 784)):
        assert spec.blocks.count_params("aptx_layer", {"in_features": i, "out_features": o}) == o * (3 * i + 1)
        assert spec.blocks.count_params("aptx_layer", {"in_features": i, "out_features": o, "alpha_trainable": False}) == o * (2 * i + 1)
        assert spec.blocks.count_params(
            "aptx_layer", {"in_features": i, "out_features": o, "alpha_trainable": False}, trainable_only=False
        ) == o * (3 * i + 1)


def test_width_solver_matches_target() -> None:
    target = spec.APTX_PAPER_MLP.n_params
    width = spec.solve_width("relu", 784, 10, 3, target)
    count = spec.MLPSpec(784, (width,) * 3, 10, "relu").n_params
    below = spec.MLPSpec(784, (width - 1,) * 3, 10, "relu").n_params
    above = spec.MLPSpec(784, (width + 1,) * 3, 10, "relu").n_params
    assert abs(count - target) <= min(abs(below - target), abs(above - target))
    assert spec.solve_width("aptx_layer", 784, 10, 1, 301_184 + 1290) == 128
    with pytest.raises(ValueError, match="no width"):
        spec.solve_width("relu", 4, 2, 1, 10**12, max_width=64)


def test_cnn_spec_layers_and_counts() -> None:
    cnn = spec.CNNSpec(3, 32, (16, 32), (64,), 10, "prelu")
    names = [layer.block for layer in cnn.layers()]
    assert names == ["conv2d", "prelu", "max_pool2d", "conv2d", "prelu", "max_pool2d", "flatten",
                     "linear", "prelu", "linear"]
    expected = (3 * 9 * 16 + 16) + 16 + (16 * 9 * 32 + 32) + 32 + (32 * 8 * 8 * 64 + 64) + 64 + (64 * 10 + 10)
    assert cnn.n_params == expected
    yat = [layer.block for layer in spec.CNNSpec(1, 8, (2,), (4,), 3, "yat_conv2d").layers()]
    assert yat == ["yat_conv2d", "max_pool2d", "flatten", "yat_dense", "linear"]


def test_mlp_rejects_conv_units() -> None:
    with pytest.raises(ValueError, match="cannot form an MLP hidden layer"):
        spec.MLPSpec(4, (3,), 2, "yat_conv2d").layers()


def test_yat_alpha_false_is_no_scale_not_zero() -> None:
    """nmn < 0.3.5 turned constant_alpha=False into 0.0 and zeroed the output (spec §5.1)."""
    x = np.random.default_rng(0).standard_normal((3, 4))
    config = {"in_features": 4, "out_features": 2, "alpha": False}
    params = spec.init_params("yat_dense", config)
    y_false = spec.reference("yat_dense", params, x, **config)
    y_none = spec.reference("yat_dense", params, x, **{**config, "alpha": None})
    assert np.all(y_false > 0)
    np.testing.assert_array_equal(y_false, y_none)


def test_aptx_identities() -> None:
    """alpha=1, gamma=1/2: APTx(x) = x sigmoid(2 beta x); beta = 1/2 gives SiLU exactly."""
    x = np.linspace(-6, 6, 101)
    params = {"alpha": np.array(1.0), "beta": np.array(0.5), "gamma": np.array(0.5)}
    y = spec.reference("aptx_activation", params, x)
    np.testing.assert_allclose(y, spec.reference("swish", {}, x), rtol=1e-12, atol=1e-15)


def test_lselu_properties() -> None:
    params = spec.init_params("lselu")
    assert spec.reference("lselu", params, np.array([0.0]))[0] == 0.0
    slope_left = spec.reference_grad("lselu", params, np.array([-1e-12]), np.array([1.0]))[0][0]
    assert slope_left == pytest.approx(1.9682, abs=1e-4)
    dx, grads = spec.reference_grad("lselu", params, np.array([1000.0, -1000.0]), np.ones(2))
    assert np.all(np.isfinite(dx)) and all(np.all(np.isfinite(g)) for g in grads.values())
