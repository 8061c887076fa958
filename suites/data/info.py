"""``neuronbench data info NAME``: shapes, class balance and feature statistics."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
from rich.markup import escape

from .dataset import Dataset, TabularData
from .loaders import load
from .registry import get_spec


def _fmt(v: float) -> str:
    return f"{v:.6g}"


def describe(
    name: str,
    data_dir: str | os.PathLike[str] | None = None,
    *,
    download: bool | None = None,
    console: Any = None,
) -> Dataset | TabularData:
    """Load ``name`` and print a description with rich; returns what was loaded."""
    from rich.console import Console
    from rich.table import Table

    console = console or Console()
    spec = get_spec(name)
    obj = load(spec.name, data_dir, download=download)
    console.print(f"[bold]{spec.name}[/bold]: {spec.title} ({spec.task})")
    src = Table(title="verified source files")
    for col in ("file", "bytes", "sha256", "version"):
        src.add_column(col)
    for s in obj.sources:
        src.add_row(s.file, str(s.size), s.sha256, s.origin)
    console.print(src)
    if isinstance(obj, Dataset):
        _describe_images(obj, console, Table)
    else:
        _describe_table(obj, console, Table)
    return obj


def _balance_table(Table, class_names, parts: dict[str, np.ndarray]):
    t = Table(title="class balance")
    t.add_column("class")
    t.add_column("name")
    for p in parts:
        t.add_column(p, justify="right")
    k = len(class_names)
    counts = {p: np.bincount(y, minlength=k) for p, y in parts.items()}
    for c in range(k):
        t.add_row(
            str(c),
            class_names[c],
            *(
                f"{counts[p][c]} ({100 * counts[p][c] / max(1, counts[p].sum()):.1f}%)"
                for p in parts
            ),
        )
    t.add_row("", "total", *(str(int(counts[p].sum())) for p in parts))
    return t


def _describe_images(ds: Dataset, console, Table) -> None:
    shapes = Table(title="arrays")
    for col in ("part", "x shape", "x dtype", "y shape"):
        shapes.add_column(col)
    for part, (x, y) in ds.parts().items():
        shapes.add_row(part, str(x.shape), str(x.dtype), str(y.shape))
    console.print(shapes)
    console.print(escape(f"layout {ds.layout}; preprocessing: {dict(ds.preprocessing)}"))
    assert ds.class_names is not None
    console.print(_balance_table(Table, ds.class_names, {p: y for p, (_, y) in ds.parts().items()}))
    stats = Table(title="pixel statistics after preprocessing (per channel)")
    for col in ("part", "channel", "mean", "std", "min", "max"):
        stats.add_column(col, justify="right")
    for part, (x, _) in ds.parts().items():
        nchw = (
            x
            if ds.layout in ("nchw", "image")
            else (
                x.reshape(x.shape[0], 1, 28, 28) if ds.layout == "flat" else x.transpose(0, 3, 1, 2)
            )
        )
        for c in range(nchw.shape[1]):
            v = nchw[:, c]
            stats.add_row(
                part,
                str(c),
                _fmt(float(v.mean(dtype=np.float64))),
                _fmt(float(v.std(dtype=np.float64))),
                _fmt(float(v.min())),
                _fmt(float(v.max())),
            )
    console.print(stats)


def _describe_table(t: TabularData, console, Table) -> None:
    console.print(
        f"rows {t.n_rows}; numeric features {len(t.numeric_names)}; categorical features "
        f"{len(t.categorical_names)}; target {t.target_name}"
    )
    if t.notes:
        console.print(escape(f"notes: {dict(t.notes)}"))
    if t.official_split is not None:
        tr, te = t.official_split
        ds = t.prepare_official()
        console.print(
            f"official split: train {tr.size}, test {te.size}; ActMix features (fit on train): "
            f"width {ds.x_train.shape[1]}"
        )
    num = Table(title="numeric features (raw)")
    for col in ("feature", "mean", "std", "min", "max"):
        num.add_column(col, justify="right")
    for j, n in enumerate(t.numeric_names):
        v = t.numeric[:, j]
        num.add_row(n, _fmt(v.mean()), _fmt(v.std()), _fmt(v.min()), _fmt(v.max()))
    console.print(num)
    if t.categorical_names:
        cat = Table(title="categorical features")
        for col in ("feature", "categories", "most frequent"):
            cat.add_column(col)
        for j, n in enumerate(t.categorical_names):
            values, counts = np.unique(t.categorical[:, j], return_counts=True)
            top = int(np.argmax(counts))
            cat.add_row(n, str(values.size), f"{values[top]} ({counts[top]})")
        console.print(cat)
    if t.task == "classification":
        assert t.class_names is not None
        parts = {"all": t.y}
        if t.official_split is not None:
            parts["official train"] = t.y[t.official_split[0]]
            parts["official test"] = t.y[t.official_split[1]]
        console.print(_balance_table(Table, t.class_names, parts))
    else:
        y = t.y
        console.print(
            f"target {t.target_name}: mean {_fmt(y.mean())}, std {_fmt(y.std())}, "
            f"min {_fmt(y.min())}, max {_fmt(y.max())}"
        )


__all__ = ["describe"]
