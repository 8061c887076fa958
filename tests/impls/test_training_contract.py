"""The training contract of every backend, through the public API, against the float64 oracle.

Whole training runs need more than a k-step trajectory from a fresh state: Adam/AdamW moments
that persist across ``impls.train_steps`` calls, a learning rate that a schedule changes between
calls (without recompiling), gradient clipping by total norm, and labels that are rejected
before anything trains. Each test runs in every framework of ``NEURONBENCH_FRAMEWORKS`` (a
selected framework that cannot be imported FAILS) and in each of its modes, and compares with
``impls.spec.training`` (``init_train_state``/``train_steps``/``train_trajectory``) under the
trajectory tolerance of ``impls.spec.tolerances``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest

import impls
from impls import spec
from impls.spec.tolerances import relative_l2, tolerance
from tests.conftest import require_framework, selected_frameworks

#: Modes per framework, written out so that collection needs no framework import; each test
#: also checks the entry against the backend's own MODES.
MODES_OF = {"numpy": ("eager",), "torch": ("eager", "compiled"), "jax": ("eager", "compiled"),
            "tf": ("eager", "compiled")}

RUNS = [(f, m) for f in selected_frameworks() for m in MODES_OF[f]]
RUN_IDS = [f"{f}-{m}" for f, m in RUNS]
COMPILED = [f for f in selected_frameworks() if "compiled" in MODES_OF[f]]

N_IN, N_OUT, BATCH = 8, 3, 8


def _arch(unit: str) -> spec.MLPSpec:
    return spec.MLPSpec(N_IN, (6, 5), N_OUT, unit)


def _backend(framework: str, mode: str) -> Any:
    require_framework(framework)
    backend = impls.load_backend(framework)
    assert mode in backend.MODES, f"{framework} lacks mode {mode!r}: {backend.MODES}"
    return backend


def _batches(n: int, loss: str = "cross_entropy", seed: int = 21) -> list[tuple[np.ndarray, np.ndarray]]:
    """Inputs (and MSE targets) representable in float32, so every dtype trains on the same data."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        x = rng.standard_normal((BATCH, N_IN)).astype(np.float32).astype(np.float64)
        if loss == "cross_entropy":
            target = rng.integers(0, N_OUT, size=BATCH)
        else:
            target = rng.standard_normal((BATCH, N_OUT)).astype(np.float32).astype(np.float64)
        out.append((x, target))
    return out


def _start(model: Any) -> list[dict[str, np.ndarray]]:
    return [{k: v.astype(np.float64) for k, v in p.items()} for p in impls.get_model_params(model)]


def _assert_close(where: str, dtype: str, losses: Sequence[float], losses_ref: Sequence[float],
                  params: list[dict[str, np.ndarray]], params_ref: list[dict[str, np.ndarray]]) -> None:
    tol = tolerance(dtype, "trajectory")
    err = relative_l2(np.array(losses), np.array(losses_ref), dtype)
    assert err <= tol, f"{where} losses: {err:.2e} > {tol:.0e}"
    for i, (p, p_ref) in enumerate(zip(params, params_ref, strict=True)):
        for name in p_ref:
            assert p[name].dtype == np.dtype(dtype), f"{where} layer {i} {name} dtype {p[name].dtype}"
            err = relative_l2(p[name], p_ref[name], dtype)
            assert err <= tol, f"{where} layer {i} {name}: {err:.2e} > {tol:.0e}"


