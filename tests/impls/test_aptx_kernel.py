"""The fused APTx CPU kernel (impls/kernels/aptx_cpu.py) against the float64 oracle.

Every framework's ``impl="fused"`` layer calls this kernel, and the equivalence cases cover
those layers through the public API; these tests pin the kernel itself: its tanh over the whole
float32 line, both directions at awkward shapes (output counts that are not a multiple of the
block, one row, no rows), several threads (private dx buffers summed), and its input checks.
"""

from __future__ import annotations

import numpy as np
import pytest

from impls import spec
from impls.kernels import aptx_cpu
from impls.kernels.tanh_fit import CLAMP
from impls.spec.tolerances import tolerance


def _case(batch: int, n_out: int, n_in: int, scale: float, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.normal(0.0, scale, size=(batch, n_in))
    A, B, G = (rng.normal(size=(n_out, n_in)) for _ in range(3))
    g = rng.normal(size=(batch, n_out))
    return x, A, B, G, g


def _oracle(x, A, B, G, g):
    params = {"alpha": A, "beta": B, "gamma": G}
    config = {"in_features": A.shape[1], "out_features": A.shape[0], "use_delta": False}
    y = spec.reference("aptx_layer", params, x, **config)
    dx, grads = spec.reference_grad("aptx_layer", params, x, g, **config)
    return y, (dx, grads["alpha"], grads["beta"], grads["gamma"])


def _rel(a, b) -> float:
    b = np.asarray(b, dtype=np.float64)
    return float(np.linalg.norm(np.asarray(a, dtype=np.float64) - b) / max(np.linalg.norm(b), 1e-300))


def test_float32_tanh_is_within_seven_ulps_everywhere() -> None:
    z = np.concatenate([np.linspace(-12.0, 12.0, 400_001), np.geomspace(1e-30, 12.0, 20_000)])
    z = np.concatenate([z, -z]).astype(np.float32)
    exact = np.tanh(z.astype(np.float64))
    got = aptx_cpu.tanh_f32(z).astype(np.float64)
    ulps = np.abs(got - exact) / np.spacing(np.abs(exact).astype(np.float32)).astype(np.float64)
    assert ulps.max() <= 7.0, f"worst {ulps.max():.1f} ulps at z={z[np.argmax(ulps)]}"
    assert np.array_equal(np.sign(got), np.sign(exact))              # odd, sign-exact
    beyond = np.abs(z) >= CLAMP                                       # +-1 to within an ulp
    assert np.abs(np.abs(got[beyond]) - 1.0).max() <= 2.0**-23


@pytest.mark.parametrize("shape", [(7, 13, 11), (1, 8, 5), (33, 17, 50), (4, 1, 3)])
@pytest.mark.parametrize("scale", [1.0, 30.0])
def test_float64_matches_the_oracle_to_rounding(shape, scale) -> None:
    x, A, B, G, g = _case(*shape, scale)
    y_ref, grads_ref = _oracle(x, A, B, G, g)
    assert _rel(aptx_cpu.forward(x, A, B, G), y_ref) < 1e-13
    for name, got, ref in zip(("dx", "dA", "dB", "dG"), aptx_cpu.backward(x, A, B, G, g), grads_ref, strict=True):
        assert _rel(got, ref) < 1e-12, name


@pytest.mark.parametrize("scale", [1.0, 30.0])
def test_float32_is_within_the_parity_tolerances(scale) -> None:
    x, A, B, G, g = _case(64, 40, 96, scale, seed=3)
    y_ref, grads_ref = _oracle(x, A, B, G, g)
    f32 = [a.astype(np.float32) for a in (x, A, B, G, g)]
    y = aptx_cpu.forward(*f32[:4])
    assert y.dtype == np.float32
    assert _rel(y, y_ref) <= tolerance("float32", "forward")
    for name, got, ref in zip(("dx", "dA", "dB", "dG"), aptx_cpu.backward(*f32), grads_ref, strict=True):
        assert got.dtype == np.float32
        assert _rel(got, ref) <= tolerance("float32", "gradient"), name


def test_every_thread_count_gives_the_same_gradients() -> None:
    numba = pytest.importorskip("numba")  # a dependency: present wherever the kernel is
    x, A, B, G, g = _case(20, 37, 19, 2.0, seed=5)
    before = numba.get_num_threads()
    results = []
    try:
        for threads in sorted({1, before}):
            numba.set_num_threads(threads)
            results.append(aptx_cpu.backward(x, A, B, G, g))
    finally:
        numba.set_num_threads(before)
    for got, ref in zip(results[-1], results[0], strict=True):
        np.testing.assert_allclose(got, ref, rtol=1e-13, atol=1e-13)


def test_an_empty_batch_gives_empty_outputs_and_zero_parameter_gradients() -> None:
    x, A, B, G, g = _case(0, 6, 5, 1.0)
    assert aptx_cpu.forward(x, A, B, G).shape == (0, 6)
    dx, dA, dB, dG = aptx_cpu.backward(x, A, B, G, g)
    assert dx.shape == (0, 5)
    assert not dA.any() and not dB.any() and not dG.any()


def test_bad_inputs_are_named() -> None:
    x, A, B, G, g = _case(3, 4, 5, 1.0)
    with pytest.raises(TypeError, match="float32 or float64"):
        aptx_cpu.forward(x.astype(np.int64), A, B, G)
    with pytest.raises(ValueError, match=r"input must be \[batch, 5\]"):
        aptx_cpu.forward(x[:, :4], A, B, G)
    with pytest.raises(ValueError, match="beta must be"):
        aptx_cpu.forward(x, A, B[:, :3], G)
    with pytest.raises(ValueError, match="gamma must be"):
        aptx_cpu.forward(x, A, B, G.astype(np.float32))
    with pytest.raises(ValueError, match="upstream gradient"):
        aptx_cpu.backward(x, A, B, G, g[:, :2])


def test_float32_sech2_keeps_its_relative_accuracy_where_tanh_saturates() -> None:
    from impls.kernels import _aptx_numba

    z = np.concatenate([np.linspace(-60.0, 60.0, 200_001), np.geomspace(1e-6, 43.0, 5_000)])
    z = np.concatenate([z, -z]).astype(np.float32)
    got = _aptx_numba.sech2_f32_ufunc(z).astype(np.float64)
    zz = np.abs(z.astype(np.float64))
    exact = 4.0 * np.exp(-2.0 * zz) / (1.0 + np.exp(-2.0 * zz)) ** 2
    normal = exact > 1e-37                                  # beyond: float32 underflow, ~0 both
    rel = np.abs(got[normal] - exact[normal]) / exact[normal]
    assert rel.max() < 4e-6, f"worst {rel.max():.2e} at z={z[normal][np.argmax(rel)]}"
    assert np.all(got[~normal] < 1e-36)
