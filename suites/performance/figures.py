"""Figures of the layer benchmark: time and peak memory over batch and width, log-log.

One panel per framework (and device), one line per unit in the report's fixed unit colours, the
original packages dashed in their unit's colour, so "how much slower and hungrier than Linear +
ReLU, and does it scale the same way" is read off one figure. Read from
``table.scaling_table`` (eager cases at every shape of the run); written beside the other
figures by the report stage (``figures/performance/``). Page-wide, with the legend under the
panels in the report's unit order (beside them it made the figure 9.7 in wide, so its labels
printed at under 6 pt on a page).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from suites.report import style
from suites.report.palette import UNIT_ORDER, framework_label, order_frameworks, unit_color

#: Benchmark cases -> the unit whose colour they carry (an activation after a Linear is drawn
#: as that activation).
CASE_UNIT = {"linear_relu": "relu", "linear_actmix": "actmix", "linear_lselu": "lselu",
             "linear_aptx_activation": "aptx_activation", "aptx_layer": "aptx_layer",
             "yat_dense": "yat_dense"}
_AXES = {"batch": ("width", "batch (rows)"), "width": ("batch", "width (output features)")}
_METRICS = {"forward_backward_ms": "forward + backward (ms)", "peak_mib": "peak memory (MiB)"}


def scaling_figures(scaling: pd.DataFrame, out_dir: Path) -> list[Path]:
    """``scaling_{batch,width}.{png,pdf}`` under ``out_dir``; none for an axis with one value."""
    import matplotlib.pyplot as plt

    paths: list[Path] = []
    if scaling.empty:
        return paths
    scaling = scaling.assign(
        base_framework=scaling["framework"].str.replace(" (original)", "", regex=False))
    for axis, (fixed, label) in _AXES.items():
        held = _held_value(scaling, axis, fixed)
        if held is None:
            continue
        data = scaling[scaling[fixed] == held]
        # only lines: a framework timed at one shape (the main table's) has nothing to draw
        points = data.groupby(["base_framework", "device", "unit", "source", "kernel"])[axis]
        data = data[points.transform("nunique") > 1]
        if data.empty:
            continue
        panels = _panels(data)
        with style.context():
            fig, axes = plt.subplots(len(_METRICS), len(panels), squeeze=False, sharex=True,
                                     layout="constrained",
                                     figsize=(min(style.PAGE_WIDTH, 2.3 * len(panels) + 0.7),
                                              4.9))
            for col, (framework, device) in enumerate(panels):
                here = data[(data["base_framework"] == framework) & (data["device"] == device)]
                for row, (metric, ylabel) in enumerate(_METRICS.items()):
                    ax = axes[row][col]
                    _draw(ax, here, axis, metric)
                    ax.set_xscale("log", base=2)
                    ax.set_yscale("log")
                    if row == 0:
                        ax.set_title(f"{framework_label(framework)} ({device})")
                    if row == len(_METRICS) - 1:
                        ax.set_xlabel(label)
                    if col == 0:
                        ax.set_ylabel(ylabel)
            handles, labels = _legend(axes)
            style.legend_below(fig, handles, labels, max_columns=2, handlelength=2.6)
            fig.suptitle(f"Layer benchmark over {axis} ({fixed} {held}, eager, float32; "
                         "dashed: the original packages)")
            paths += style.save_figure(fig, Path(out_dir) / f"scaling_{axis}", style.PAGE_WIDTH)
    return paths


def _held_value(scaling: pd.DataFrame, axis: str, fixed: str) -> int | None:
    """The value of ``fixed`` at which ``axis`` varies most (None if it never varies)."""
    spread = scaling.groupby(fixed)[axis].nunique()
    spread = spread[spread > 1]
    return None if spread.empty else int(spread.idxmax())


def _panels(data: pd.DataFrame) -> list[tuple[str, str]]:
    pairs = data[["base_framework", "device"]].drop_duplicates()
    order = order_frameworks(pairs["base_framework"])
    return sorted(map(tuple, pairs.to_numpy()), key=lambda p: (order.index(p[0]), p[1]))


def _draw(ax, data: pd.DataFrame, axis: str, metric: str) -> None:
    for (unit, source, kernel), line in data.groupby(["unit", "source", "kernel"], sort=True):
        line = line.sort_values(axis)
        values = line[metric].where(line[metric] > 0)     # a zero peak has no place on a log axis
        if values.notna().sum() < 2:          # one shape only (e.g. a kernel not swept): no line
            continue
        original = source == "original"
        ax.plot(line[axis], values, marker="o", markersize=3, color=unit_color(CASE_UNIT.get(unit, unit)),
                linestyle="--" if original else "-",
                label=f"{unit} ({kernel})" if original else unit)


def _legend(axes) -> tuple[list, list[str]]:
    """One entry per line over every panel: our cases in the report's unit order, then the
    original packages (alphabetical order put aptx_layer first and split linear_relu from its
    original)."""
    seen: dict[str, object] = {}
    for ax in axes.flat:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            seen.setdefault(label, handle)

    def rank(label: str) -> tuple[bool, int, str]:
        case = label.split(" (")[0]
        unit = CASE_UNIT.get(case, case)
        order = UNIT_ORDER.index(unit) if unit in UNIT_ORDER else len(UNIT_ORDER)
        return " (" in label, order, label

    labels = sorted(seen, key=rank)
    return [seen[label] for label in labels], labels