def _check_run(framework: str, mode: str, dtype: str, unit: str, rule: spec.training.Rule,
               calls: Sequence[int], loss: str = "cross_entropy", clip_norm: float | None = None,
               lrs: Sequence[float] | None = None, arch: spec.MLPSpec | None = None,
               entropy_weight: float = 0.0) -> impls.TrainState:
    """Train through ``len(calls)`` train_steps calls (``calls[i]`` batches each, lr ``lrs[i]``)
    on one state and compare losses and final parameters with the oracle's trajectory."""
    _backend(framework, mode)
    arch = arch or _arch(unit)
    batches = _batches(sum(calls), loss)
    model = impls.build_model(arch, framework, seed=2, dtype=dtype)
    start = _start(model)
    state = impls.init_train_state(model, loss, rule, mode=mode, clip_norm=clip_norm)
    if entropy_weight:
        impls.set_entropy_weight(state, entropy_weight)
    losses: list[float] = []
    step_lrs: list[float] = []
    done = 0
    for i, n in enumerate(calls):
        if lrs is not None:
            impls.set_learning_rate(state, lrs[i])
        step_lrs += [state.lr] * n
        got = impls.train_steps(state, batches[done:done + n])
        assert len(got) == n and all(isinstance(v, float) for v in got)
        losses += got
        done += n
        assert state.step == done
    losses_ref, final_ref = spec.training.train_trajectory(arch, start, batches, loss, rule, clip_norm=clip_norm,
                                                           lrs=step_lrs if lrs is not None else None,
                                                           entropy_weight=entropy_weight)
    where = (f"{framework} {mode} {dtype} {unit} {type(rule).__name__} {loss} clip={clip_norm} lrs={lrs} "
             f"entropy_weight={entropy_weight}")
    _assert_close(where, dtype, losses, losses_ref, impls.get_model_params(model), final_ref)
    return state


def _dtypes(framework: str, mode: str) -> list[str]:
    # Eager float64 JAX pays per-op XLA compilation (~2 s per model on a 2-core machine).
    return ["float32"] if (framework, mode) == ("jax", "eager") else ["float32", "float64"]


DTYPE_RUNS = [(f, m, d) for f, m in RUNS for d in _dtypes(f, m)]


@pytest.mark.parametrize(("framework", "mode", "dtype"), DTYPE_RUNS, ids=["-".join(r) for r in DTYPE_RUNS])
def test_adamw_trajectory(framework: str, mode: str, dtype: str) -> None:
    """AdamW, torch convention (decay by (1 - lr wd) before the Adam step), over two calls."""
    _check_run(framework, mode, dtype, "aptx_layer", spec.training.AdamW(lr=0.02, weight_decay=0.5), (5, 5))


def _clip_factors(unit: str, start, batches, rule, clip_norm: float) -> list[float]:
    """The oracle's clip factor at every step of its trajectory (to prove clipping triggered)."""
    arch = _arch(unit)
    state = spec.training.init_train_state(arch, start, "cross_entropy", rule, clip_norm)
    factors = []
    for x, y in batches:
        _, upstream = spec.training.cross_entropy(spec.models.model_forward(arch, state.params, x), y)
        _, grads = spec.models.model_vjp(arch, state.params, x, upstream)
        norm = float(np.sqrt(sum(np.sum(g * g) for layer in grads for g in layer.values())))
        factors.append(spec.training.clip_factor(norm, clip_norm))
        spec.training.train_steps(state, [(x, y)])
    return factors


CLIP = 0.05


@pytest.mark.parametrize(("framework", "mode"), RUNS, ids=RUN_IDS)
def test_adam_with_gradient_clipping(framework: str, mode: str) -> None:
    """Adam after clipping the joint gradient norm to CLIP; the clip is small enough that the
    oracle clips at every step, so an implementation that ignored it would fail."""
    rule = spec.training.Adam(lr=0.02)
    _check_run(framework, mode, "float32", "relu", rule, (3, 3), clip_norm=CLIP)
    model = impls.build_model(_arch("relu"), framework, seed=2, dtype="float32")
    factors = _clip_factors("relu", _start(model), _batches(6), rule, CLIP)
    assert max(factors) < 1.0, f"clip {CLIP} never triggered: factors {factors}"
    # Adam is nearly invariant to a constant gradient scale: make sure ignoring the clip would fail.
    _, clipped = spec.training.train_trajectory(_arch("relu"), _start(model), _batches(6), "cross_entropy", rule,
                                                clip_norm=CLIP)
    _, unclipped = spec.training.train_trajectory(_arch("relu"), _start(model), _batches(6), "cross_entropy", rule)
    gap = max(relative_l2(p[k], q[k], "float32") for p, q in zip(unclipped, clipped, strict=True) for k in q)
    assert gap > 10 * tolerance("float32", "trajectory"), f"clipping barely matters here: {gap:.2e}"


