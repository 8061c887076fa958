"""The NumPy backend against the float64 oracle, through the public API.

Every block of ``impls.spec.BLOCKS`` (with configuration variants), float32 and float64, every
mode of ``impls.numpy.MODES``: forward and every gradient vs ``reference``/``reference_grad``
on moderate and extreme inputs (|x| up to 100); canonical parameter round trips; 10-step SGD
and Adam trajectories (``impls.train_steps``) vs ``train_trajectory``; the regression and
memory properties the spec asks for. The backend is imported at module level: if it cannot be imported the module fails
to collect (an error, never a skip).

Two input sets: the shared catalogue (``impls.spec.cases`` at the scales of ``SCALES``) and this
file's own matrix (every block with extra variants; "extreme" inputs have half of their entries
uniform over [-100, 100], with exact +-100 present). In both, parameters are jittered away from
symmetric points, and inputs, parameters and upstream gradients are rounded to the tested dtype
before the oracle sees them (as the equivalence harness does), so the measured error is the
implementation's and not the conditioning of, e.g., sin(omega x) at |x| = 100 under input
rounding. Error measure and tolerances: ``impls.spec.tolerances`` (never loosened).
"""

from __future__ import annotations

import tracemalloc
import warnings
import zlib
from typing import Any

import numpy as np
import pytest

import impls
from impls import spec
from impls.spec import BLOCKS, UNITS, CNNSpec, MLPSpec
from impls.spec.cases import CASES as CATALOGUE
from impls.spec.cases import SCALES, Case
from impls.spec.tolerances import relative_l2, tolerance
from impls.spec.training import SGD, Adam, train_trajectory
from tests.conftest import require_framework

nb = impls.load_backend("numpy")  # fails (not skips) when the backend cannot be imported


@pytest.fixture(scope="module", autouse=True)
def _numpy_selected() -> None:
    """Skipped only when NEURONBENCH_FRAMEWORKS deselects numpy; a broken backend fails above."""
    require_framework("numpy")

DTYPES = ("float32", "float64")

#: Values for the options every spec marks as required (sizes only).
REQUIRED_VALUES = {
    "in_features": 5,
    "out_features": 4,
    "features": 4,
    "in_channels": 2,
    "out_channels": 3,
    "kernel_size": 3,
}

#: Extra configurations per block (each block also runs with its defaults).
VARIANTS: dict[str, list[dict[str, Any]]] = {
    "aptx_activation": [
        {"trainable": True},
        {"trainable": True, "alpha": 0.5, "beta": 2.0, "gamma": 1.5},
    ],
    "aptx_layer": [
        {"alpha_trainable": False},
        {"use_delta": False},
        {"alpha_trainable": False, "use_delta": False},
        {"impl": "naive"},
    ],
    "actmix": [
        {"relu_bias": 0.0},                                 # (temperature 1, relu_bias 1.5: defaults)
        {"temperature": 0.01, "relu_bias": 0.0},
        {"temperature": 0.01},                              # relu_bias 1.5
        {"basis": ("sin", "tanh", "relu", "identity", "sigmoid", "silu"), "omega_0": 2.0},
        {"axis": 1},
    ],
    "lselu": [{"safe": False}],
    "prelu": [{"init": -0.5}, {"axis": 1}],
    "swish": [{"learnable": True}, {"learnable": True, "beta": 0.5}, {"beta": 2.0}],
    "gelu": [{"approximate": True}],
    "softmax": [
        {"temperature": 0.01},
        {"temperature": 0.5, "epsilon": 1e-8},
        {"axis": 0},
        {"axis": 1},
    ],
    "yat_dense": [
        {"bias": False},
        {"alpha": 2.5},
        {"alpha": None},
        {"alpha": False},
        {"alpha": "sqrt2"},
        {"spherical": True},
        {"spherical": True, "bias": False, "alpha": None},
        {"semantics": "dl2-paper"},
        {"semantics": "dl2-paper", "alpha": None},
        {"semantics": "dl2-paper", "alpha": 0.7, "bias": False},
        {"epsilon": 1e-3},
    ],
    "yat_conv2d": [
        {"bias": False},
        {"alpha": None},
        {"alpha": 1.7},
        {"stride": 2, "padding": 1},
    ],
    "softermax": [{"n": 2.0}, {"n": 1.5, "axis": 0}, {"axis": 1}],
    "softer_sigmoid": [{"n": 2.0}],
    "soft_tanh": [{"n": 3.0}],
    "linear": [{"bias": False}],
    "conv2d": [{"stride": 2, "padding": 1}, {"bias": False, "kernel_size": (2, 3), "padding": (0, 1)}],
    "max_pool2d": [{"kernel_size": 3}],
}


