"""One loader per dataset, reading the original distribution files (verified first).

Image datasets come back as a :class:`~suites.data.dataset.Dataset` with the official train/test
split, preprocessed. UCI tables come back as :class:`~suites.data.dataset.TabularData` (all rows,
raw); the protocol code draws splits/folds and calls ``.prepare(train, test, ...)``, so that the
preprocessing is fitted on the training part only.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, Literal

import numpy as np

from .dataset import Dataset, Source, TabularData
from .errors import CorruptDataError
from .fetch import fetch_dataset
from .formats import (
    ADULT_CATEGORICAL,
    ADULT_CLASSES,
    ADULT_NUMERIC,
    CCPP_FEATURES,
    CCPP_TARGET,
    IDX_IMAGES_MAGIC,
    IDX_LABELS_MAGIC,
    MAGIC_CLASSES,
    MAGIC_FEATURES,
    load_cifar_batch,
    load_cifar_meta,
    parse_adult,
    parse_ccpp_xlsx,
    parse_magic,
    read_idx_gz,
)
from .integrity import VerifiedFile
from .preprocess import (
    MNIST_MEAN,
    MNIST_STD,
    channel_stats,
    normalize_mnist,
    standardize_channels,
)
from .registry import canonical_name

PathLike = str | os.PathLike[str] | None


def _sources(files: Mapping[str, VerifiedFile]) -> tuple[Source, ...]:
    return tuple(
        Source(v.spec.relpath, v.digest.sha256, v.digest.size, v.origin, v.source)
        for v in files.values()
    )


def _data(v: VerifiedFile) -> bytes | bytearray:
    assert v.data is not None
    return v.data


# --------------------------------------------------------------------------------------- MNIST
def mnist_arrays(files: Mapping[str, VerifiedFile]) -> dict[str, np.ndarray]:
    """Parse the four verified MNIST files: uint8 images ``[n, 28, 28]`` and int64 labels."""
    out: dict[str, np.ndarray] = {}
    for split, prefix in (("train", "train"), ("test", "t10k")):
        img_name = f"{prefix}-images-idx3-ubyte.gz"
        lab_name = f"{prefix}-labels-idx1-ubyte.gz"
        images = read_idx_gz(_data(files[img_name]), name=img_name, magic=IDX_IMAGES_MAGIC)
        labels = read_idx_gz(_data(files[lab_name]), name=lab_name, magic=IDX_LABELS_MAGIC)
        if images.shape[1:] != (28, 28):
            raise CorruptDataError(f"{img_name}: images are {images.shape[1:]}, expected (28, 28)")
        if labels.shape != (images.shape[0],):
            raise CorruptDataError(
                f"{lab_name}: {labels.shape[0]} labels for {images.shape[0]} images in {img_name}"
            )
        if labels.size and labels.max() > 9:
            raise CorruptDataError(f"{lab_name}: label {int(labels.max())} outside 0..9")
        out[f"x_{split}"] = images
        out[f"y_{split}"] = labels.astype(np.int64)
    return out


def load_mnist(
    data_dir: PathLike = None,
    *,
    download: bool | None = None,
    layout: Literal["flat", "image"] = "flat",
    normalize: bool = True,
) -> Dataset:
    """MNIST, official split (60,000 train / 10,000 test), labels 0-9.

    ``normalize=True``: float32 ``(x / 255 - 0.1307) / 0.3081`` (the APTx protocol, bit-identical
    to torchvision's ToTensor + Normalize); ``False``: the raw uint8 pixels. ``layout="flat"``
    gives ``[N, 784]``, ``"image"`` gives ``[N, 1, 28, 28]``."""
    if layout not in ("flat", "image"):
        raise ValueError("layout must be 'flat' or 'image'")
    files = fetch_dataset("mnist", data_dir, download=download)
    raw = mnist_arrays(files)
    shape = (-1, 784) if layout == "flat" else (-1, 1, 28, 28)

    def prep(x: np.ndarray) -> np.ndarray:
        return (normalize_mnist(x) if normalize else x.copy()).reshape(shape)

    info: dict[str, Any] = (
        {"method": "aptx", "scale": 1 / 255, "mean": MNIST_MEAN, "std": MNIST_STD}
        if normalize
        else {"method": "none (uint8 pixels)"}
    )
    return Dataset(
        name="mnist",
        task="classification",
        x_train=prep(raw["x_train"]),
        y_train=raw["y_train"],
        x_test=prep(raw["x_test"]),
        y_test=raw["y_test"],
        target_name="digit",
        class_names=tuple(str(d) for d in range(10)),
        layout=layout,
        preprocessing=info,
        sources=_sources(files),
    )


# ------------------------------------------------------------------------------------ CIFAR-10
CIFAR_BATCHES = ("data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5")


def cifar10_arrays(files: Mapping[str, VerifiedFile]) -> dict[str, Any]:
    """Parse the verified CIFAR-10 files: uint8 NCHW images, int64 labels, class names."""
    class_names = load_cifar_meta(_data(files["batches.meta"]), name="batches.meta")
    if len(class_names) != 10:
        raise CorruptDataError(f"batches.meta: {len(class_names)} class names, expected 10")
    xs, ys = [], []
    for b in CIFAR_BATCHES:
        x, y = load_cifar_batch(_data(files[b]), name=b)
        xs.append(x)
        ys.append(y)
    x_test, y_test = load_cifar_batch(_data(files["test_batch"]), name="test_batch")
    return {
        "x_train": np.concatenate(xs).reshape(-1, 3, 32, 32),
        "y_train": np.concatenate(ys),
        "x_test": x_test.reshape(-1, 3, 32, 32),
        "y_test": y_test,
        "class_names": class_names,
    }


def load_cifar10(
    data_dir: PathLike = None,
    *,
    download: bool | None = None,
    layout: Literal["nchw", "nhwc"] = "nchw",
    normalize: bool = True,
) -> Dataset:
    """CIFAR-10, official split (50,000 train / 10,000 test), 10 classes.

    ``normalize=True``: float32 per-channel standardisation ``(x / 255 - mean[c]) / std[c]`` with
    the mean and std of the *training* images (recorded in ``preprocessing``, along with
    ``black_pixel``, the normalised value of a zero pixel, the right ``fill`` for
    :func:`~suites.data.preprocess.random_crop_flip`); ``False``: raw uint8. ``layout="nhwc"``
    returns a transposed view of the NCHW arrays (no copy); :meth:`Dataset.as_layout` converts."""
    if layout not in ("nchw", "nhwc"):
        raise ValueError("layout must be 'nchw' or 'nhwc'")
    files = fetch_dataset("cifar10", data_dir, download=download)
    raw = cifar10_arrays(files)
    if normalize:
        mean, std = channel_stats(raw["x_train"])
        x_train = standardize_channels(raw["x_train"], mean, std)
        x_test = standardize_channels(raw["x_test"], mean, std)
        info: dict[str, Any] = {
            "method": "per-channel standardisation",
            "fit_on": "train",
            "mean": tuple(float(m) for m in mean),
            "std": tuple(float(s) for s in std),
            "black_pixel": tuple(
                float(np.float32(-m) / np.float32(s)) for m, s in zip(mean, std, strict=True)
            ),
        }
    else:
        x_train, x_test = raw["x_train"], raw["x_test"]
        info = {"method": "none (uint8 pixels)"}
    ds = Dataset(
        name="cifar10",
        task="classification",
        x_train=x_train,
        y_train=raw["y_train"],
        x_test=x_test,
        y_test=raw["y_test"],
        target_name="class",
        class_names=raw["class_names"],
        layout="nchw",
        preprocessing=info,
        sources=_sources(files),
    )
    return ds.as_layout(layout)


# --------------------------------------------------------------------------------------- Adult
def adult_parts(files: Mapping[str, VerifiedFile]):
    """Parse the verified ``adult.data`` and ``adult.test`` (see :func:`parse_adult`)."""
    return (
        parse_adult(_data(files["adult.data"]), name="adult.data"),
        parse_adult(_data(files["adult.test"]), name="adult.test"),
    )


def load_adult(
    data_dir: PathLike = None,
    *,
    download: bool | None = None,
    drop_missing: bool = True,
) -> TabularData:
    """UCI Adult: ``adult.data`` then ``adult.test`` rows (the test file's first line skipped, its
    labels' trailing '.' stripped), target ``income`` 1 for ``>50K``. Features: the 6 continuous
    columns (ActMix order) and the 8 categoricals. ``drop_missing`` (default, as ActMix) removes
    rows with any '?' (48,842 -> 45,222 rows). ``official_split`` gives the adult.data /
    adult.test row indices; ``prepare_official()`` the preprocessed official split (width 104)."""
    files = fetch_dataset("adult", data_dir, download=download)
    train, test = adult_parts(files)
    keep_tr = ~train.missing if drop_missing else np.ones(train.y.size, bool)
    keep_te = ~test.missing if drop_missing else np.ones(test.y.size, bool)
    numeric = np.concatenate([train.numeric[keep_tr], test.numeric[keep_te]])
    categorical = np.concatenate([train.categorical[keep_tr], test.categorical[keep_te]])
    y = np.concatenate([train.y[keep_tr], test.y[keep_te]])
    n_tr = int(keep_tr.sum())
    return TabularData(
        name="adult",
        task="classification",
        numeric=numeric,
        numeric_names=ADULT_NUMERIC,
        categorical=categorical,
        categorical_names=ADULT_CATEGORICAL,
        y=y,
        target_name="income",
        class_names=ADULT_CLASSES,
        official_split=(np.arange(n_tr), np.arange(n_tr, y.size)),
        sources=_sources(files),
        notes={
            "drop_missing": drop_missing,
            "rows_read": {"adult.data": int(train.y.size), "adult.test": int(test.y.size)},
            "rows_with_missing": {
                "adult.data": int(train.missing.sum()),
                "adult.test": int(test.missing.sum()),
            },
        },
    )


# --------------------------------------------------------------------------------------- MAGIC
def load_magic(data_dir: PathLike = None, *, download: bool | None = None) -> TabularData:
    """UCI MAGIC Gamma Telescope: all 19,020 rows, 10 numeric features, class g -> 0, h -> 1."""
    files = fetch_dataset("magic", data_dir, download=download)
    x, y = parse_magic(_data(files["magic04.data"]), name="magic04.data")
    return TabularData(
        name="magic",
        task="classification",
        numeric=x,
        numeric_names=MAGIC_FEATURES,
        categorical=np.empty((x.shape[0], 0), dtype=str),
        categorical_names=(),
        y=y,
        target_name="class",
        class_names=MAGIC_CLASSES,
        sources=_sources(files),
    )


# ---------------------------------------------------------------------------------------- CCPP
def load_ccpp(
    data_dir: PathLike = None, *, download: bool | None = None, sheet: int = 1
) -> TabularData:
    """UCI Combined Cycle Power Plant: all 9,568 rows of sheet ``sheet`` (default 1) of
    ``Folds5x2_pp.xlsx`` (read from the file, or from ``CCPP.zip``), features AT, V, AP, RH,
    regression target PE (MW, raw; ``prepare(..., standardize_target=True)`` scales it)."""
    files = fetch_dataset("ccpp", data_dir, download=download)
    x, y = parse_ccpp_xlsx(_data(files["Folds5x2_pp.xlsx"]), name="Folds5x2_pp.xlsx", sheet=sheet)
    return TabularData(
        name="ccpp",
        task="regression",
        numeric=x,
        numeric_names=CCPP_FEATURES,
        categorical=np.empty((x.shape[0], 0), dtype=str),
        categorical_names=(),
        y=y,
        target_name=CCPP_TARGET,
        class_names=None,
        sources=_sources(files),
        notes={"sheet": sheet},
    )


# ----------------------------------------------------------------------------------- dispatch
LOADERS = {
    "mnist": load_mnist,
    "cifar10": load_cifar10,
    "adult": load_adult,
    "magic": load_magic,
    "ccpp": load_ccpp,
}


def load(name: str, data_dir: PathLike = None, **kwargs: Any) -> Dataset | TabularData:
    """Load a dataset by name (``mnist``, ``cifar10``/``cifar-10``, ``adult``, ``magic``,
    ``ccpp``); keyword arguments go to its loader. Unknown names raise ``ValueError`` listing
    the known datasets. Image sets return a :class:`Dataset`, UCI tables a
    :class:`TabularData`."""
    return LOADERS[canonical_name(name)](data_dir, **kwargs)


__all__ = [
    "CIFAR_BATCHES",
    "LOADERS",
    "adult_parts",
    "cifar10_arrays",
    "load",
    "load_adult",
    "load_ccpp",
    "load_cifar10",
    "load_magic",
    "load_mnist",
    "mnist_arrays",
]
