"""TabularData.prepare (scikit-learn scaling and one-hot, fitted on the training rows unless the
protocol names others), image normalisation and the seeded CIFAR augmentation."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.preprocessing import StandardScaler

from suites.data import (
    TabularData,
    channel_stats,
    random_crop_flip,
    standardize_channels,
)
from suites.data.preprocess import mnist_lut


def test_prepare_rejects_non_finite_numeric_values():
    t = _toy_table()
    bad = TabularData(**{**t.__dict__, "numeric": np.where(np.arange(40)[:, None] == 3, np.nan, t.numeric)})
    with pytest.raises(ValueError, match="non-finite"):
        bad.prepare(np.arange(30))
    with pytest.raises(ValueError, match="zero rows"):
        t.prepare(np.arange(30), fit_on=np.zeros(0, np.int64))


def _toy_table(task="classification") -> TabularData:
    rng = np.random.default_rng(0)
    n = 40
    return TabularData(
        name="toy",
        task=task,
        numeric=rng.normal(size=(n, 2)) * [1, 10] + [0, 100],
        numeric_names=("u", "v"),
        categorical=np.array([["p", "q", "r", "s"][i % 4] for i in range(n)])[:, None],
        categorical_names=("w",),
        y=(np.arange(n) % 2) if task == "classification" else rng.normal(size=n) * 5 + 50,
        target_name="t",
        class_names=("no", "yes") if task == "classification" else None,
    )


def test_prepare_fits_on_training_rows_only():
    t = _toy_table()
    train, test = np.arange(30), np.arange(30, 40)
    ds = t.prepare(train, test)
    scaler = StandardScaler().fit(t.numeric[train])
    np.testing.assert_allclose(ds.x_test[:, :2], scaler.transform(t.numeric[test]), rtol=1e-6)
    np.testing.assert_allclose(ds.x_train[:, :2].mean(axis=0), 0, atol=1e-6)
    assert ds.feature_names == ("u", "v", "w=p", "w=q", "w=r", "w=s")
    assert ds.x_train.dtype == np.float32 and ds.y_train.dtype == np.int64
    assert ds.x_val is None and ds.preprocessing["fit_on"] == "train"
    # a category present only in the test rows is unknown to the encoder (zeros)
    t2 = TabularData(
        **{
            **t.__dict__,
            "categorical": np.where(np.arange(40) >= 30, "z", t.categorical[:, 0])[:, None],
        }
    )
    ds2 = t2.prepare(train, test)
    assert ds2.x_train.shape[1] == 6 and (ds2.x_test[:, 2:] == 0).all()


def test_prepare_with_validation_and_checks():
    t = _toy_table()
    ds = t.prepare(np.arange(20), np.arange(30, 40), np.arange(20, 30))
    assert ds.x_val.shape == (10, 6) and ds.preprocessing["n_val"] == 10
    with pytest.raises(ValueError, match="overlap"):
        t.prepare(np.arange(20), np.arange(10, 30))
    with pytest.raises(ValueError, match="outside"):
        t.prepare(np.arange(50))
    mask = np.zeros(40, bool)
    mask[:10] = True
    assert t.prepare(mask).x_train.shape == (10, 6)


def test_fit_on_other_rows_is_the_protocols_choice():
    """The leaky ActMix replication fits on every row; the data layer only records the count."""
    t = _toy_table()
    train, test = np.arange(30), np.arange(30, 40)
    leaky = t.prepare(train, test, fit_on=np.arange(40))
    scaler_all = StandardScaler().fit(t.numeric)
    np.testing.assert_allclose(
        leaky.x_test[:, :2], scaler_all.transform(t.numeric[test]), rtol=1e-6
    )
    assert leaky.preprocessing["fit_on"] == "given rows" and leaky.preprocessing["fit_rows"] == 40
    clean = t.prepare(train, test)
    assert clean.preprocessing["fit_rows"] == 30
    assert not np.allclose(clean.x_test[:, :2], leaky.x_test[:, :2])


def test_regression_target_raw_or_standardised():
    t = _toy_table("regression")
    raw = t.prepare(np.arange(30), np.arange(30, 40))
    np.testing.assert_allclose(raw.y_train, t.y[:30].astype(np.float32))
    std = t.prepare(np.arange(30), np.arange(30, 40), standardize_target=True)
    m, s = t.y[:30].mean(), t.y[:30].std()
    np.testing.assert_allclose(std.y_test, (t.y[30:] - m) / s, rtol=1e-5)
    assert std.preprocessing["target_mean"] == pytest.approx(m)
    with pytest.raises(ValueError):
        _toy_table().prepare(np.arange(30), standardize_target=True)


def test_official_split_required_for_prepare_official():
    with pytest.raises(ValueError, match="no official"):
        _toy_table().prepare_official()


# ---------------------------------------------------------------------------------- images


def test_mnist_lut_matches_torchvision_arithmetic():
    v = np.arange(256, dtype=np.float32)
    expected = ((v / np.float32(255)) - np.float32(0.1307)) / np.float32(0.3081)
    np.testing.assert_array_equal(mnist_lut(), expected)
    torch = pytest.importorskip("torch")
    t = torch.arange(256, dtype=torch.uint8).to(torch.float32).div(255)
    t = t.sub(torch.tensor([0.1307])).div(torch.tensor([0.3081]))
    np.testing.assert_array_equal(mnist_lut(), t.numpy())


def test_channel_stats_and_standardisation():
    rng = np.random.default_rng(1)
    x = rng.integers(0, 256, size=(20, 3, 4, 5), dtype=np.uint8)
    mean, std = channel_stats(x)
    f = x.astype(np.float64) / 255
    np.testing.assert_allclose(mean, f.mean(axis=(0, 2, 3)), rtol=1e-12)
    np.testing.assert_allclose(std, f.std(axis=(0, 2, 3)), rtol=1e-12)
    z = standardize_channels(x, mean, std)
    assert z.dtype == np.float32
    np.testing.assert_allclose(z.mean(axis=(0, 2, 3)), 0, atol=1e-5)
    np.testing.assert_allclose(z.std(axis=(0, 2, 3)), 1, atol=1e-5)
    with pytest.raises(ValueError):
        channel_stats(f)


def _images(n=16):
    return np.arange(n * 3 * 8 * 8, dtype=np.float32).reshape(n, 3, 8, 8)


def test_augmentation_is_deterministic_and_seeded():
    x = _images()
    a = random_crop_flip(x, 123)
    b = random_crop_flip(x, 123)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, random_crop_flip(x, np.random.default_rng(123)))
    assert not np.array_equal(a, random_crop_flip(x, 124))
    assert a.shape == x.shape and a.dtype == x.dtype
    np.testing.assert_array_equal(x, _images())  # input untouched


def test_augmentation_identity_and_flip_only():
    x = _images()
    np.testing.assert_array_equal(random_crop_flip(x, 0, padding=0, flip=False), x)
    flipped = random_crop_flip(x, 0, padding=0)
    mirrored = [np.array_equal(flipped[i], x[i, :, :, ::-1]) for i in range(len(x))]
    same = [np.array_equal(flipped[i], x[i]) for i in range(len(x))]
    assert all(m or s for m, s in zip(mirrored, same, strict=True))
    assert any(mirrored) and any(same)


def test_augmentation_crops_are_windows_of_the_padded_image():
    x = _images(32)
    fill = np.array([-1.0, -2.0, -3.0], dtype=np.float32)
    out = random_crop_flip(x, 7, padding=2, fill=fill)
    padded = np.empty((32, 3, 12, 12), np.float32)
    padded[...] = fill[None, :, None, None]
    padded[:, :, 2:10, 2:10] = x
    for i in range(32):
        found = False
        for dy in range(5):
            for dx in range(5):
                win = padded[i, :, dy : dy + 8, dx : dx + 8]
                if np.array_equal(out[i], win) or np.array_equal(out[i], win[:, :, ::-1]):
                    found = True
        assert found
    # padding pixels carry the per-channel fill value
    for c in range(3):
        border = out[:, c][out[:, c] < 0]
        assert set(np.unique(border).tolist()) <= {float(fill[c])}


def test_augmentation_nhwc_matches_nchw():
    x = _images()
    a = random_crop_flip(x, 5)
    b = random_crop_flip(np.ascontiguousarray(x.transpose(0, 2, 3, 1)), 5, layout="nhwc")
    np.testing.assert_array_equal(b, a.transpose(0, 2, 3, 1))
    with pytest.raises(ValueError):
        random_crop_flip(x, 5, layout="hwc")


def test_augmentation_on_real_cifar_batch(cifar):
    batch = cifar.x_train[:128]
    fill = np.asarray(cifar.preprocessing["black_pixel"], dtype=np.float32)
    out = random_crop_flip(batch, [2024, 0], fill=fill)
    assert out.shape == (128, 3, 32, 32)
    np.testing.assert_array_equal(out, random_crop_flip(batch, [2024, 0], fill=fill))
