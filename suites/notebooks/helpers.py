"""What every notebook in notebooks/ shares: where the report folder is, loading a file with a
clear message when it is missing, one figure style and the project's unit colours.

Kept out of the notebooks so that six notebooks agree on the column width, the fonts and the
colours (``suites.report.palette``: a unit has the same colour here as in every figure of
reports/), and so a notebook's cells stay about its data. It imports pandas and matplotlib only:
a notebook reads files the report stage wrote, it never trains or imports a framework.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from suites.notebooks import REPORTS_ENV
from suites.report.palette import (
    FRAMEWORK_LABELS,
    framework_label,
    order_frameworks,
    order_units,
    unit_color,
    unit_palette,
)

__all__ = [
    "COLUMN_WIDTH", "FRAMEWORK_LABELS", "FRAMEWORK_MARKERS", "REPORTS_ENV", "case_unit", "exists",
    "figure", "framework_label", "framework_legend", "framework_marker", "log_axis", "missing",
    "order_frameworks", "order_units", "pivot_pm", "plus_minus", "profiles", "read_csv",
    "reports_dir", "setup", "shown", "t_summary", "unit_color", "unit_palette", "unit_sorted",
]

#: Width of one column of a two-column paper, in inches: every figure is drawn at this width.
COLUMN_WIDTH = 3.4
#: Fonts stay >= 7 pt at column width; PNG at 150 dpi is sharp in the HTML and small on disk.
RC: dict[str, object] = {
    "font.size": 8, "axes.titlesize": 8, "axes.labelsize": 8, "xtick.labelsize": 7,
    "ytick.labelsize": 7, "legend.fontsize": 7, "legend.title_fontsize": 7,
    "figure.dpi": 150, "figure.figsize": (COLUMN_WIDTH, 2.4), "lines.linewidth": 1.2,
    "axes.grid": True, "grid.linewidth": 0.4, "grid.alpha": 0.5,
}
#: One marker per framework (filled) where a figure's colour already means the unit.
FRAMEWORK_MARKERS: dict[str, str] = {"numpy": "o", "torch": "s", "jax": "^", "tf": "D"}
_SPARE_MARKERS = ("v", "P", "X", "*", "h", "<", ">")
#: Profiles in the order the notebooks show them (others follow by name).
PROFILE_ORDER = ("quick", "paper")


def reports_dir() -> Path:
    """The report folder: $NEURONBENCH_REPORTS, else ``reports`` at the repository root.

    A notebook opened in Jupyter runs with notebooks/ as its working directory and one run by a
    script from the repository root; both find the same folder without an environment variable.
    """
    value = os.environ.get(REPORTS_ENV)
    if value:
        return Path(value).expanduser().resolve()
    cwd = Path.cwd()
    for folder in (cwd, cwd.parent):
        if (folder / "reports").is_dir() and (folder / "notebooks").is_dir():
            return folder / "reports"
    return cwd / "reports"


def shown(relative: str | Path) -> str:
    """A path as printed in a notebook: relative to the report folder's parent, so executed
    notebooks and their HTML never carry an absolute path of the machine that ran them."""
    text = Path(relative).as_posix()
    return f"{reports_dir().name}/" + ("" if text == "." else text)


def exists(relative: str | Path) -> bool:
    """Whether ``<reports>/<relative>`` is a file (for inputs only some profiles have)."""
    return (reports_dir() / relative).is_file()


def _display(markdown: str) -> None:
    """Markdown in a notebook, plain text anywhere else."""
    try:
        from IPython.display import Markdown, display
    except ImportError:
        print(markdown)
        return
    display(Markdown(markdown))


def missing(relative: str | Path, what: str = "") -> None:
    """Say which input file is missing and how to make it, instead of failing the notebook."""
    part = f" ({what})" if what else ""
    _display(f"**Missing input:** `{shown(relative)}`{part}. Build it with `neuronbench report` "
             f"(or point `{REPORTS_ENV}` at a report folder); the cells that need it are skipped.")


def read_csv(relative: str | Path, what: str = "", **kwargs: object) -> pd.DataFrame | None:
    """Read ``<reports>/<relative>``; None (and a message naming the file) when it is missing."""
    path = reports_dir() / relative
    if not path.is_file():
        missing(relative, what)
        return None
    return pd.read_csv(path, low_memory=False, **kwargs)


def profiles(filename: str) -> list[str]:
    """Profiles (sub-folders of ``<reports>/results``) that hold ``filename``, quick first."""
    root = reports_dir() / "results"
    found = sorted(p.parent.name for p in root.glob(f"*/{filename}")) if root.is_dir() else []
    return [p for p in PROFILE_ORDER if p in found] + [p for p in found if p not in PROFILE_ORDER]


def setup() -> None:
    """Inline PNG figures without the 'Software' tag (byte-identical on re-execution), a seeded
    global NumPy generator, the column-width style and a wide pandas display."""
    import matplotlib as mpl
    import seaborn as sns

    try:
        from IPython import get_ipython
    except ImportError:
        get_ipython = None  # type: ignore[assignment]
    shell = get_ipython() if get_ipython is not None else None
    if shell is not None:
        shell.run_line_magic("matplotlib", "inline")
        from matplotlib_inline.backend_inline import set_matplotlib_formats

        set_matplotlib_formats("png", bbox_inches="tight", metadata={"Software": None})
    # seaborn's jitter and bootstrap draw from NumPy's global generator: a fixed seed keeps an
    # executed notebook byte-identical when its inputs are
    np.random.seed(0)
    sns.set_theme(context="paper", style="ticks", rc=RC)
    mpl.rcParams.update(RC)
    pd.set_option("display.max_columns", 40)
    pd.set_option("display.width", 160)
    pd.set_option("display.max_rows", 80)


def figure(nrows: int = 1, ncols: int = 1, height: float = 2.4, **kwargs: object):
    """A column-wide figure (``COLUMN_WIDTH`` inches) with constrained layout."""
    import matplotlib.pyplot as plt

    return plt.subplots(nrows, ncols, figsize=(COLUMN_WIDTH, height), layout="constrained",
                        squeeze=False, **kwargs)


def log_axis(ax, axis: str = "x", base: float = 10) -> None:
    """A log axis labelled with plain numbers (1, 2, 4 or 10, 100) and no minor labels, which
    would collide at column width."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    getattr(ax, f"set_{axis}scale")("log", base=base)
    target = ax.xaxis if axis == "x" else ax.yaxis
    target.set_major_locator(LogLocator(base=base))
    target.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    target.set_minor_formatter(NullFormatter())


