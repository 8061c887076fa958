"""Regression tests for the seed projects' bugs (spec §7), the same checks in every framework.

Each test names the spec item it guards. The original behaviour, where it is worth reproducing,
sits behind an explicit option (lselu ``safe=False``, softmax ``epsilon``, yat ``semantics``), and
the default is the correct maths.
"""

from __future__ import annotations

import numpy as np
import pytest

import impls
from impls import spec
from tests.conftest import require_framework, selected_frameworks

FRAMEWORKS = selected_frameworks()


@pytest.fixture(params=FRAMEWORKS)
def framework(request) -> str:
    require_framework(request.param)
    return request.param


def _finite(*arrays) -> bool:
    return all(np.all(np.isfinite(a)) for a in arrays)


def test_lselu_gradients_finite_for_any_finite_input(framework: str) -> None:
    """§4.3/§7.5: the original where() evaluates exp(beta x) on the unselected branch: NaN above ~88.7."""
    layer = impls.build("lselu", framework)
    x = np.array([-1e30, -100.0, -89.0, 0.0, 88.0, 89.0, 100.0, 1e4, 3e38], dtype=np.float32)
    dx, grads = impls.vjp(layer, x, np.ones_like(x))
    assert _finite(impls.forward(layer, x), dx, *grads.values())


def test_lselu_original_nan_only_behind_the_flag(framework: str) -> None:
    x = np.array([-2.0, 1.0, 89.0], dtype=np.float32)
    safe, unsafe = impls.build("lselu", framework), impls.build("lselu", framework, safe=False)
    np.testing.assert_array_equal(impls.forward(safe, x), impls.forward(unsafe, x))
    dx, _ = impls.vjp(unsafe, x, np.ones_like(x))
    assert np.isnan(dx[2]) and np.isfinite(dx[0])


@pytest.mark.parametrize("config", [{}, {"learnable": True}], ids=["fixed", "learnable"])
def test_swish_finite_at_minus_100(framework: str, config: dict) -> None:
    """§7.4: mpneuralnetwork's Swish backward is NaN for x below about -88.7 (exp overflow)."""
    layer = impls.build("swish", framework, **config)
    x = np.array([-1000.0, -100.0, 100.0], dtype=np.float32)
    dx, grads = impls.vjp(layer, x, np.ones_like(x))
    assert _finite(impls.forward(layer, x), dx, *grads.values())


def test_prelu_slope_learnable_and_correct_above_one(framework: str) -> None:
    """§7.4: mpneuralnetwork's PReLU computes max(x, a x) (wrong for a > 1) and never trains a."""
    layer = impls.build("prelu", framework, features=2, init=2.0)
    x = np.array([[1.0, -1.0]], dtype=np.float32)
    np.testing.assert_array_equal(impls.forward(layer, x), [[1.0, -2.0]])
    _, grads = impls.vjp(layer, x, np.ones_like(x))
    np.testing.assert_array_equal(grads["alpha"], [0.0, -1.0])
    assert spec.trainable_names("prelu", {"features": 2}) == ("alpha",)


def test_softmax_epsilon_added_to_temperature_only_when_asked(framework: str) -> None:
    """§7.4: mpneuralnetwork divides by T + eps; ours divides by T unless epsilon is set."""
    x = np.array([[1.0, 2.0, 3.0]])
    plain = impls.build("softmax", framework, dtype="float64", temperature=0.01)
    mpnn = impls.build("softmax", framework, dtype="float64", temperature=0.01, epsilon=1e-3)
    np.testing.assert_allclose(impls.forward(plain, x), spec.reference("softmax", {}, x, temperature=0.01),
                               rtol=1e-12)
    np.testing.assert_allclose(impls.forward(mpnn, x),
                               spec.reference("softmax", {}, x, temperature=0.011), rtol=1e-12)


def test_yat_alpha_false_means_no_scale(framework: str) -> None:
    """§7.6 / nmn constant_alpha=False: no scale at all (not a learnable alpha, not sqrt 2)."""
    x = np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32)
    off = impls.build("yat_dense", framework, in_features=3, out_features=2, alpha=False)
    none = impls.build("yat_dense", framework, in_features=3, out_features=2, alpha=None)
    np.testing.assert_array_equal(impls.forward(off, x), impls.forward(none, x))
    assert spec.trainable_names("yat_dense", {"in_features": 3, "out_features": 2, "alpha": False}) == (
        "weight", "bias")


def test_yat_dl2_paper_semantics_differ_from_nmn_035(framework: str) -> None:
    """§7.6: bias after the ratio and alpha as the exponent of sqrt(O)/ln(1+O) in the DL2.0 code."""
    x = np.random.default_rng(1).standard_normal((5, 4))
    outputs = {}
    for semantics in ("nmn-0.3.5", "dl2-paper"):
        layer = impls.build("yat_dense", framework, dtype="float64", seed=2, in_features=4,
                            out_features=3, semantics=semantics)
        params = impls.get_params(layer)
        params["bias"] = params["bias"] + 0.5
        impls.set_params(layer, params)
        outputs[semantics] = impls.forward(layer, x)
        reference = spec.reference("yat_dense", params, x, in_features=4, out_features=3, semantics=semantics)
        np.testing.assert_allclose(outputs[semantics], reference, rtol=1e-12)
    assert not np.allclose(outputs["nmn-0.3.5"], outputs["dl2-paper"])


def test_aptx_recompute_equals_the_packages_broadcast_form(framework: str) -> None:
    """§7.2: the package materialises [batch, out, in]; the memory-lean layer is the same function."""
    rng = np.random.default_rng(5)
    x, g = rng.normal(0, 3, (9, 6)), rng.standard_normal((9, 4))
    results = {}
    for impl in ("recompute", "naive"):
        layer = impls.build("aptx_layer", framework, dtype="float64", seed=1, in_features=6,
                            out_features=4, impl=impl)
        results[impl] = (impls.forward(layer, x), *impls.vjp(layer, x, g))
    (y1, dx1, g1), (y2, dx2, g2) = results["recompute"], results["naive"]
    np.testing.assert_allclose(y1, y2, rtol=1e-13)
    np.testing.assert_allclose(dx1, dx2, rtol=1e-12)
    for name in g1:
        np.testing.assert_allclose(g1[name], g2[name], rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("z", [5.0, 10.0, 15.0, -15.0, 30.0])
def test_saturated_slope_derivatives_keep_float32_precision(framework: str, z: float) -> None:
    """tanh'/sigmoid' as 1 - t^2 and s (1 - s) cancel once saturated (torch's autograd gave swish
    beta 7e-2 relative error at |x| ~ 100). Checked element by element, where no sum can hide it."""
    x = np.array([z], dtype=np.float32)
    g = np.ones_like(x)
    checks = [("swish", {"learnable": True}, "beta"), ("aptx_activation", {"trainable": True}, "beta"),
              ("tanh", {}, None), ("sigmoid", {}, None)]
    for unit, config, param in checks:
        layer = impls.build(unit, framework, **config)
        params = {k: v.astype(np.float64) for k, v in impls.get_params(layer).items()}
        dx, grads = impls.vjp(layer, x, g)
        dx_ref, grads_ref = spec.reference_grad(unit, params, x.astype(np.float64), g.astype(np.float64), **config)
        got, want = (grads[param], grads_ref[param]) if param else (dx, dx_ref)
        np.testing.assert_allclose(got, want, rtol=2e-5, err_msg=f"{framework} {unit} at x={z}")