def test_sgd_clipping_scales_the_step() -> None:
    """Oracle sanity: with SGD the clipped update has norm lr * CLIP exactly (torch's rule)."""
    arch = _arch("relu")
    start = spec.models.init_model_params(arch, 2)
    x, y = _batches(1)[0]
    _, final = spec.training.train_trajectory(arch, start, [(x, y)], "cross_entropy", spec.training.SGD(lr=1.0),
                                              clip_norm=CLIP)
    step = np.sqrt(sum(np.sum((f[k] - s[k]) ** 2) for f, s in zip(final, start, strict=True) for k in s))
    assert step == pytest.approx(CLIP, rel=1e-4)  # CLIP / (norm + 1e-6) * norm


SCHEDULES = {"steplr": spec.training.StepLR(step_size=1, gamma=0.3),
             "cosine": spec.training.Cosine(t_max=2, eta_min=1e-3)}


@pytest.mark.parametrize("schedule", sorted(SCHEDULES))
@pytest.mark.parametrize(("framework", "mode"), RUNS, ids=RUN_IDS)
def test_schedule_across_calls(framework: str, mode: str, schedule: str) -> None:
    """A schedule sets the lr between three calls of three batches (epochs 0, 1, 2)."""
    rule = spec.training.Adam(lr=0.03)
    lrs = [SCHEDULES[schedule].lr(rule.lr, epoch) for epoch in range(3)]
    assert len(set(lrs)) == 3  # the lr really changes every epoch
    _check_run(framework, mode, "float32", "actmix", rule, (3, 3, 3), lrs=lrs)


@pytest.mark.parametrize(("framework", "mode"), RUNS, ids=RUN_IDS)
def test_adam_moments_persist_across_calls(framework: str, mode: str) -> None:
    """Two calls on one state == one call over all batches (== the oracle); two fresh states
    differ (they restart the bias correction); predict between calls sees the trained weights."""
    _backend(framework, mode)
    arch = _arch("actmix")
    rule = spec.training.Adam(lr=0.02)
    batches = _batches(8)
    split, whole, fresh = (impls.build_model(arch, framework, seed=2, dtype="float32") for _ in range(3))
    start = _start(split)
    state = impls.init_train_state(split, "cross_entropy", rule, mode=mode)
    losses = impls.train_steps(state, batches[:4])
    x_eval = batches[0][0]
    _, mid_ref = spec.training.train_trajectory(arch, start, batches[:4], "cross_entropy", rule)
    err = relative_l2(impls.predict(split, x_eval, batch_size=5, mode=mode),
                      spec.models.model_forward(arch, mid_ref, x_eval), "float32")
    assert err <= tolerance("float32", "trajectory"), f"predict after the first call: {err:.2e}"
    losses += impls.train_steps(state, batches[4:])
    assert state.step == 8
    whole_losses = impls.train_steps(impls.init_train_state(whole, "cross_entropy", rule, mode=mode), batches)
    for part in (batches[:4], batches[4:]):
        impls.train_steps(impls.init_train_state(fresh, "cross_entropy", rule, mode=mode), part)

    assert relative_l2(np.array(losses), np.array(whole_losses), "float32") <= 1e-6
    got, same, restarted = (impls.get_model_params(m) for m in (split, whole, fresh))
    for p, q in zip(got, same, strict=True):
        for name in p:
            assert relative_l2(p[name], q[name], "float32") <= 1e-6, f"split vs whole {name}"
    worst = max(relative_l2(r[k], p[k], "float32") for r, p in zip(restarted, got, strict=True) for k in p)
    assert worst > 100 * tolerance("float32", "trajectory"), f"fresh states per call look persistent: {worst:.2e}"
    losses_ref, final_ref = spec.training.train_trajectory(arch, start, batches, "cross_entropy", rule)
    _assert_close(f"{framework} {mode} persist", "float32", losses, losses_ref, got, final_ref)


@pytest.mark.parametrize(("framework", "mode"), RUNS, ids=RUN_IDS)
def test_mse_trajectory(framework: str, mode: str) -> None:
    _check_run(framework, mode, "float32", "aptx_layer", spec.training.Adam(lr=0.01), (4, 4), loss="mse")


# --------------------------------------------------------------------------------------------
# ActMix "full": the entropy penalty in the loss that is differentiated


def _mixing_arch(temperature: float) -> spec.MLPSpec:
    return spec.MLPSpec(N_IN, (6, 5), N_OUT, "actmix", {"temperature": temperature, "relu_bias": 1.5})


