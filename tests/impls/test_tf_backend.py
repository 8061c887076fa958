"""TensorFlow/Keras implementations against the float64 oracle: forward, every gradient,
trajectories, in eager mode and compiled (``tf.function(jit_compile=True)``, XLA) mode.

Inputs and parameters are first rounded to the tested dtype, and the oracle is evaluated on
exactly those values, so the measured error is the implementation's, not the rounding of x.
A missing TensorFlow makes these tests fail (``require_framework``), never skip, unless tf was
left out of NEURONBENCH_FRAMEWORKS on purpose.
"""

from __future__ import annotations

import sys
import types

import numpy as np
import pytest

import impls
from impls import spec
from impls.spec.cases import CASES, SCALES, Case
from impls.spec.tolerances import relative_l2, tolerance
from tests.conftest import require_framework

FRAMEWORK = "tf"


@pytest.fixture(scope="module", autouse=True)
def _tf_selected() -> None:
    require_framework(FRAMEWORK)


def _backend():
    return impls.load_backend(FRAMEWORK)


def _modes() -> tuple[str, ...]:
    # Read from the backend, so a missing TensorFlow fails at collection instead of skipping.
    return _backend().MODES


def _rounded(a: np.ndarray, dtype: str) -> np.ndarray:
    return np.asarray(a, dtype=dtype).astype(np.float64)


def _inputs(case: Case, scale: float, dtype: str) -> np.ndarray:
    x = case.inputs(seed=11, scale=scale)
    if case.unit == "lselu" and case.config.get("safe") is False and dtype == "float32":
        # The original's where() has NaN gradients above 88.7 in float32 by design (tested below).
        x = np.clip(x, -80.0, 80.0)
    return _rounded(x, dtype)


def check_case(case: Case, dtype: str, mode: str, inputs: list[np.ndarray] | None = None) -> dict[str, float]:
    """Forward and every gradient of one layer on several inputs (default: one per scale).

    One layer serves every input, so compiled mode traces once per input signature.
    Returns the worst errors seen.
    """
    backend = _backend()
    layer = impls.build(case.unit, FRAMEWORK, dtype=dtype, seed=3, **case.config)
    params = {k: _rounded(v, dtype) for k, v in case.params(seed=3, jitter=0.1).items()}
    impls.set_params(layer, params)
    if inputs is None:
        inputs = [_inputs(case, scale, dtype) for scale in SCALES]
    worst = {"forward": 0.0, "gradient": 0.0}
    for x in inputs:
        size = f"|x|max={np.max(np.abs(x)):.3g} shape={x.shape}"
        spec.check_input(case.unit, layer.layer_spec.config, x)
        y = backend.forward(layer, x, mode)
        y_ref = spec.reference(case.unit, params, x, **case.config)
        assert y.dtype == np.dtype(dtype)
        err = relative_l2(y, y_ref, dtype)
        worst["forward"] = max(worst["forward"], err)
        assert err <= tolerance(dtype, "forward"), f"{case.id} {size} forward error {err:.2e}"
        upstream = _rounded(np.random.default_rng(13).standard_normal(y_ref.shape), dtype)
        dx, grads = backend.vjp(layer, x, upstream, mode)
        dx_ref, grads_ref = spec.reference_grad(case.unit, params, x, upstream, **case.config)
        assert set(grads) == set(grads_ref), f"{case.id}: trainable parameters differ"
        for name, (got, want) in {"x": (dx, dx_ref), **{k: (grads[k], grads_ref[k]) for k in grads}}.items():
            assert got.shape == want.shape and got.dtype == np.dtype(dtype), f"{case.id} grad {name}"
            err = relative_l2(got, want, dtype)
            worst["gradient"] = max(worst["gradient"], err)
            assert err <= tolerance(dtype, "gradient"), f"{case.id} {size} gradient of {name}: error {err:.2e}"
    return worst


def _first_case_per_block() -> list[Case]:
    seen: dict[str, Case] = {}
    for case in CASES:
        seen.setdefault(case.unit, case)
    return list(seen.values())


#: Eager: every case in both dtypes. Compiled (XLA, ~0.5 s of compilation per layer): every
#: case in float32 and the first case of every block in float64, to keep the file fast.
ORACLE_RUNS = [
    *[pytest.param(c, d, "eager", id=f"{c.id}-{d}-eager") for c in CASES for d in ("float32", "float64")],
    *[pytest.param(c, "float32", "compiled", id=f"{c.id}-float32-compiled") for c in CASES],
    *[pytest.param(c, "float64", "compiled", id=f"{c.id}-float64-compiled") for c in _first_case_per_block()],
]


