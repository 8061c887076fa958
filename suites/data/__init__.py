"""neuronbench data layer: the original dataset files, verified, offline-first.

Public API (see ``docs/data.md``)::

    from suites.data import load_mnist, load_cifar10, load_adult, load_magic, load_ccpp, load
    ds = load_mnist(layout="flat")                 # Dataset (preprocessed, official split)
    table = load_adult()                           # TabularData (all rows, raw)
    folds = stratified_kfold_indices(table.y, k=10, seed=1192)
    save_folds(results_dir / "folds.json", folds)  # every framework/baseline reads these
    fold_ds = table.prepare(folds[0].train, folds[0].test)   # fitted on the training part only

Importing this package is cheap: the names below are resolved lazily (PEP 562), so
``import suites.data.cli`` (done by every ``neuronbench`` invocation) does not even import NumPy;
rich and openpyxl are imported only when a table, a download or an xlsx needs them, and no
framework is ever imported.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

#: public name -> submodule that defines it
_EXPORTS: dict[str, str] = {
    "Dataset": "dataset",
    "Source": "dataset",
    "TabularData": "dataset",
    "ChecksumError": "errors",
    "CorruptDataError": "errors",
    "DataError": "errors",
    "DownloadError": "errors",
    "MissingDataError": "errors",
    "UnsafeArchiveError": "errors",
    "fetch_dataset": "fetch",
    "fetch_file": "fetch",
    "load": "loaders",
    "load_adult": "loaders",
    "load_ccpp": "loaders",
    "load_cifar10": "loaders",
    "load_magic": "loaders",
    "load_mnist": "loaders",
    "channel_stats": "preprocess",
    "normalize_mnist": "preprocess",
    "random_crop_flip": "preprocess",
    "standardize_channels": "preprocess",
    "DATASETS": "registry",
    "DATASET_NAMES": "registry",
    "canonical_name": "registry",
    "get_spec": "registry",
    "downloads_allowed": "root",
    "resolve_data_root": "root",
    "Fold": "splits",
    "add_validation": "splits",
    "check_folds": "splits",
    "folds_digest": "splits",
    "kfold_indices": "splits",
    "load_folds": "splits",
    "save_folds": "splits",
    "stratified_kfold_indices": "splits",
    "train_val_test_split": "splits",
}

__all__ = [
    "DATASETS",
    "DATASET_NAMES",
    "ChecksumError",
    "CorruptDataError",
    "DataError",
    "Dataset",
    "DownloadError",
    "Fold",
    "MissingDataError",
    "Source",
    "TabularData",
    "UnsafeArchiveError",
    "add_validation",
    "canonical_name",
    "channel_stats",
    "check_folds",
    "downloads_allowed",
    "fetch_dataset",
    "fetch_file",
    "folds_digest",
    "get_spec",
    "kfold_indices",
    "load",
    "load_adult",
    "load_ccpp",
    "load_cifar10",
    "load_folds",
    "load_magic",
    "load_mnist",
    "normalize_mnist",
    "random_crop_flip",
    "resolve_data_root",
    "save_folds",
    "standardize_channels",
    "stratified_kfold_indices",
    "train_val_test_split",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))


if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from .dataset import Dataset, Source, TabularData
    from .errors import (
        ChecksumError,
        CorruptDataError,
        DataError,
        DownloadError,
        MissingDataError,
        UnsafeArchiveError,
    )
    from .fetch import fetch_dataset, fetch_file
    from .loaders import load, load_adult, load_ccpp, load_cifar10, load_magic, load_mnist
    from .preprocess import (
        channel_stats,
        normalize_mnist,
        random_crop_flip,
        standardize_channels,
    )
    from .registry import DATASET_NAMES, DATASETS, canonical_name, get_spec
    from .root import downloads_allowed, resolve_data_root
    from .splits import (
        Fold,
        add_validation,
        check_folds,
        folds_digest,
        kfold_indices,
        load_folds,
        save_folds,
        stratified_kfold_indices,
        train_val_test_split,
    )
