"""Accuracy protocols: exact parameter counts, the equal-parameter solver, the seeding policy,
the hold-out split, and trial planning (no training here)."""

from __future__ import annotations

import numpy as np
import pytest

from impls.spec import seeds
from suites.accuracy import grid, protocols
from suites.accuracy.train import held_test_indices, split_indices


def test_paper_networks_have_the_published_parameter_counts() -> None:
    aptx = protocols.get_protocol("mnist-aptx")
    nmn = protocols.get_protocol("mnist-nmn")
    assert protocols.mlp(aptx.hidden, "aptx_layer").n_params == 332_330
    assert protocols.mlp(nmn.hidden, "yat_dense").n_params == 235_148


@pytest.mark.parametrize("unit", protocols.MNIST_UNITS)
def test_equal_params_variant_is_within_two_percent_of_the_relu_budget(unit: str) -> None:
    p = protocols.get_protocol("mnist-units")
    target = protocols.mlp(p.hidden, "relu").n_params
    hidden = protocols.hidden_for(p, unit, "equal-params")
    count = protocols.mlp(hidden, unit, p.unit_config.get(unit)).n_params
    assert abs(count - target) / target < 0.02, (unit, hidden, count, target)


def test_aptx_layer_at_the_relu_budget_is_narrower() -> None:
    p = protocols.get_protocol("mnist-units")
    assert protocols.hidden_for(p, "aptx_layer", "equal-params") == (46, 23, 11)


def test_seed_streams_are_independent_and_reproducible() -> None:
    a = seeds.generator(3, "init").random(4)
    assert np.array_equal(a, seeds.generator(3, "init").random(4))
    assert not np.array_equal(a, seeds.generator(3, "data_order").random(4))
    assert not np.array_equal(a, seeds.generator(4, "init").random(4))
    with pytest.raises(ValueError, match="unknown seed stream"):
        seeds.stream(0, "dropout")
    with pytest.raises(ValueError, match="non-negative integer"):
        seeds.stream(-1, "init")


def test_the_init_stream_gives_the_same_network_every_time() -> None:
    from impls.spec.models import init_model_params

    arch = protocols.mlp((8,), "relu")
    stream = seeds.stream(5, "init")
    first, second = init_model_params(arch, stream), init_model_params(arch, stream)
    for a, b in zip(first, second, strict=True):
        for k in a:
            assert np.array_equal(a[k], b[k])


def _config(**overrides):
    p = protocols.get_protocol("mnist-aptx")
    config = grid.resolve(p, "quick", "aptx_layer", "numpy", "paper", seed=1)
    config.update(overrides)
    return config


def test_hold_out_is_disjoint_from_training_and_differs_per_seed() -> None:
    c1, c2 = _config(seed=1), _config(seed=2)
    train, val = split_indices(60_000, c1)
    assert len(val) == c1["validation"] and len(train) == c1["train_subset"]
    assert not set(train) & set(val)
    train2, val2 = split_indices(60_000, c2)
    assert set(train) | set(val) == set(train2) | set(val2)  # the same fixed pool
    assert not np.array_equal(val, val2)


def test_paper_profile_uses_the_whole_training_set() -> None:
    config = grid.resolve(protocols.get_protocol("mnist-aptx"), "paper", "aptx_layer", "jax", "paper", 0)
    train, val = split_indices(60_000, config)
    assert len(train) == 55_000 and len(val) == 5_000
    assert len(held_test_indices(10_000, config)) == 10_000
    assert config["epochs"] == 20 and config["batch_size"] == 64 and config["report_epoch"] == 11
    assert config["optimizer"] == {"name": "adam", "lr": 4e-3}
    assert config["schedule"] == {"name": "step", "step_size": 5, "gamma": 0.25}


def test_plan_covers_the_grid_and_rejects_bad_names() -> None:
    trials = grid.plan("mnist-units", "quick", frameworks=["numpy", "jax"], units=["relu", "gelu"])
    assert len(trials) == 2 * 2 * 2 * 2  # units x variants x frameworks x seeds
    assert len({t.label for t in trials}) == len(trials)
    assert {t.config["mode"] for t in trials} == {"eager", "compiled"}
    with pytest.raises(ValueError, match="unknown unit"):
        grid.plan("mnist-units", "quick", frameworks=["numpy"], units=["relu6"])
    with pytest.raises(ValueError, match="unknown variant"):
        grid.plan("mnist-units", "quick", frameworks=["numpy"], variants=["wide"])
    with pytest.raises(ValueError, match="unknown protocol"):
        grid.plan("cifar", "quick", frameworks=["numpy"])
    with pytest.raises(ValueError, match="unknown profile"):
        grid.plan("mnist-aptx", "full", frameworks=["numpy"])
