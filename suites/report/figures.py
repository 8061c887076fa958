"""Figures from tidy rows: learning curves with 95 % CI bands over seeds, and a per-unit dot plot.

Matplotlib runs on the Agg backend (no display, same pixels everywhere) and the files carry no
creation date or software version, so regenerating from unchanged results gives byte-identical PNG
and PDF files. Bands use the same Student-t interval as the tables (``stats.t_interval``), not
seaborn's bootstrap, so a figure and its table never disagree. Every figure colours a unit the same
way (``palette.UNIT_COLORS``).
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # after matplotlib.use: the backend must be chosen first
import pandas as pd
import seaborn as sns
from matplotlib.ticker import MaxNLocator

from suites.report import stats, tables
from suites.report.palette import (
    FRAMEWORK_LABELS,
    UNIT_COLORS,
    order_frameworks,
    order_units,
    unit_palette,
)

DPI = 150
#: PNG/PDF metadata that would change between otherwise identical runs, blanked.
PNG_METADATA: dict[str, str | None] = {"Software": None}
PDF_METADATA: dict[str, str | None] = {"CreationDate": None, "Producer": None, "Creator": None}

#: Sizes for a figure printed at single-column width (about 3.3 in) or two-column (7 in):
#: 9 pt labels stay readable after the 2-panel-wide figure is scaled down to a column.
RC = {
    "font.size": 9, "axes.titlesize": 9, "axes.labelsize": 9, "xtick.labelsize": 8,
    "ytick.labelsize": 8, "legend.fontsize": 8, "legend.title_fontsize": 8,
    "lines.linewidth": 1.4, "svg.hashsalt": "neuronbench", "pdf.fonttype": 42,
}

__all__ = ["DPI", "UNIT_COLORS", "accuracy_dotplot", "learning_curves", "save_figure",
           "write_figures"]


def save_figure(fig: plt.Figure, stem: Path) -> list[Path]:
    """Save ``stem``.png (dpi 150) and ``stem``.pdf without timestamps; close the figure."""
    stem.parent.mkdir(parents=True, exist_ok=True)
    png, pdf = stem.with_suffix(".png"), stem.with_suffix(".pdf")
    fig.savefig(png, dpi=DPI, metadata=PNG_METADATA, bbox_inches="tight")
    fig.savefig(pdf, metadata=PDF_METADATA, bbox_inches="tight")
    plt.close(fig)
    return [png, pdf]


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
    """One figure per (protocol, variant): metric per epoch, hue = unit, one panel per framework.

    The line is the mean over seeds and the band its 95 % t-interval; diverged trials are left out
    (the tables count them). Accuracy is shown in %.
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
        with plt.rc_context(RC), sns.axes_style("whitegrid"):
            grid = sns.relplot(
                data=data, x="epoch", y="y", hue="unit", hue_order=units,
                palette=unit_palette(units), col="framework", col_order=frameworks,
                col_wrap=min(col_wrap, len(frameworks)), kind="line",
                errorbar=lambda v: stats.t_interval(v), err_kws={"alpha": 0.12}, height=2.1, aspect=1.35,
                facet_kws={"sharey": True, "sharex": True},
            )
            grid.set_titles("{col_name}")
            for ax, framework in zip(grid.axes.flat, frameworks, strict=False):
                ax.set_title(FRAMEWORK_LABELS.get(framework, framework))
            grid.set_axis_labels("epoch", label)
            _zoom_to_plateau(grid, data, percent)
            for ax in grid.axes.flat:
                ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            if grid.legend is not None:
                grid.legend.set_title("unit")
            sns.move_legend(grid, "upper center", bbox_to_anchor=(0.5, 0.0), ncol=min(len(units), 4),
                            frameon=False)
            # relplot reserved a right margin for its legend; reclaim it now the legend is below.
            grid.figure.subplots_adjust(right=0.98)
            grid.figure.suptitle(f"{protocol} ({variant or 'default'}): {label}, mean and 95 % CI "
                                 "over seeds", y=1.02, fontsize=9)
            name = f"curves_{protocol}_{variant or 'default'}_{split}_{metric}"
            paths += save_figure(grid.figure, Path(out_dir) / name)
    return paths


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
    """Per (protocol, variant): each unit's selected test accuracy by framework, mean ± 95 % t-CI.

    Individual seeds are drawn as faint dots so the spread behind each interval stays visible.
    """
    rows = stats.ok_rows(stats.selected_rows(df, selection))
    paths: list[Path] = []
    for (protocol, variant), data in rows.groupby(["protocol", "variant"], sort=True):
        data = data.assign(y=data["value"] * 100.0)
        units = order_units(data["unit"].unique())
        frameworks = order_frameworks(data["framework"].unique())
        with plt.rc_context(RC), sns.axes_style("whitegrid"):
            fig, ax = plt.subplots(figsize=(3.4, 0.45 * len(units) * max(1, len(frameworks) / 3) + 1.0))
            sns.stripplot(data=data, x="y", y="framework", hue="unit", order=frameworks,
                          hue_order=units, palette=unit_palette(units), dodge=True, alpha=0.35,
                          size=3, jitter=False, legend=False, ax=ax)
            sns.pointplot(data=data, x="y", y="framework", hue="unit", order=frameworks,
                          hue_order=units, palette=unit_palette(units),
                          # the stripplot's hue offsets: width 0.8 split into len(units) slots
                          dodge=0.8 - 0.8 / len(units),
                          errorbar=lambda v: stats.t_interval(v), linestyle="none",
                          markers="o", markersize=4, err_kws={"linewidth": 1.2}, ax=ax)
            ax.set_xlabel(f"test accuracy (%), {selection}")
            ax.set_ylabel("")
            ax.set_yticks(range(len(frameworks)), [FRAMEWORK_LABELS.get(f, f) for f in frameworks])
            ax.set_title(f"{protocol} ({variant or 'default'})")
            sns.move_legend(ax, "upper left", bbox_to_anchor=(1.0, 1.0), frameon=False,
                            title="unit")
            name = f"accuracy_{protocol}_{variant or 'default'}_{selection}"
            paths += save_figure(fig, Path(out_dir) / name)
    return paths


def write_figures(df: pd.DataFrame, out_dir: Path) -> list[Path]:
    """Every figure for the accuracy-suite rows ``df`` into ``out_dir``."""
    paths = learning_curves(df, out_dir, split="test", metric="accuracy")
    paths += accuracy_dotplot(df, out_dir, selection="best_val")
    return paths
