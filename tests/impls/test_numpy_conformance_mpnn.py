"""Conformance of the NumPy backend with mpneuralnetwork 1.1.1's activations (spec §2.1).

mpneuralnetwork computes in float32 (its global dtype), so both sides run in float32 on the
same inputs, restricted to where mpneuralnetwork's maths is correct (spec §2.1, §7.4):
|x| < 80 (its Swish returns NaN below about -88.7 and its Sigmoid overflows there), PReLU
slopes <= 1 (its max(a x, x) form is wrong above 1) with forward and input gradient only (its
slope is not a parameter), and Softmax with ``epsilon=1e-8`` (its x / (T + eps)) on 2-D input.

With ``NEURONBENCH_CONFORMANCE=1`` a missing mpneuralnetwork is a failure; otherwise these
tests skip and say why.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType

import numpy as np
import pytest

import impls

pytestmark = pytest.mark.conformance

MPNN_VERSION = "1.1.1"
#: float32 vs float32 of the same maths: the float32 rows of the tolerance table.
FORWARD_TOL = 1e-5
GRAD_TOL = 1e-4


def require_mpnn_activations() -> ModuleType:
    """mpneuralnetwork.activations, or a failure (conformance runs) / a skip (other runs)."""
    try:
        module = importlib.import_module("mpneuralnetwork.activations")
        from importlib.metadata import version

        installed = version("mpneuralnetwork")
    except ImportError as error:
        message = (f"mpneuralnetwork {MPNN_VERSION} is not importable ({error}); "
                   "install it with: pip install 'neuronbench[conformance]'")
        if os.environ.get("NEURONBENCH_CONFORMANCE") == "1":
            raise AssertionError(f"NEURONBENCH_CONFORMANCE=1 but {message}") from error
        pytest.skip(message + " (set NEURONBENCH_CONFORMANCE=1 to make this an error)")
    if installed != MPNN_VERSION:
        message = f"conformance is pinned to mpneuralnetwork {MPNN_VERSION}, found {installed}"
        if os.environ.get("NEURONBENCH_CONFORMANCE") == "1":
            raise AssertionError(message)
        pytest.skip(message)
    return module


@pytest.fixture(scope="module")
def mpnn() -> ModuleType:
    return require_mpnn_activations()


def rel_err(actual: np.ndarray, expected: np.ndarray) -> float:
    actual = np.asarray(actual, np.float64)
    expected = np.asarray(expected, np.float64)
    assert actual.shape == expected.shape
    return float(np.linalg.norm(actual - expected) / max(np.linalg.norm(expected), 1e-30))


def inputs(seed: int, shape: tuple[int, int] = (16, 10), limit: float = 80.0) -> np.ndarray:
    """float32 data with |x| < limit: half N(0, 2^2), half uniform over the whole range."""
    rng = np.random.default_rng(seed)
    x = np.where(rng.random(shape) < 0.5, rng.normal(0.0, 2.0, shape),
                 rng.uniform(-limit, limit, shape))
    x = np.clip(x, -limit + 1e-3, limit - 1e-3)
    assert np.all(x != 0.0)  # PReLU's derivative at exactly 0 differs by convention (1 vs alpha)
    return x.astype(np.float32)


def compare(ours, theirs, x: np.ndarray, seed: int) -> None:
    """Forward and input gradient of a NumPy layer vs an mpneuralnetwork layer, float32."""
    upstream = np.random.default_rng(seed + 1000).normal(size=x.shape).astype(np.float32)
    # mpneuralnetwork's Swish derivative squares 1 + e^-x, which overflows to inf below about
    # -44 (result 0; the true value is below 1e-17): its known behaviour, not a disagreement.
    with np.errstate(over="ignore"):
        y_theirs = theirs.forward(x.copy())
        dx_theirs = theirs.backward(upstream.copy())
    y_ours = impls.forward(ours, x)
    dx_ours, _ = impls.vjp(ours, x, upstream)
    assert y_ours.dtype == np.float32 and dx_ours.dtype == np.float32
    assert rel_err(y_ours, y_theirs) <= FORWARD_TOL
    assert rel_err(dx_ours, dx_theirs) <= GRAD_TOL


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize(("unit", "cls"), [
    ("relu", "ReLU"), ("tanh", "Tanh"), ("sigmoid", "Sigmoid"), ("swish", "Swish"),
])
def test_elementwise_activations(mpnn, unit, cls, seed):
    x = inputs(seed)
    compare(impls.build(unit, "numpy", dtype="float32"), getattr(mpnn, cls)(), x, seed)


@pytest.mark.parametrize("alpha", [0.01, 0.25, 1.0])
def test_prelu_fixed_slope(mpnn, alpha):
    x = inputs(3)
    ours = impls.build("prelu", "numpy", dtype="float32", features=x.shape[1], init=alpha)
    compare(ours, mpnn.PReLU(alpha=alpha), x, 3)


@pytest.mark.parametrize("temperature", [1.0, 0.5])
def test_softmax_with_mpnn_epsilon(mpnn, temperature):
    # Logits of moderate size (as a classifier head produces) so rows are not all saturated.
    x = np.random.default_rng(4).normal(0.0, 3.0, (16, 10)).astype(np.float32)
    ours = impls.build("softmax", "numpy", dtype="float32", temperature=temperature, epsilon=1e-8)
    compare(ours, mpnn.Softmax(temperature=temperature, epsilon=1e-8), x, 4)


def test_mpnn_swish_nan_is_not_reproduced(mpnn):
    """Below about -88.7 mpneuralnetwork's Swish gradient is NaN (spec §2.1); ours is finite."""
    x = np.array([[-100.0, -1.0, 1.0]], dtype=np.float32)
    theirs = mpnn.Swish()
    with np.errstate(over="ignore", invalid="ignore"):
        theirs.forward(x)
        assert np.isnan(theirs.backward(np.ones_like(x))[0, 0])
    dx, _ = impls.vjp(impls.build("swish", "numpy", dtype="float32"), x, np.ones_like(x))
    assert np.all(np.isfinite(dx))


def test_missing_package_fails_under_conformance_and_skips_otherwise(monkeypatch):
    """The helper itself: an ImportError is an error when conformance is requested."""
    real_import = importlib.import_module

    def fake_import(name, *args, **kwargs):
        if name.startswith("mpneuralnetwork"):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(importlib, "import_module", fake_import)
    monkeypatch.setenv("NEURONBENCH_CONFORMANCE", "1")
    with pytest.raises(AssertionError, match="NEURONBENCH_CONFORMANCE=1"):
        require_mpnn_activations()
    monkeypatch.delenv("NEURONBENCH_CONFORMANCE")
    with pytest.raises(pytest.skip.Exception, match="not importable"):
        require_mpnn_activations()