def _config(block: str, overrides: dict[str, Any]) -> dict[str, Any]:
    defaults = BLOCKS[block].defaults
    config = {k: REQUIRED_VALUES[k] for k, v in defaults.items() if v is spec.blocks.REQUIRED}
    if block == "max_pool2d":
        config["kernel_size"] = 2
    config.update(overrides)
    return spec.resolve_config(block, config)


def _input_shape(block: str, config: dict[str, Any]) -> tuple[int, ...]:
    kind = BLOCKS[block].kind
    if kind == "conv":
        return (3, config["in_channels"], 7, 6)
    if kind == "structural":
        return (3, 2, 7, 6)
    if kind == "dense":
        return (6, config["in_features"])
    features = config.get("features", 4)
    if config.get("axis", -1) == 1:
        return (3, features, 5, 2)  # a per-feature / reducing unit after a conv layer (NCHW)
    return (6, features)


def _cases() -> list[tuple[str, dict[str, Any]]]:
    return [(block, _config(block, overrides))
            for block in BLOCKS
            for overrides in [{}, *VARIANTS.get(block, [])]]


CASES = _cases()


def _case_id(case: tuple[str, dict[str, Any]]) -> str:
    block, config = case
    defaults = _config(block, {})
    changed = {k: v for k, v in config.items() if defaults.get(k) != v}
    return block + ("[" + ",".join(f"{k}={v}" for k, v in changed.items()) + "]" if changed else "")


def make_input(shape: tuple[int, ...], magnitude: str, nonnegative: bool, seed: int) -> np.ndarray:
    """Moderate: N(0, 2^2). Extreme: half of the entries U(-100, 100), with exact +-100 present."""
    rng = np.random.default_rng(seed)
    x = rng.normal(0.0, 2.0, size=shape)
    if magnitude == "extreme":
        wide = rng.random(shape) < 0.5
        x = np.where(wide, rng.uniform(-100.0, 100.0, size=shape), x)
        x.flat[0], x.flat[-1] = 100.0, -100.0
    return np.abs(x) if nonnegative else x


def rel_err(actual: np.ndarray, expected: np.ndarray, dtype: str) -> float:
    """The project's metric (relative L2, floored at the dtype's tiny; inf for NaN/inf)."""
    return relative_l2(actual, expected, dtype)


def _rounded(a: np.ndarray, dtype: str) -> np.ndarray:
    """Values exactly representable in ``dtype`` (as float64 for the oracle)."""
    return np.asarray(a, dtype=dtype).astype(np.float64)


def jittered(block: str, config: dict[str, Any], seed: int) -> dict[str, np.ndarray]:
    """Canonical init plus N(0, 0.1^2) noise, so no parameter sits at a symmetric point."""
    return Case(block, config).params(seed=seed, jitter=0.1)


def _parity_params() -> list[Any]:
    params = []
    for case in CASES:
        block, config = case
        for dtype in DTYPES:
            for magnitude in ("moderate", "extreme"):
                # safe=False is the original's NaN-gradient bug above x ~ 88.7 in float32: its
                # extreme inputs are checked by test_lselu_unsafe_reproduces_nan_gradients.
                if block == "lselu" and not config["safe"] and dtype == "float32" \
                        and magnitude == "extreme":
                    continue
                for mode in nb.MODES:
                    params.append(pytest.param(case, dtype, magnitude, mode,
                                               id=f"{_case_id(case)}-{dtype}-{magnitude}-{mode}"))
    return params