@pytest.mark.parametrize(("case", "dtype", "mode"), ORACLE_RUNS)
def test_tf_matches_oracle(case: Case, dtype: str, mode: str) -> None:
    assert mode in _modes()
    check_case(case, dtype, mode)


def test_every_block_has_a_case_and_a_class() -> None:
    backend = _backend()
    assert set(backend.BLOCK_CLASSES) == set(spec.BLOCKS)
    assert {c.unit for c in CASES} == set(spec.BLOCKS)
    assert backend.MODES == ("eager", "compiled")


@pytest.mark.parametrize("unit", list(spec.BLOCKS))
def test_build_starts_from_canonical_init(unit: str) -> None:
    case = next(c for c in CASES if c.unit == unit)
    for dtype in ("float32", "float64"):
        layer = impls.build(unit, FRAMEWORK, seed=4, dtype=dtype, **case.config)
        assert impls.layer_spec(layer).block == unit
        assert impls.framework_of(layer) == FRAMEWORK
        got = impls.get_params(layer)
        want = spec.init_params(unit, case.config, seed=4)
        assert set(got) == set(want) == set(spec.param_shapes(unit, case.config))
        for name in want:
            assert got[name].dtype == np.dtype(dtype)
            np.testing.assert_array_equal(got[name], want[name].astype(dtype))
        trainable = {v.path.rsplit("/", 1)[-1] for v in layer.trainable_variables}
        assert trainable == set(spec.trainable_names(unit, case.config))


def test_set_params_round_trip_and_validation() -> None:
    layer = impls.build("yat_conv2d", FRAMEWORK, in_channels=2, out_channels=3, kernel_size=(3, 2))
    params = {k: np.random.default_rng(0).standard_normal(v.shape) for k, v in impls.get_params(layer).items()}
    impls.set_params(layer, params)
    for name, value in impls.get_params(layer).items():
        np.testing.assert_array_equal(value, params[name].astype(np.float32))
    assert tuple(layer.variable("weight").shape) == (3, 2, 2, 3)  # Keras layout [kh, kw, in, out]
    with pytest.raises(ValueError, match="missing"):
        impls.set_params(layer, {k: v for k, v in params.items() if k != "bias"})
    with pytest.raises(ValueError, match="yat_conv2d"):
        impls.forward(layer, np.ones((1, 3, 4, 4)))


def test_float64_layers_do_not_autocast() -> None:
    layer = impls.build("linear", FRAMEWORK, dtype="float64", in_features=3, out_features=2)
    assert layer.compute_dtype == "float64"
    assert all(v.dtype == "float64" for v in layer.weights)
    x = np.array([[1.0 + 1e-12, 2.0, 3.0]])
    y = _backend().forward(layer, x.astype(np.float32))  # float32 input is cast *up*
    assert y.dtype == np.float64
    x64 = impls.forward(layer, x)
    np.testing.assert_allclose(x64, spec.reference("linear", impls.get_params(layer), x,
                                                   **layer.layer_spec.config), rtol=1e-15)


# ----------------------------------------------------------------------------------------
# ActMix temperature (mutable state, not a parameter)


def test_actmix_temperature_is_state_and_never_retraces() -> None:
    backend = _backend()
    from impls.tf.device import tracing_count

    layer = impls.build("actmix", FRAMEWORK, dtype="float64", features=4, relu_bias=1.5)
    params = impls.get_params(layer)
    x = np.random.default_rng(0).standard_normal((3, 4))
    for temperature in (1.0, 0.3, 0.01):
        backend.set_temperature(layer, temperature)
        config = {**layer.layer_spec.config, "temperature": temperature}
        np.testing.assert_allclose(backend.forward(layer, x, "compiled"),
                                   spec.reference("actmix", params, x, **config), rtol=1e-12)
        _, grads = backend.vjp(layer, x, np.ones_like(x), "compiled")
        _, grads_ref = spec.reference_grad("actmix", params, x, np.ones_like(x), **config)
        assert relative_l2(grads["logits"], grads_ref["logits"], "float64") <= 1e-10
    assert tracing_count(layer) == 2  # one forward, one vjp trace for all three temperatures
    assert set(impls.get_params(layer)) == {"logits"}
    assert [v.path.rsplit("/", 1)[-1] for v in layer.trainable_variables] == ["logits"]
    model = impls.build_model(spec.MLPSpec(4, (3, 3), 2, "actmix"), FRAMEWORK)
    backend.set_temperature(model, 0.5)
    assert [float(b.temperature.numpy()) for b in model.blocks if b.layer_spec.block == "actmix"] == [0.5, 0.5]
    with pytest.raises(ValueError, match="temperature"):
        backend.set_temperature(layer, 0.0)


