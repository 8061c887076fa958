"""Figures of the layer benchmark: time and peak memory over batch and width, log-log.

One panel per framework (and device), one line per unit in the report's fixed unit colours, the
original packages dashed in their unit's colour, so "how much slower and hungrier than Linear +
ReLU, and does it scale the same way" is read off one figure. Read from
``table.scaling_table`` (eager cases at every shape of the run); written beside the other
figures by the report stage (``figures/performance/``).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from suites.report.figures import RC, save_figure
from suites.report.palette import FRAMEWORK_LABELS, order_frameworks, unit_color

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
        with plt.rc_context(RC):
            fig, axes = plt.subplots(len(_METRICS), len(panels), squeeze=False, sharex=True,
                                     figsize=(2.3 * len(panels) + 0.8, 4.6))
            for col, (framework, device) in enumerate(panels):
                here = data[(data["base_framework"] == framework) & (data["device"] == device)]
                for row, (metric, ylabel) in enumerate(_METRICS.items()):
                    ax = axes[row][col]
                    _draw(ax, here, axis, metric)
                    ax.set_xscale("log", base=2)
                    ax.set_yscale("log")
                    if row == 0:
                        ax.set_title(f"{FRAMEWORK_LABELS.get(framework, framework)} ({device})")
                    if row == len(_METRICS) - 1:
                        ax.set_xlabel(label)
                    if col == 0:
                        ax.set_ylabel(ylabel)
            handles, labels = _legend(axes)
            fig.legend(handles, labels, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False)
            fig.suptitle(f"Layer benchmark over {axis} ({fixed} {held}, eager, float32; "
                         "dashed: the original packages)", fontsize=9)
            fig.tight_layout()
            paths += save_figure(fig, Path(out_dir) / f"scaling_{axis}")
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
    seen: dict[str, object] = {}
    for ax in axes.flat:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            seen.setdefault(label, handle)
    return list(seen.values()), list(seen)