def test_every_block_is_covered():
    assert {block for block, _ in CASES} == set(BLOCKS)
    assert set(VARIANTS) <= set(BLOCKS)
    assert set(UNITS) <= set(BLOCKS)
    assert nb.MODES == ("eager",)


@pytest.mark.parametrize(("case", "dtype", "magnitude", "mode"), _parity_params())
def test_forward_and_gradients_match_oracle(case, dtype, magnitude, mode):
    block, config = case
    seed = zlib.crc32(f"{_case_id(case)}/{magnitude}".encode())
    layer = impls.build(block, "numpy", seed=3, dtype=dtype, **config)
    params = {k: _rounded(v, dtype) for k, v in jittered(block, config, seed=3).items()}
    impls.set_params(layer, params)
    x = _rounded(make_input(_input_shape(block, config), magnitude,
                            BLOCKS[block].kind == "squasher", seed), dtype)
    y_shape = spec.reference(block, params, x, **config).shape
    upstream = _rounded(np.random.default_rng(seed + 1).normal(size=y_shape), dtype)
    check_against_oracle(layer, block, config, params, x, upstream, dtype, mode)
    # The public API gives the same numbers (it runs the default mode).
    np.testing.assert_array_equal(impls.forward(layer, x), nb.forward(layer, x))


def check_against_oracle(layer, block, config, params, x, upstream, dtype, mode) -> None:
    y = nb.forward(layer, x, mode=mode)
    y_ref = spec.reference(block, params, x, **config)
    assert y.dtype == np.dtype(dtype)
    err = rel_err(y, y_ref, dtype)
    assert err <= tolerance(dtype, "forward"), f"forward error {err:.2e}"
    dx, grads = nb.vjp(layer, x, upstream, mode=mode)
    dx_ref, grads_ref = spec.reference_grad(block, params, x, upstream, **config)
    assert set(grads) == set(grads_ref) == set(spec.trainable_names(block, config))
    assert dx.dtype == np.dtype(dtype)
    err = rel_err(dx, dx_ref, dtype)
    assert err <= tolerance(dtype, "gradient"), f"grad x error {err:.2e}"
    for name, g_ref in grads_ref.items():
        assert grads[name].dtype == np.dtype(dtype), name
        assert grads[name].shape == g_ref.shape, name
        err = rel_err(grads[name], g_ref, dtype)
        assert err <= tolerance(dtype, "gradient"), f"grad {name} error {err:.2e}"


@pytest.mark.parametrize("mode", nb.MODES)
@pytest.mark.parametrize("scale", SCALES, ids=lambda s: f"scale{s:g}")
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CATALOGUE, ids=lambda c: c.id)
def test_catalogue_matches_oracle(case: Case, dtype: str, scale: float, mode: str):
    """The shared case catalogue, with the equivalence harness's protocol (values rounded to dtype)."""
    layer = impls.build(case.unit, "numpy", dtype=dtype, seed=3, **case.config)
    params = {k: _rounded(v, dtype) for k, v in case.params(seed=3, jitter=0.1).items()}
    impls.set_params(layer, params)
    config = spec.resolve_config(case.unit, case.config)
    x = _rounded(case.inputs(seed=11, scale=scale), dtype)
    y_shape = spec.reference(case.unit, params, x, **config).shape
    upstream = _rounded(np.random.default_rng(13).standard_normal(y_shape), dtype)
    check_against_oracle(layer, case.unit, config, params, x, upstream, dtype, mode)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CASES, ids=[_case_id(c) for c in CASES])
def test_params_round_trip(case, dtype):
    block, config = case
    layer = impls.build(block, "numpy", seed=5, dtype=dtype, **config)
    expected = {k: v.astype(dtype) for k, v in spec.init_params(block, config, seed=5).items()}
    got = impls.get_params(layer)
    assert set(got) == set(expected) == set(spec.param_shapes(block, config))
    for name, value in expected.items():
        assert got[name].dtype == np.dtype(dtype)
        np.testing.assert_array_equal(got[name], value)
    # set_params then get_params returns the new values; get_params hands out copies.
    new = spec.init_params(block, config, seed=6)
    impls.set_params(layer, new)
    again = impls.get_params(layer)
    for name, value in new.items():
        np.testing.assert_array_equal(again[name], value.astype(dtype))
        again[name][...] = 0
    for name, value in new.items():
        np.testing.assert_array_equal(impls.get_params(layer)[name], value.astype(dtype))
    assert impls.layer_spec(layer).block == block
    assert impls.framework_of(layer) == "numpy"


