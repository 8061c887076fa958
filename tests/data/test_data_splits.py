"""Seeded splits and folds: reproducible, disjoint, covering, and stored identically."""

from __future__ import annotations

import json

import numpy as np
import pytest

from suites.data import (
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
from suites.data.splits import permutation


def test_permutation_is_pinned():
    # PCG64 raw outputs are stable across NumPy versions; a change here changes every fold.
    assert permutation(10, 0).tolist() == [3, 2, 1, 8, 6, 0, 7, 4, 5, 9]
    assert permutation(10, 1192).tolist() == [8, 4, 3, 9, 2, 7, 0, 6, 1, 5]
    assert sorted(permutation(1000, 5).tolist()) == list(range(1000))


@pytest.mark.parametrize("n,k", [(10, 2), (103, 10), (9568, 10), (7, 7)])
def test_kfold_identical_disjoint_covering(n, k):
    a = kfold_indices(n, k, seed=1192)
    b = kfold_indices(n, k, seed=1192)
    assert a == b
    check_folds(a, n)
    sizes = [f.test.size for f in a]
    assert max(sizes) - min(sizes) <= 1 and sum(sizes) == n
    for f in a:
        assert np.intersect1d(f.train, f.test).size == 0
        assert f.train.size + f.test.size == n
        assert (np.diff(f.test) > 0).all() and (np.diff(f.train) > 0).all()
    assert kfold_indices(n, k, seed=1193) != a or n == k


def test_kfold_without_shuffle_and_errors():
    folds = kfold_indices(5, 2, seed=0, shuffle=False)
    assert folds[0].test.tolist() == [0, 1, 2] and folds[1].test.tolist() == [3, 4]
    with pytest.raises(ValueError):
        kfold_indices(3, 4, seed=0)
    with pytest.raises(ValueError):
        kfold_indices(3, 1, seed=0)


def test_stratified_kfold_keeps_class_proportions():
    y = np.array([0] * 70 + [1] * 25 + [2] * 8)
    rng = np.random.default_rng(0)
    y = y[rng.permutation(y.size)]
    a = stratified_kfold_indices(y, 5, seed=42)
    assert a == stratified_kfold_indices(y, 5, seed=42)
    assert a != stratified_kfold_indices(y, 5, seed=43)
    check_folds(a, y.size)
    per_fold = np.array([np.bincount(y[f.test], minlength=3) for f in a])
    assert (per_fold.max(axis=0) - per_fold.min(axis=0) <= 1).all()
    sizes = [f.test.size for f in a]
    assert max(sizes) - min(sizes) <= 1


def test_stratified_kfold_on_real_adult_labels(adult):
    folds = stratified_kfold_indices(adult.y, 10, seed=1192)
    check_folds(folds, adult.n_rows)
    positives = [int(adult.y[f.test].sum()) for f in folds]
    assert max(positives) - min(positives) <= 1 and sum(positives) == 11208


def test_train_val_test_split_plain_and_stratified():
    s = train_val_test_split(1000, test_fraction=0.1, val_fraction=0.1, seed=1)
    assert (s.train.size, s.val.size, s.test.size) == (800, 100, 100)
    check_folds([s], 1000, covering=False)
    assert s == train_val_test_split(1000, test_fraction=0.1, val_fraction=0.1, seed=1)
    y = np.array([0] * 900 + [1] * 100)
    st = train_val_test_split(1000, test_fraction=0.2, val_fraction=0.1, seed=3, stratify=y)
    assert (st.train.size, st.val.size, st.test.size) == (700, 100, 200)
    assert int(y[st.test].sum()) == 20 and int(y[st.val].sum()) == 10
    check_folds([st], 1000, covering=False)
    none_val = train_val_test_split(10, test_fraction=0.3, seed=0)
    assert none_val.val is None and none_val.test.size == 3
    with pytest.raises(ValueError):
        train_val_test_split(10, test_fraction=0.6, val_fraction=0.5, seed=0)


def test_add_validation_inside_the_training_part():
    y = np.array([0, 1] * 50)
    fold = stratified_kfold_indices(y, 5, seed=0)[2]
    nested = add_validation(fold, val_fraction=0.25, seed=7, stratify=y)
    assert np.array_equal(nested.test, fold.test)
    assert nested.val.size == 20 and nested.train.size == 60
    assert np.isin(nested.val, fold.train).all()
    assert int(y[nested.val].sum()) == 10
    check_folds([nested], 100, covering=False)


def test_check_folds_detects_problems():
    good = kfold_indices(10, 2, seed=0)
    with pytest.raises(ValueError, match="overlap"):
        check_folds([Fold(0, np.arange(6), np.arange(5, 10))], 10, covering=False)
    with pytest.raises(ValueError, match="uses 9 of 10"):
        check_folds([Fold(0, np.arange(5), np.arange(5, 9))], 10, covering=False)
    with pytest.raises(ValueError, match="partition"):
        check_folds([good[0], good[0]], 10)


@pytest.mark.parametrize("suffix", [".json", ".npz"])
def test_save_and_load_folds(tmp_path, suffix):
    folds = stratified_kfold_indices(np.array([0, 1, 1, 0, 1, 0, 0, 1, 1, 1, 0, 0]), 3, seed=9)
    folds[0] = add_validation(folds[0], val_fraction=0.25, seed=1)
    path = save_folds(
        tmp_path / "results" / f"folds{suffix}", folds, meta={"dataset": "toy", "seed": 9}
    )
    back, meta = load_folds(path, with_meta=True)
    assert back == folds and meta == {"dataset": "toy", "seed": 9}
    assert folds_digest(back) == folds_digest(folds)
    assert not list((tmp_path / "results").glob("*.part"))


def test_tampered_fold_file_is_rejected(tmp_path):
    path = save_folds(tmp_path / "folds.json", kfold_indices(10, 2, seed=0))
    doc = json.loads(path.read_text())
    doc["folds"][0]["test"][0], doc["folds"][1]["test"][0] = (
        doc["folds"][1]["test"][0],
        doc["folds"][0]["test"][0],
    )
    path.write_text(json.dumps(doc))
    with pytest.raises(ValueError, match="digest"):
        load_folds(path)
    with pytest.raises(ValueError, match=r"\.json or \.npz"):
        save_folds(tmp_path / "folds.txt", [])