@pytest.mark.parametrize(("framework", "mode"), RUNS, ids=RUN_IDS)
def test_entropy_penalty_trajectory(framework: str, mode: str) -> None:
    """Adam + clipping with lambda = 0.5 at T = 0.3 (two ActMix layers) follows the oracle over
    two calls; the penalty's gradient reaches the logits (spec §3.3's ``full`` variant)."""
    arch = _mixing_arch(0.3)
    state = _check_run(framework, mode, "float32", "actmix", spec.training.Adam(lr=0.05), (3, 3), clip_norm=CLIP,
                       arch=arch, entropy_weight=0.5)
    start = _start(impls.build_model(arch, framework, seed=2, dtype="float32"))
    _, without = spec.training.train_trajectory(arch, start, _batches(6), "cross_entropy",
                                                spec.training.Adam(lr=0.05), clip_norm=CLIP)
    got = impls.get_model_params(state.model)
    moved = relative_l2(got[1]["logits"], without[1]["logits"], "float32")
    assert moved > 100 * tolerance("float32", "trajectory"), f"the penalty barely moved the logits: {moved:.2e}"


@pytest.mark.parametrize(("framework", "mode"), RUNS, ids=RUN_IDS)
def test_temperature_change_between_calls(framework: str, mode: str) -> None:
    """Annealing: T set between calls through the public API, entropy penalty on; the second
    call follows an oracle whose architecture carries the new temperature."""
    _backend(framework, mode)
    rule = spec.training.Adam(lr=0.05)
    batches = _batches(6)
    model = impls.build_model(_mixing_arch(1.0), framework, seed=2, dtype="float32")
    start = _start(model)
    state = impls.init_train_state(model, "cross_entropy", rule, mode=mode)
    impls.set_entropy_weight(state, 0.2)
    losses = impls.train_steps(state, batches[:3])
    impls.set_temperature(model, 0.25)
    losses += impls.train_steps(state, batches[3:])
    oracle = spec.training.init_train_state(_mixing_arch(1.0), start, "cross_entropy", rule)
    oracle.entropy_weight = 0.2
    losses_ref = spec.training.train_steps(oracle, batches[:3])
    oracle.architecture = _mixing_arch(0.25)
    losses_ref += spec.training.train_steps(oracle, batches[3:])
    _assert_close(f"{framework} {mode} anneal", "float32", losses, losses_ref, impls.get_model_params(model),
                  oracle.params)


@pytest.mark.parametrize("framework", selected_frameworks())
def test_bad_entropy_weights_raise(framework: str) -> None:
    require_framework(framework)
    relu = impls.init_train_state(impls.build_model(_arch("relu"), framework, seed=2), "cross_entropy",
                                  spec.training.Adam())
    with pytest.raises(ValueError, match="needs at least one ActMix layer"):
        impls.set_entropy_weight(relu, 0.01)
    impls.set_entropy_weight(relu, 0.0)          # no penalty is always allowed
    mixing = impls.init_train_state(impls.build_model(_mixing_arch(1.0), framework, seed=2), "cross_entropy",
                                    spec.training.Adam())
    for bad in (-0.1, float("nan"), float("inf"), "0.01", True):
        with pytest.raises(ValueError, match="entropy weight"):
            impls.set_entropy_weight(mixing, bad)
    for bad in (0.0, -1.0, float("nan"), "1"):
        with pytest.raises(ValueError, match="temperature"):
            impls.set_temperature(mixing.model, bad)
    assert mixing.entropy_weight == 0.0


F64_RUNS = [(f, m) for f, m in RUNS if "float64" in _dtypes(f, m)]


@pytest.mark.parametrize(("framework", "mode"), F64_RUNS, ids=[f"{f}-{m}" for f, m in F64_RUNS])
def test_sgd_clipped_trajectory_float64(framework: str, mode: str) -> None:
    _check_run(framework, mode, "float64", "relu", spec.training.SGD(lr=0.1), (3, 3), clip_norm=CLIP)


# --------------------------------------------------------------------------------------------
# Labels and targets are validated before anything trains


