"""The two containers the loaders return.

* :class:`Dataset`: ready-to-use NumPy arrays (features already preprocessed) for a train / test
  (and optionally validation) split, with the metadata a model builder needs.
* :class:`TabularData`: the raw rows of a UCI table (all of them), from which the protocol code
  draws splits or folds and then calls :meth:`TabularData.prepare` to get a :class:`Dataset` whose
  preprocessing was fitted on the training part only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from .registry import Task


@dataclass(frozen=True)
class Source:
    """Provenance of one verified input file (for run manifests)."""

    file: str  # path relative to the data root
    sha256: str
    size: int
    origin: str  # "original" or "reconstruction"
    read_from: str  # "file", "extracted from ...", "member ... of ..."


@dataclass(frozen=True, eq=False)
class Dataset:
    """Preprocessed arrays plus what a model and a report need to know about them.

    ``x_*`` are float32 (unless asked otherwise); ``y_*`` are int64 class indices
    (classification) or float targets (regression). ``x_val``/``y_val`` are ``None`` unless a
    validation part was requested. ``layout`` is ``"flat"`` (``[N, F]``), ``"image"`` /
    ``"nchw"`` (``[N, C, H, W]``), ``"nhwc"`` (``[N, H, W, C]``) or ``"tabular"``.
    ``preprocessing`` records what was done and the fitted statistics (e.g. ``mean``/``std``
    per channel, scaler parameters, the rows they were fitted on); ``sources`` lists
    the verified files the arrays came from.
    """

    name: str
    task: Task
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray | None = None
    y_test: np.ndarray | None = None
    x_val: np.ndarray | None = None
    y_val: np.ndarray | None = None
    feature_names: tuple[str, ...] = ()
    target_name: str = ""
    class_names: tuple[str, ...] | None = None
    layout: str = "tabular"
    preprocessing: Mapping[str, Any] = field(default_factory=dict)
    sources: tuple[Source, ...] = ()

    @property
    def n_classes(self) -> int | None:
        return None if self.class_names is None else len(self.class_names)

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Shape of one example (e.g. ``(784,)``, ``(1, 28, 28)``, ``(32, 32, 3)``)."""
        return tuple(self.x_train.shape[1:])

    @property
    def n_features(self) -> int:
        return int(np.prod(self.input_shape))

    def parts(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """The available parts as ``{"train": (x, y), "val": ..., "test": ...}``."""
        out = {"train": (self.x_train, self.y_train)}
        if self.x_val is not None and self.y_val is not None:
            out["val"] = (self.x_val, self.y_val)
        if self.x_test is not None and self.y_test is not None:
            out["test"] = (self.x_test, self.y_test)
        return out

    def as_layout(self, layout: Literal["nchw", "nhwc"]) -> Dataset:
        """A copy-free view of an image dataset in the other channel order (NCHW <-> NHWC)."""
        current = "nchw" if self.layout in ("nchw", "image") else self.layout
        if current not in ("nchw", "nhwc") or layout not in ("nchw", "nhwc"):
            raise ValueError(f"cannot convert layout {self.layout!r} to {layout!r}")
        if current == layout:
            return self
        perm = (0, 2, 3, 1) if layout == "nhwc" else (0, 3, 1, 2)

        def t(a: np.ndarray | None) -> np.ndarray | None:
            return None if a is None else a.transpose(perm)

        return Dataset(
            self.name,
            self.task,
            t(self.x_train),
            self.y_train,
            t(self.x_test),
            self.y_test,
            t(self.x_val),
            self.y_val,
            self.feature_names,
            self.target_name,
            self.class_names,
            layout,
            self.preprocessing,
            self.sources,
        )


@dataclass(frozen=True, eq=False)
class TabularData:
    """All rows of a UCI table, unpreprocessed.

    ``numeric`` (float64 ``[n, p]``) and ``categorical`` (str ``[n, q]``, possibly ``q = 0``) hold
    the features; ``y`` the target (int64 classes or float64 values). ``official_split`` is
    ``(train_indices, test_indices)`` for a dataset published with a fixed split (Adult:
    ``adult.data`` / ``adult.test``), else ``None``.
    """

    name: str
    task: Task
    numeric: np.ndarray
    numeric_names: tuple[str, ...]
    categorical: np.ndarray
    categorical_names: tuple[str, ...]
    y: np.ndarray
    target_name: str
    class_names: tuple[str, ...] | None = None
    official_split: tuple[np.ndarray, np.ndarray] | None = None
    sources: tuple[Source, ...] = ()
    notes: Mapping[str, Any] = field(default_factory=dict)

    @property
    def n_rows(self) -> int:
        return int(self.y.shape[0])

    @property
    def stratify_labels(self) -> np.ndarray | None:
        """Labels for stratified splitting (``None`` for regression)."""
        return self.y if self.task == "classification" else None

    def prepare(
        self,
        train: np.ndarray | Sequence[int],
        test: np.ndarray | Sequence[int] | None = None,
        val: np.ndarray | Sequence[int] | None = None,
        *,
        fit_on: np.ndarray | Sequence[int] | None = None,
        standardize_target: bool = False,
        onehot_vocabulary: Literal["train", "all"] = "train",
        dtype: np.dtype | type = np.float32,
    ) -> Dataset:
        """ActMix preprocessing with scikit-learn, fitted on the ``train`` rows only by default.

        Numeric columns: ``StandardScaler``; categorical columns: ``OneHotEncoder`` (sorted
        categories, unseen values -> zeros: ``handle_unknown="ignore"``), appended after the
        numeric block. Regression targets are kept raw unless ``standardize_target`` (then
        scaled with the fitted mean and std, both recorded in ``preprocessing``).

        ``fit_on`` names other rows to fit the scaler, encoder and target scaler on. The data
        layer has no opinion about which: a protocol that replicates the original ActMix
        cross-validation passes every row (``suites/accuracy/tabular.py``), and says so in its
        variant name; ``preprocessing["fit_rows"]`` records how many rows were used.

        ``onehot_vocabulary="all"`` takes the category list (only the list, not any statistic)
        from all rows so that every fold has the same width (Adult: a fold whose training part
        lacks the single ``Holand-Netherlands`` row would otherwise have width 103, not 104).
        """
        from sklearn.preprocessing import OneHotEncoder, StandardScaler

        tr = _as_index(train, self.n_rows, "train")
        te = None if test is None else _as_index(test, self.n_rows, "test")
        va = None if val is None else _as_index(val, self.n_rows, "val")
        parts = [p for p in (tr, te, va) if p is not None]
        if len(parts) > 1:
            seen = np.concatenate(parts)
            if np.unique(seen).size != seen.size:
                raise ValueError("train/val/test indices overlap")
        fit_rows = tr if fit_on is None else _as_index(fit_on, self.n_rows, "fit_on")
        if fit_rows.size == 0:
            raise ValueError("cannot fit the preprocessing on zero rows")

        scaler = None
        if self.numeric.shape[1]:
            if not np.isfinite(self.numeric[fit_rows]).all():
                raise ValueError(f"{self.name}: non-finite numeric values (drop missing rows first)")
            scaler = StandardScaler().fit(self.numeric[fit_rows])
        encoder = None
        if self.categorical.shape[1]:
            vocab_rows = np.arange(self.n_rows) if onehot_vocabulary == "all" else fit_rows
            categories = [np.unique(self.categorical[vocab_rows, j])
                          for j in range(self.categorical.shape[1])]
            encoder = OneHotEncoder(categories=categories, handle_unknown="ignore",
                                    sparse_output=False, dtype=np.float64)
            encoder.fit(self.categorical[fit_rows])
        target_scaler = None
        if standardize_target:
            if self.task != "regression":
                raise ValueError("standardize_target applies to regression datasets only")
            target_scaler = StandardScaler().fit(self.y[fit_rows].reshape(-1, 1))

        def features(idx: np.ndarray) -> np.ndarray:
            blocks = []
            if scaler is not None:
                blocks.append(scaler.transform(self.numeric[idx]))
            if encoder is not None:
                blocks.append(encoder.transform(self.categorical[idx]))
            return np.concatenate(blocks, axis=1).astype(dtype, copy=False)

        def target(idx: np.ndarray) -> np.ndarray:
            y = self.y[idx]
            if target_scaler is not None:
                return target_scaler.transform(y.reshape(-1, 1)).reshape(y.shape).astype(dtype, copy=False)
            return y.astype(dtype, copy=False) if self.task == "regression" else y.copy()

        names = self.numeric_names + (
            tuple(f"{col}={value}" for col, cats in zip(self.categorical_names, encoder.categories_,
                                                      strict=True) for value in cats)
            if encoder is not None else ()
        )
        info: dict[str, Any] = {
            "method": "actmix",
            "fit_on": "train" if fit_on is None else "given rows",
            "fit_rows": int(fit_rows.size),
            "onehot_vocabulary": onehot_vocabulary,
            "scaler_mean": None if scaler is None else scaler.mean_,
            "scaler_scale": None if scaler is None else scaler.scale_,
            "categories": None
            if encoder is None
            else dict(zip(self.categorical_names, encoder.categories_, strict=True)),
            "standardize_target": standardize_target,
            "target_mean": None if target_scaler is None else float(target_scaler.mean_[0]),
            "target_std": None if target_scaler is None else float(target_scaler.scale_[0]),
            "n_train": int(tr.size),
            "n_val": 0 if va is None else int(va.size),
            "n_test": 0 if te is None else int(te.size),
        }
        x_test = y_test = x_val = y_val = None
        if te is not None:
            x_test, y_test = features(te), target(te)
        if va is not None:
            x_val, y_val = features(va), target(va)
        return Dataset(
            name=self.name,
            task=self.task,
            x_train=features(tr),
            y_train=target(tr),
            x_test=x_test,
            y_test=y_test,
            x_val=x_val,
            y_val=y_val,
            feature_names=names,
            target_name=self.target_name,
            class_names=self.class_names,
            layout="tabular",
            preprocessing=info,
            sources=self.sources,
        )

    def prepare_official(self, **kwargs: Any) -> Dataset:
        """:meth:`prepare` on the published train/test split (Adult only)."""
        if self.official_split is None:
            raise ValueError(f"dataset {self.name!r} has no official train/test split")
        train, test = self.official_split
        return self.prepare(train, test, **kwargs)


def _as_index(idx: np.ndarray | Sequence[int], n: int, what: str) -> np.ndarray:
    a = np.asarray(idx)
    if a.dtype == bool:
        if a.shape != (n,):
            raise ValueError(f"{what}: boolean mask of shape {a.shape}, expected ({n},)")
        return np.flatnonzero(a)
    if a.size == 0:
        return np.zeros(0, dtype=np.intp)
    if not np.issubdtype(a.dtype, np.integer):
        raise ValueError(f"{what}: indices must be integers")
    a = a.astype(np.intp, copy=False).reshape(-1)
    if a.min() < 0 or a.max() >= n:
        raise ValueError(f"{what}: indices outside 0..{n - 1}")
    return a


__all__ = ["Dataset", "Source", "TabularData"]
