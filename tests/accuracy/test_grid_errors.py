"""Grid and protocol configs report every problem together, in one error, before anything runs:
the planner (``grid.plan``/``plan_all``), a protocol's own definition, and ``neuronbench
accuracy`` for the MNIST grid, uci-actmix and cifar10 (nothing imported, no data read, no
trial started, no results directory made)."""

from __future__ import annotations

import dataclasses

import pytest

from suites.accuracy import grid, protocols
from suites.accuracy.protocols import ConfigError, Profile
from suites.cli import main

#: One of each mistake a grid can hold, and the words its problem must say.
BAD_GRID = {"units": ["relu6", "gelu"], "frameworks": ["numpy", "pytorch"], "seeds": 0,
            "variants": ["wide"], "mode": "compiled", "dtype": "float16", "first_seed": -1,
            "epochs": 0}
BAD_GRID_PROBLEMS = ("unknown protocol 'mnist-typo'", "unknown profile 'full'", "unknown unit 'relu6'",
                     "mnist-units: unknown variant 'wide'", "unknown framework 'pytorch'",
                     "mode 'compiled' is not available in numpy", "unknown dtype 'float16'",
                     "seeds must be an integer >= 1", "first seed must be an integer >= 0",
                     "epochs must be an integer >= 1")


def _assert_lists(error: ConfigError, expected: tuple[str, ...]) -> None:
    """Each expected problem is listed, each once, and nothing else is."""
    assert len(error.problems) == len(expected), error.problems
    for words in expected:
        assert sum(words in problem for problem in error.problems) == 1, (words, error.problems)
        assert words in str(error)


def test_every_problem_of_a_grid_is_reported_together() -> None:
    with pytest.raises(ConfigError) as caught:
        grid.plan_all(["mnist-units", "mnist-typo"], "full", **BAD_GRID)
    _assert_lists(caught.value, BAD_GRID_PROBLEMS)
    assert "nothing was run" in str(caught.value)
    assert isinstance(caught.value, ValueError)  # callers that catch ValueError still do

    with pytest.raises(ConfigError) as one:  # plan() of one protocol checks the same way
        grid.plan("mnist-units", "full", **BAD_GRID)
    _assert_lists(one.value, BAD_GRID_PROBLEMS[1:])


def test_a_valid_grid_plans_and_its_epochs_override_reaches_every_trial() -> None:
    assert grid.grid_problems(["mnist-aptx", "mnist-nmn"], "quick", units=["relu"],
                              frameworks=["numpy", "jax"], seeds=1, mode="eager", epochs=1) == []
    trials = grid.plan_all(["mnist-aptx", "mnist-nmn"], "quick", units=["relu"], frameworks=["jax"],
                           seeds=1, epochs=1)
    assert len(trials) == 2 and {t.config["epochs"] for t in trials} == {1}


def test_a_protocol_definition_reports_every_problem_together() -> None:
    base = protocols.get_protocol("mnist-units")
    with pytest.raises(ConfigError) as caught:
        dataclasses.replace(
            base, version=0, hidden=(128, 0), units=("relu", "relu6"), variants=("wide",),
            optimizer={"name": "adam", "lr": -1.0}, schedule={"name": "stair"}, batch_size=0,
            normalize="whiten", clip_norm=float("inf"), report_epoch=0,
            quick=Profile(epochs=0, seeds=2, train_subset=0), paper=Profile(epochs=20, seeds=0))
    _assert_lists(caught.value, (
        "version must be", "hidden must be", "unknown unit 'relu6'", "unknown variant 'wide'",
        "optimizer lr must be", "unknown schedule 'stair'", "batch_size must be", "report_epoch must be",
        "unknown normalisation 'whiten'", "clip_norm must be", "quick profile: epochs must be",
        "quick profile: train_subset must be", "paper profile: seeds must be"))
    assert "protocol 'mnist-units'" in str(caught.value)


@pytest.fixture
def nothing_may_start(monkeypatch):
    """Fail the test if the command gets past its checks: no backend import, no data, no run."""
    import impls
    import suites.data
    from suites.accuracy import cli

    def started(*args, **kwargs):
        raise AssertionError("work started before every problem was reported")

    monkeypatch.setattr(impls, "load_backend", started)
    monkeypatch.setattr(cli, "prepare_data", started)
    for name in ("resolve_data_root", "fetch_dataset"):
        monkeypatch.setattr(suites.data, name, started)
    monkeypatch.setattr("suites.run.run_grid", started)


@pytest.mark.parametrize(("argv", "expected"), [
    (["--protocol", "mnist-units,mnist-typo", "--units", "relu6,gelu", "--variants", "wide",
      "--frameworks", "numpy,pytorch,tf2", "--seeds", "0", "--jobs", "0", "--dask-workers", "0"],
     ("unknown protocol 'mnist-typo'", "unknown unit 'relu6'", "unknown variant 'wide'",
      "unknown frameworks 'pytorch', 'tf2'", "--seeds must be", "--jobs must be", "--dask-workers must be")),
    (["--protocol", "mnist-aptx", "--units", ",", "--frameworks", "numpy,jax", "--mode", "compiled"],
     ("--units is empty", "mode 'compiled' is not available in numpy")),
    (["--protocol", "uci-actmix", "--datasets", "ccpp,iris", "--units", "relu,relu6",
      "--variants", "leak-free,leakier", "--frameworks", "jaxx", "--seeds", "0"],
     ("unknown uci-actmix dataset 'iris'", "unknown uci-actmix unit 'relu6'",
      "unknown uci-actmix variant 'leakier'", "unknown framework 'jaxx'", "--seeds must be")),
    (["--protocol", "cifar10", "--units", "relu6", "--variants", "wide", "--jobs", "0"],
     ("unknown cifar10 unit 'relu6'", "unknown cifar10 variant 'wide'", "--jobs must be")),
], ids=["mnist", "mnist-mode", "uci-actmix", "cifar10"])
def test_the_command_reports_every_problem_before_anything_starts(tmp_path, nothing_may_start, argv,
                                                                  expected) -> None:
    results = tmp_path / "results"
    with pytest.raises(SystemExit) as caught:
        main(["accuracy", *argv, "--results-dir", str(results)])
    message = str(caught.value.code)
    assert message.startswith(f"neuronbench accuracy: {len(expected)} problem")
    for words in expected:
        assert message.count(words) == 1, (words, message)
    assert not results.exists()
