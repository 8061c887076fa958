"""Figures from tidy rows: learning curves with 95 % CI bands over seeds, and a per-unit dot plot.

Sizes, fonts and file output come from ``style`` (Agg, no metadata: byte-identical rebuilds) and
colours and orders from ``palette``, so a unit has one colour in every figure. Bands use the same
Student-t interval as the tables (``stats.t_interval``), not seaborn's bootstrap, so a figure and
its table never disagree; an interval is drawn only from ``MIN_SEEDS_FOR_INTERVAL`` seeds on,
because the t-interval of two seeds (12.7 standard errors wide) covers every curve in the panel
and hides the means it is meant to qualify.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")   # no display, same pixels everywhere (style does it too, for its callers)

import matplotlib.pyplot as plt  # after matplotlib.use: the backend must be chosen first
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.ticker import MaxNLocator

from suites.report import stats, style, tables
from suites.report.palette import (
    UNIT_COLORS,
    framework_label,
    order_frameworks,
    order_units,
    unit_palette,
)

#: Kept here for callers that imported them from this module before ``style`` existed.
DPI = style.DPI
PNG_METADATA = style.PNG_METADATA
PDF_METADATA = style.PDF_METADATA
RC = style.RC

#: Fewest seeds (trials) from which a figure draws a confidence interval.
MIN_SEEDS_FOR_INTERVAL = 3
#: Curves with at most this many epochs get a marker at each epoch (one epoch is otherwise a
#: line of length zero, i.e. an empty panel).
MARKED_EPOCHS = 5

__all__ = ["DPI", "MIN_SEEDS_FOR_INTERVAL", "UNIT_COLORS", "accuracy_dotplot", "drawn_interval",
           "learning_curves", "save_figure", "write_figures"]


def save_figure(fig: plt.Figure, stem: Path, width: float = style.PAGE_WIDTH) -> list[Path]:
    """``style.save_figure``, under its old name (the writers of other suites call it)."""
    return style.save_figure(fig, stem, width)


def drawn_interval(values: Sequence[float] | np.ndarray) -> tuple[float, float]:
    """The 95 % t-interval a figure draws for ``values``: none (NaN) below
    ``MIN_SEEDS_FOR_INTERVAL`` values, where it would span most of the axis."""
    if len(values) < MIN_SEEDS_FOR_INTERVAL:
        return math.nan, math.nan
    return stats.t_interval(values)


def interval_note(trials_per_cell: pd.Series, what: str = "seeds") -> str:
    """The caption fragment saying over how many trials a mean is and whether a band is drawn."""
    if trials_per_cell.empty:
        return ""
    low, high = int(trials_per_cell.min()), int(trials_per_cell.max())
    count = f"{low}" if low == high else f"{low}-{high}"
    text = f"mean over {count} {what.removesuffix('s') if count == '1' else what}"
    if high < MIN_SEEDS_FOR_INTERVAL:
        return f"{text} (no interval under {MIN_SEEDS_FOR_INTERVAL})"
    if low < MIN_SEEDS_FOR_INTERVAL:
        return f"{text}, 95 % t-interval where {MIN_SEEDS_FOR_INTERVAL} or more"
    return f"{text}, 95 % t-interval"


def _curve_rows(df: pd.DataFrame, split: str, metric: str) -> pd.DataFrame:
    """Per-epoch rows of finished trials (diverged ones would drag the band to chance level)."""
    rows = stats.ok_rows(df)
    mask = (rows["split"] == split) & (rows["metric"] == metric)
    if "selection" in rows.columns:
        mask &= rows["selection"].fillna("") == ""
    out = rows[mask].copy()
    out["variant"] = out["variant"].fillna("") if "variant" in out.columns else ""
    return out


def learning_curves(df: pd.DataFrame, out_dir: Path, split: str = "test",
                    metric: str = "accuracy", col_wrap: int = 2) -> list[Path]:
    """One page-wide figure per (protocol, variant): metric per epoch, hue = unit, one panel per
    framework.

    The line is the mean over seeds and the band its 95 % t-interval (from
    ``MIN_SEEDS_FOR_INTERVAL`` seeds on); diverged trials are left out (the tables count them).
    Accuracy is shown in %.
    """
    rows = _curve_rows(df, split, metric)
    paths: list[Path] = []
    percent = metric == "accuracy"
    label = f"{split} {metric}" + (" (%)" if percent else "")
    for (protocol, variant), data in rows.groupby(["protocol", "variant"], sort=True):
        # Mean per (trial, epoch) first, so a trial that wrote an epoch twice counts once.
        data = (data.assign(_trial=tables.trial_ids(data))
                .groupby(["framework", "unit", "_trial", "epoch"], as_index=False)["value"].mean())
        data["y"] = data["value"] * (100.0 if percent else 1.0)
        units = order_units(data["unit"].unique())
        frameworks = order_frameworks(data["framework"].unique())
        epochs = sorted(data["epoch"].unique())
        columns = min(col_wrap, len(frameworks))
        panel_width = (style.PAGE_WIDTH - 1.0) / columns
        marked = {"marker": "o", "markersize": 3.5} if len(epochs) <= MARKED_EPOCHS else {}
        with style.context():
            grid = sns.relplot(
                data=data, x="epoch", y="y", hue="unit", hue_order=units,
                palette=unit_palette(units), col="framework", col_order=frameworks,
                col_wrap=columns, kind="line", errorbar=drawn_interval,
                err_kws={"alpha": 0.15}, height=1.9, aspect=min(panel_width / 1.9, 1.7),
                facet_kws={"sharey": True, "sharex": True}, **marked,
            )
            for ax, framework in zip(grid.axes.flat, frameworks, strict=False):
                ax.set_title(framework_label(framework))
            grid.set_axis_labels("epoch", label)
            _zoom_to_plateau(grid, data, percent)
            for ax in grid.axes.flat:
                _epoch_ticks(ax, epochs)
            if grid.legend is not None:
                grid.legend.set_title("unit")
            sns.move_legend(grid, "upper center", bbox_to_anchor=(0.5, 0.0),
                            ncol=min(len(units), 5), frameon=False)
            # relplot reserved a right margin for its legend; reclaim it now the legend is below.
            grid.figure.subplots_adjust(right=0.98)
            trials = data.groupby(["framework", "unit"])["_trial"].nunique()
            grid.figure.suptitle(f"{protocol} ({variant or 'default'}): {label}; "
                                 f"{interval_note(trials)}", y=1.02)
            name = f"curves_{protocol}_{variant or 'default'}_{split}_{metric}"
            paths += style.save_figure(grid.figure, Path(out_dir) / name, style.PAGE_WIDTH)
    return paths


def _epoch_ticks(ax: plt.Axes, epochs: Sequence[int]) -> None:
    """Whole epochs on the x-axis: every epoch of a short run (one epoch otherwise gets ticks at
    0.95, 0.96, ...), a few integers for a long one."""
    if len(epochs) <= 10:
        ax.set_xticks([int(e) for e in epochs])
        if len(epochs) == 1:
            ax.set_xlim(epochs[0] - 0.5, epochs[0] + 0.5)
    else:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def _zoom_to_plateau(grid: sns.FacetGrid, data: pd.DataFrame, percent: bool) -> None:
    """Start the y-axis near where the curves settle: the first epoch would otherwise squash the
    differences that matter (tenths of a percent) into one line."""
    if not percent or data.empty:
        return
    # Limits come from the mean curves, not from single seeds or CI bands: with two seeds a
    # t-band spans tens of points and would flatten every curve. Short runs show every epoch.
    means = data.groupby(["framework", "unit", "epoch"])["y"].mean().reset_index()
    if means["epoch"].nunique() > 3:
        means = means[means["epoch"] > means["epoch"].min()]
    if means.empty:
        return
    low = means["y"].min()
    high = min(100.0, means["y"].max())
    pad = max(0.1, 0.08 * (high - low))
    for ax in grid.axes.flat:
        ax.set_ylim(low - pad, high + pad)


def accuracy_dotplot(df: pd.DataFrame, out_dir: Path, selection: str = "best_val") -> list[Path]:
    """Per (protocol, variant), one column-wide figure: each unit's selected test accuracy by
    framework, mean ± 95 % t-interval (from ``MIN_SEEDS_FOR_INTERVAL`` seeds on).

    Individual seeds are drawn as faint dots so the spread behind each interval stays visible.
    The legend goes under the axes (beside them the figure was 4.9 in wide and printed its
    labels at 5.6 pt in a column) and the accuracy axis stops at 100 %.
    """
    rows = stats.ok_rows(stats.selected_rows(df, selection))
    paths: list[Path] = []
    for (protocol, variant), data in rows.groupby(["protocol", "variant"], sort=True):
        data = data.assign(y=data["value"] * 100.0)
        units = order_units(data["unit"].unique())
        frameworks = order_frameworks(data["framework"].unique())
        palette = unit_palette(units)
        legend_rows = math.ceil(len(units) / 3)
        height = max(1.2, 0.13 * len(units) * len(frameworks) + 0.3) + 0.75 + 0.16 * legend_rows
        with style.context():
            fig, ax = plt.subplots(figsize=(style.COLUMN_WIDTH, height), layout="constrained")
            sns.stripplot(data=data, x="y", y="framework", hue="unit", order=frameworks,
                          hue_order=units, palette=palette, dodge=True, alpha=0.35,
                          size=3, jitter=False, legend=False, ax=ax)
            sns.pointplot(data=data, x="y", y="framework", hue="unit", order=frameworks,
                          hue_order=units, palette=palette,
                          # the stripplot's hue offsets: width 0.8 split into len(units) slots
                          dodge=0.8 - 0.8 / len(units),
                          errorbar=drawn_interval, linestyle="none",
                          markers="o", markersize=4, err_kws={"linewidth": 1.2}, ax=ax)
            ax.set_xlabel(f"test accuracy (%), {selection}")
            ax.set_ylabel("")
            ax.set_yticks(range(len(frameworks)), [framework_label(f) for f in frameworks])
            low, high = ax.get_xlim()
            ax.set_xlim(low, min(high, 100.0))
            ax.xaxis.set_major_locator(MaxNLocator(nbins=5))
            trials = data.groupby(["framework", "unit"]).size()
            ax.set_title(f"{protocol} ({variant or 'default'})\n{interval_note(trials)}")
            handles, labels = ax.get_legend_handles_labels()
            ax.get_legend().remove()
            style.legend_below(fig, handles, labels, title="unit", max_columns=3)
            name = f"accuracy_{protocol}_{variant or 'default'}_{selection}"
            paths += style.save_figure(fig, Path(out_dir) / name, style.COLUMN_WIDTH)
    return paths


def write_figures(df: pd.DataFrame, out_dir: Path) -> list[Path]:
    """Every figure for the accuracy-suite rows ``df`` into ``out_dir``."""
    paths = learning_curves(df, out_dir, split="test", metric="accuracy")
    paths += accuracy_dotplot(df, out_dir, selection="best_val")
    return paths
