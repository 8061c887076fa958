"""Each loader on the real distribution files under the shared data folder."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from suites.data import (
    load,
    load_adult,
    load_ccpp,
    load_cifar10,
    load_mnist,
    stratified_kfold_indices,
)
from suites.data.dataset import Dataset, TabularData

# ----------------------------------------------------------------------------------- MNIST


def test_mnist_shapes_labels_and_class_counts(mnist):
    assert mnist.x_train.shape == (60000, 784) and mnist.x_test.shape == (10000, 784)
    assert mnist.x_train.dtype == np.float32
    assert mnist.y_train.dtype == np.int64
    assert mnist.layout == "flat" and mnist.n_classes == 10 and mnist.task == "classification"
    assert np.bincount(mnist.y_train).tolist() == [
        5923,
        6742,
        5958,
        6131,
        5842,
        5421,
        5918,
        6265,
        5851,
        5949,
    ]
    assert np.bincount(mnist.y_test).tolist() == [
        980,
        1135,
        1032,
        1010,
        982,
        892,
        958,
        1028,
        974,
        1009,
    ]
    assert mnist.y_train[:5].tolist() == [5, 0, 4, 1, 9]
    assert mnist.y_test[:3].tolist() == [7, 2, 1]


def test_mnist_aptx_normalisation(mnist):
    # background pixel 0 -> (0 - 0.1307) / 0.3081, white 255 -> (1 - 0.1307) / 0.3081
    lo = (np.float32(0) - np.float32(0.1307)) / np.float32(0.3081)
    hi = (np.float32(1) - np.float32(0.1307)) / np.float32(0.3081)
    assert mnist.x_train.min() == lo and mnist.x_train.max() == hi
    assert mnist.x_train[0, 0] == lo
    # the APTx statistics are the training set's: mean ~0, std ~1 after normalisation
    assert abs(float(mnist.x_train.mean(dtype=np.float64))) < 1e-3
    assert abs(float(mnist.x_train.std(dtype=np.float64)) - 1) < 1e-3
    assert {s.origin for s in mnist.sources} == {"original"}


def test_mnist_image_layout_and_raw(data_root, mnist):
    img = load_mnist(data_root, download=False, layout="image")
    assert img.x_train.shape == (60000, 1, 28, 28) and img.input_shape == (1, 28, 28)
    np.testing.assert_array_equal(img.x_test.reshape(10000, -1), mnist.x_test)
    raw = load_mnist(data_root, download=False, normalize=False)
    assert raw.x_train.dtype == np.uint8 and raw.x_train.max() == 255
    assert raw.x_train.flags.writeable
    with pytest.raises(ValueError):
        load_mnist(data_root, layout="nchw")


# -------------------------------------------------------------------------------- CIFAR-10


def test_cifar10_shapes_labels_and_names(cifar):
    assert cifar.x_train.shape == (50000, 3, 32, 32) and cifar.x_test.shape == (10000, 3, 32, 32)
    assert cifar.x_train.dtype == np.float32 and cifar.layout == "nchw"
    assert int(cifar.y_train[0]) == 6 and int(cifar.y_test[0]) == 3
    assert np.bincount(cifar.y_train).tolist() == [5000] * 10
    assert np.bincount(cifar.y_test).tolist() == [1000] * 10
    assert cifar.class_names[6] == "frog" and cifar.class_names[3] == "cat"
    assert len(cifar.class_names) == 10


def test_cifar10_train_statistics(cifar):
    mean = np.round(cifar.preprocessing["mean"], 4)
    std = np.round(cifar.preprocessing["std"], 4)
    assert mean.tolist() == [0.4914, 0.4822, 0.4465]
    assert std.tolist() == [0.2470, 0.2435, 0.2616]
    np.testing.assert_allclose(
        cifar.preprocessing["mean"], [0.49139968, 0.48215841, 0.44653091], atol=5e-9
    )
    assert cifar.preprocessing["fit_on"] == "train"
    # standardised with train statistics: train channels have mean 0 and std 1
    per_channel = cifar.x_train.transpose(1, 0, 2, 3).reshape(3, -1)
    np.testing.assert_allclose(per_channel.mean(axis=1, dtype=np.float64), 0, atol=1e-5)
    np.testing.assert_allclose(per_channel.std(axis=1, dtype=np.float64), 1, atol=1e-5)
    # the test set is not re-standardised with its own statistics
    test_mean = cifar.x_test[:, 0].mean(dtype=np.float64)
    assert abs(test_mean - (0.49421428 - 0.49139968) / 0.24703223) < 1e-4
    # a black pixel maps to preprocessing["black_pixel"]
    assert min(cifar.preprocessing["black_pixel"]) < -1.7
    assert {s.origin for s in cifar.sources} == {"reconstruction", "original"}


def test_cifar10_nhwc_is_a_view(cifar):
    nhwc = cifar.as_layout("nhwc")
    assert nhwc.x_train.shape == (50000, 32, 32, 3) and nhwc.layout == "nhwc"
    assert np.shares_memory(nhwc.x_train, cifar.x_train)
    np.testing.assert_array_equal(nhwc.x_test[7, 5, 9], cifar.x_test[7, :, 5, 9])
    assert nhwc.as_layout("nchw").x_train.shape == (50000, 3, 32, 32)


# ----------------------------------------------------------------------------------- Adult


def test_adult_rows_and_official_split(adult):
    assert isinstance(adult, TabularData)
    assert adult.n_rows == 45222
    tr, te = adult.official_split
    assert tr.size == 30162 and te.size == 15060
    assert np.bincount(adult.y).tolist() == [34014, 11208]
    assert adult.class_names == ("<=50K", ">50K")
    assert adult.notes["rows_read"] == {"adult.data": 32561, "adult.test": 16281}
    assert adult.notes["rows_with_missing"] == {"adult.data": 2399, "adult.test": 1221}
    assert "" not in adult.categorical  # missing rows dropped


def test_adult_onehot_width_104(adult):
    ds = adult.prepare_official()
    assert ds.x_train.shape == (30162, 104) and ds.x_test.shape == (15060, 104)
    assert ds.feature_names[:6] == (
        "age",
        "fnlwgt",
        "education-num",
        "capital-gain",
        "capital-loss",
        "hours-per-week",
    )
    assert "native-country=Holand-Netherlands" in ds.feature_names
    assert len(ds.feature_names) == 104
    counts = [len(v) for v in ds.preprocessing["categories"].values()]
    assert counts == [7, 16, 7, 14, 6, 5, 2, 41]
    # fitted on the training part only
    np.testing.assert_allclose(ds.x_train[:, :6].mean(axis=0), 0, atol=1e-5)
    assert np.abs(ds.x_test[:, :6].mean(axis=0)).max() > 1e-3
    assert ds.preprocessing["fit_on"] == "train"
    # the one-hot block has exactly one 1 per categorical column for training rows
    assert (ds.x_train[:, 6:].sum(axis=1) == 8).all()


def test_adult_all_rows_without_dropping(data_root):
    t = load_adult(data_root, download=False, drop_missing=False)
    assert t.n_rows == 48842
    assert np.bincount(t.y).tolist() == [48842 - 11687, 11687]


def test_adult_preprocessing_fitted_on_all_rows(adult):
    """What the leaky ActMix replication asks of the data layer: fit on every row."""
    folds = stratified_kfold_indices(adult.y, 10, seed=1192)
    f = folds[0]
    clean = adult.prepare(f.train, f.test)
    leaky = adult.prepare(f.train, f.test, fit_on=np.arange(adult.n_rows))
    assert leaky.preprocessing["fit_rows"] == adult.n_rows
    assert clean.preprocessing["fit_rows"] == f.train.size
    assert leaky.x_train.shape[1] == 104
    # fitted on all rows, the training part's means are no longer exactly zero
    assert np.abs(leaky.x_train[:, :6].mean(axis=0)).max() > 1e-4
    np.testing.assert_allclose(clean.x_train[:, :6].mean(axis=0), 0, atol=1e-5)


def test_adult_fold_without_rare_category_keeps_width_with_vocabulary_all(adult):
    rare = int(np.flatnonzero(adult.categorical[:, 7] == "Holand-Netherlands")[0])
    train = np.setdiff1d(np.arange(adult.n_rows), [rare])
    assert adult.prepare(train, [rare]).x_train.shape[1] == 103
    ds = adult.prepare(train, [rare], onehot_vocabulary="all")
    assert ds.x_train.shape[1] == 104
    assert ds.x_test[0, 6:].sum() == 8


# ----------------------------------------------------------------------------------- MAGIC


def test_magic(magic):
    assert magic.numeric.shape == (19020, 10) and magic.categorical.shape == (19020, 0)
    assert np.bincount(magic.y).tolist() == [12332, 6688]
    assert magic.class_names == ("g", "h")
    assert magic.y[0] == 0 and magic.y[-1] == 1  # file starts with g rows, ends with h rows
    assert magic.numeric_names[0] == "fLength" and magic.numeric_names[-1] == "fDist"
    ds = magic.prepare(np.arange(15000), np.arange(15000, 19020))
    assert ds.x_train.shape == (15000, 10) and ds.x_train.dtype == np.float32
    np.testing.assert_allclose(ds.x_train.mean(axis=0), 0, atol=1e-5)


# ------------------------------------------------------------------------------------ CCPP


def test_ccpp(ccpp):
    assert ccpp.numeric.shape == (9568, 4) and ccpp.task == "regression"
    assert ccpp.numeric_names == ("AT", "V", "AP", "RH") and ccpp.target_name == "PE"
    assert float(ccpp.y.min()) == 420.26 and float(ccpp.y.max()) == 495.76
    assert abs(float(ccpp.y.mean()) - 454.37) < 0.01 and abs(float(ccpp.y.std()) - 17.07) < 0.01
    raw = ccpp.prepare(np.arange(8000), np.arange(8000, 9568))
    np.testing.assert_array_equal(raw.y_test, ccpp.y[8000:].astype(np.float32))
    scaled = ccpp.prepare(np.arange(8000), np.arange(8000, 9568), standardize_target=True)
    assert abs(float(scaled.y_train.mean())) < 1e-4 and abs(float(scaled.y_train.std()) - 1) < 1e-4
    back = scaled.y_test * scaled.preprocessing["target_std"] + scaled.preprocessing["target_mean"]
    np.testing.assert_allclose(back, ccpp.y[8000:], atol=1e-3)


def test_ccpp_other_sheet_same_rows(data_root, ccpp):
    other = load_ccpp(data_root, download=False, sheet=2)
    assert not np.array_equal(other.y, ccpp.y)
    np.testing.assert_array_equal(np.sort(other.y), np.sort(ccpp.y))


def test_ccpp_from_the_zip_alone(tmp_path, data_root, ccpp):
    (tmp_path / "ccpp").mkdir()
    shutil.copyfile(data_root / "ccpp" / "CCPP.zip", tmp_path / "ccpp" / "CCPP.zip")
    t = load_ccpp(tmp_path, download=False)
    np.testing.assert_array_equal(t.numeric, ccpp.numeric)
    np.testing.assert_array_equal(t.y, ccpp.y)
    assert "member CCPP/Folds5x2_pp.xlsx" in t.sources[0].read_from
    assert not (tmp_path / "ccpp" / "Folds5x2_pp.xlsx").exists()  # read in memory


# -------------------------------------------------------------------------------- dispatch


def test_load_dispatcher(data_root):
    assert isinstance(load("magic", data_root, download=False), TabularData)
    assert isinstance(load("MNIST", data_root, download=False), Dataset)


def test_load_cifar10_rejects_unknown_layout(data_root):
    with pytest.raises(ValueError):
        load_cifar10(data_root, layout="hwc")
