"""Every figure of the report, drawn from synthetic rows: one colour per unit (the palette's), one
label per framework, fonts of at least 7 pt at the width each figure declares, and the parity
heatmap's failing and missing cases told apart, byte-identical on a rebuild.

Figures are caught on their way to ``style.save_figure`` (every writer saves through it), so
the tests read the artists matplotlib drew rather than pixels.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_hex, to_rgba
from matplotlib.lines import Line2D
from matplotlib.text import Text

from suites.equivalence import heatmap
from suites.performance.figures import CASE_UNIT, scaling_figures
from suites.report import figures, style, tabular
from suites.report.palette import framework_label, unit_color
from tests.report.synthetic import (
    UCI_CELLS,
    make_parity_rows,
    make_results,
    make_scaling,
    make_uci_rows,
)


@pytest.fixture
def drawn(monkeypatch) -> list[tuple[object, float, list[Path]]]:
    """(figure, declared width, files) of every figure saved while the test runs."""
    caught: list[tuple[object, float, list[Path]]] = []
    real = style.save_figure

    def record(fig, stem, width=style.PAGE_WIDTH):
        paths = real(fig, stem, width)
        caught.append((fig, width, paths))
        return paths

    monkeypatch.setattr(style, "save_figure", record)
    return caught


def _hex(color) -> str:
    return to_hex(color, keep_alpha=False).lower()


def _handle_color(handle) -> str:
    if isinstance(handle, Line2D):
        return _hex(handle.get_color())
    return _hex(handle.get_facecolor()[0] if np.ndim(handle.get_facecolor()) > 1
                else handle.get_facecolor())


def _legend_colors(fig) -> dict[str, str]:
    legend = fig.legends[0]
    return {text.get_text(): _handle_color(handle)
            for text, handle in zip(legend.get_texts(), legend.legend_handles, strict=True)}


def _png_width_in(path: Path) -> float:
    width, _ = struct.unpack(">II", path.read_bytes()[16:24])   # the IHDR chunk
    return width / style.DPI


def _every_figure(tmp_path: Path) -> None:
    """Run every figure writer of the report on synthetic rows."""
    accuracy = make_results(seeds=3, epochs=3, diverged=None, frameworks=("numpy", "torch"))
    figures.write_figures(accuracy, tmp_path / "accuracy")
    uci = make_uci_rows()
    tabular.write_rank_outputs(uci, tmp_path / "tables", tmp_path / "uci")
    scaling_figures(make_scaling(), tmp_path / "performance")
    heatmap.parity_heatmap(make_parity_rows(), tmp_path / "equivalence" / heatmap.STEM)


# -- (1) the heatmap tells failing and missing cases apart ------------------------------------

def test_heatmap_grid_knows_failing_and_missing_cases() -> None:
    units, columns, ratio, failed = heatmap.heatmap_grid(make_parity_rows())
    assert units == ["relu", "gelu", "softmax"]                       # palette order
    assert columns == [("numpy", "float32", "eager"), ("torch", "float32", "eager"),
                       ("torch", "float32", "compiled")]
    compiled = columns.index(("torch", "float32", "compiled"))
    relu, gelu, softmax = range(3)
    assert np.isnan(ratio[relu, compiled]) and not failed[relu, compiled]       # missing
    assert failed[gelu, compiled] and ratio[gelu, compiled] == pytest.approx(30.0)
    assert failed[softmax, compiled] and ratio[softmax, compiled] == np.inf    # crashed
    assert failed.sum() == 2 and np.isnan(ratio).sum() == 1
    passing = ~failed & ~np.isnan(ratio)
    assert (ratio[passing] <= 1.0).all()
    # the worst check's ratio: forward's 2e-7 / 1e-5 over the gradient's 1e-6 / 1e-4 and the
    # exact parameter check's 0 / 0 (which counts as 0, not as a failure)
    assert ratio[relu, 0] == pytest.approx(2e-7 / 1e-5)


def test_heatmap_draws_failing_cells_hatched_and_missing_cells_grey(drawn, tmp_path) -> None:
    rows = make_parity_rows()
    _, _, ratio, failed = heatmap.heatmap_grid(rows)
    heatmap.parity_heatmap(rows, tmp_path / "heat")
    (fig, width, paths), = drawn
    ax = fig.axes[0]
    cells = {(round(t.get_position()[1]), round(t.get_position()[0])): t.get_text()
             for t in ax.texts if t.get_transform() == ax.transData}
    for (i, j), text in cells.items():
        if np.isnan(ratio[i, j]):
            assert text == "n/a"
        elif failed[i, j]:
            assert text == "FAIL"
        else:
            assert text not in ("n/a", "FAIL") and float(text) <= 1.0
    assert len(cells) == ratio.size
    hatched = {(round(p.get_y() + 0.5), round(p.get_x() + 0.5)) for p in ax.patches if p.get_hatch()}
    assert hatched == set(zip(*np.nonzero(failed), strict=True))
    image = ax.images[0]
    colors = image.to_rgba(image.get_array())
    missing = to_rgba(heatmap.MISSING_COLOR)
    for i, j in np.ndindex(ratio.shape):
        if np.isnan(ratio[i, j]):
            assert tuple(colors[i, j]) == pytest.approx(missing)
        else:
            # never the missing grey; the pass/fail boundary (1, log 0) is the map's centre
            assert np.abs(colors[i, j, :3] - missing[:3]).max() > 0.1
            side = image.norm(np.log10(max(ratio[i, j], 1e-300)))
            assert (side > 0.5) if failed[i, j] else (side < 0.5)
    bar = fig.axes[1]
    assert "1 = tolerance" in [t.get_text() for t in bar.get_yticklabels()]
    png = next(p for p in paths if p.suffix == ".png")
    assert _png_width_in(png) <= width * style.WIDTH_SLACK


def test_missing_cases_are_never_drawn_as_passing() -> None:
    """A case without rows is NaN, not a ratio of 0 (which would read as a perfect pass)."""
    rows = make_parity_rows()
    rows = rows[~((rows["unit"] == "gelu") & (rows["framework"] == "numpy"))]
    units, _, ratio, failed = heatmap.heatmap_grid(rows)
    assert np.isnan(ratio[units.index("gelu"), 0]) and not failed[units.index("gelu"), 0]


# -- (3) deterministic files ---------------------------------------------------------------

def test_heatmap_is_byte_identical_across_builds_and_from_csv(tmp_path) -> None:
    rows = make_parity_rows()
    first = heatmap.parity_heatmap(rows, tmp_path / "a" / heatmap.STEM)
    second = heatmap.parity_heatmap(rows, tmp_path / "b" / heatmap.STEM)
    csv = tmp_path / "c" / "rows.csv"
    csv.parent.mkdir()
    rows.to_csv(csv, index=False)
    third = heatmap.heatmap_from_csv(csv)
    assert [p.name for p in third] == ["parity_heatmap.png", "parity_heatmap.pdf"]
    for a, b, c in zip(first, second, third, strict=True):
        assert a.read_bytes() == b.read_bytes() == c.read_bytes()
    assert b"Software" not in first[0].read_bytes()
    assert b"CreationDate" not in first[1].read_bytes()


def test_write_files_draws_the_heatmap_and_links_it(tmp_path) -> None:
    from suites.equivalence import report
    from suites.equivalence.harness import row_from_dict

    rows = [row_from_dict(r) for r in make_parity_rows().to_dict("records")]
    paths = report.write_files(rows, tmp_path, {"git sha": "x"})
    assert [p.name for p in paths] == ["rows.csv", "parity.md", "parity_heatmap.png",
                                       "parity_heatmap.pdf"]
    text = (tmp_path / "parity.md").read_text()
    assert f"]({heatmap.STEM}.png)" in text and f"]({heatmap.STEM}.pdf)" in text
    again = heatmap.heatmap_from_csv(tmp_path / "rows.csv", tmp_path / "again")
    assert again[0].read_bytes() == paths[2].read_bytes()


# -- (2) one colour per unit, one label per framework, everywhere --------------------------

def test_accuracy_figures_colour_units_from_the_palette(drawn, tmp_path) -> None:
    df = make_results(seeds=3, epochs=3, diverged=None, frameworks=("numpy", "torch"))
    figures.learning_curves(df, tmp_path)
    figures.accuracy_dotplot(df, tmp_path)
    assert len(drawn) == 4                     # curves and dot plot of two protocols
    units = set(df["unit"])
    palette = {unit_color(u).lower() for u in units}
    for fig, _, _ in drawn:
        legend = _legend_colors(fig)
        assert legend and set(legend) <= units
        assert all(color == unit_color(unit).lower() for unit, color in legend.items())
        for ax in fig.axes:
            for line in ax.get_lines():
                if len(line.get_xdata()):
                    assert _hex(line.get_color()) in palette
            for collection in ax.collections:
                for face in collection.get_facecolors():
                    assert _hex(face) in palette
    curves = drawn[0][0]
    assert [ax.get_title() for ax in curves.axes] == [framework_label("numpy"),
                                                      framework_label("torch")]


def test_uci_figures_colour_units_from_the_palette(drawn, tmp_path) -> None:
    tabular.write_rank_outputs(make_uci_rows(), tmp_path / "tables", tmp_path / "figures")
    by_name = {paths[0].stem: fig for fig, _, paths in drawn}
    assert set(by_name) == {"uci-actmix_cd_numpy", "uci-actmix_coefficients",
                            "uci-actmix_entropy", "uci-actmix_learned_shapes"}
    # CD diagram: the dot beside each label has the colour of the label's unit
    ax = by_name["uci-actmix_cd_numpy"].axes[0]
    dots = [(line.get_xdata()[0], line.get_ydata()[0], _hex(line.get_color()))
            for line in ax.get_lines() if line.get_marker() == "o"]
    labels = [(*t.get_position(), t.get_text().split(" ")[0]) for t in ax.texts
              if "(" in t.get_text()]
    assert sorted(unit for *_, unit in labels) == sorted(unit for unit, _ in UCI_CELLS)
    assert len(dots) == len(labels)
    for x, y, unit in labels:      # the dot on the label's row, nearest to it
        _, _, color = min((d for d in dots if d[1] == y), key=lambda d: abs(d[0] - x))
        assert color == unit_color(unit).lower()
    assert framework_label("numpy") in ax.get_title()
    # learned shapes: each panel in its unit's colour (black dashes: the initial shape)
    shapes = by_name["uci-actmix_learned_shapes"]
    columns = [ax.get_title() for ax in shapes.axes if ax.get_title()]
    assert columns == ["aptx_activation", "lselu", "actmix"]
    for k, ax in enumerate(shapes.axes):
        unit = columns[k % len(columns)]
        colors = {_hex(line.get_color()) for line in ax.get_lines()} - {"#000000"}
        assert colors == {unit_color(unit).lower()}
    # entropy: every curve is ActMix's
    for ax in by_name["uci-actmix_entropy"].axes:
        colors = {_hex(line.get_color()) for line in ax.get_lines()
                  if len(line.get_xdata()) > 2} - {_hex("0.5")}
        assert colors <= {unit_color("actmix").lower()}


def test_scaling_figures_colour_cases_by_their_unit(drawn, tmp_path) -> None:
    scaling_figures(make_scaling(), tmp_path)
    assert len(drawn) == 2
    for fig, _, _ in drawn:
        seen = set()
        for ax in fig.axes:
            for line in ax.get_lines():
                case = line.get_label().split(" (")[0]
                assert _hex(line.get_color()) == unit_color(CASE_UNIT.get(case, case)).lower()
                seen.add(case)
        assert seen == {"linear_relu", "aptx_layer", "linear_actmix"}
        legend = list(_legend_colors(fig))
        assert legend[:3] == ["linear_relu", "linear_actmix", "aptx_layer"]   # unit order
        assert legend[-1].startswith("aptx_layer (")                          # originals last
        titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
        assert titles == ["NumPy (cpu)", "PyTorch (cpu)"]


# -- legibility: width and fonts --------------------------------------------------------------

def test_every_figure_fits_its_width_with_fonts_of_at_least_7_pt(drawn, tmp_path, caplog) -> None:
    with caplog.at_level("WARNING", logger="neuronbench.report"):
        _every_figure(tmp_path)
    assert "fonts would print below" not in caplog.text
    assert len(drawn) >= 10
    for fig, width, paths in drawn:
        name = paths[0].stem
        assert width in (style.COLUMN_WIDTH, style.PAGE_WIDTH), name
        png = next(p for p in paths if p.suffix == ".png")
        assert _png_width_in(png) <= width * style.WIDTH_SLACK, name
        small = [(t.get_text(), t.get_fontsize()) for t in fig.findobj(Text)
                 if t.get_visible() and t.get_text().strip()
                 and t.get_fontsize() < style.MIN_FONT_PT]
        assert not small, f"{name}: {small}"


def test_every_unit_has_a_colour_of_its_own() -> None:
    import impls
    from suites.report.palette import _FALLBACK_COLORS, UNIT_COLORS

    colors = [unit_color(unit) for unit in impls.UNITS]
    assert len(set(colors)) == len(colors)
    # A unit without a listed colour (a new built-in, a plug-in) never takes a listed one.
    assert not set(_FALLBACK_COLORS) & set(UNIT_COLORS.values())
    assert unit_color("mish_beta") in _FALLBACK_COLORS


def test_wrap_breaks_long_labels_after_slashes_only() -> None:
    assert style.wrap("actmix replicate-actmix/notemp/relu_bias=1.5 (2.20)", 26) == (
        "actmix replicate-actmix/\nnotemp/relu_bias=1.5\n(2.20)")
    assert style.wrap("relu (3.75)") == "relu (3.75)"


def test_intervals_need_three_seeds() -> None:
    assert np.isnan(figures.drawn_interval([0.9, 0.95])).all()
    low, high = figures.drawn_interval([0.90, 0.91, 0.92])
    assert low < 0.91 < high
    assert "no interval" in figures.interval_note(pd.Series([2, 2]))
    assert figures.interval_note(pd.Series([5, 5])) == "mean over 5 seeds, 95 % t-interval"
    assert figures.interval_note(pd.Series([1])).startswith("mean over 1 seed (")
