"""The oracle's softmax-family gradients against a 60-digit mpmath evaluation.

Regression for the saturated-softmax cancellation: the textbook VJP y * (g - sum(g * y))
loses the arg-max entry entirely once one weight rounds to 1 (ActMix at T = 0.01 gave a
relative error of 0.71). Everything else in the oracle is checked against finite differences
(test_oracle_gradients.py), which cannot see this: the error is in the last bits of a sum.
"""

from __future__ import annotations

import mpmath
import numpy as np
import pytest

from impls import spec
from impls.spec.cases import Case

mpmath.mp.dps = 60


def _softmax_vjp_mp(z: np.ndarray, g: np.ndarray, scale: float) -> np.ndarray:
    """d/dz of sum(g * softmax(z / scale)) per row, in 60-digit arithmetic."""
    out = np.empty_like(z)
    for r in range(z.shape[0]):
        zs = [mpmath.mpf(float(v)) / mpmath.mpf(scale) for v in z[r]]
        top = max(zs)
        e = [mpmath.exp(v - top) for v in zs]
        total = mpmath.fsum(e)
        y = [v / total for v in e]
        mean_g = mpmath.fsum(yi * mpmath.mpf(float(gi)) for yi, gi in zip(y, g[r], strict=True))
        out[r] = [float(yi * (mpmath.mpf(float(gi)) - mean_g) / mpmath.mpf(scale))
                  for yi, gi in zip(y, g[r], strict=True)]
    return out


def _rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


@pytest.mark.parametrize("temperature", [1.0, 0.1, 0.01])
def test_softmax_vjp_matches_high_precision(temperature: float) -> None:
    rng = np.random.default_rng(0)
    z = rng.standard_normal((6, 5)) * 3.0
    g = rng.standard_normal((6, 5))
    dx, _ = spec.reference_grad("softmax", {}, z, g, temperature=temperature)
    exact = _softmax_vjp_mp(z, g, temperature + spec.resolve_config("softmax", {})["epsilon"])
    assert _rel(dx, exact) < 1e-13


@pytest.mark.parametrize(("temperature", "relu_bias"), [(1.0, 1.5), (0.01, 1.5), (0.01, 0.0)])
def test_actmix_logits_gradient_matches_high_precision(temperature: float, relu_bias: float) -> None:
    """At T = 0.01 with relu_bias 1.5 the weights are ~[1e-66, 1e-66, 1, 1e-66]: saturated."""
    config = {"features": 5, "temperature": temperature, "relu_bias": relu_bias}
    params = Case("actmix", config).params(seed=3, jitter=0.1)
    x = np.random.default_rng(1).standard_normal((7, 5))
    g = np.random.default_rng(2).standard_normal((7, 5))
    _, grads = spec.reference_grad("actmix", params, x, g, **config)
    resolved = spec.resolve_config("actmix", config)
    # d loss / d coefficient[f, k] = sum_b g[b, f] * basis_k(x[b, f]); the oracle's forward
    # basis values are exact to float64 rounding, so only the softmax VJP is under test.
    basis = np.stack([spec.reference("actmix", _one_hot_logits(params, k), x, **config)
                      for k in range(len(resolved["basis"]))], axis=-1)
    dcoeff = np.sum(g[..., None] * basis, axis=0)
    exact = _softmax_vjp_mp(params["logits"], dcoeff, temperature)
    assert _rel(grads["logits"], exact) < 1e-12


def _one_hot_logits(params: dict[str, np.ndarray], k: int) -> dict[str, np.ndarray]:
    """Logits whose softmax is exactly basis k (at any T >= 0.01, other weights < e^-100000)."""
    logits = np.full_like(params["logits"], -1e3)
    logits[:, k] = 1e3
    return {**params, "logits": logits}