def framework_marker(framework: str) -> str:
    """The marker of one framework; an original package ("torch (original)") or an unknown
    framework gets a spare marker fixed by its name, the same in every figure."""
    if framework in FRAMEWORK_MARKERS:
        return FRAMEWORK_MARKERS[framework]
    return _SPARE_MARKERS[sum(map(ord, framework)) % len(_SPARE_MARKERS)]


def framework_legend(ax, frameworks: Iterable[str], **kwargs: object) -> None:
    """A legend of framework markers (grey: the colour is the unit's)."""
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], linestyle="none", marker=framework_marker(f), color="0.3",
                      markersize=4, label=framework_label(f)) for f in frameworks]
    ax.legend(handles=handles, **{"frameon": False, **kwargs})


def unit_sorted(frame: pd.DataFrame) -> pd.DataFrame:
    """A table's rows in the report's unit order: index levels named ``unit`` or ``case`` follow
    ``order_units`` (a case by its unit), other levels sort by value."""
    def key(level: pd.Index) -> pd.Index:
        if level.name not in ("unit", "case"):
            return level
        names = sorted(set(level))
        rank = {unit: i for i, unit in enumerate(order_units({case_unit(n) for n in names}))}
        position = {name: rank[case_unit(name)] * len(names) + i for i, name in enumerate(names)}
        return pd.Index([position[name] for name in level])

    return frame.sort_index(key=key)


def case_unit(case: str) -> str:
    """The unit whose colour a performance case takes: ``linear_gelu`` -> ``gelu`` (a Linear
    layer followed by the activation), ``linear_relu`` -> ``relu`` (the baseline)."""
    return case.removeprefix("linear_")


def t_summary(frame: pd.DataFrame, by: Iterable[str], value: str = "value") -> pd.DataFrame:
    """Mean, n and the 95 % t-interval per group: the interval the report's tables print, so a
    notebook never disagrees with a table."""
    from suites.report.stats import t_interval

    def one(values: pd.Series) -> pd.Series:
        low, high = t_interval(values.to_numpy(dtype=float))
        return pd.Series({"mean": values.mean(), "n": len(values), "ci_low": low, "ci_high": high})

    return frame.groupby(list(by), sort=False)[value].apply(one).unstack().reset_index()


def plus_minus(mean: float, low: float, high: float, scale: float = 1.0, digits: int = 2) -> str:
    """``mean ± half-width`` as the report's tables write it ('mean' alone for a single value)."""
    if not np.isfinite(mean):
        return ""
    if not (np.isfinite(low) and np.isfinite(high)):
        return f"{mean * scale:.{digits}f}"
    return f"{mean * scale:.{digits}f} ± {(high - low) / 2 * scale:.{digits}f}"


def pivot_pm(frame: pd.DataFrame, index: list[str], columns: str, scale: float = 1.0,
             digits: int = 2, column_order: Iterable[str] | None = None,
             labels: Mapping[str, str] | None = None) -> pd.DataFrame:
    """A wide ``mean ± half-CI`` table from rows with mean/ci_low/ci_high columns."""
    cells = frame.assign(cell=[plus_minus(m, lo, hi, scale, digits) for m, lo, hi in
                               frame[["mean", "ci_low", "ci_high"]].itertuples(index=False)])
    wide = cells.pivot_table(index=index, columns=columns, values="cell", aggfunc="first")
    if column_order is not None:
        wide = wide[[c for c in column_order if c in wide.columns]]
    wide.columns.name = None
    return wide.rename(columns=dict(labels or {})).fillna("")
