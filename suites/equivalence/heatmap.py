"""The parity heatmap: how close every (unit, framework, dtype, mode) case came to its tolerance.

parity.md lists pass/fail and the worst relative error per case, but errors of different checks
and dtypes have different tolerances (1e-5 forward in float32, 1e-10 in float64, ...), so the
raw errors do not compare across a row. The heatmap divides each check's error by its own
tolerance and colours a case by the worst such ratio on a log scale (and writes it in the cell):
a case passes when every ratio is at most 1, the colour map changes hue at 1 (the colour bar marks it), a failed case is
hatched and labelled FAIL, and a case with no rows is grey "n/a", never a passing colour.

It is built from the tidy rows of ``reports/equivalence/rows.csv`` (``heatmap_from_csv``), so it
can be redrawn from a committed report without rerunning the matrix, and ``report.write_files``
draws it beside parity.md. Sizes, fonts and file output come from ``suites.report.style``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from suites.report import style
from suites.report.palette import framework_label, order_frameworks, order_units

#: File name (without suffix) of the heatmap beside parity.md.
STEM = "parity_heatmap"
#: log10 of the ratios at the two ends of the colour scale; ratios beyond are clipped (the bar
#: shows arrows). The lower end is below any float64 error a check can reach (1e-16 against a
#: 1e-10 tolerance is 1e-6); the upper end is two decades past failing.
LOG_RANGE = (-10.0, 2.0)
#: Diverging and colour-blind safe (ColorBrewer RdBu): blue passes, white is the tolerance,
#: red fails.
CMAP = "RdBu_r"
MISSING_COLOR = "0.62"
DTYPE_ORDER = ("float32", "float64")
MODE_ORDER = ("eager", "compiled")
_SHORT_DTYPE = {"float32": "f32", "float64": "f64", "float16": "f16", "bfloat16": "bf16"}
_CASE = ["unit", "framework", "dtype", "mode"]


def _passed(column: pd.Series) -> pd.Series:
    """The ``passed`` column as booleans, whether it came typed or as CSV text."""
    if column.dtype == bool:
        return column
    return column.astype(str).str.strip().str.lower().isin({"true", "1", "1.0"})


def check_ratios(rows: pd.DataFrame) -> pd.Series:
    """Error / tolerance of every check. A zero tolerance (an exact check, e.g. parameter
    names and shapes) gives 0 when the error is 0 and infinity otherwise; a missing error
    (a check that crashed) is infinite, so it can only ever read as a failure."""
    error = pd.to_numeric(rows["rel_l2_err"], errors="coerce").to_numpy(dtype=float)
    tolerance = pd.to_numeric(rows["tolerance"], errors="coerce").to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(tolerance > 0, error / np.where(tolerance > 0, tolerance, 1.0),
                         np.where(error == 0, 0.0, np.inf))
    ratio = np.where(np.isnan(ratio), np.inf, ratio)
    return pd.Series(ratio, index=rows.index, name="ratio")


def case_table(rows: pd.DataFrame) -> pd.DataFrame:
    """One row per (unit, framework, dtype, mode): ``ratio`` (the worst over its checks),
    ``failed`` (any check not passed, or any ratio above 1) and ``checks`` (how many)."""
    frame = rows.assign(ratio=check_ratios(rows), _ok=_passed(rows["passed"]))
    grouped = frame.groupby(_CASE, sort=False)
    cases = grouped.agg(ratio=("ratio", "max"), passed=("_ok", "all"),
                        checks=("ratio", "size")).reset_index()
    cases["failed"] = ~cases["passed"] | (cases["ratio"] > 1.0)
    return cases.drop(columns="passed")


def _ordered(values: pd.Series, order: tuple[str, ...]) -> list[str]:
    present = set(values)
    return [v for v in order if v in present] + sorted(present - set(order))


def case_columns(cases: pd.DataFrame) -> list[tuple[str, str, str]]:
    """(framework, dtype, mode) columns present, framework-major in the report's order."""
    present = set(map(tuple, cases[["framework", "dtype", "mode"]].to_numpy()))
    columns = []
    for framework in order_frameworks(cases["framework"].unique()):
        for dtype in _ordered(cases["dtype"], DTYPE_ORDER):
            for mode in _ordered(cases["mode"], MODE_ORDER):
                if (framework, dtype, mode) in present:
                    columns.append((framework, dtype, mode))
    return columns


def heatmap_grid(rows: pd.DataFrame) -> tuple[list[str], list[tuple[str, str, str]], np.ndarray,
                                              np.ndarray]:
    """(units, columns, ratio, failed): the matrix the figure draws. ``ratio`` is NaN and
    ``failed`` False where a unit has no rows for a column (a missing case)."""
    cases = case_table(rows)
    units = order_units(cases["unit"].unique())
    columns = case_columns(cases)
    ratio = np.full((len(units), len(columns)), np.nan)
    failed = np.zeros_like(ratio, dtype=bool)
    row_of = {u: i for i, u in enumerate(units)}
    col_of = {c: j for j, c in enumerate(columns)}
    for case in cases.itertuples(index=False):
        i, j = row_of[case.unit], col_of[(case.framework, case.dtype, case.mode)]
        ratio[i, j], failed[i, j] = case.ratio, case.failed
    return units, columns, ratio, failed