# --------------------------------------------------------------------------------------------
# Trajectories


def _mlp_units() -> list[str]:
    return [u for u in UNITS if BLOCKS[u].kind in ("activation", "dense", "squasher")]


def _batches(in_shape: tuple[int, ...], n_out: int, loss: str, seed: int = 0, steps: int = 10):
    rng = np.random.default_rng(seed)
    batches = []
    for _ in range(steps):
        x = rng.normal(size=in_shape)
        if loss == "cross_entropy":
            target = rng.integers(0, n_out, size=in_shape[0])
        else:
            target = rng.normal(size=(in_shape[0], n_out))
        batches.append((x, target))
    return batches


def _check_trajectory(architecture, in_shape, n_out, loss, optimizer, dtype, mode):
    model = impls.build_model(architecture, "numpy", seed=11, dtype=dtype)
    assert model.layer_specs == spec.models.as_layers(architecture)
    params0 = spec.models.init_model_params(architecture, seed=11)
    batches = _batches(in_shape, n_out, loss)
    # Model forward before training, through the public API.
    x0 = batches[0][0]
    assert rel_err(impls.model_forward(model, x0), spec.models.model_forward(architecture, params0, x0),
                   dtype) <= tolerance(dtype, "forward") * 10  # composed model: tolerance of the table x depth
    losses = impls.train_steps(impls.init_train_state(model, loss, optimizer, mode=mode), batches)
    ref_losses, ref_params = train_trajectory(architecture, params0, batches, loss, optimizer)
    tol = tolerance(dtype, "trajectory")
    assert all(isinstance(v, float) for v in losses)
    assert rel_err(np.array(losses), np.array(ref_losses), dtype) <= tol
    got = impls.get_model_params(model)
    for i, (p, p_ref) in enumerate(zip(got, ref_params, strict=True)):
        for name in p_ref:
            assert p[name].dtype == np.dtype(dtype)
            assert rel_err(p[name], p_ref[name], dtype) <= tol, f"layer {i} {name}"


OPTIMIZERS = {"sgd": SGD(lr=0.1), "adam": Adam(lr=0.01)}


