"""Seeded splits and folds, and their storage next to the results.

Folds and splits are scikit-learn's (``KFold``, ``StratifiedKFold``, ``train_test_split``),
seeded with an integer ``random_state``; :func:`permutation` (subsets, batch orders) comes from
``PCG64(SeedSequence(seed))`` raw outputs and a stable argsort, stable across NumPy versions.
scikit-learn's shuffles are NumPy's ``RandomState``, which NumPy keeps stable; the fold files
record the exact indices anyway. Fold files are what makes every framework and
baseline see identical folds: the protocol saves them once (:func:`save_folds`) next to its results
and every consumer reads them back (:func:`load_folds`).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

FOLDS_FORMAT = "neuronbench-folds/1"


@dataclass(frozen=True, eq=False)
class Fold:
    """Index sets of one split: ``train`` and ``test`` (and ``val`` when there is one), each a
    sorted int64 array of row indices."""

    index: int
    train: np.ndarray
    test: np.ndarray
    val: np.ndarray | None = None

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Fold):
            return NotImplemented
        same_val = (self.val is None and other.val is None) or (
            self.val is not None and other.val is not None and np.array_equal(self.val, other.val)
        )
        return (
            self.index == other.index
            and np.array_equal(self.train, other.train)
            and np.array_equal(self.test, other.test)
            and same_val
        )

    __hash__ = None  # type: ignore[assignment]


def _sorted(a: np.ndarray) -> np.ndarray:
    return np.sort(np.asarray(a, dtype=np.int64))


def permutation(n: int, seed: int | Sequence[int]) -> np.ndarray:
    """A uniformly random permutation of ``range(n)``, stable across NumPy versions."""
    if n < 0:
        raise ValueError("n must be >= 0")
    raw = np.random.PCG64(np.random.SeedSequence(seed)).random_raw(n)
    return np.argsort(np.asarray(raw, dtype=np.uint64), kind="stable").astype(np.int64)


def kfold_indices(n: int, k: int, seed: int, *, shuffle: bool = True) -> list[Fold]:
    """K folds over ``range(n)`` (scikit-learn's ``KFold``): fold sizes differ by at most one
    (the first ``n % k`` folds get one more row); each row is in exactly one test part."""
    from sklearn.model_selection import KFold

    _check_k(n, k)
    splitter = KFold(n_splits=k, shuffle=shuffle, random_state=seed if shuffle else None)
    return [Fold(i, _sorted(train), _sorted(test))
            for i, (train, test) in enumerate(splitter.split(np.zeros((n, 1))))]


def _check_k(n: int, k: int) -> None:
    if k < 2:
        raise ValueError("k must be at least 2")
    if n < k:
        raise ValueError(f"cannot make {k} folds from {n} rows")


def stratified_kfold_indices(y: np.ndarray | Sequence[Any], k: int, seed: int) -> list[Fold]:
    """K shuffled folds whose test parts keep the class proportions (scikit-learn's
    ``StratifiedKFold``): per class, fold counts differ by at most one."""
    from sklearn.model_selection import StratifiedKFold

    y = np.asarray(y)
    _check_k(y.shape[0], k)
    splitter = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
    return [Fold(i, _sorted(train), _sorted(test))
            for i, (train, test) in enumerate(splitter.split(np.zeros((y.shape[0], 1)), y))]


def train_val_test_split(
    n: int,
    *,
    test_fraction: float,
    val_fraction: float = 0.0,
    seed: int,
    stratify: np.ndarray | Sequence[Any] | None = None,
) -> Fold:
    """One seeded split of ``range(n)`` into train / validation / test parts.

    ``test_fraction`` and ``val_fraction`` are fractions of all ``n`` rows (sizes rounded to the
    nearest integer); with ``stratify`` (class labels) each part keeps the class proportions
    (scikit-learn's ``train_test_split``, twice). ``val`` is ``None`` when ``val_fraction`` is 0.
    """
    from sklearn.model_selection import train_test_split

    if not (0 <= test_fraction < 1 and 0 <= val_fraction < 1 and test_fraction + val_fraction < 1):
        raise ValueError("need 0 <= test_fraction, val_fraction and their sum < 1")
    y = None if stratify is None else np.asarray(stratify)
    if y is not None and y.shape[0] != n:
        raise ValueError(f"stratify has {y.shape[0]} labels for {n} rows")
    n_test, n_val = round(n * test_fraction), round(n * val_fraction)
    rest = np.arange(n, dtype=np.int64)
    parts: dict[str, np.ndarray | None] = {"test": np.zeros(0, np.int64), "val": None}
    for name, size, salt in (("test", n_test, 0), ("val", n_val, 1)):
        if size == 0:
            continue
        rest, held = train_test_split(rest, test_size=size, random_state=(seed + salt) % 2**32,
                                      stratify=None if y is None else y[rest])
        parts[name] = held
    val = parts["val"]
    return Fold(0, _sorted(rest), _sorted(parts["test"]), None if val is None else _sorted(val))


def add_validation(
    fold: Fold,
    *,
    val_fraction: float,
    seed: int,
    stratify: np.ndarray | Sequence[Any] | None = None,
) -> Fold:
    """Carve a validation part out of ``fold.train`` (``val_fraction`` of the training rows),
    for the leak-free protocol (model selection never sees the test part). ``stratify`` holds the
    labels of *all* rows."""
    labels = None if stratify is None else np.asarray(stratify)[fold.train]
    inner = train_val_test_split(
        fold.train.size, test_fraction=0.0, val_fraction=val_fraction, seed=seed, stratify=labels
    )
    if inner.val is None:
        raise ValueError("val_fraction too small: empty validation part")
    return Fold(fold.index, fold.train[inner.train], fold.test, _sorted(fold.train[inner.val]))


def check_folds(folds: Sequence[Fold], n: int, *, covering: bool = True) -> None:
    """Raise ``ValueError`` unless each fold's parts are disjoint, within ``range(n)``, together
    use every row, and (``covering``) the test parts partition ``range(n)``."""
    tests = []
    for f in folds:
        parts = [f.train, f.test] + ([f.val] if f.val is not None else [])
        allrows = np.concatenate(parts)
        if allrows.size and (allrows.min() < 0 or allrows.max() >= n):
            raise ValueError(f"fold {f.index}: index outside 0..{n - 1}")
        if np.unique(allrows).size != allrows.size:
            raise ValueError(f"fold {f.index}: train/val/test overlap")
        if allrows.size != n:
            raise ValueError(f"fold {f.index}: uses {allrows.size} of {n} rows")
        tests.append(f.test)
    if covering:
        t = np.concatenate(tests)
        if t.size != n or np.unique(t).size != n:
            raise ValueError("test parts do not partition the rows")


def folds_digest(folds: Sequence[Fold]) -> str:
    """sha256 over the fold indices: a short identity to record in result rows."""
    h = hashlib.sha256()
    for f in folds:
        for name, part in (("train", f.train), ("val", f.val), ("test", f.test)):
            h.update(f"{f.index}:{name}:".encode())
            if part is not None:
                h.update(np.ascontiguousarray(part, dtype="<i8").tobytes())
    return h.hexdigest()


def save_folds(
    path: str | os.PathLike[str],
    folds: Sequence[Fold],
    *,
    meta: Mapping[str, Any] | None = None,
) -> Path:
    """Write folds to ``path`` atomically: ``.json`` (readable, diffable) or ``.npz`` (compact).

    The file records the format, the folds' digest and ``meta`` (e.g. dataset, n, k, seed, kind)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    header = {
        "format": FOLDS_FORMAT,
        "digest": folds_digest(folds),
        "n_folds": len(folds),
        "meta": dict(meta or {}),
    }
    tmp = path.with_name(f".{path.name}.{os.getpid()}.part")
    try:
        if path.suffix == ".json":
            doc = dict(header)
            doc["folds"] = [
                {
                    "index": f.index,
                    "train": f.train.tolist(),
                    "val": None if f.val is None else f.val.tolist(),
                    "test": f.test.tolist(),
                }
                for f in folds
            ]
            tmp.write_text(json.dumps(doc, separators=(",", ":")) + "\n", encoding="utf-8")
        elif path.suffix == ".npz":
            arrays: dict[str, np.ndarray] = {"header": np.array(json.dumps(header))}
            for f in folds:
                arrays[f"fold{f.index}_train"] = f.train.astype("<i8")
                arrays[f"fold{f.index}_test"] = f.test.astype("<i8")
                if f.val is not None:
                    arrays[f"fold{f.index}_val"] = f.val.astype("<i8")
            with open(tmp, "wb") as out:
                np.savez_compressed(out, **arrays)
        else:
            raise ValueError(f"{path}: fold files end in .json or .npz")
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def load_folds(path: str | os.PathLike[str], *, with_meta: bool = False):
    """Read folds written by :func:`save_folds` (checking their digest). Returns the list of
    :class:`Fold`, or ``(folds, meta)`` with ``with_meta=True``."""
    path = Path(path)
    if path.suffix == ".json":
        doc = json.loads(path.read_text(encoding="utf-8"))
        header = doc
        folds = [
            Fold(
                int(d["index"]),
                np.asarray(d["train"], dtype=np.int64),
                np.asarray(d["test"], dtype=np.int64),
                None if d.get("val") is None else np.asarray(d["val"], dtype=np.int64),
            )
            for d in doc["folds"]
        ]
    elif path.suffix == ".npz":
        with np.load(path, allow_pickle=False) as z:
            header = json.loads(str(z["header"]))
            folds = []
            for i in range(int(header["n_folds"])):
                val_key = f"fold{i}_val"
                folds.append(
                    Fold(
                        i,
                        z[f"fold{i}_train"].astype(np.int64),
                        z[f"fold{i}_test"].astype(np.int64),
                        z[val_key].astype(np.int64) if val_key in z.files else None,
                    )
                )
    else:
        raise ValueError(f"{path}: fold files end in .json or .npz")
    if header.get("format") != FOLDS_FORMAT:
        raise ValueError(f"{path}: not a neuronbench fold file (format {header.get('format')!r})")
    if folds_digest(folds) != header.get("digest"):
        raise ValueError(f"{path}: fold indices do not match the recorded digest")
    return (folds, dict(header.get("meta", {}))) if with_meta else folds


__all__ = [
    "FOLDS_FORMAT",
    "Fold",
    "add_validation",
    "check_folds",
    "folds_digest",
    "kfold_indices",
    "load_folds",
    "permutation",
    "save_folds",
    "stratified_kfold_indices",
    "train_val_test_split",
]