# ----------------------------------------------------------------------------------------
# Compiled mode: retracing and dynamic batch sizes


def test_compiled_functions_are_cached_per_layer() -> None:
    from impls.tf.device import tracing_count

    backend = _backend()
    layer = impls.build("yat_dense", FRAMEWORK, in_features=4, out_features=3)
    rng = np.random.default_rng(0)
    for _ in range(3):
        backend.forward(layer, rng.standard_normal((5, 4)), "compiled")
        backend.vjp(layer, rng.standard_normal((5, 4)), rng.standard_normal((5, 3)), "compiled")
    assert tracing_count(layer) == 2
    for batch in (6, 7, 8):  # reduce_retracing generalises the batch axis after one retrace
        backend.forward(layer, rng.standard_normal((batch, 4)), "compiled")
    assert tracing_count(layer) <= 4


# ----------------------------------------------------------------------------------------
# The memory-lean APTx layer


@pytest.mark.parametrize(("dtype", "mode"), [("float32", "eager"), ("float64", "eager"),
                                             ("float32", "compiled"), ("float64", "compiled")])
def test_aptx_recompute_chunks_over_the_batch(monkeypatch, dtype: str, mode: str) -> None:
    """Several chunks, a ragged last chunk and (compiled) a batch axis of unknown size."""
    import impls.tf.aptx as aptx

    monkeypatch.setattr(aptx, "CHUNK_ELEMENTS", 2 * 5 * 6)  # 2 rows per chunk
    assert aptx.chunk_rows(5, 6) == 2
    case = Case("aptx_layer", {"in_features": 6, "out_features": 5})
    rng = np.random.default_rng(2)
    # 7 rows: 4 chunks, the last one ragged; then other sizes through the same layer (compiled:
    # the retrace generalises the batch axis, so the loop runs on a batch of unknown size).
    inputs = [_rounded(rng.normal(0, scale, (batch, 6)), dtype)
              for batch, scale in ((7, 1.0), (7, 30.0), (9, 1.0), (1, 30.0), (2, 1.0))]
    check_case(case, dtype, mode, inputs)


def _saved_for_backward(layer, x: np.ndarray, upstream: np.ndarray) -> list[tuple[int, ...]]:
    """Shapes of the forward-pass tensors the backward pass reads (its residuals).

    Traces forward + tape.gradient into one graph, splits its ops at the point where the
    gradient starts, and returns every forward tensor consumed by a backward op. Work done
    inside loops lives in nested function graphs and is not a residual of this graph.
    """
    import tensorflow as tf

    variables = [layer.variable(n) for n in layer.trainable_names]
    saved: list[tuple[int, ...]] = []

    @tf.function
    def fn(x, g):
        graph = tf.compat.v1.get_default_graph()
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x)
        n_forward = len(graph.get_operations())
        grads = tape.gradient(y, [x, *variables], output_gradients=g)
        ops = graph.get_operations()
        produced = {t.ref() for op in ops[:n_forward] for t in op.outputs}
        for op in ops[n_forward:]:
            saved.extend(tuple(t.shape.as_list()) for t in op.inputs if t.ref() in produced)
        return grads

    fn(tf.constant(x, tf.float32), tf.constant(upstream, tf.float32))
    return saved


def test_aptx_recompute_saves_no_batch_out_in_tensor() -> None:
    batch, out, inp = 12, 7, 10
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, inp)).astype(np.float32)
    g = rng.standard_normal((batch, out)).astype(np.float32)
    sizes = {}
    for impl in ("recompute", "naive"):
        layer = impls.build("aptx_layer", FRAMEWORK, in_features=inp, out_features=out, impl=impl)
        shapes = _saved_for_backward(layer, x, g)
        assert shapes, impl
        sizes[impl] = max(int(np.prod(s)) for s in shapes)
    # The probe sees the naive layer's [B, O, I] residuals, and none in the recompute layer.
    assert sizes["naive"] >= batch * out * inp
    assert sizes["recompute"] <= max(batch * inp, out * inp, batch * out)


