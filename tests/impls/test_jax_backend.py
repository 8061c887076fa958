"""JAX / Flax NNX implementations against the float64 oracle: forward, every gradient, trajectories.

Inputs and parameters are first rounded to the tested dtype, and the oracle is evaluated on
exactly those values, so the measured error is the implementation's, not the rounding of x.
Every check runs in both execution modes of the backend (op-by-op "eager" and ``jax.jit``
"compiled"); a compiled function is built once per layer and reused for both input scales.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import impls
from impls import spec
from impls.spec.cases import CASES, SCALES, Case
from impls.spec.tolerances import relative_l2, tolerance
from tests.conftest import require_framework

DTYPES = ("float32", "float64")


@pytest.fixture(scope="module", autouse=True)
def _jax_selected() -> None:
    require_framework("jax")


def _backend():
    return impls.load_backend("jax")


def _modes() -> tuple[str, ...]:
    # Read from the backend (never a hand-typed list), but at collection time the backend may
    # be missing: then the module fixture fails every test, which is what we want.
    try:
        return tuple(_backend().MODES)
    except ImportError:
        return ("eager",)


MODES = _modes()


def _rounded(a: np.ndarray, dtype: str) -> np.ndarray:
    return np.asarray(a, dtype=dtype).astype(np.float64)


def _references(case: Case, params: dict, x: np.ndarray, upstream: np.ndarray):
    return spec.reference_grad(case.unit, params, x, upstream, **case.config)


def _assert_no_float64(layer, x: np.ndarray, upstream: np.ndarray) -> None:
    """A float32 layer must stay float32 inside, although the backend enables x64."""
    import jax
    import jax.numpy as jnp
    from flax import nnx

    graphdef, params, rest = nnx.split(layer, nnx.Param, ...)

    def grads(xs, ps, g):
        _, pullback = jax.vjp(lambda a, b: nnx.merge(graphdef, b, rest)(a), xs, ps)
        return pullback(g)

    jaxpr = jax.make_jaxpr(grads)(jnp.asarray(x, jnp.float32), params, jnp.asarray(upstream, jnp.float32))
    assert "f64" not in str(jaxpr), f"{layer.layer_spec.block}: float64 values inside a float32 layer"


def check_case(case: Case, dtype: str, mode: str) -> None:
    backend = _backend()
    layer = impls.build(case.unit, "jax", dtype=dtype, seed=3, **case.config)
    params = {k: _rounded(v, dtype) for k, v in case.params(seed=3, jitter=0.1).items()}
    impls.set_params(layer, params)
    for scale in SCALES:
        where = f"{case.id} {dtype} {mode} scale {scale:g}"
        x = _rounded(case.inputs(seed=11, scale=scale), dtype)
        y = backend.forward(layer, x, mode)
        y_ref = spec.reference(case.unit, params, x, **case.config)
        assert y.dtype == np.dtype(dtype), where
        err = relative_l2(y, y_ref, dtype)
        assert err <= tolerance(dtype, "forward"), f"{where}: forward error {err:.2e}"
        upstream = _rounded(np.random.default_rng(13).standard_normal(y_ref.shape), dtype)
        dx, grads = backend.vjp(layer, x, upstream, mode)
        dx_ref, grads_ref = _references(case, params, x, upstream)
        assert set(grads) == set(grads_ref), f"{where}: trainable parameters differ"
        for name, (got, want) in {"x": (dx, dx_ref), **{k: (grads[k], grads_ref[k]) for k in grads}}.items():
            assert got.dtype == np.dtype(dtype) and got.shape == want.shape, f"{where}: gradient of {name}"
            err = relative_l2(got, want, dtype)
            assert err <= tolerance(dtype, "gradient"), f"{where}: gradient of {name}: error {err:.2e}"
        if dtype == "float32" and mode == "eager" and scale == SCALES[0]:
            _assert_no_float64(layer, x, upstream)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_jax_matches_oracle(case: Case, dtype: str, mode: str) -> None:
    check_case(case, dtype, mode)


def test_every_block_has_a_case_and_a_class() -> None:
    backend = _backend()
    assert set(backend.BLOCK_CLASSES) == set(spec.BLOCKS)
    assert {c.unit for c in CASES} == set(spec.BLOCKS)
    for name, cls in backend.BLOCK_CLASSES.items():
        assert cls.__module__ == "impls.jax.units", name


# ----------------------------------------------------------------------------------------
# Parameters: canonical init, trainable split, layouts, round trips


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_build_starts_from_canonical_init(case: Case) -> None:
    from flax import nnx

    backend = _backend()
    trainable = set(spec.trainable_names(case.unit, case.config))
    for dtype in DTYPES:
        layer = impls.build(case.unit, "jax", seed=4, dtype=dtype, **case.config)
        assert impls.layer_spec(layer).block == case.unit
        got = impls.get_params(layer)
        want = spec.init_params(case.unit, case.config, seed=4)
        assert set(got) == set(want) == set(spec.param_shapes(case.unit, case.config))
        for name in want:
            assert got[name].dtype == np.dtype(dtype)
            np.testing.assert_array_equal(got[name], want[name].astype(dtype))
        # Exactly the spec's trainable parameters are nnx.Param; the rest are Buffers.
        params = nnx.to_pure_dict(nnx.state(layer, nnx.Param))
        buffers = nnx.to_pure_dict(nnx.state(layer, backend.units.Buffer))
        canonical = {backend.params.native_slot(layer, n)[0]: n for n in want}
        assert {canonical[a] for a in params} == trainable
        assert {canonical[a] for a in buffers} == set(want) - trainable
        for leaf in [*params.values(), *buffers.values()]:
            assert leaf.dtype == np.dtype(dtype)


def test_native_layouts_are_flax_layouts() -> None:
    dense = impls.build("linear", "jax", in_features=3, out_features=2)
    assert dense.kernel[...].shape == (3, 2)                     # Flax Dense: [in, out]
    conv = impls.build("yat_conv2d", "jax", in_channels=3, out_channels=4, kernel_size=(2, 5))
    assert conv.kernel[...].shape == (2, 5, 3, 4)                # HWIO
    assert impls.get_params(conv)["weight"].shape == (4, 3, 2, 5)  # canonical OIHW


@pytest.mark.parametrize("dtype", DTYPES)
def test_set_params_round_trip(dtype: str) -> None:
    for case in CASES:
        layer = impls.build(case.unit, "jax", dtype=dtype, **case.config)
        params = case.params(seed=7, jitter=0.3)
        impls.set_params(layer, params)
        got = impls.get_params(layer)
        for name, value in params.items():
            np.testing.assert_array_equal(got[name], value.astype(dtype), err_msg=f"{case.id} {name}")


def test_set_params_validates() -> None:
    layer = impls.build("aptx_layer", "jax", in_features=3, out_features=2)
    params = impls.get_params(layer)
    with pytest.raises(ValueError, match="missing"):
        impls.set_params(layer, {k: v for k, v in params.items() if k != "gamma"})
    with pytest.raises(ValueError, match=r"'alpha' expected shape \(2, 3\)"):
        impls.set_params(layer, {**params, "alpha": np.ones((3, 2))})
    with pytest.raises(ValueError, match="aptx_layer"):
        impls.forward(layer, np.ones((4, 4)))
    with pytest.raises(ValueError, match="unknown mode"):
        _backend().forward(layer, np.ones((4, 3)), mode="graph")


def test_acceptance_build() -> None:
    import jax
    from flax import nnx

    layer = impls.build("aptx_layer", "jax", in_features=784, out_features=128)
    count = sum(leaf.size for leaf in jax.tree.leaves(nnx.state(layer, nnx.Param)))
    assert count == 128 * (3 * 784 + 1)


# ----------------------------------------------------------------------------------------
# APTx: the memory-lean layer


def _residual_shapes(layer, x: np.ndarray, jit: bool) -> list[tuple[int, ...]]:
    """Shapes of everything jax.vjp keeps for the backward pass (the pullback's leaves)."""
    import jax
    import jax.numpy as jnp
    from flax import nnx

    graphdef, params, rest = nnx.split(layer, nnx.Param, ...)

    def apply(xs, ps):
        return nnx.merge(graphdef, ps, rest)(xs)

    _, pullback = jax.vjp(jax.jit(apply) if jit else apply, jnp.asarray(x, layer.dtype), params)
    return [tuple(leaf.shape) for leaf in jax.tree.leaves(pullback) if hasattr(leaf, "shape")]


@pytest.mark.parametrize("jit", [False, True], ids=["eager", "compiled"])
def test_aptx_recompute_keeps_no_batch_out_in_residual(jit: bool) -> None:
    batch, inp, out = 16, 12, 8
    x = np.random.default_rng(0).standard_normal((batch, inp))
    lean = impls.build("aptx_layer", "jax", in_features=inp, out_features=out)
    shapes = _residual_shapes(lean, x, jit)
    assert shapes, "no residuals found: the introspection itself is broken"
    assert max(int(np.prod(s)) for s in shapes) <= max(batch * inp, out * inp), shapes
    assert all(len(s) <= 2 for s in shapes), shapes
    # The check does see a [batch, out, in] residual where one exists.
    naive = impls.build("aptx_layer", "jax", in_features=inp, out_features=out, impl="naive")
    assert (batch, out, inp) in _residual_shapes(naive, x, jit)


@pytest.mark.parametrize("mode", MODES)
def test_aptx_recompute_chunked_matches_oracle(mode: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Several batch chunks, the last one zero-padded (7 rows, 2 rows per chunk)."""
    from impls.jax import aptx

    monkeypatch.setattr(aptx, "CHUNK_ELEMENTS", 60)              # 5 x 6 = 30 values per row
    assert aptx.chunk_rows(5, 6) == 2
    config = {"in_features": 6, "out_features": 5}
    rng = np.random.default_rng(5)
    for dtype in DTYPES:
        layer = impls.build("aptx_layer", "jax", dtype=dtype, **config)
        params = {k: v.astype(np.float64) for k, v in impls.get_params(layer).items()}
        x = _rounded(rng.standard_normal((7, 6)) * 3.0, dtype)
        g = _rounded(rng.standard_normal((7, 5)), dtype)
        y = _backend().forward(layer, x, mode)
        assert relative_l2(y, spec.reference("aptx_layer", params, x, **config), dtype) <= tolerance(dtype, "forward")
        dx, grads = _backend().vjp(layer, x, g, mode)
        dx_ref, grads_ref = spec.reference_grad("aptx_layer", params, x, g, **config)
        for got, want in [(dx, dx_ref), *((grads[k], grads_ref[k]) for k in grads_ref)]:
            assert relative_l2(got, want, dtype) <= tolerance(dtype, "gradient")


# ----------------------------------------------------------------------------------------
# Regressions for the seed projects' bugs (spec §7) and numerical hazards


def test_softmax_no_overflow_and_accurate_gradient_when_one_entry_dominates() -> None:
    """exp(100) overflows float32; and once the other entries fall below float32's resolution
    (here they are e^-20 ~ 2e-9), the usual y (g - sum y g) gradient is rounding noise at the
    dominant entry. The exact value there is -(sum of the others) (a softmax Jacobian row sums
    to 0), known to full precision from the others."""
    x = np.array([[100.0, 80.0, 80.0], [-100.0, -120.0, -100.0]], dtype=np.float32)
    g = np.array([[1.0, 2.0, -0.5], [0.25, 1.0, -2.0]], dtype=np.float32)
    x64 = x.astype(np.float64)
    y_ref = spec.reference("softmax", {}, x64)
    e = np.exp(x64 - x64.max(axis=1, keepdims=True))
    y64 = e / e.sum(axis=1, keepdims=True)
    dx_exact = y64 * (g - np.sum(g * y64, axis=1, keepdims=True))
    dominant = np.argmax(y64, axis=1)
    for row, m in enumerate(dominant):
        others = [j for j in range(3) if j != m]
        dx_exact[row, m] = -dx_exact[row, others].sum()
    layer = impls.build("softmax", "jax")
    for mode in MODES:
        y = _backend().forward(layer, x, mode)
        assert np.all(np.isfinite(y)) and relative_l2(y, y_ref) <= tolerance("float32", "forward")
        dx, _ = _backend().vjp(layer, x, g, mode)
        assert relative_l2(dx, dx_exact) <= tolerance("float32", "gradient"), (mode, dx, dx_exact)


def test_maxpool_tie_sends_gradient_to_first_maximum() -> None:
    x = np.zeros((1, 1, 2, 2), np.float32)
    dx, _ = impls.vjp(impls.build("max_pool2d", "jax"), x, np.ones((1, 1, 1, 1), np.float32))
    np.testing.assert_array_equal(dx, [[[[1.0, 0.0], [0.0, 0.0]]]])


def test_actmix_temperature_is_state_not_a_constant() -> None:
    """set_temperature changes what a compiled layer computes, without touching parameters."""
    backend = _backend()
    config = {"features": 4}
    layer = impls.build("actmix", "jax", dtype="float64", **config)
    params = impls.get_params(layer)
    x = np.random.default_rng(2).standard_normal((3, 4))
    for mode in MODES:
        for temperature in (1.0, 0.1, 0.01):
            backend.set_temperature(layer, temperature)
            y = backend.forward(layer, x, mode)
            want = spec.reference("actmix", params, x, **{**config, "temperature": temperature})
            assert relative_l2(y, want, "float64") <= tolerance("float64", "forward"), (mode, temperature)
    assert set(impls.vjp(layer, x, np.ones_like(x))[1]) == {"logits"}
    model = impls.build_model(spec.MLPSpec(4, (5, 3), 2, "actmix"), "jax")
    backend.set_temperature(model, 0.5)
    temps = [float(b.temperature[...]) for b in model.layers if b.layer_spec.block == "actmix"]
    assert temps == [0.5, 0.5]
    assert np.isfinite(float(backend.actmix_entropy(model)))


# ----------------------------------------------------------------------------------------
# Models and trajectories: 10 SGD / Adam steps vs the oracle


def _architectures():
    for unit in impls.UNITS:
        if spec.get_block(unit).kind == "conv":
            yield unit, spec.CNNSpec(1, 8, (2,), (4,), 3, unit)
        else:
            yield unit, spec.MLPSpec(8, (6, 5), 3, unit)


ARCHITECTURES = list(_architectures())
OPTIMIZERS = {"sgd": spec.training.SGD(lr=0.05), "adam": spec.training.Adam(lr=0.01)}


def _batches(architecture, steps: int = 10, seed: int = 21):
    rng = np.random.default_rng(seed)
    in_shape = (8, 1, 8, 8) if isinstance(architecture, spec.CNNSpec) else (8, 8)
    return [(rng.standard_normal(in_shape).astype(np.float32).astype(np.float64), rng.integers(0, 3, size=8))
            for _ in range(steps)]


def check_trajectory(architecture, dtype: str, mode: str, optimizer, loss: str = "cross_entropy",
                     batches=None) -> None:
    batches = batches if batches is not None else _batches(architecture)
    model = impls.build_model(architecture, "jax", seed=2, dtype=dtype)
    start = [{k: v.astype(np.float64) for k, v in p.items()} for p in impls.get_model_params(model)]
    losses_ref, final_ref = spec.training.train_trajectory(architecture, start, batches, loss, optimizer)
    losses = impls.train_steps(impls.init_train_state(model, loss, optimizer, mode=mode), batches)
    where = f"{dtype} {mode} {type(optimizer).__name__} {loss}"
    err = relative_l2(np.array(losses), np.array(losses_ref), dtype)
    assert err <= tolerance(dtype, "trajectory"), f"{where} losses: {err:.2e}"
    final = impls.get_model_params(model)
    for i, (p, p_ref) in enumerate(zip(final, final_ref, strict=True)):
        for name in p_ref:
            assert p[name].dtype == np.dtype(dtype)
            err = relative_l2(p[name], p_ref[name], dtype)
            assert err <= tolerance(dtype, "trajectory"), f"{where} layer {i} {name}: {err:.2e}"


#: Four trajectories per unit: both optimisers in float32 (one per mode) and in float64 (compiled),
#: rather than all eight combinations. An eager float64 run costs ~2 s of per-op XLA compilation
#: per unit on the project's 2-core machine; eager float64 training is covered once, by
#: test_adam_rule_equals_optax_adam (against the oracle and against optax).
TRAJECTORY_PLAN = [("float32", "eager", "sgd"), ("float32", "compiled", "adam"),
                   ("float64", "compiled", "sgd"), ("float64", "compiled", "adam")]


@pytest.mark.parametrize(("dtype", "mode", "optimizer"), TRAJECTORY_PLAN,
                         ids=["-".join(p) for p in TRAJECTORY_PLAN])
@pytest.mark.parametrize(("unit", "architecture"), ARCHITECTURES, ids=[u for u, _ in ARCHITECTURES])
def test_training_trajectory_matches_oracle(unit, architecture, dtype, mode, optimizer) -> None:
    if mode not in MODES:
        pytest.fail(f"mode {mode!r} missing from the backend's MODES {MODES}")
    check_trajectory(architecture, dtype, mode, OPTIMIZERS[optimizer])


@pytest.mark.parametrize("mode", MODES)
def test_mse_trajectory_matches_oracle(mode: str) -> None:
    architecture = spec.MLPSpec(8, (6, 5), 3, "aptx_layer", {"alpha_trainable": False})
    rng = np.random.default_rng(4)
    batches = [(rng.standard_normal((8, 8)), rng.standard_normal((8, 3))) for _ in range(10)]
    batches = [(_rounded(x, "float32"), _rounded(t, "float32")) for x, t in batches]
    check_trajectory(architecture, "float32", mode, spec.training.Adam(lr=0.01), "mse", batches)


@pytest.mark.parametrize("mode", MODES)
def test_model_forward_and_params(mode: str) -> None:
    architecture = spec.CNNSpec(2, 8, (3,), (5,), 4, "prelu")
    model = impls.build_model(architecture, "jax", seed=1, dtype="float64")
    assert model.layer_specs == architecture.layers()
    params = spec.models.init_model_params(architecture, seed=9)
    impls.set_model_params(model, params)
    for got, want in zip(impls.get_model_params(model), params, strict=True):
        assert set(got) == set(want)
        for name in want:
            np.testing.assert_array_equal(got[name], want[name])
    x = np.random.default_rng(0).standard_normal((3, 2, 8, 8))
    y = _backend().model_forward(model, x, mode)
    want = spec.models.model_forward(architecture, params, x)
    assert relative_l2(y, want, "float64") <= tolerance("float64", "forward")
    np.testing.assert_array_equal(impls.model_forward(model, x), _backend().model_forward(model, x, "eager"))


@pytest.mark.parametrize("rule", [spec.training.Adam(lr=0.1), spec.training.AdamW(lr=0.1, weight_decay=0.3)],
                         ids=["adam", "adamw"])
def test_adam_rule_equals_optax_adam(rule) -> None:
    """The backend's hand-written Adam is optax.adam (eps_root = 0) and its AdamW (torch order:
    decay, then Adam) equals optax.adamw (decay added to the Adam direction) up to rounding; the
    eager float64 trajectory equals the oracle's, and two train_steps calls on one state equal a
    plain optax loop over all the batches (no state lost between steps or calls)."""
    import jax
    import jax.numpy as jnp
    import optax
    from flax import nnx

    architecture = spec.MLPSpec(4, (3,), 2, "tanh")
    rng = np.random.default_rng(0)
    batches = [(rng.standard_normal((5, 4)), rng.integers(0, 2, 5)) for _ in range(5)]
    ours = impls.build_model(architecture, "jax", dtype="float64")
    theirs = impls.build_model(architecture, "jax", dtype="float64")
    check_trajectory(architecture, "float64", "eager", rule, batches=batches)
    state = impls.init_train_state(ours, "cross_entropy", rule)
    impls.train_steps(state, batches[:2])
    impls.train_steps(state, batches[2:])
    if isinstance(rule, spec.training.AdamW):
        tx = optax.adamw(0.1, b1=0.9, b2=0.999, eps=1e-8, weight_decay=0.3)
    else:
        tx = optax.adam(0.1, b1=0.9, b2=0.999, eps=1e-8)
    graphdef, params, rest = nnx.split(theirs, nnx.Param, ...)
    opt_state = tx.init(params)
    for x, y in batches:
        def loss(p, x=x, y=y):
            logits = nnx.merge(graphdef, p, rest)(jnp.asarray(x))
            return -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(logits), jnp.asarray(y)[:, None], 1))

        updates, opt_state = tx.update(jax.grad(loss)(params), opt_state, params)
        params = optax.apply_updates(params, updates)
    nnx.update(theirs, params)
    for a, b in zip(impls.get_model_params(ours), impls.get_model_params(theirs), strict=True):
        for name in a:
            np.testing.assert_allclose(a[name], b[name], rtol=1e-12, atol=1e-14)


# ----------------------------------------------------------------------------------------
# Device helpers and import hygiene


def test_device_helpers() -> None:
    import jax.numpy as jnp

    device = _backend().device
    assert device.MODES == MODES == ("eager", "compiled")
    assert device.devices() and device.default_device() is not None
    device.synchronize(jnp.ones(3))
    device.synchronize()
    peak = device.peak_memory_bytes()
    if device.default_device().platform == "cpu":
        assert peak is None
    else:
        assert isinstance(peak, int) and peak > 0


def test_backend_imports_no_other_framework() -> None:
    code = ("import sys, impls.jax; "
            "bad = [m for m in ('torch', 'tensorflow', 'keras') if m in sys.modules]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[2])
