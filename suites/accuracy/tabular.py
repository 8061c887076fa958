"""The data side of the ``uci-actmix`` protocol: folds, the leak-free inner split, the leaky replication.

Spec §3.4: CCPP (regression), Adult and MAGIC (classification), 10-fold cross-validation
(stratified for classification) with the ActMix seed 1192. What differs between the variants is
only which rows the preprocessing is fitted on and which rows pick the checkpoint:

* **leak-free** (every variant but ``replicate-actmix``): 10 % of the training folds become the
  validation part (stratified for classification, seeded by the trial seed); the scaler and the
  one-hot encoder (its category list included) are fitted on the remaining training rows only;
  early stopping and checkpoint selection read the validation part; the test fold is touched
  once, for the reported metrics. ``test_leak_free_fold_never_lets_test_rows_in`` proves it by
  rewriting every test-fold row and checking that nothing the model or its selection can see
  changes.
* **replicate-actmix** (labelled leaky wherever it is reported): the original ``train_cv.py``
  fits the scaler and encoder on all rows before splitting and uses the test fold as the
  validation part too (early stopping and the best checkpoint chosen on the reported fold).

The data layer (``TabularData.prepare``) only takes the rows to fit on; this module owns the
policy.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping

import numpy as np

#: Datasets of the protocol and their task (spec §3.4).
DATASETS: Mapping[str, str] = {"ccpp": "regression", "adult": "classification",
                               "magic": "classification"}

#: ActMix's fold seed for the networks (spec §3.4); the original XGBoost script used 42.
FOLD_SEED = 1192
N_FOLDS = 10
#: Share of the training folds held out as the leak-free validation part.
VAL_FRACTION = 0.1

LEAKY_VARIANT = "replicate-actmix"


def load_table(name: str):
    """The raw table of a protocol dataset (every row; Adult without its rows with '?')."""
    from suites.data import load_adult, load_ccpp, load_magic

    loaders: Mapping[str, Callable] = {"ccpp": load_ccpp, "adult": load_adult, "magic": load_magic}
    if name not in loaders:
        raise ValueError(f"unknown uci-actmix dataset {name!r}; known: {', '.join(loaders)}")
    return loaders[name](download=False)


def folds(table, k: int = N_FOLDS, seed: int = FOLD_SEED) -> list:
    """The protocol's k folds of ``table``: stratified for classification, plain for regression."""
    from suites.data import kfold_indices, stratified_kfold_indices

    if table.task == "classification":
        return stratified_kfold_indices(table.y, k, seed)
    return kfold_indices(table.n_rows, k, seed)


def fold_data(table, fold, *, variant: str, seed: int):
    """The preprocessed :class:`~suites.data.Dataset` of one fold under ``variant``.

    Leak-free: ``x_val`` is 10 % of the training folds and everything is fitted on the other
    90 %. ``replicate-actmix``: fitted on all rows, ``x_val is x_test`` (the leak).
    """
    from suites.data import add_validation

    if variant == LEAKY_VARIANT:
        ds = table.prepare(fold.train, fold.test, fit_on=np.arange(table.n_rows))
        return dataclasses.replace(ds, x_val=ds.x_test, y_val=ds.y_test,
                                   preprocessing={**ds.preprocessing, "leaky": True,
                                                  "selection_on": "test fold"})
    inner = add_validation(fold, val_fraction=VAL_FRACTION, seed=seed,
                           stratify=table.stratify_labels)
    ds = table.prepare(inner.train, inner.test, inner.val)
    return dataclasses.replace(ds, preprocessing={**ds.preprocessing, "leaky": False,
                                                  "selection_on": "validation part"})