_RSS_SETUP = """
import numpy as np, impls
backend = impls.load_backend("tf")
layer = impls.build("aptx_layer", "tf", in_features=784, out_features=256, impl="{impl}")
x = np.random.default_rng(0).standard_normal((256, 784)).astype(np.float32)
g = np.ones((256, 256), np.float32)
backend.vjp(layer, x[:2], g[:2])  # warm-up: kernels and allocator pools outside the measurement
"""


@pytest.mark.slow
def test_aptx_recompute_peak_memory_is_a_fraction_of_naive() -> None:
    """Measured: eager forward + backward, batch 256, 784 -> 256, float32, fresh processes.

    One [256, 256, 784] float32 tensor is 196 MiB; the naive layer keeps several for its
    backward pass, the recomputing one none (its chunks hold 5 rows at a time).
    """
    from suites.performance.memory import peak_rss_increase

    peaks = {impl: peak_rss_increase(_RSS_SETUP.format(impl=impl), "backend.vjp(layer, x, g)")
             for impl in ("recompute", "naive")}
    assert peaks["naive"] > 300 << 20, f"naive APTx peaked at only {peaks['naive'] >> 20} MiB: probe broken?"
    assert peaks["recompute"] < 0.1 * peaks["naive"], (
        f"recompute {peaks['recompute'] >> 20} MiB vs naive {peaks['naive'] >> 20} MiB")


# ----------------------------------------------------------------------------------------
# Trajectories: 10 SGD / Adam steps of a small model vs the oracle


def _architectures():
    for unit in impls.UNITS:
        if spec.get_block(unit).kind == "conv":
            yield unit, spec.CNNSpec(1, 8, (2,), (4,), 3, unit)
        else:
            yield unit, spec.MLPSpec(8, (6, 5), 3, unit)


ARCHITECTURES = list(_architectures())


def _batches(architecture, loss: str = "cross_entropy"):
    rng = np.random.default_rng(21)
    in_shape = (8, 1, 8, 8) if isinstance(architecture, spec.CNNSpec) else (8, 8)
    batches = []
    for _ in range(10):
        x = rng.standard_normal(in_shape).astype(np.float32).astype(np.float64)
        target = rng.integers(0, 3, size=8) if loss == "cross_entropy" else rng.standard_normal((8, 3))
        batches.append((x, target))
    return batches


def check_trajectory(unit, architecture, optimizer, dtype: str, mode: str,
                     loss: str = "cross_entropy") -> float:
    batches = _batches(architecture, loss)
    model = impls.build_model(architecture, FRAMEWORK, seed=2, dtype=dtype)
    assert model.layer_specs == spec.models.as_layers(architecture)
    start = impls.get_model_params(model)
    start64 = [{k: v.astype(np.float64) for k, v in p.items()} for p in start]
    losses_ref, final_ref = spec.training.train_trajectory(architecture, start64, batches, loss, optimizer)
    losses = impls.train_steps(impls.init_train_state(model, loss, optimizer, mode=mode), batches)
    worst = relative_l2(np.array(losses), np.array(losses_ref), dtype)
    assert worst <= tolerance(dtype, "trajectory"), f"{unit} {dtype} {mode} losses: {worst:.2e}"
    final = impls.get_model_params(model)
    for i, (p, p_ref) in enumerate(zip(final, final_ref, strict=True)):
        for name in p_ref:
            err = relative_l2(p[name], p_ref[name], dtype)
            worst = max(worst, err)
            assert err <= tolerance(dtype, "trajectory"), f"{unit} {dtype} {mode} layer {i} {name}: {err:.2e}"
    return worst


OPTIMIZERS = [spec.training.SGD(lr=0.05), spec.training.Adam(lr=0.01)]


#: Eager: every unit with SGD and Adam. Compiled (one XLA compilation of the whole train step,
#: ~2 s each): every unit with Adam, and SGD for the units with custom gradients or state.
TRAJECTORY_RUNS = [
    *[pytest.param(u, a, o, "eager", id=f"{u}-{n}-eager")
      for u, a in ARCHITECTURES for o, n in zip(OPTIMIZERS, ("sgd", "adam"), strict=True)],
    *[pytest.param(u, a, OPTIMIZERS[1], "compiled", id=f"{u}-adam-compiled") for u, a in ARCHITECTURES],
    *[pytest.param(u, a, OPTIMIZERS[0], "compiled", id=f"{u}-sgd-compiled") for u, a in ARCHITECTURES
      if u in ("aptx_layer", "actmix", "yat_conv2d", "softmax")],
]


@pytest.mark.parametrize(("unit", "architecture", "optimizer", "mode"), TRAJECTORY_RUNS)
def test_training_trajectory_matches_oracle(unit, architecture, optimizer, mode: str) -> None:
    check_trajectory(unit, architecture, optimizer, "float32", mode)


