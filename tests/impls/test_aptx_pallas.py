"""The fused APTx Pallas kernel (impls/kernels/aptx_pallas.py) against the float64 oracle.

No GPU here: the kernels run through the Pallas interpreter (``interpret=True``), which
executes the same kernel bodies, grids and BlockSpecs the Triton lowering compiles. Every
gradient is taken through ``jax.vjp`` / ``jax.grad`` on :func:`aptx_pallas`, so what is tested
is its custom VJP (its backward kernels), never JAX's autodiff of the forward. The shapes are
not multiples of the tiles (padding), one row, one output, an empty batch, and one case spans
several tiles along every axis (the in-kernel loops). Inputs are rounded to the tested dtype
before the oracle sees them, so the measured error is the kernel's.

The selection of the kernel by ``impls.jax.aptx`` on a GPU backend is tested with
``jax.default_backend`` monkeypatched (and the kernel wrapped to run interpreted).

Like the other JAX tests this module runs with ``jax_enable_x64`` on: importing
``impls.jax`` (as ``require_framework("jax")`` does) turns it on, and float64 needs it.
"""

from __future__ import annotations

import functools
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import impls
from impls import spec
from impls.spec.tolerances import relative_l2, tolerance
from tests.conftest import require_framework

DTYPES = ("float32", "float64")
SHAPES = [(7, 13, 11), (1, 8, 5), (33, 17, 50), (4, 1, 3)]       # (batch, out, in)
GRADS = ("dx", "dA", "dB", "dG")


@pytest.fixture(scope="module", autouse=True)
def _jax_selected() -> None:
    require_framework("jax")


def _kernel():
    from impls.kernels import aptx_pallas

    return aptx_pallas


def _case(batch: int, n_out: int, n_in: int, scale: float, dtype: str, seed: int = 0):
    """x, A, B, G, g rounded to ``dtype`` and held as float64 (the oracle's inputs)."""
    rng = np.random.default_rng(seed)
    arrays = [rng.normal(0.0, scale, size=(batch, n_in))]
    arrays += [rng.normal(size=(n_out, n_in)) for _ in range(3)]
    arrays.append(rng.normal(size=(batch, n_out)))
    return [a.astype(dtype).astype(np.float64) for a in arrays]


def _oracle(x, A, B, G, g):
    """y and (dx, dA, dB, dG) of the float64 reference layer, without delta."""
    params = {"alpha": A, "beta": B, "gamma": G}
    config = {"in_features": A.shape[1], "out_features": A.shape[0], "use_delta": False}
    y = spec.reference("aptx_layer", params, x, **config)
    dx, grads = spec.reference_grad("aptx_layer", params, x, g, **config)
    return y, (dx, grads["alpha"], grads["beta"], grads["gamma"])


def _interpreted(jit: bool):
    """aptx_pallas in interpret mode, eager or under jax.jit."""
    import jax

    fn = functools.partial(_kernel().aptx_pallas, interpret=True)
    return jax.jit(fn) if jit else fn


def _run(arrays, dtype: str, jit: bool):
    """(y, (dx, dA, dB, dG)) of the kernel through jax.vjp, as NumPy arrays."""
    import jax
    import jax.numpy as jnp

    x, A, B, G, g = (jnp.asarray(a, dtype) for a in arrays)
    y, pullback = jax.vjp(_interpreted(jit), x, A, B, G)
    return np.asarray(y), tuple(np.asarray(d) for d in pullback(g))


def _assert_matches_oracle(arrays, dtype: str, jit: bool) -> None:
    y_ref, grads_ref = _oracle(*arrays)
    y, grads = _run(arrays, dtype, jit)
    assert y.dtype == np.dtype(dtype) and y.shape == y_ref.shape
    assert relative_l2(y, y_ref, dtype) <= tolerance(dtype, "forward")
    for name, got, ref in zip(GRADS, grads, grads_ref, strict=True):
        assert got.dtype == np.dtype(dtype) and got.shape == ref.shape, name
        assert relative_l2(got, ref, dtype) <= tolerance(dtype, "gradient"), name


# ----------------------------------------------------------------------------------------
# Parity with the oracle


@pytest.mark.parametrize("jit", [False, True], ids=["eager", "jit"])
@pytest.mark.parametrize("scale", [1.0, 30.0])
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_float32_matches_the_oracle(shape, scale: float, jit: bool) -> None:
    _assert_matches_oracle(_case(*shape, scale, "float32"), "float32", jit)


@pytest.mark.parametrize("jit", [False, True], ids=["eager", "jit"])
@pytest.mark.parametrize("shape", [(7, 13, 11), (33, 17, 50)], ids=lambda s: "x".join(map(str, s)))
def test_float64_matches_the_oracle(shape, jit: bool) -> None:
    _assert_matches_oracle(_case(*shape, 30.0, "float64"), "float64", jit)


