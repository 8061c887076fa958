"""The gradient-boosted-trees baseline of ``uci-actmix``: XGBoost on the networks' folds.

Spec §3.4's settings: ``XGBClassifier`` / ``XGBRegressor`` with 500 trees, learning rate 0.05,
depth 6 (``eval_metric="logloss"`` for classifiers), no early stopping. It runs on the same
folds as the networks (seed 1192; the original script drew its own with seed 42) and is fitted
on the whole training part of a fold (the networks' training rows plus their validation rows:
with a fixed number of trees it has no checkpoint to choose), preprocessed as the networks' data
(scaling changes nothing for trees; the one-hot width does). One trial per dataset and fold;
rows: the test fold's metrics (``suites/accuracy/metrics.py``) and the fit time.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from typing import Any

from suites.accuracy import metrics, tabular

PROTOCOL = "uci-actmix"
UNIT = "xgboost"
#: Spec §3.4.
PARAMS: Mapping[str, Any] = {"n_estimators": 500, "learning_rate": 0.05, "max_depth": 6}


class XGBoostUnavailableError(ImportError):
    """The baseline needs the xgboost package, which is an optional extra."""


def _xgboost():
    try:
        import xgboost
    except ImportError as error:
        raise XGBoostUnavailableError(
            "the XGBoost baseline needs xgboost: pip install 'neuronbench[xgboost]' "
            "(or xgboost-cpu on a machine without a GPU)") from error
    return xgboost


def run_trial(config: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Fit and evaluate XGBoost on one fold of one dataset (the runner's trial function)."""
    xgboost = _xgboost()
    table = tabular.load_table(config["dataset"])
    fold = tabular.folds(table, config["n_folds"], config["fold_seed"])[config["fold"]]
    ds = table.prepare(fold.train, fold.test)      # every training row: no checkpoint to choose
    threads = int(config["threads"])
    common = {**PARAMS, "n_jobs": threads, "random_state": int(config["seed"]), "tree_method": "hist"}
    if table.task == "classification":
        model = xgboost.XGBClassifier(**common, eval_metric="logloss")
    else:
        model = xgboost.XGBRegressor(**common)
    start = time.perf_counter()
    model.fit(ds.x_train, ds.y_train)
    fit_s = time.perf_counter() - start
    if table.task == "classification":
        prediction = model.predict_proba(ds.x_test)[:, 1]
    else:
        prediction = model.predict(ds.x_test)
    scores = metrics.for_task(table.task, ds.y_test, prediction)
    base = {"protocol": PROTOCOL, "unit": UNIT, "framework": "xgboost", "mode": "native",
            "device": "cpu", "dtype": "float32", "dataset": config["dataset"], "fold": config["fold"],
            "seed": config["seed"], "epoch": None, "n_params": None, "variant": config["variant"],
            "kernel": f"xgboost {xgboost.__version__} hist", "profile": config["profile"],
            "selection": "final"}
    detail = (f"n_train={ds.x_train.shape[0]} n_test={ds.x_test.shape[0]} width={ds.x_train.shape[1]} "
              f"threads={threads}")
    rows = [{**base, "split": "test", "metric": name, "value": value, "detail": detail}
            for name, value in scores.items()]
    rows.append({**base, "split": "train", "metric": "fit_seconds", "value": fit_s, "detail": detail})
    return rows


def plan(datasets: Sequence[str] | None = None, *, profile: str = "quick", seeds: int = 1,
         n_folds: int = tabular.N_FOLDS, fold_seed: int = tabular.FOLD_SEED,
         threads: int | None = None) -> list:
    """One runner trial per dataset, fold and seed (the trees' seed; folds stay fixed)."""
    from suites.run import Trial

    datasets = list(datasets or tabular.DATASETS)
    unknown = [d for d in datasets if d not in tabular.DATASETS]
    if unknown:
        raise ValueError(f"unknown uci-actmix dataset(s) {', '.join(unknown)}; "
                         f"known: {', '.join(tabular.DATASETS)}")
    threads = threads or len(os.sched_getaffinity(0))
    trials = []
    for dataset in datasets:
        for seed in range(seeds):
            for fold in range(n_folds):
                config = {"protocol": PROTOCOL, "unit": UNIT, "dataset": dataset, "fold": fold,
                          "n_folds": n_folds, "fold_seed": fold_seed, "seed": seed,
                          "variant": "leak-free", "profile": profile, "threads": threads,
                          "params": dict(PARAMS)}
                trials.append(Trial(suite="accuracy", fn="suites.accuracy.xgboost_baseline:run_trial",
                                    config=config, code=("suites.accuracy", "suites.data"),
                                    frameworks=("numpy", "xgboost", "xgboost-cpu", "scikit-learn"),
                                    label=f"{PROTOCOL} xgboost {dataset} fold {fold} seed {seed}"))
    return trials