def parity_heatmap(rows: pd.DataFrame, stem: Path) -> list[Path]:
    """Draw the heatmap of ``rows`` (the columns of rows.csv) to ``stem``.png and .pdf."""
    import matplotlib.pyplot as plt
    from matplotlib.colors import TwoSlopeNorm
    from matplotlib.patches import Rectangle

    units, columns, ratio, failed = heatmap_grid(rows)
    low, high = LOG_RANGE
    with np.errstate(divide="ignore"):
        shown = np.clip(np.log10(ratio), low, high)        # NaN (missing) stays NaN
    cmap = plt.get_cmap(CMAP).with_extremes(bad=MISSING_COLOR)
    norm = TwoSlopeNorm(vmin=low, vcenter=0.0, vmax=high)
    with style.context(grid=False):
        fig, ax = plt.subplots(figsize=(style.PAGE_WIDTH, 1.55 + 0.2 * len(units)),
                               layout="constrained")
        image = ax.imshow(np.ma.masked_invalid(shown), cmap=cmap, norm=norm, aspect="auto",
                          interpolation="nearest")
        for i, j in zip(*np.nonzero(np.isnan(ratio)), strict=True):
            ax.text(j, i, "n/a", ha="center", va="center", fontsize=style.SMALL_PT, color="white")
        for i, j in zip(*np.nonzero(~np.isnan(ratio) & ~failed), strict=True):
            dark = _luminance(cmap(norm(shown[i, j]))) < 0.45
            ax.text(j, i, _cell_label(ratio[i, j]), ha="center", va="center",
                    fontsize=style.SMALL_PT, color="white" if dark else "black")
        for i, j in zip(*np.nonzero(failed), strict=True):
            ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, hatch="////",
                                   edgecolor="black", linewidth=0.0))
            ax.text(j, i, "FAIL", ha="center", va="center", fontsize=style.SMALL_PT,
                    fontweight="bold", color="black",
                    bbox={"boxstyle": "square,pad=0.1", "facecolor": "white", "linewidth": 0})
        _grid_lines(ax, columns, len(units))
        _column_headers(ax, columns)
        ax.set_yticks(range(len(units)), units)
        ax.tick_params(length=0)
        bar = fig.colorbar(image, ax=ax, extend="both", shrink=0.9, aspect=30, pad=0.015)
        ticks = np.arange(low, high + 1, 2)
        bar.set_ticks(ticks, labels=[_ratio_label(t) for t in ticks])
        bar.ax.axhline(0.0, color="black", linewidth=1.6)
        bar.set_label("worst error / tolerance (log scale; <= 1 passes)")
        passed = int((~failed & ~np.isnan(ratio)).sum())
        missing = int(np.isnan(ratio).sum())
        fig.suptitle(f"Equivalence against the float64 oracle: {passed} cases pass, "
                     f"{int(failed.sum())} fail, {missing} n/a (no rows)")
        return style.save_figure(fig, Path(stem), style.PAGE_WIDTH)


def _cell_label(ratio: float) -> str:
    """A passing cell's worst ratio, one significant digit ("3e-05" -> "3e-5")."""
    if ratio == 0:
        return "0"
    mantissa, exponent = f"{ratio:.0e}".split("e")
    return f"{mantissa}e{int(exponent)}"


def _luminance(rgba: tuple[float, float, float, float]) -> float:
    """Relative luminance (ITU-R BT.709 weights), to pick black or white text over a cell."""
    r, g, b = rgba[:3]
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def _ratio_label(log_ratio: float) -> str:
    if log_ratio == 0:
        return "1 = tolerance"
    return f"1e{int(log_ratio)}" if log_ratio < 0 else f"{10 ** int(log_ratio):g}"


def _grid_lines(ax, columns: list[tuple[str, str, str]], n_rows: int) -> None:
    """Thin white lines between cells, thick black ones between frameworks (the groups)."""
    for j in range(1, len(columns)):
        new_framework = columns[j][0] != columns[j - 1][0]
        ax.axvline(j - 0.5, color="black" if new_framework else "white",
                   linewidth=1.2 if new_framework else 0.6)
    for i in range(1, n_rows):
        ax.axhline(i - 0.5, color="white", linewidth=0.6)


def _column_headers(ax, columns: list[tuple[str, str, str]]) -> None:
    """Framework names over their group and dtypes under them, above the cells; the mode of each
    column under the cells (vertical: "compiled" is wider than a cell)."""
    ax.set_xticks(range(len(columns)), [mode for _, _, mode in columns], rotation=90)
    top = ax.get_xaxis_transform()        # x in columns, y in axes fractions
    for level, key in ((1.075, lambda c: c[0]), (1.015, lambda c: (c[0], c[1]))):
        start = 0
        for j in range(1, len(columns) + 1):
            if j == len(columns) or key(columns[j]) != key(columns[start]):
                framework, dtype, _ = columns[start]
                text = (framework_label(framework) if level > 1.05
                        else _SHORT_DTYPE.get(dtype, dtype))
                ax.text((start + j - 1) / 2, level, text, transform=top, ha="center",
                        va="bottom", fontsize=8 if level > 1.05 else style.SMALL_PT,
                        fontweight="bold" if level > 1.05 else "normal")
                start = j


def heatmap_from_csv(rows_csv: Path, stem: Path | None = None) -> list[Path]:
    """Redraw the heatmap from an existing rows.csv (default: beside it, ``parity_heatmap``),
    without rerunning the equivalence matrix."""
    rows_csv = Path(rows_csv)
    rows = pd.read_csv(rows_csv, keep_default_na=False, na_values=[""])
    return parity_heatmap(rows, rows_csv.parent / STEM if stem is None else stem)
