"""How every figure of the report is sized, lettered and written to disk, defined once.

A figure is drawn for one of two printed widths: a single column (``COLUMN_WIDTH``, 3.4 in) or
the full page (``PAGE_WIDTH``, 7 in). Each writer draws at the width it is meant for and passes it
to :func:`save_figure`, which warns when the saved figure came out wider: a figure scaled down to
fit its width would print its fonts below ``MIN_FONT_PT``. ``RC`` holds the one set of font sizes
(none below 7 pt), so a label reads the same size in every figure.

Colours and orders of units and frameworks live in ``palette``; this module holds only the look
and the files. Output is deterministic: Agg backend, PNG at ``DPI`` and PDF with no software or
creation-date metadata, so rebuilding from unchanged rows gives byte-identical files.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Iterator
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # after matplotlib.use: the backend must be chosen first
from matplotlib.legend import Legend

log = logging.getLogger("neuronbench.report")

DPI = 150
#: Printed widths (inches) a figure is drawn for: one column, or the full page (two columns).
COLUMN_WIDTH = 3.4
PAGE_WIDTH = 7.0
#: The smallest font any figure uses, at its printed width.
MIN_FONT_PT = 7.0
#: A saved figure may exceed its declared width by this much (tight bounding boxes round up).
WIDTH_SLACK = 1.02
#: White margin around the tight bounding box of a saved figure (matplotlib's default is 0.1 in,
#: which a column-wide figure would spend 6 % of its width on).
PAD_INCHES = 0.03

#: PNG/PDF metadata that would change between otherwise identical runs, blanked.
PNG_METADATA: dict[str, str | None] = {"Software": None}
PDF_METADATA: dict[str, str | None] = {"CreationDate": None, "Producer": None, "Creator": None}

#: Font sizes and line widths of every figure (points at the printed width; none below 7 pt).
RC: dict[str, object] = {
    "font.size": 8, "axes.titlesize": 8.5, "axes.labelsize": 8, "xtick.labelsize": 7.5,
    "ytick.labelsize": 7.5, "legend.fontsize": 7.5, "legend.title_fontsize": 7.5,
    "figure.titlesize": 9, "lines.linewidth": 1.4, "svg.hashsalt": "neuronbench",
    "pdf.fonttype": 42,
}
#: Font size of text placed by hand (annotations, labels drawn with ax.text).
SMALL_PT = 7.0


@contextlib.contextmanager
def context(grid: bool = True) -> Iterator[None]:
    """Draw (and save) a figure inside this: the shared fonts, and seaborn's white grid style
    (``grid=False`` for heatmaps and diagrams, which have no data axes to grid)."""
    import seaborn as sns

    with sns.axes_style("whitegrid" if grid else "white"), plt.rc_context(RC):
        yield


def wrap(label: str, width: int = 28) -> str:
    """``label`` broken into lines of at most about ``width`` characters after a ``/`` or a
    space, so a long variant name (``replicate-actmix/notemp/relu_bias=1.5``) fits beside a
    narrow panel instead of being printed in a smaller font. Pieces are never split."""
    pieces = re.findall(r"[^/ ]+(?:/| |$)", label) or [label]
    lines = [""]
    for piece in pieces:
        if lines[-1] and len(lines[-1]) + len(piece.rstrip()) > width:
            lines.append("")
        lines[-1] += piece
    return "\n".join(line.rstrip() for line in lines)


def saved_width(fig: plt.Figure) -> float:
    """Width in inches of ``fig`` once saved with a tight bounding box (what the PNG will be)."""
    renderer = fig.canvas.get_renderer()
    return float(fig.get_tightbbox(renderer).width) + 2 * PAD_INCHES


def save_figure(fig: plt.Figure, stem: Path, width: float = PAGE_WIDTH) -> list[Path]:
    """Save ``stem``.png (``DPI``) and ``stem``.pdf without timestamps, close the figure.

    ``width`` is the printed width the figure was drawn for (``COLUMN_WIDTH`` or
    ``PAGE_WIDTH``); a figure that came out wider is logged, because printing it at that width
    would shrink its fonts below ``MIN_FONT_PT``.
    """
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    actual = saved_width(fig)
    if actual > width * WIDTH_SLACK:
        log.warning("%s is %.2f in wide, drawn for %.1f in: its fonts would print below %g pt",
                    stem.name, actual, width, MIN_FONT_PT)
    png, pdf = stem.with_suffix(".png"), stem.with_suffix(".pdf")
    fig.savefig(png, dpi=DPI, metadata=PNG_METADATA, bbox_inches="tight", pad_inches=PAD_INCHES)
    fig.savefig(pdf, metadata=PDF_METADATA, bbox_inches="tight", pad_inches=PAD_INCHES)
    plt.close(fig)
    return [png, pdf]


def legend_below(fig: plt.Figure, handles: list, labels: list[str], title: str | None = None,
                 max_columns: int = 4, handlelength: float = 1.5) -> Legend:
    """One legend under every axes of ``fig`` (a constrained-layout figure), with as many
    columns (at most ``max_columns``) as fit the figure's width: a legend beside the axes
    widens the figure past its printed width, and one inside them covers data. A longer
    ``handlelength`` shows dash patterns."""
    renderer = fig.canvas.get_renderer()
    for columns in range(min(max_columns, len(labels)), 0, -1):
        legend = fig.legend(handles, labels, loc="outside lower center", ncol=columns,
                            title=title, frameon=False, columnspacing=1.0, handlelength=handlelength)
        if columns == 1 or legend.get_window_extent(renderer).width <= fig.bbox.width:
            return legend
        legend.remove()
    raise AssertionError("unreachable: one column always fits")
