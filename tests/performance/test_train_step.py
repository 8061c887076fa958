"""The train-step benchmark: what it plans, what one tiny measured case writes, and that the
native step it times is the backend's own optimiser step (so a rename in impls/ fails here)."""

from __future__ import annotations

import math

import pytest

from impls.spec import APTX_PAPER_MLP
from suites.accuracy import cifar
from suites.performance import train_step
from suites.results import validate_rows
from tests.conftest import require_framework

TIMED = {"train_step_s", "train_step_api_s"}
ALWAYS = {*TIMED, "peak_memory_bytes", "other_load_cores"}


def _config(framework: str, model: str, unit: str, mode: str = "eager", batch: int = 8) -> dict:
    (trial,) = train_step.plan([framework], models=[model], units=[unit], modes=[mode],
                               batch=batch, repeats=2, warmup=0, threads=1, timeout_s=120.0)
    return dict(trial.config)


def test_plan_has_every_model_unit_framework_and_mode_case() -> None:
    notes: list[str] = []
    trials = train_step.plan(["numpy", "torch"], models=["mlp", "cnn"],
                             units=["relu", "aptx_layer"], batch=16, repeats=2, notes=notes)
    cases = {(t.config["model"], t.config["unit"], t.config["framework"], t.config["mode"])
             for t in trials}
    per_model = {("numpy", "eager"), ("torch", "eager"), ("torch", "compiled")}
    assert cases == ({("mlp", u, f, m) for u in ("relu", "aptx_layer") for f, m in per_model}
                     | {("cnn", "relu", f, m) for f, m in per_model})
    assert len(trials) == len(cases)
    assert notes == ["train_step: cnn has no unit aptx_layer; left out"]
    assert {t.fn for t in trials} == {"suites.performance.train_step:measure"}
    assert {t.config["batch"] for t in trials} == {16}
    by_case = {(t.config["model"], t.config["unit"], t.config["framework"], t.config["mode"]): t
               for t in trials}
    aptx = by_case["mlp", "aptx_layer", "numpy", "eager"].config
    relu = by_case["mlp", "relu", "numpy", "eager"].config
    # The accuracy suite's networks: the APTx paper MLP, ReLU as the paired baseline.
    assert aptx["network"]["n_params"] == APTX_PAPER_MLP.n_params
    assert aptx["kernel"] != "default"
    assert aptx["baseline"] == relu["network"] and relu["baseline"] is None
    cnn = by_case["cnn", "relu", "torch", "compiled"].config
    assert cnn["network"]["n_params"] == cifar.architecture("relu", {}).n_params
    assert cnn["input_shape"] == [3, 32, 32]


