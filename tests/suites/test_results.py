"""The results store (suites/results.py): the tidy schema, consolidation and the tables."""

from __future__ import annotations

import pandas as pd
import pytest

from suites import results as store
from suites.run import run_grid
from tests.suites import fake_trials as ft


def _row(**overrides) -> dict:
    row = {**ft.row({}, "square", 1.0, epoch=1), "run_id": "r", "suite": "fake", "trial_key": "k"}
    row.update(overrides)
    return row


def test_schema_names_unknown_missing_and_mistyped_columns() -> None:
    store.validate_row(_row())
    store.validate_row(_row(dataset=None, fold=None, tolerance=1e-5, passed=True, detail="x"))
    with pytest.raises(store.SchemaError, match=r"unknown column.*colour"):
        store.validate_row(_row(colour="blue"))
    with pytest.raises(store.SchemaError, match=r"missing column.*metric"):
        store.validate_row({k: v for k, v in _row().items() if k != "metric"})
    with pytest.raises(store.SchemaError, match="'fold' must be int"):
        store.validate_row(_row(fold="1"))
    with pytest.raises(store.SchemaError, match="'seed' must be int"):
        store.validate_row(_row(seed=True))  # a bool is not a seed
    with pytest.raises(store.SchemaError, match="'passed' must be bool"):
        store.validate_row(_row(passed=1))
    store.validate_row(_row(value=3))  # an int value is a number


def test_write_results_is_typed_sorted_and_matches_the_records(tmp_path) -> None:
    grid = [ft.trial(x=x, seed=s) for x in (3, 1, 2) for s in (1, 0)] + [ft.trial("boom", x=9)]
    run_grid(grid, tmp_path, executor="inline", progress="off")
    paths = store.write_results(tmp_path)
    assert [p.name for p in paths] == ["rows.parquet", "rows.csv", "trials.csv"]
    frame = store.load_results(tmp_path)
    parquet = pd.read_parquet(tmp_path / "rows.parquet")
    assert list(parquet.columns) == list(frame.columns)
    assert list(frame.columns[:17]) == list(store.REQUIRED)
    pd.testing.assert_frame_equal(parquet.astype(object), frame.astype(object))
    assert frame.seed.is_monotonic_increasing  # sorted by the design columns, not by run order
    assert str(frame.fold.dtype) == "Int64" and str(frame.value.dtype) == "float64"
    # deterministic: the same rows whatever order the trials ran in
    run_grid(list(reversed(grid)), tmp_path / "other", executor="inline", progress="off")
    other = store.load_results(tmp_path / "other")
    pd.testing.assert_frame_equal(frame.drop(columns="run_id"), other.drop(columns="run_id"))
    csv_text = (tmp_path / "rows.csv").read_text()
    assert csv_text.splitlines()[0].startswith("run_id,suite,protocol,unit,framework")
    trials = store.load_trials(tmp_path)
    assert list(trials.columns[:7]) == ["key", "suite", "label", "status", "error", "diverged_epoch", "wall_s"]
    assert sorted(trials.status) == ["failed"] + ["ok"] * 6
    assert len(frame) == 12  # 6 ok trials x 2 rows; the failed one contributes none
    assert (tmp_path / "trials.csv").read_text().count("failed") >= 1


def test_load_filters_by_suite_and_keys(tmp_path) -> None:
    summary = run_grid([ft.trial(x=1), ft.trial(x=2)], tmp_path, executor="inline", progress="off")
    assert store.load_results(tmp_path, suite="other").empty
    assert store.load_results(tmp_path, keys=summary.keys[:1]).trial_key.unique().tolist() == [summary.keys[0]]
    assert store.delete_suite(tmp_path, "fake") == 2 and store.load_results(tmp_path).empty