@pytest.mark.parametrize("mode", nb.MODES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("opt", sorted(OPTIMIZERS))
@pytest.mark.parametrize("unit", _mlp_units())
def test_mlp_trajectory(unit, opt, dtype, mode):
    _check_trajectory(MLPSpec(8, (6, 5), 3, unit), (12, 8), 3, "cross_entropy", OPTIMIZERS[opt],
                      dtype, mode)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("unit", ["relu", "aptx_layer", "yat_dense"])
def test_mlp_trajectory_mse(unit, dtype):
    _check_trajectory(MLPSpec(8, (6, 5), 3, unit), (12, 8), 3, "mse", Adam(lr=0.01), dtype, "eager")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("opt", sorted(OPTIMIZERS))
@pytest.mark.parametrize("unit", ["yat_conv2d", "relu", "softermax", "prelu"])
def test_cnn_trajectory(unit, opt, dtype):
    _check_trajectory(CNNSpec(1, 8, (2,), (4,), 3, unit), (4, 1, 8, 8), 3, "cross_entropy",
                      OPTIMIZERS[opt], dtype, "eager")


def test_trajectory_rejects_unknown_loss_and_optimizer():
    model = impls.build_model(MLPSpec(8, (6,), 3, "relu"), "numpy")
    with pytest.raises(ValueError, match="unknown loss"):
        impls.init_train_state(model, "hinge", SGD())
    with pytest.raises(ValueError, match="optimizer"):
        impls.init_train_state(model, "cross_entropy", "adam")
    with pytest.raises(ValueError, match="unknown mode"):
        impls.init_train_state(model, "cross_entropy", SGD(), mode="compiled")


def test_unknown_mode_and_bad_upstream_raise():
    layer = impls.build("relu", "numpy")
    with pytest.raises(ValueError, match="unknown mode"):
        nb.forward(layer, np.ones((2, 3)), mode="compiled")
    with pytest.raises(ValueError, match="upstream gradient expected shape"):
        nb.vjp(layer, np.ones((2, 3)), np.ones((3, 2)))
    with pytest.raises(RuntimeError, match="needs a preceding forward"):
        layer.backward(np.ones((2, 3)))


# --------------------------------------------------------------------------------------------
# Regressions and properties named by the spec


def test_lselu_safe_gradients_finite_for_any_finite_input():
    x = np.array([[-1e4, -100.0, -1.0, 0.0, 1.0, 88.0, 89.0, 100.0, 1e4]])
    for dtype in DTYPES:
        layer = impls.build("lselu", "numpy", dtype=dtype)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            y = impls.forward(layer, x)
            dx, grads = impls.vjp(layer, x, np.ones_like(x))
        assert np.all(np.isfinite(y)) and np.all(np.isfinite(dx))
        assert all(np.isfinite(g) for g in grads.values())
        np.testing.assert_allclose(y[0, -2:], 1.0507 * x[0, -2:], rtol=1e-6)


def test_lselu_unsafe_reproduces_nan_gradients():
    x = np.array([[-3.0, -1.0, 0.5, 88.0, 89.0, 100.0]])
    safe = impls.build("lselu", "numpy", dtype="float32")
    unsafe = impls.build("lselu", "numpy", dtype="float32", safe=False)
    np.testing.assert_array_equal(impls.forward(unsafe, x), impls.forward(safe, x))
    dx, grads = impls.vjp(unsafe, x, np.ones_like(x))
    assert np.all(np.isfinite(dx[0, :4])) and np.all(np.isnan(dx[0, 4:]))
    for name in ("lambda", "alpha", "beta"):
        assert np.isnan(grads[name]), name
    for name in ("gamma", "omega"):
        assert np.isfinite(grads[name]), name
    # Below the overflow threshold both variants agree exactly.
    x_ok = x[:, :4]
    dx_safe, g_safe = impls.vjp(safe, x_ok, np.ones_like(x_ok))
    dx_unsafe, g_unsafe = impls.vjp(unsafe, x_ok, np.ones_like(x_ok))
    np.testing.assert_array_equal(dx_safe, dx_unsafe)
    for name in g_safe:
        np.testing.assert_array_equal(g_safe[name], g_unsafe[name])


def test_lselu_float32_large_arguments_get_the_residual_correction():
    """Mixed magnitudes with an omega whose products round (2.0 would make them exact): only
    |omega x| >= 8 is corrected, the layer meets the float32 tolerances, and the omega
    gradient is within 1e-6 of the oracle (measured 2.9e-7; without the correction 6.5e-5)."""
    rng = np.random.default_rng(4)
    x = np.concatenate([rng.normal(size=(1, 64)), -rng.uniform(4.0, 120.0, size=(1, 64))], axis=1)
    x = _rounded(x, "float32")
    upstream = _rounded(rng.normal(size=x.shape), "float32")
    layer = impls.build("lselu", "numpy", dtype="float32")
    impls.set_params(layer, {**impls.get_params(layer), "omega": _rounded(np.array(2.1357), "float32")})
    params = impls.get_params(layer)
    config = spec.resolve_config("lselu", {})
    check_against_oracle(layer, "lselu", config, params, x, upstream, "float32", "eager")
    _, grads = impls.vjp(layer, x, upstream)
    _, grads_ref = spec.reference_grad("lselu", params, x, upstream, **config)
    assert rel_err(grads["omega"], grads_ref["omega"], "float32") <= 1e-6


@pytest.mark.parametrize("dtype", DTYPES)
def test_yat_dense_where_the_distance_clamps(dtype):
    """Inputs equal to weight rows: |x - w|^2 rounds to <= 0, so the fused pass takes the
    clamp branch (distance gradient 0), and still matches the oracle."""
    layer = impls.build("yat_dense", "numpy", seed=2, dtype=dtype, in_features=5, out_features=3)
    params = impls.get_params(layer)
    x = np.concatenate([params["weight"], np.random.default_rng(1).normal(size=(2, 5))])
    x = _rounded(x, dtype)
    upstream = _rounded(np.random.default_rng(2).normal(size=(5, 3)), dtype)
    config = spec.resolve_config("yat_dense", {"in_features": 5, "out_features": 3})
    check_against_oracle(layer, "yat_dense", config, params, x, upstream, dtype, "eager")


@pytest.mark.parametrize("learnable", [False, True])
def test_swish_no_nan_at_minus_100_float32(learnable):
    x = np.array([[-1000.0, -100.0, -88.8, -1.0, 0.0, 1.0, 100.0]], dtype=np.float32)
    layer = impls.build("swish", "numpy", dtype="float32", learnable=learnable)
    with warnings.catch_warnings(), np.errstate(over="raise", invalid="raise", divide="raise"):
        warnings.simplefilter("error")
        y = impls.forward(layer, x)
        dx, grads = impls.vjp(layer, x, np.ones_like(x))
    assert np.all(np.isfinite(y)) and np.all(np.isfinite(dx))
    assert all(np.all(np.isfinite(g)) for g in grads.values())
    assert abs(float(y[0, 1])) < 1e-30 and abs(float(dx[0, 1])) < 1e-30


def test_sigmoid_and_softmax_stable_at_extremes_float32():
    x = np.array([[-1000.0, -100.0, 0.0, 100.0, 1000.0]], dtype=np.float32)
    with warnings.catch_warnings(), np.errstate(over="raise", invalid="raise", divide="raise"):
        warnings.simplefilter("error")
        s = impls.forward(impls.build("sigmoid", "numpy"), x)
        p = impls.forward(impls.build("softmax", "numpy", temperature=0.01), x)
    np.testing.assert_allclose(s[0, [0, 2, 4]], [0.0, 0.5, 1.0])
    assert np.all(np.isfinite(p)) and p[0, -1] == 1.0


def _cached_arrays(obj: Any) -> list[np.ndarray]:
    if isinstance(obj, np.ndarray):
        return [obj]
    if isinstance(obj, (tuple, list)):
        return [a for item in obj for a in _cached_arrays(item)]
    return []


def test_aptx_recompute_keeps_no_batch_out_in_tensor():
    batch, out, inp = 128, 32, 48
    full = batch * out * inp
    x = np.random.default_rng(0).normal(size=(batch, inp))
    g = np.random.default_rng(1).normal(size=(batch, out))
    peaks = {}
    for impl in ("recompute", "naive"):
        layer = impls.build("aptx_layer", "numpy", dtype="float64", in_features=inp,
                            out_features=out, impl=impl)
        layer.chunk_elements = 2 * out * inp                # slabs of two batch rows
        layer.forward(layer.params["beta"].dtype.type(1) * x, training=True)
        largest = max(a.size for a in _cached_arrays(layer._cache))
        if impl == "recompute":
            assert largest <= batch * inp                   # the cache is x itself
        else:
            assert largest >= full                          # the package keeps [B, O, I] tanh
        layer.backward(g)
        tracemalloc.start()
        try:
            impls.vjp(layer, x, g)
            peaks[impl] = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    itemsize = 8
    assert peaks["recompute"] < full * itemsize / 4, peaks
    assert peaks["naive"] > full * itemsize, peaks


@pytest.mark.parametrize("dtype", DTYPES)
def test_aptx_recompute_equals_naive_and_chunking_is_invisible(dtype):
    x = make_input((9, 7), "extreme", False, 4)
    g = np.random.default_rng(2).normal(size=(9, 5))
    results = []
    for impl, chunk in (("naive", None), ("recompute", 1), ("recompute", 35 * 4), ("recompute", 1 << 20)):
        layer = impls.build("aptx_layer", "numpy", dtype=dtype, in_features=7, out_features=5,
                            impl=impl, seed=1)
        if chunk is not None:
            layer.chunk_elements = chunk
        results.append((impls.forward(layer, x), *impls.vjp(layer, x, g)))
    tol = tolerance(dtype, "gradient")
    for y, dx, grads in results[1:]:
        y0, dx0, grads0 = results[0]
        assert rel_err(y, y0, dtype) <= tol and rel_err(dx, dx0, dtype) <= tol
        for name in grads0:
            assert rel_err(grads[name], grads0[name], dtype) <= tol


def test_actmix_set_temperature_layer_and_model():
    config = {"features": 4, "relu_bias": 1.5}
    layer = impls.build("actmix", "numpy", dtype="float64", **config)
    x = make_input((6, 4), "moderate", False, 0)
    params = impls.get_params(layer)
    nb.set_temperature(layer, 0.1)
    y_ref = spec.reference("actmix", params, x, temperature=0.1, **config)
    assert rel_err(impls.forward(layer, x), y_ref, "float64") <= 1e-12
    assert "temperature" not in params  # state, not a parameter
    np.testing.assert_allclose(layer.coefficients(), spec.actmix_coefficients(params["logits"], 0.1),
                               rtol=1e-12)
    assert abs(layer.entropy() - spec.actmix_entropy(params["logits"], 0.1)) < 1e-12
    model = impls.build_model(MLPSpec(4, (4, 4), 2, "actmix"), "numpy", dtype="float64")
    nb.set_temperature(model, 0.25)
    temps = [b.temperature for b in model.blocks if isinstance(b, nb.BLOCK_CLASSES["actmix"])]
    assert temps == [0.25, 0.25]
    with pytest.raises(ValueError):
        nb.set_temperature(layer, 0.0)


def test_class_names_and_layer_specs():
    expected = {
        "aptx_activation": "APTxActivation", "aptx_layer": "APTxLayer", "actmix": "ActMix",
        "lselu": "LearnableSELU", "relu": "ReLU", "prelu": "PReLU", "swish": "Swish",
        "gelu": "GELU", "tanh": "Tanh", "sigmoid": "Sigmoid", "softmax": "Softmax",
        "yat_dense": "YatDense", "yat_conv2d": "YatConv2D", "softermax": "Softermax",
        "softer_sigmoid": "SofterSigmoid", "soft_tanh": "SoftTanh", "linear": "Linear",
        "conv2d": "Conv2D", "max_pool2d": "MaxPool2D", "flatten": "Flatten",
    }
    assert set(nb.BLOCK_CLASSES) == set(BLOCKS)
    for block, cls in nb.BLOCK_CLASSES.items():
        assert cls.__name__ == expected[block]
    model = impls.build_model(CNNSpec(1, 8, (2,), (4,), 3, "yat_conv2d"), "numpy")
    assert all(b.layer_spec == s for b, s in zip(model.blocks, model.layer_specs, strict=True))


def test_non_trainable_parameters_get_no_gradient_and_do_not_move():
    arch = (spec.layer("aptx_layer", in_features=4, out_features=3, alpha_trainable=False),
            spec.layer("aptx_activation"),
            spec.layer("linear", in_features=3, out_features=2))
    model = impls.build_model(arch, "numpy", dtype="float64")
    before = impls.get_model_params(model)
    impls.train_steps(impls.init_train_state(model, "cross_entropy", Adam(0.1)),
                      _batches((5, 4), 2, "cross_entropy", steps=3))
    after = impls.get_model_params(model)
    np.testing.assert_array_equal(after[0]["alpha"], np.ones((3, 4)))
    for name in ("alpha", "beta", "gamma"):
        np.testing.assert_array_equal(after[1][name], before[1][name])
    assert not np.array_equal(after[0]["beta"], before[0]["beta"])


def test_device_helpers():
    from impls.numpy import device

    assert device.default_device() == "cpu"
    assert device.synchronize() is None
    assert device.peak_memory_bytes() > 0
    info = device.device_info()
    assert info["framework"] == "numpy" and info["threads"]["cpu_count"] >= 1
