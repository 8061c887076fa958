"""``neuronbench evaluate``: what the battery plans, and bad requests refused before any trial."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from suites.evaluate import plan as planner

REPO = Path(__file__).resolve().parents[2]


def test_the_battery_of_a_unit_covers_every_part() -> None:
    battery = planner.plan("swish", "quick", ["numpy"])
    by_fn: dict[str, list] = {}
    for trial in battery.trials:
        by_fn.setdefault(trial.fn, []).append(trial)
    assert len(by_fn["suites.evaluate.gradcheck:run_trial"]) == 1
    parity = by_fn["suites.equivalence.trials:run_cell"]
    assert sorted((t.config["dtype"], t.config["mode"]) for t in parity) == [
        ("float32", "eager"), ("float64", "eager")]
    accuracy = by_fn["suites.accuracy.train:run_trial"]
    assert {(t.config["unit"], t.config["variant"]) for t in accuracy} == {
        (u, v) for u in ("swish", "relu", "gelu") for v in ("equal-width", "equal-params")}
    assert {t.config["seed"] for t in accuracy} == {0, 1, 2}
    assert {t.config["framework"] for t in accuracy} == {"numpy"}
    speed = by_fn["suites.performance.layer:measure"]
    assert sorted(t.config["unit"] for t in speed) == ["linear_relu", "linear_swish"]
    assert set(by_fn) == {"suites.evaluate.gradcheck:run_trial", "suites.equivalence.trials:run_cell",
                          "suites.accuracy.train:run_trial", "suites.performance.layer:measure"}
    assert battery.absent == () and battery.accuracy_framework == "numpy"
    assert len(set(battery.keys())) == len(battery.trials)


def test_speed_cases_follow_the_kind() -> None:
    from suites.performance import layer

    assert planner.speed_case("relu") == "linear_relu"
    assert planner.speed_case("aptx_layer") == "aptx_layer"
    assert planner.speed_case("soft_tanh") == "yat_soft_tanh"
    assert [b for b, _ in layer.network("yat_soft_tanh", 8, 4)] == ["yat_dense", "soft_tanh"]
    assert layer.network("linear_actmix", 8, 4) == layer.network("linear_actmix", 8, 4)


@pytest.mark.parametrize(("args", "message"), [
    (["nope"], "unknown unit 'nope'"),
    (["linear"], "'linear' is a building block, not a unit"),
    (["yat_conv2d"], "is a convolution"),
    (["relu", "--frameworks", "mxnet"], "unknown framework 'mxnet'"),
    (["relu", "--frameworks", ","], "--frameworks names no framework"),
])
def test_bad_requests_are_refused_before_any_trial(args: list[str], message: str, tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "suites.cli", "evaluate", *args,
                           "--results-dir", str(tmp_path / "r"), "--out", str(tmp_path / "o")],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode != 0
    assert message in done.stdout + done.stderr
    assert not (tmp_path / "r").exists() and not (tmp_path / "o").exists()
