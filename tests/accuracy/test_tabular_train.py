"""uci-actmix networks on real MAGIC in NumPy: a short training that learns, early stopping that
never sees the test fold, and the leaky replication that selects on it."""

from __future__ import annotations

import math

import pytest

from suites.accuracy import tabular, tabular_train
from tests.accuracy.test_tabular import _rewrite_rows


def _config(**changes):
    trial = tabular_train.plan(units=["relu"], frameworks=["numpy"], datasets=["magic"],
                               profile="quick", seeds=1)[0]
    return {**dict(trial.config), "epochs": 3, "train_subset": 1500, **changes}


def _curve(rows, metric="loss", split="val"):
    return [(r["epoch"], r["value"]) for r in rows if r["metric"] == metric and r["split"] == split]


def test_a_short_numpy_training_learns_magic() -> None:
    rows = tabular_train.run_trial(_config())
    test = {r["metric"]: r["value"] for r in rows if r["split"] == "test"}
    assert set(test) == {"accuracy", "macro_f1", "roc_auc"}
    assert test["accuracy"] > 0.75 and test["roc_auc"] > 0.8        # 65 % is the majority class
    losses = [v for _, v in _curve(rows)]
    assert len(losses) == 3 and losses[-1] < losses[0]
    assert {r["selection"] for r in rows if r["split"] == "test"} == {"best_val"}


def test_early_stopping_never_sees_the_test_fold(monkeypatch) -> None:
    """Rewriting every test-fold row changes the reported metrics and nothing before them: the
    validation curve, and so the stopping and the restored epoch, are bit-identical."""
    config = _config()
    clean = tabular_train.run_trial(config)
    table = tabular.load_table("magic")
    folds = tabular.folds(table)
    rewritten_table = _rewrite_rows(table, folds[config["fold"]].test)
    monkeypatch.setattr(tabular, "load_table", lambda name: rewritten_table)
    # the folds are drawn once from the true labels (flipped test labels would re-stratify them)
    monkeypatch.setattr(tabular, "folds", lambda *args, **kwargs: folds)
    rewritten = tabular_train.run_trial(config)
    assert _curve(clean) == _curve(rewritten)
    assert _curve(clean, "loss", "train") == _curve(rewritten, "loss", "train")
    picked = {r["epoch"] for r in clean if r["split"] == "test"}
    assert picked == {r["epoch"] for r in rewritten if r["split"] == "test"}
    accuracy = [r["value"] for rows in (clean, rewritten) for r in rows if r["metric"] == "accuracy"]
    assert accuracy[0] != pytest.approx(accuracy[1])


def test_the_leaky_replication_selects_on_the_test_fold() -> None:
    rows = tabular_train.run_trial(_config(data_variant=tabular.LEAKY_VARIANT,
                                           variant=tabular.LEAKY_VARIANT))
    best_epoch = next(r["epoch"] for r in rows if r["split"] == "test")
    val = dict(_curve(rows))
    assert val[best_epoch] == min(val.values())     # the checkpoint the test fold itself chose


def test_plan_covers_units_variants_and_profiles() -> None:
    trials = tabular_train.plan(frameworks=["numpy", "torch"], datasets=["magic"], profile="quick")
    configs = [t.config for t in trials]
    assert {c["unit"] for c in configs} == set(tabular_train.UNITS)
    assert {c["variant"] for c in configs if c["unit"] == "actmix"} == {
        "leak-free/full/relu_bias=1.5", "leak-free/full/relu_bias=0",
        "leak-free/notemp/relu_bias=1.5", "leak-free/notemp/relu_bias=0"}
    schedules = {c["variant"]: c["mixture_schedule"] for c in configs}
    assert schedules["leak-free/full/relu_bias=0"] == {
        "anneal_epochs": 6, "warmup_epochs": 2, "t_initial": 1.0, "t_final": 0.01, "entropy_weight": 0.01}
    assert schedules["leak-free/notemp/relu_bias=0"] is None and schedules["leak-free"] is None
    assert {c["fold"] for c in configs} == {0, 1} and {c["seed"] for c in configs} == {0, 1}
    paper = tabular_train.plan(units=["relu"], frameworks=["numpy"], datasets=["ccpp"], profile="paper")
    assert len(paper) == 10 and paper[0].config["epochs"] == 200 and paper[0].config["patience"] == 20
    with pytest.raises(ValueError, match="no unit sigmoid"):
        tabular_train.plan(units=["sigmoid"], frameworks=["numpy"])