@pytest.mark.parametrize("optimizer", OPTIMIZERS, ids=["sgd", "adam"])
@pytest.mark.parametrize("unit", ["aptx_layer", "yat_dense", "actmix"])
def test_training_trajectory_float64(unit: str, optimizer) -> None:
    check_trajectory(unit, spec.MLPSpec(8, (6, 5), 3, unit), optimizer, "float64", "eager")


@pytest.mark.parametrize("mode", ["eager", "compiled"])
def test_training_trajectory_mse(mode: str) -> None:
    check_trajectory("gelu", spec.MLPSpec(8, (6, 5), 3, "gelu"), spec.training.Adam(lr=0.01), "float32",
                     mode, loss="mse")


def test_train_steps_state_persists_across_calls() -> None:
    """Two calls on one state equal one call over all batches (Adam moments and t persist),
    in one trace, and the oracle; a fresh state per call differs from both."""
    from impls.tf.device import tracing_count

    arch = spec.MLPSpec(8, (6, 5), 3, "tanh")
    batches = _batches(arch)
    adam = spec.training.Adam(lr=0.01)
    split = impls.build_model(arch, FRAMEWORK, seed=2, dtype="float64")
    whole = impls.build_model(arch, FRAMEWORK, seed=2, dtype="float64")
    fresh = impls.build_model(arch, FRAMEWORK, seed=2, dtype="float64")
    start = impls.get_model_params(split)
    state = impls.init_train_state(split, "cross_entropy", adam, mode="compiled")
    losses = impls.train_steps(state, batches[:5]) + impls.train_steps(state, batches[5:])
    assert state.step == len(batches) and tracing_count(state.optimizer_state) == 1
    whole_losses = impls.train_steps(impls.init_train_state(whole, "cross_entropy", adam, mode="compiled"), batches)
    np.testing.assert_allclose(losses, whole_losses, rtol=1e-12)
    for model_batches in (batches[:5], batches[5:]):
        impls.train_steps(impls.init_train_state(fresh, "cross_entropy", adam, mode="compiled"), model_batches)
    _, ref_end = spec.training.train_trajectory(arch, start, batches, "cross_entropy", adam)
    for got, same, want in zip(impls.get_model_params(split), impls.get_model_params(whole),
                               ref_end, strict=True):
        for name in want:
            np.testing.assert_allclose(got[name], same[name], rtol=1e-12, atol=1e-14)
            assert relative_l2(got[name], want[name], "float64") <= tolerance("float64", "trajectory")
    assert max(relative_l2(r[k], g[k], "float64") for r, g in zip(
        impls.get_model_params(fresh), impls.get_model_params(split), strict=True) for k in g) > 1e-4


def test_model_forward_and_accuracy() -> None:
    arch = spec.CNNSpec(1, 8, (2,), (4,), 3, "prelu")
    model = impls.build_model(arch, FRAMEWORK, seed=1, dtype="float64")
    x = np.random.default_rng(0).standard_normal((5, 1, 8, 8))
    want = spec.models.model_forward(arch, impls.get_model_params(model), x)
    backend = _backend()
    for mode in _modes():
        np.testing.assert_allclose(backend.model_forward(model, x, mode), want, rtol=1e-10)
    labels = np.argmax(want, axis=1)
    assert impls.evaluate_accuracy(model, x, labels, batch_size=2) == 5


# ----------------------------------------------------------------------------------------
# Package hygiene


def test_keras_on_another_backend_is_a_clear_error(monkeypatch) -> None:
    from impls.tf import _env

    fake = types.ModuleType("keras")
    fake.backend = types.SimpleNamespace(backend=lambda: "jax")
    monkeypatch.setitem(sys.modules, "keras", fake)
    with pytest.raises(ImportError, match="KERAS_BACKEND=tensorflow"):
        _env.check_keras_backend()


def test_backend_imports_no_other_framework() -> None:
    import subprocess

    code = ("import sys, impls; impls.load_backend('tf'); "
            "print(','.join(m for m in ('torch', 'jax', 'flax') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_device_helpers() -> None:
    from impls.tf import device

    assert device.devices()
    device.synchronize()
    device.synchronize([np.zeros(1)])
    device.reset_peak_memory()
    peak = device.peak_memory_bytes()
    assert peak is None or peak >= 0
    with pytest.raises(ValueError, match="unknown mode"):
        device.check_mode("jit")
