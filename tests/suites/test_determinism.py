"""Determinism: the same trial, run twice through the normal runner and trial code, each time in
a fresh worker process, gives bitwise-identical rows in every framework; the runner turns the
determinism switch on in the worker before the trial imports anything, and every record and
manifest says what was in force, beside the trial's seed.

The trial is the accuracy suite's own (``suites.accuracy.train:run_trial``, planned by
``grid.plan``): the APTx layer MLP (the fused APTx kernel, whose reductions run on several
threads) for two epochs on 256 real MNIST training images. The only rows left out of the
comparison are ``epoch_seconds``: wall-clock time is a measurement of the machine, not of the
computation.
"""

from __future__ import annotations

import math
import os
import tempfile
from pathlib import Path

import pytest

from impls.registry import FRAMEWORKS
from suites import results as store
from suites import settings
from suites.accuracy import grid
from suites.run import Trial, run_grid
from tests.conftest import require_framework
from tests.suites import fake_trials as ft

#: Rows that measure time, not the computation; everything else must match bit for bit.
TIMING_METRICS = ("epoch_seconds",)


def tiny_trial(framework: str) -> Trial:
    """One seed of the APTx-layer MLP on a few hundred real MNIST images, planned by the grid."""
    (trial,) = grid.plan("mnist-units", "quick", units=["aptx_layer"], variants=["equal-width"],
                         frameworks=[framework], seeds=1, epochs=2)
    config = {**trial.config, "train_subset": 256, "validation": 128, "test_subset": 256}
    return Trial(trial.suite, trial.fn, config, trial.code, trial.frameworks, trial.label)


def two_runs(framework: str, root: Path) -> tuple[dict, dict, dict]:
    """The framework's trial run twice through the runner, into two stores, each run in its own
    fresh worker process (a process pool of one): both records and the first run's manifest."""
    trial = tiny_trial(framework)
    (first_key,) = run_grid([trial], root / "first", executor="processes", jobs=1, progress="off").keys
    (second_key,) = run_grid([trial], root / "second", executor="processes", jobs=1, progress="off").keys
    assert first_key == second_key, "the code changed between the two runs"
    first, second = (store.read_record(store.record_path(root / name, first_key))
                     for name in ("first", "second"))
    (manifest,) = store.load_manifests(root / "first")
    return first, second, manifest


def _bits(value: object) -> object:
    """A value as its exact bits (float.hex), so 0.1 + 1 ulp differs and NaN equals NaN."""
    return float(value).hex() if isinstance(value, float) and not math.isnan(value) else repr(value)


def measured(record: dict) -> list[dict]:
    """The record's rows, timings and the run id left out, every value as its exact bits."""
    return [{k: _bits(v) for k, v in row.items() if k != "run_id"}
            for row in record["rows"] if row["metric"] not in TIMING_METRICS]


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_a_trial_is_bitwise_identical_in_two_fresh_processes(framework: str, tmp_path) -> None:
    """Identical rows, and the switch (read back from the framework, not assumed) and the seed
    in the records and the manifest. One test per framework, so each framework's two runs are
    made once whichever test worker it lands on."""
    require_framework(framework)
    first, second, manifest = two_runs(framework, tmp_path)
    assert first["status"] == "ok", first["error"]
    assert second["status"] == "ok", second["error"]
    assert first["pid"] != second["pid"]  # two processes, nothing shared but the code
    rows = measured(first)
    assert len(rows) > 10 and {r["framework"] for r in rows} == {repr(framework)}
    assert rows == measured(second)

    state = first["determinism"]
    assert first["seed"] == 0 and state["enabled"] is True
    assert state["policy"] == settings.DETERMINISM_POLICY and framework in state["frameworks"]
    assert settings.XLA_DETERMINISM_FLAG in state["env"]["XLA_FLAGS"].split()
    assert state["env"]["TF_DETERMINISTIC_OPS"] == "1"
    if framework == "torch":
        assert state["torch.deterministic_algorithms"] is True
        assert state["torch.cudnn.deterministic"] is True
    if framework == "tf":
        assert state["tf.op_determinism"] is True
    assert manifest["determinism"]["enabled"] is True
    assert manifest["determinism"]["policy"] == settings.DETERMINISM_POLICY
    assert manifest["seeds"] == [0] and [t["seed"] for t in manifest["trials"]] == [0]


def test_the_switch_can_be_turned_off_and_the_record_says_so(tmp_path) -> None:
    run_grid([ft.trial(x=1, seed=3)], tmp_path, executor="inline", progress="off", deterministic=False)
    (record,) = store.load_records(tmp_path)
    assert record["determinism"] == {"enabled": False} and record["seed"] == 3
    (manifest,) = store.load_manifests(tmp_path)
    assert manifest["determinism"]["enabled"] is False and manifest["seeds"] == [3]


def test_an_inline_run_leaves_the_calling_process_as_it_found_it() -> None:
    """The inline executor switches the caller's own process for the run only: afterwards
    torch, TensorFlow and the environment are as before (a later unseeded tf.random call in
    the same session must not raise)."""
    require_framework("torch")
    require_framework("tf")
    import tensorflow as tf
    import torch

    names = (*settings.DETERMINISM_ENV, "XLA_FLAGS")
    env_before = {name: os.environ.get(name) for name in names}
    trial = Trial("fake", "tests.suites.fake_trials:square", {"x": 2}, ft.CODE, ("torch", "tensorflow"))
    with tempfile.TemporaryDirectory() as folder:
        run_grid([trial], folder, executor="inline", progress="off")
        (record,) = store.load_records(Path(folder))
    assert record["determinism"]["torch.deterministic_algorithms"] is True  # on during the trial
    assert record["determinism"]["tf.op_determinism"] is True
    assert not torch.are_deterministic_algorithms_enabled()  # and off again after it
    assert {name: os.environ.get(name) for name in names} == env_before
    assert tf.random.uniform([2]).shape == (2,)  # would raise under op determinism
