"""cifar10 on real CIFAR-10: a short run in NumPy and torch from the same seed sees the same
augmented batches and initial weights, so their first-epoch losses agree; the rows; the plan."""

from __future__ import annotations

import pytest

from suites.accuracy import cifar
from tests.conftest import require_framework


def _config(framework: str) -> dict:
    trial = cifar.plan(units=["relu"], frameworks=[framework], seeds=1)[0]
    return {**dict(trial.config), "epochs": 1, "train_subset": 256, "test_subset": 200}


def test_numpy_and_torch_train_the_same_first_epoch() -> None:
    require_framework("torch")
    rows = {fw: cifar.run_trial(_config(fw)) for fw in ("numpy", "torch")}
    loss = {fw: next(r["value"] for r in rows[fw] if r["metric"] == "loss" and r["split"] == "train")
            for fw in rows}
    assert loss["numpy"] == pytest.approx(loss["torch"], rel=1e-4)
    assert 2.0 < loss["numpy"] < 2.5                   # ten classes from scratch: about ln 10
    final = [r for r in rows["numpy"] if r["selection"] == "final"]
    assert len(final) == 1 and final[0]["metric"] == "accuracy" and final[0]["dataset"] == "cifar10"


def test_plan_has_every_unit_and_the_profiles() -> None:
    trials = cifar.plan(frameworks=["numpy"], profile="quick")
    assert {t.config["unit"] for t in trials} == set(cifar.UNITS)
    assert {t.config["train_subset"] for t in trials} == {10_000}
    paper = cifar.plan(units=["relu"], frameworks=["numpy"], profile="paper")
    assert len(paper) == 3 and paper[0].config["train_subset"] is None
    with pytest.raises(ValueError, match="cifar10 has no unit aptx_layer"):
        cifar.plan(units=["aptx_layer"], frameworks=["numpy"])


def test_equal_params_variant_matches_relus_count_where_the_unit_changes_it() -> None:
    """PReLU (+240) and ActMix (+960) get a narrower dense layer that brings them within half a
    dense unit of ReLU's count; units whose count is already that close get no duplicate trial."""
    relu = cifar.architecture("relu", {}).n_params
    one_dense_unit = cifar.architecture("relu", {}, (65,)).n_params - relu
    trials = cifar.plan(frameworks=["numpy"], profile="quick", seeds=1)
    equal_params = {t.config["unit"]: t.config for t in trials if t.config["variant"] == "equal-params"}
    assert set(equal_params) == {"prelu", "actmix"}
    for unit, config in equal_params.items():
        assert config["dense"] != list(cifar.DENSE)
        assert abs(config["n_params"] - relu) <= one_dense_unit / 2, (unit, config["n_params"], relu)
        assert config["n_params"] == cifar.architecture(unit, cifar.UNIT_CONFIGS[unit], config["dense"]).n_params
    for t in trials:
        if t.config["variant"] == "equal-width":
            assert t.config["dense"] == list(cifar.DENSE)
    with pytest.raises(ValueError, match="unknown cifar10 variant"):
        cifar.plan(frameworks=["numpy"], variants=["equal-flops"])


def test_an_equal_params_trial_builds_the_resized_network() -> None:
    trial = next(t for t in cifar.plan(units=["prelu"], frameworks=["numpy"], seeds=1)
                 if t.config["variant"] == "equal-params")
    rows = cifar.run_trial({**dict(trial.config), "epochs": 1, "train_subset": 128, "test_subset": 100})
    assert {r["n_params"] for r in rows} == {trial.config["n_params"]}
    assert {r["variant"] for r in rows} == {"equal-params"}