BAD_LABELS = {
    "negative": (np.array([0, 1, -1, 2, 0, 1, 2, 0]), r"\[0, 3\).*-1"),
    "equal_to_classes": (np.array([0, 1, 3, 2, 0, 1, 2, 0]), r"\[0, 3\).*3"),
    "float": (np.ones(BATCH), "integers.*float64"),
    "wrong_shape": (np.zeros((BATCH, 1), np.int64), r"shape \(8,\)"),
    "too_short": (np.zeros(BATCH - 1, np.int64), r"shape \(8,\)"),
}


@pytest.mark.parametrize("case", sorted(BAD_LABELS))
@pytest.mark.parametrize("framework", selected_frameworks())
def test_bad_labels_raise_and_train_nothing(framework: str, case: str) -> None:
    _backend(framework, "eager")
    labels, message = BAD_LABELS[case]
    model = impls.build_model(_arch("relu"), framework, seed=2, dtype="float32")
    before = impls.get_model_params(model)
    state = impls.init_train_state(model, "cross_entropy", spec.training.Adam(lr=0.1))
    with pytest.raises(ValueError, match=message):
        impls.train_steps(state, [(_batches(1)[0][0], labels)])
    assert state.step == 0
    for p, q in zip(impls.get_model_params(model), before, strict=True):
        for name in p:
            np.testing.assert_array_equal(p[name], q[name])


@pytest.mark.parametrize("framework", selected_frameworks())
def test_bad_mse_targets_raise(framework: str) -> None:
    _backend(framework, "eager")
    model = impls.build_model(_arch("relu"), framework, seed=2, dtype="float32")
    state = impls.init_train_state(model, "mse", spec.training.SGD(lr=0.1))
    x = _batches(1)[0][0]
    with pytest.raises(ValueError, match="8 x 3 values"):
        impls.train_steps(state, [(x, np.zeros((BATCH, 2)))])
    with pytest.raises(ValueError, match="finite"):
        impls.train_steps(state, [(x, np.full((BATCH, N_OUT), np.nan))])
    assert state.step == 0


def test_bad_state_arguments_raise() -> None:
    framework = selected_frameworks()[0]
    _backend(framework, "eager")
    model = impls.build_model(_arch("relu"), framework, seed=2)
    with pytest.raises(ValueError, match="clip_norm"):
        impls.init_train_state(model, "cross_entropy", spec.training.Adam(), clip_norm=0.0)
    state = impls.init_train_state(model, "cross_entropy", spec.training.Adam())
    for bad in (-1.0, float("nan"), "0.1", True):
        with pytest.raises(ValueError, match="learning rate"):
            impls.set_learning_rate(state, bad)
    assert state.lr == spec.training.Adam().lr


# --------------------------------------------------------------------------------------------
# Changing the learning rate never recompiles


def _compile_count(framework: str, state: impls.TrainState) -> int:
    """How many compiled variants of the train step exist (traces/compilations so far)."""
    if framework == "jax":
        from impls.jax.device import _COMPILED

        return sum(f._cache_size() for key, f in _COMPILED[state.model].items()
                   if isinstance(key, tuple) and key[0] == "train")
    if framework == "tf":
        from impls.tf.device import tracing_count

        return tracing_count(state.optimizer_state)
    if framework == "torch":
        # torch compiles the model's forward only (the update is eager, the lr a Python float);
        # dynamo counts every frame it compiles.
        from torch._dynamo.utils import counters

        return int(sum(counters["stats"].values()))
    raise AssertionError(f"no compiled mode expected for {framework}")


@pytest.mark.parametrize("framework", COMPILED)
def test_learning_rate_change_does_not_recompile(framework: str) -> None:
    _backend(framework, "compiled")
    model = impls.build_model(_arch("aptx_layer"), framework, seed=2, dtype="float32")
    state = impls.init_train_state(model, "cross_entropy", spec.training.AdamW(lr=0.01), mode="compiled")
    batches = _batches(6)
    impls.train_steps(state, batches[:2])
    before = _compile_count(framework, state)
    assert before >= 1
    for lr in (0.005, 1e-4, 0.02):
        impls.set_learning_rate(state, lr)
        impls.train_steps(state, batches[2:4])
    assert _compile_count(framework, state) == before, "changing the lr recompiled the train step"
    assert state.step == 8