def test_actmix_trials_record_entropy_per_epoch_and_what_they_learned() -> None:
    trial = tabular_train.plan(units=["actmix"], frameworks=["numpy"], datasets=["magic"], seeds=1)[0]
    rows = tabular_train.run_trial({**dict(trial.config), "epochs": 2, "train_subset": 500})
    entropy = [r for r in rows if r["metric"] == "actmix_entropy"]
    assert sorted((r["epoch"], r["detail"]) for r in entropy) == [
        (1, "layer=0"), (1, "layer=1"), (2, "layer=0"), (2, "layer=1")]
    assert all(0.0 < r["value"] <= math.log(4.0) + 1e-12 for r in entropy)
    learned = [r for r in rows if r["split"] == "learned"]
    assert len([r for r in learned if r["metric"].startswith("coefficient/")]) == 2 * 128 * 4


def test_the_paper_mixture_schedule_is_spec_3_3() -> None:
    """T(e) = 1 + e/150 (0.01 - 1) then 0.01; lambda(e) = 0.01 e/50 then 0.01 (e from 0)."""
    config = tabular_train.plan(units=["actmix"], frameworks=["numpy"], datasets=["magic"],
                                profile="paper")[0].config
    assert config["variant"] == "leak-free/full/relu_bias=1.5"
    schedule = tabular_train.MixtureSchedule(**config["mixture_schedule"])
    assert schedule.temperature(0) == 1.0 and schedule.weight(0) == 0.0
    assert schedule.temperature(75) == pytest.approx(0.505) and schedule.weight(25) == pytest.approx(0.005)
    assert schedule.temperature(150) == schedule.temperature(199) == 0.01
    assert schedule.weight(50) == schedule.weight(199) == 0.01


def test_the_full_variant_anneals_penalises_and_restores_the_best_temperature() -> None:
    """Per-epoch temperature and weight rows follow the schedule; the entropy falls far below
    notemp's; the coefficients reported are those at the best epoch's temperature."""
    trials = {t.config["variant"]: t.config for t in tabular_train.plan(
        units=["actmix"], frameworks=["numpy"], datasets=["magic"], seeds=1) if t.config["fold"] == 0}
    runs = {}
    for variant in ("leak-free/full/relu_bias=1.5", "leak-free/notemp/relu_bias=1.5"):
        config = {**trials[variant], "epochs": 4, "train_subset": 800,
                  "mixture_schedule": trials[variant]["mixture_schedule"] and {
                      **trials[variant]["mixture_schedule"], "anneal_epochs": 2, "warmup_epochs": 1,
                      "entropy_weight": 0.5}}
        runs[variant] = tabular_train.run_trial(config)
    full, notemp = runs["leak-free/full/relu_bias=1.5"], runs["leak-free/notemp/relu_bias=1.5"]
    temperature = dict(_curve(full, "temperature", ""))
    assert temperature == {1: 1.0, 2: pytest.approx(0.505), 3: 0.01, 4: 0.01}
    assert dict(_curve(full, "entropy_weight", "")) == {1: 0.0, 2: 0.5, 3: 0.5, 4: 0.5}
    assert not _curve(notemp, "temperature", "")
    last = max(temperature)
    entropy = {kind: max(r["value"] for r in rows if r["metric"] == "actmix_entropy" and r["epoch"] == last)
               for kind, rows in (("full", full), ("notemp", notemp))}
    assert entropy["full"] < 0.2 * entropy["notemp"], entropy
    best = next(r["epoch"] for r in full if r["split"] == "test")
    top: dict[str, float] = {}
    for r in full:
        if r["metric"].startswith("coefficient/") and r["detail"].startswith("layer=0 "):
            top[r["detail"]] = max(top.get(r["detail"], 0.0), r["value"])
    assert len(top) == 128
    if temperature[best] < 0.1:     # T = 0.01 makes every mixture a hard selection
        assert min(top.values()) > 0.99, (best, min(top.values()))
    else:
        assert sum(top.values()) / len(top) < 0.9, (best, temperature[best])