def test_several_tiles_along_every_axis(monkeypatch: pytest.MonkeyPatch) -> None:
    """4-wide tiles: 3 x 2 x 3 tiles with a padded last one on every axis (the loops and
    the grids), and the tiles are read at call time."""
    kernel = _kernel()
    for name in ("BLOCK_BATCH", "BLOCK_OUT", "BLOCK_IN"):
        monkeypatch.setattr(kernel, name, 4)
    assert kernel.launch(9, 6, 10, True).tiles == (4, 4, 4)
    _assert_matches_oracle(_case(9, 6, 10, 3.0, "float32", seed=4), "float32", jit=True)


def test_tiles_shrink_to_small_dimensions() -> None:
    kernel = _kernel()
    assert kernel.launch(1, 1, 3, False).tiles == (1, 1, 4)
    assert kernel.launch(1000, 1000, 1000, True) == ((kernel.BLOCK_BATCH, kernel.BLOCK_OUT,
                                                      kernel.BLOCK_IN), True)


def test_beta_gradient_keeps_its_relative_accuracy_where_tanh_saturates() -> None:
    """Every |B x| in [8, 12]: sech^2 is 1e-10..5e-7 there, and 1 - tanh^2 in float32 keeps
    only rounding noise (tanh rounds to 1 beyond 9); the kernel must stay within tolerance."""
    rng = np.random.default_rng(11)
    batch, n_out, n_in = 6, 5, 7
    x = rng.choice([-1.0, 1.0], size=(batch, n_in)) * rng.uniform(80.0, 120.0, size=(batch, n_in))
    B = np.full((n_out, n_in), 0.1)
    A, G = rng.normal(size=(n_out, n_in)), rng.normal(size=(n_out, n_in))
    g = rng.normal(size=(batch, n_out))
    arrays = [a.astype(np.float32).astype(np.float64) for a in (x, A, B, G, g)]
    z = np.abs(arrays[2][None] * arrays[0][:, None, :])
    assert z.min() > 7.9 and z.max() < 12.1
    _, grads_ref = _oracle(*arrays)
    _, (_, _, dB, _) = _run(arrays, "float32", jit=True)
    assert relative_l2(dB, grads_ref[2], "float32") <= tolerance("float32", "gradient")
    t = np.tanh(z.astype(np.float32))                                # what 1 - t^2 would see
    cancelled = (1.0 - t * t).astype(np.float64)
    exact = 1.0 / np.cosh(z) ** 2
    assert np.linalg.norm(cancelled - exact) / np.linalg.norm(exact) > 0.1   # the hazard is real


def test_jax_grad_of_a_scalar_loss() -> None:
    """jax.grad through the custom VJP (argnums over all four operands) equals the oracle."""
    import jax
    import jax.numpy as jnp

    arrays = _case(5, 6, 9, 2.0, "float32", seed=2)
    x, A, B, G, g = (jnp.asarray(a, "float32") for a in arrays)
    fn = _interpreted(jit=False)
    grads = jax.grad(lambda *ops: jnp.sum(fn(*ops) * g), argnums=(0, 1, 2, 3))(x, A, B, G)
    _, grads_ref = _oracle(*arrays)
    for name, got, ref in zip(GRADS, grads, grads_ref, strict=True):
        assert relative_l2(got, ref, "float32") <= tolerance("float32", "gradient"), name


def test_an_empty_batch_gives_empty_outputs_and_zero_parameter_gradients() -> None:
    arrays = _case(0, 6, 5, 1.0, "float32")
    y, (dx, dA, dB, dG) = _run(arrays, "float32", jit=False)
    assert y.shape == (0, 6) and dx.shape == (0, 5)
    assert dA.shape == (6, 5) and not dA.any() and not dB.any() and not dG.any()


# ----------------------------------------------------------------------------------------
# Structure: pallas_calls only, nothing [batch, out, in] outside a kernel


def _top_level_equations(jaxpr):
    """Every equation outside pallas_call bodies (nested jit / custom_vjp bodies included)."""
    from jax.extend import core

    for eqn in jaxpr.eqns:
        yield eqn
        if eqn.primitive.name == "pallas_call":
            continue
        for param in eqn.params.values():
            inner = getattr(param, "jaxpr", param)
            if isinstance(inner, core.Jaxpr):
                yield from _top_level_equations(inner)


def test_forward_and_backward_are_pallas_calls_with_no_batch_out_in_value() -> None:
    import jax
    import jax.numpy as jnp

    batch, n_out, n_in = 6, 5, 7
    x, A, B, G, g = (jnp.asarray(a, "float32") for a in _case(batch, n_out, n_in, 1.0, "float32"))

    def loss(*ops):
        return jnp.sum(_kernel().aptx_pallas(*ops, interpret=True) * g)

    jaxpr = jax.make_jaxpr(jax.grad(loss, argnums=(0, 1, 2, 3)))(x, A, B, G).jaxpr
    eqns = list(_top_level_equations(jaxpr))
    names = sorted(e.params["name"] for e in eqns if e.primitive.name == "pallas_call")
    assert names == ["aptx_backward_dx", "aptx_backward_params", "aptx_forward"]
    shapes = {tuple(v.aval.shape) for e in eqns for v in e.outvars if hasattr(v.aval, "shape")}
    assert not any(len(s) > 2 for s in shapes), shapes
    # The walk does see a [batch, out, in] value where plain autodiff makes one.
    from impls.jax.aptx import aptx_naive

    naive = jax.make_jaxpr(jax.grad(lambda *ops: jnp.sum(aptx_naive(*ops) * g), argnums=1))(x, A, B, G)
    assert (batch, n_out, n_in) in {tuple(v.aval.shape) for e in _top_level_equations(naive.jaxpr)
                                    for v in e.outvars}