def test_plan_defaults_to_each_protocols_batch_and_units() -> None:
    trials = train_step.plan(["numpy"], models=["mlp", "mlp-nmn", "cnn"])
    batches = {t.config["model"]: t.config["batch"] for t in trials}
    assert batches == {"mlp": 64, "mlp-nmn": 128, "cnn": 128}
    units = {t.config["unit"] for t in trials if t.config["model"] == "mlp-nmn"}
    assert units == {"relu", "yat_dense"}
    assert {t.config["unit"] for t in trials if t.config["model"] == "cnn"} == set(cifar.UNITS)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"models": ["transformer"]}, "unknown train-step model.*transformer.*known: mlp, "
                                  "mlp-equal-params, mlp-nmn, cnn"),
    ({"units": ["relu", "softplus9"]}, "unknown train-step unit.*softplus9.*known: relu, "),
    ({"models": ["mlp-nmn"], "units": ["aptx_layer"]}, "aptx_layer.*known: relu, yat_dense"),
    ({"modes": ["traced"]}, "unknown train-step mode.*traced.*known: eager, compiled"),
    ({"batch": 0}, "at least 1"),
])
def test_plan_rejects_unknown_names_naming_the_known_ones(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        train_step.plan(["numpy"], **kwargs)


def _check_rows(rows: list[dict], config: dict, paired: bool) -> None:
    stored = {"run_id": "r", "suite": "performance", "trial_key": "k"}   # added by the runner
    validate_rows([{**row, **stored} for row in rows])
    metrics = {row["metric"]: row for row in rows}
    assert set(metrics) == (ALWAYS | {train_step.PAIRED_METRIC} if paired else ALWAYS)
    for metric in TIMED:
        assert math.isfinite(metrics[metric]["value"]) and metrics[metric]["value"] > 0
        assert "compile_s=" in metrics[metric]["detail"]
    assert metrics["peak_memory_bytes"]["value"] >= 0
    if paired:
        ratio = metrics[train_step.PAIRED_METRIC]["value"]
        assert math.isfinite(ratio) and ratio > 0
    for row in rows:
        assert row["protocol"] == "train_step" and row["variant"] == config["model"]
        assert row["n_params"] == config["network"]["n_params"] and row["batch"] == config["batch"]


def test_measure_a_tiny_numpy_case() -> None:
    config = _config("numpy", "mlp", "lselu")
    _check_rows(train_step.measure(config), config, paired=True)


def test_measure_a_tiny_torch_case() -> None:
    require_framework("torch")
    config = _config("torch", "cnn", "relu")
    _check_rows(train_step.measure(config), config, paired=False)


@pytest.mark.parametrize("framework", ["numpy", "torch"])
def test_the_native_step_is_an_optimiser_step(framework: str) -> None:
    """Repeated steps on one batch lower its loss, and the public call continues the same
    state (the loss it reports is lower still)."""
    require_framework(framework)
    config = _config(framework, "mlp", "relu", batch=16)
    case = train_step.build_case(config, config["network"])
    losses = [case.step()[0] for _ in range(5)]
    assert losses[-1] < losses[0]
    assert case.api_step()[0] < losses[-1]


def test_jax_native_step_is_the_compiled_step_train_steps_uses() -> None:
    """One compiled train function for the model: the native step and ``impls.train_steps``
    share it (a changed cache key or factory in impls/jax/train.py would compile a second)."""
    require_framework("jax")
    from impls.jax import device

    config = _config("jax", "mlp", "relu", mode="compiled")
    case = train_step.build_case(config, config["network"])
    losses = [float(case.step()) for _ in range(3)]
    assert losses[-1] < losses[0]
    case.api_step()
    assert [key[0] for key in device._COMPILED[case.state.model]] == ["train"]


def test_tf_native_step_is_the_compiled_step_train_steps_uses() -> None:
    """The native step and ``impls.train_steps`` call one tf.function, traced once."""
    require_framework("tf")
    from impls.tf.device import tracing_count

    config = _config("tf", "mlp", "relu", mode="compiled")
    case = train_step.build_case(config, config["network"])
    losses = [float(case.step()) for _ in range(3)]
    assert losses[-1] < losses[0]
    assert case.api_step()[0] < losses[-1]
    assert tracing_count(case.state.optimizer_state) == 1


def test_perf_cli_plans_train_steps_in_each_frameworks_accuracy_mode(monkeypatch, tmp_path) -> None:
    """--quick: the MLP and the CNN, NumPy/torch eager, JAX/TF compiled (the accuracy suite's
    modes); the plan reaches the runner whole (nothing run here)."""
    from suites.cli import main

    seen: dict[str, list] = {}

    class Planned(Exception):
        """Stops the command once the runner has the plan."""

    def fake_run_grid(trials, results_dir, **_):
        seen["trials"] = list(trials)
        raise Planned

    monkeypatch.setattr("suites.run.run_grid", fake_run_grid)
    monkeypatch.setattr("impls.load_backend", lambda framework: None)
    monkeypatch.setattr("suites.performance.devices.check", lambda frameworks, device: None)
    with pytest.raises(Planned):
        main(["perf", "--frameworks", "numpy,jax", "--quick", "--units", "linear_relu",
              "--results-dir", str(tmp_path)])
    steps = [t.config for t in seen["trials"] if t.fn.endswith("train_step:measure")]
    assert {(c["framework"], c["mode"]) for c in steps} == {("numpy", "eager"), ("jax", "compiled")}
    assert {c["model"] for c in steps} == {"mlp", "cnn"}
