"""The accuracy trial on real MNIST (small subsets): rows, selections, cross-framework
agreement from identical weights and batches, and divergence."""

from __future__ import annotations

import math

import numpy as np
import pytest

from suites.accuracy import grid, protocols
from suites.accuracy.train import run_trial
from tests.conftest import selected_frameworks


def small_config(framework: str, unit: str = "relu", **overrides):
    config = grid.resolve(protocols.get_protocol("mnist-units"), "quick", unit, framework,
                          "equal-width", seed=0)
    config.update(train_subset=256, validation=128, test_subset=300, epochs=2)
    config.update(overrides)
    return config


def _by(rows, **match):
    return [r for r in rows if all(r[k] == v for k, v in match.items())]


def test_rows_cover_every_epoch_and_selection() -> None:
    rows = run_trial(small_config("numpy"))
    for epoch in (1, 2):
        for split, metric in (("train", "loss"), ("val", "accuracy"), ("val", "loss"),
                              ("test", "accuracy"), ("test", "loss"), ("", "epoch_seconds"), ("", "lr")):
            assert len(_by(rows, epoch=epoch, split=split, metric=metric, selection="")) == 1
    picks = {r["selection"]: r for r in rows if r["selection"]}
    assert set(picks) == {"best_test", "best_val", "final"}
    test_curve = [_by(rows, epoch=e, split="test", metric="accuracy", selection="")[0]["value"] for e in (1, 2)]
    assert picks["best_test"]["value"] == max(test_curve)
    assert picks["final"]["epoch"] == 2 and picks["final"]["value"] == test_curve[1]
    assert all(r["n_params"] == 111_146 and r["seed"] == 0 and r["dataset"] == "mnist" for r in rows)
    assert 0.3 < picks["final"]["value"] <= 1.0  # 8 Adam steps on real MNIST beat chance (0.1)


def test_the_reported_epoch_row_exists_when_the_run_reaches_it() -> None:
    config = grid.resolve(protocols.get_protocol("mnist-aptx"), "quick", "relu", "numpy", "paper", 0)
    config.update(train_subset=128, validation=64, test_subset=100, epochs=2, report_epoch=2)
    rows = run_trial(config)
    assert [r["epoch"] for r in rows if r["selection"] == "epoch_2"] == [2]


@pytest.mark.parametrize("unit", ["relu", "aptx_layer"])
def test_every_framework_sees_the_same_weights_and_batches(unit: str) -> None:
    """Identical init and data order: the first epoch's loss agrees across frameworks."""
    losses = {}
    for framework in selected_frameworks():
        config = small_config(framework, unit, train_subset=192, validation=64, test_subset=100, epochs=1,
                              hidden=[16, 8, 4], dtype="float64")
        rows = run_trial(config)
        losses[framework] = _by(rows, epoch=1, split="train", metric="loss")[0]["value"]
    values = np.array(list(losses.values()))
    assert np.all(np.isfinite(values))
    assert np.ptp(values) <= 1e-9 * np.max(np.abs(values)), losses


def test_a_non_finite_loss_stops_the_trial_as_diverged(monkeypatch) -> None:
    import impls
    from suites.run import Diverged

    real = impls.train_steps
    calls = {"n": 0}

    def explode(state, batches):
        calls["n"] += 1
        losses = real(state, batches)
        return losses if calls["n"] == 1 else [*losses[:-1], math.nan]

    monkeypatch.setattr(impls, "train_steps", explode)
    with pytest.raises(Diverged) as caught:
        run_trial(small_config("numpy", epochs=3))
    assert caught.value.epoch == 2
    assert {r["epoch"] for r in caught.value.rows} == {1}