# ----------------------------------------------------------------------------------------
# Input checks


def test_bad_inputs_are_named() -> None:
    import jax.numpy as jnp

    x, A, B, G, _ = (jnp.asarray(a, "float32") for a in _case(3, 4, 5, 1.0, "float32"))
    fn = _interpreted(jit=False)
    with pytest.raises(TypeError, match="float32 or float64"):
        fn(x.astype(jnp.int32), A, B, G)
    with pytest.raises(TypeError, match="float32 or float64"):
        fn(x.astype(jnp.float16), A, B, G)
    with pytest.raises(ValueError, match=r"input must be \[batch, 5\]"):
        fn(x[:, :4], A, B, G)
    with pytest.raises(ValueError, match="beta must be"):
        fn(x, A, B[:, :3], G)
    with pytest.raises(ValueError, match="gamma must be"):
        fn(x, A, B, G.astype(jnp.float64))
    with pytest.raises(ValueError, match="alpha must be"):
        fn(x, A[None], B, G)


# ----------------------------------------------------------------------------------------
# Selection by impls.jax.aptx


@pytest.fixture
def fake_gpu(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """jax.default_backend() reports a GPU; the Pallas kernel runs interpreted and records its
    calls (the returned list), as it cannot be compiled for this machine's CPU."""
    import jax

    kernel, calls = _kernel(), []
    real = kernel.aptx_pallas

    def interpreted(*ops, **_):
        calls.append("pallas")
        return real(*ops, interpret=True)

    monkeypatch.setattr(jax, "default_backend", lambda: "gpu")
    monkeypatch.setattr(kernel, "aptx_pallas", interpreted)
    return calls


def test_kernel_name_follows_the_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    import jax

    from impls.jax import aptx
    from impls.kernels import aptx_cpu

    assert jax.default_backend() == "cpu"
    assert aptx.kernel_name("fused", "eager") == aptx_cpu.KERNEL_NAME == "fused-numba"
    assert impls.kernel_name("aptx_layer", "jax", "compiled", impl="fused") == "fused-numba"
    for backend in ("gpu", "cuda", "rocm"):
        monkeypatch.setattr(jax, "default_backend", lambda b=backend: b)
        for mode in ("eager", "compiled"):
            assert aptx.kernel_name("fused", mode) == _kernel().KERNEL_NAME == "fused-pallas"
        assert aptx.kernel_name("recompute", "eager") == "recompute"
    assert impls.kernel_name("aptx_layer", "jax", "eager", impl="fused") == "fused-pallas"
    monkeypatch.setattr(jax, "default_backend", lambda: "tpu")
    assert aptx.kernel_name("fused", "eager") == "fused-numba"


@pytest.mark.parametrize("jit", [False, True], ids=["eager", "jit"])
def test_fused_layer_runs_the_pallas_kernel_on_a_gpu_backend(fake_gpu: list[str], jit: bool) -> None:
    import jax
    import jax.numpy as jnp

    from impls.jax import aptx

    arrays = _case(5, 4, 6, 2.0, "float32", seed=8)
    x, A, B, G, g = (jnp.asarray(a, "float32") for a in arrays)
    fn = jax.jit(lambda *ops: aptx.aptx_fused(*ops)) if jit else aptx.aptx_fused
    y, pullback = jax.vjp(fn, x, A, B, G)
    assert fake_gpu == ["pallas"]
    y_ref, grads_ref = _oracle(*arrays)
    assert relative_l2(y, y_ref, "float32") <= tolerance("float32", "forward")
    for name, got, ref in zip(GRADS, pullback(g), grads_ref, strict=True):
        assert relative_l2(got, ref, "float32") <= tolerance("float32", "gradient"), name
    text = str(jax.make_jaxpr(aptx.aptx_fused)(x, A, B, G))
    assert "pallas_call" in text and "callback" not in text


def test_fused_layer_keeps_the_host_callback_on_cpu() -> None:
    import jax
    import jax.numpy as jnp

    from impls.jax import aptx

    x, A, B, G, _ = (jnp.asarray(a, "float32") for a in _case(3, 4, 5, 1.0, "float32"))
    text = str(jax.make_jaxpr(aptx.aptx_fused)(x, A, B, G))
    assert "pure_callback" in text and "pallas_call" not in text


def test_importing_the_jax_backend_does_not_import_pallas() -> None:
    code = ("import sys, impls.jax, impls.jax.aptx; "
            "bad = [m for m in sys.modules if m.startswith('jax.experimental.pallas') "
            "or m == 'impls.kernels.aptx_pallas']; assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[2])
