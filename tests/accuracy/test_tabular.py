"""uci-actmix's data side: the protocol folds, the leak-free inner split (proved by rewriting every
test-fold row), the labelled leaky replication, and the scikit-learn metrics."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from suites.accuracy import metrics, tabular
from suites.data import TabularData


def _table(task: str = "classification", n: int = 200) -> TabularData:
    rng = np.random.default_rng(3)
    y = (rng.random(n) < 0.3).astype(np.int64) if task == "classification" else rng.normal(50, 5, n)
    return TabularData(
        name="toy", task=task,
        numeric=rng.normal(size=(n, 3)) * [1, 10, 100] + [0, 5, -50], numeric_names=("a", "b", "c"),
        categorical=rng.choice(["p", "q", "r"], size=(n, 2)), categorical_names=("u", "v"),
        y=y, target_name="t", class_names=("no", "yes") if task == "classification" else None)


def _rewrite_rows(table: TabularData, rows: np.ndarray) -> TabularData:
    """The same table with every feature, category and label of ``rows`` replaced."""
    numeric, categorical, y = table.numeric.copy(), table.categorical.copy(), table.y.copy()
    numeric[rows] = numeric[rows] * 1000.0 + 12345.0
    categorical[rows] = "never-seen-in-training"
    y[rows] = (1 - y[rows]) if table.task == "classification" else y[rows] + 1e6
    return dataclasses.replace(table, numeric=numeric, categorical=categorical, y=y)


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_leak_free_fold_never_lets_test_rows_in(task: str) -> None:
    """Everything the model, its scaler and encoder, and its early stopping see is unchanged when
    every test-fold row is rewritten; only the reported test part moves."""
    table = _table(task)
    fold = tabular.folds(table, k=5)[2]
    clean = tabular.fold_data(table, fold, variant="leak-free", seed=7)
    rewritten = tabular.fold_data(_rewrite_rows(table, fold.test), fold, variant="leak-free", seed=7)
    for part in ("x_train", "y_train", "x_val", "y_val"):
        np.testing.assert_array_equal(getattr(clean, part), getattr(rewritten, part), err_msg=part)
    for stat in ("scaler_mean", "scaler_scale"):
        np.testing.assert_array_equal(clean.preprocessing[stat], rewritten.preprocessing[stat])
    assert {k: list(v) for k, v in clean.preprocessing["categories"].items()} == \
        {k: list(v) for k, v in rewritten.preprocessing["categories"].items()}
    assert not np.array_equal(clean.x_test, rewritten.x_test)
    # the validation part is 10 % of the training folds, disjoint from what is fitted on
    assert clean.preprocessing["n_val"] == round(tabular.VAL_FRACTION * fold.train.size)
    assert clean.preprocessing["fit_rows"] == fold.train.size - clean.preprocessing["n_val"]
    assert clean.preprocessing["leaky"] is False


def test_the_leaky_replication_is_caught_by_the_same_probe() -> None:
    """The probe is not vacuous: under replicate-actmix the rewritten test rows move the training
    features (scaler fitted on all rows) and the validation part is the test fold."""
    table = _table()
    fold = tabular.folds(table, k=5)[0]
    leaky = tabular.fold_data(table, fold, variant=tabular.LEAKY_VARIANT, seed=7)
    rewritten = tabular.fold_data(_rewrite_rows(table, fold.test), fold,
                                  variant=tabular.LEAKY_VARIANT, seed=7)
    assert leaky.x_val is leaky.x_test and leaky.preprocessing["leaky"] is True
    assert leaky.preprocessing["fit_rows"] == table.n_rows
    assert not np.allclose(leaky.x_train[:, :3], rewritten.x_train[:, :3])      # the scaler moved
    assert rewritten.x_train.shape[1] > leaky.x_train.shape[1]                  # so did the encoder


def test_protocol_folds_cover_every_row_once_and_stratify() -> None:
    table = _table(n=300)
    folds = tabular.folds(table)
    assert len(folds) == tabular.N_FOLDS
    tests = np.concatenate([f.test for f in folds])
    assert np.array_equal(np.sort(tests), np.arange(table.n_rows))
    shares = [table.y[f.test].mean() for f in folds]
    assert max(shares) - min(shares) < 0.05
    assert tabular.folds(table) == folds                          # seeded
    assert len(tabular.folds(_table("regression"))) == tabular.N_FOLDS


def test_unknown_dataset_is_named() -> None:
    with pytest.raises(ValueError, match="unknown uci-actmix dataset 'iris'"):
        tabular.load_table("iris")


def test_metrics_against_hand_computed_values() -> None:
    reg = metrics.regression(np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 5.0]))
    assert reg["rmse"] == pytest.approx(np.sqrt(4 / 3)) and reg["mae"] == pytest.approx(2 / 3)
    assert reg["r2"] == pytest.approx(1 - 4 / 2)
    cls = metrics.classification(np.array([0, 0, 1, 1]), np.array([0.1, 0.6, 0.4, 0.9]))
    assert cls["accuracy"] == 0.5 and cls["macro_f1"] == pytest.approx(0.5)
    assert cls["roc_auc"] == pytest.approx(0.75)
    with pytest.raises(ValueError, match="labels for"):
        metrics.classification(np.array([0, 1]), np.array([0.5]))
    with pytest.raises(ValueError, match="unknown task"):
        metrics.for_task("ranking", np.zeros(2), np.zeros(2))
