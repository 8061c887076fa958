"""The ``uci-actmix`` tables: every test metric per dataset, unit and variant over the folds.

Per cell (dataset, unit, variant, framework, metric): the mean over folds and seeds with its 95 % Student-t interval (``stats.summarise``),
in Markdown, LaTeX (booktabs) and CSV. Leaky rows (variant ``replicate-actmix``) are labelled as
such in every format. The significance tests and the critical-difference diagram of the issue
come with the networks; with the baseline alone there is nothing to compare.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from suites.report import stats, style, tables
from suites.report.palette import framework_label, unit_color

PROTOCOL = "uci-actmix"
#: Metric order and direction per task (spec §3.4 plus ROC-AUC).
METRICS: Mapping[str, tuple[str, ...]] = {"ccpp": ("rmse", "mae", "r2"),
                                          "adult": ("accuracy", "macro_f1", "roc_auc"),
                                          "magic": ("accuracy", "macro_f1", "roc_auc")}


def rows_behind(rows: pd.DataFrame) -> pd.DataFrame:
    """The uci-actmix rows the tables and figures read: test metrics, learned parameters and the
    per-epoch mixture entropy (per-epoch losses and timings stay in the results store)."""
    keep = rows["split"].isin(["test", "learned"]) | (rows["metric"] == "actmix_entropy")
    per_neuron = rows["metric"].astype("string").str.startswith("coefficient/").fillna(False)
    drawn = pd.Series(False, index=rows.index)
    picked = _heatmap_trial(rows[per_neuron & (rows["split"] == "learned")])
    if picked is not None:
        drawn = per_neuron & (rows[["framework", "dataset", "fold", "seed"]] == picked).all(axis=1)
    return rows[keep & (~per_neuron | drawn)]


def _heatmap_trial(per_neuron: pd.DataFrame) -> pd.Series | None:
    """(framework, dataset, fold, seed) of the trial whose per-neuron coefficients are drawn."""
    if per_neuron.empty:
        return None
    return per_neuron.sort_values(["framework", "dataset", "fold", "seed"]).iloc[0][
        ["framework", "dataset", "fold", "seed"]]


def uci_summary(rows: pd.DataFrame) -> pd.DataFrame:
    """One row per (dataset, unit, variant, metric): n, mean, std, 95 % t-interval."""
    test = stats.ok_rows(rows) if "status" in rows.columns else rows
    test = test[(test["protocol"] == PROTOCOL) & (test["split"] == "test")]
    cells = []
    for (dataset, unit, variant, framework, metric), part in test.groupby(
            ["dataset", "unit", "variant", "framework", "metric"], sort=True):
        s = stats.summarise(part["value"])
        cells.append({"dataset": dataset, "unit": unit, "variant": variant, "framework": framework,
                      "metric": metric, "seeds": int(part["seed"].nunique()),
                      "folds": int(part["fold"].nunique()), "n": s.n, "mean": s.mean, "std": s.std,
                      "ci_low": s.ci_low, "ci_high": s.ci_high,
                      "leaky": variant == "replicate-actmix"})
    return pd.DataFrame(cells)


def versus_baseline(rows: pd.DataFrame, baseline: str = "relu") -> pd.DataFrame:
    """Every network cell against ``baseline`` per (dataset, framework, data variant, metric):
    the Wilcoxon signed-rank test on the values paired by (fold, seed), Holm-corrected over the
    cells of that group. The baseline of a leaky cell is the leaky baseline. Columns: dataset,
    unit, variant, framework, metric, pairs, p, p_holm, significant."""
    from scipy import stats as sps

    test = stats.ok_rows(rows) if "status" in rows.columns else rows
    test = test[(test["protocol"] == PROTOCOL) & (test["split"] == "test") & (test["framework"] != "xgboost")]
    test = test.assign(data_variant=test["variant"].str.split("/").str[0])
    out = []
    for (dataset, framework, data_variant, metric), part in test.groupby(
            ["dataset", "framework", "data_variant", "metric"], sort=True):
        wide = part.pivot_table(index=["fold", "seed"], columns=["unit", "variant"], values="value")
        reference = (baseline, data_variant)
        if reference not in wide.columns:
            continue
        cells = [c for c in wide.columns if c != reference]
        pvalues, pairs = [], []
        for cell in cells:
            diff = (wide[cell] - wide[reference]).dropna()
            pairs.append(len(diff))
            pvalues.append(float(sps.wilcoxon(diff).pvalue) if (diff != 0).any() else float("nan"))
        for (unit, variant), n, p, adjusted in zip(cells, pairs, pvalues, stats.holm(pvalues), strict=True):
            out.append({"dataset": dataset, "unit": unit, "variant": variant, "framework": framework,
                        "metric": metric, "pairs": n, "p": p, "p_holm": adjusted,
                        "significant": bool(adjusted == adjusted and adjusted <= stats.ALPHA)})
    return pd.DataFrame(out, columns=["dataset", "unit", "variant", "framework", "metric", "pairs", "p",
                                      "p_holm", "significant"])


def write_uci_tables(rows: pd.DataFrame, out_dir: Path,
                     manifests: Mapping[str, Mapping] | None = None) -> list[Path]:
    """tables/<profile>/uci-actmix.{md,tex,csv}; nothing without uci-actmix rows.

    A mean is bold only where it differs from ReLU's (same dataset, framework, data variant and
    metric) with Holm-adjusted Wilcoxon p <= 0.05 (``versus_baseline``); the p-value is shown."""
    summary = uci_summary(rows)
    if summary.empty:
        return []
    tests = versus_baseline(rows)
    keys = ["dataset", "unit", "variant", "framework", "metric"]
    summary = summary.merge(tests.drop(columns="pairs").rename(
        columns={"p": "p_vs_relu", "p_holm": "p_holm_vs_relu", "significant": "significant_vs_relu"}),
        on=keys, how="left")
    summary["significant_vs_relu"] = summary["significant_vs_relu"].astype("boolean").fillna(False).astype(bool)
    out_dir = Path(out_dir)
    header = ["dataset", "unit", "variant", "framework", "metric", "folds x seeds", "mean ± 95 % CI",
              "p (Holm) vs relu"]
    body = []
    for dataset in [d for d in METRICS if d in set(summary["dataset"])]:
        part = summary[summary["dataset"] == dataset]
        order = {m: i for i, m in enumerate(METRICS[dataset])}
        part = part.sort_values(by=["unit", "variant", "framework", "metric"],
                                key=lambda s: s.map(order) if s.name == "metric" else s)
        for row in part.itertuples():
            half = (row.ci_high - row.ci_low) / 2 if row.n > 1 else float("nan")
            variant = f"{row.variant} (leaky)" if row.leaky else row.variant
            shown = f"{row.mean:.4f} ± {half:.4f}" if half == half else f"{row.mean:.4f}"
            body.append([row.dataset, row.unit, variant, row.framework, row.metric,
                         f"{row.folds} x {row.seeds}", f"**{shown}**" if row.significant_vs_relu else shown,
                         "" if pd.isna(row.p_holm_vs_relu) else f"{row.p_holm_vs_relu:.3g}"])
    caption = ("uci-actmix: test-fold metrics, mean over folds and seeds with the 95 % t-interval; "
               "leak-free: preprocessing and early stopping on the training folds only; bold: "
               "differs from ReLU (same framework and data variant) with Holm-adjusted Wilcoxon "
               "p <= 0.05 over the paired folds and seeds (with fewer than 6 pairs no difference can "
               "reach it); XGBoost is not tested, it stands beside the networks")
    md = "\n".join([f"# {caption}", "", *tables.provenance_lines(rows, manifests), "",
                    tables.markdown_table(header, body)]) + "\n"
    return [tables.write_text(out_dir / "uci-actmix.md", md),
            tables.write_text(out_dir / "uci-actmix.tex", tables.latex_table(header, body, caption) + "\n"),
            tables.write_csv(out_dir / "uci-actmix.csv", summary)]


# ----------------------------------------------------------------------------------------------
# Ranks, Friedman, Wilcoxon-Holm against ReLU, and the critical-difference diagram

#: The metric each dataset ranks units by (spec §3.4: R2 for the power plant, else accuracy).
PRIMARY: Mapping[str, str] = {"ccpp": "r2", "adult": "accuracy", "magic": "accuracy"}


def _blocks(rows: pd.DataFrame, framework: str) -> pd.DataFrame:
    """[block x unit-variant] primary-metric table over (dataset, fold, seed) blocks of the
    networks in ``framework`` (XGBoost is not a unit: it stays beside them in the tables)."""
    test = stats.ok_rows(rows) if "status" in rows.columns else rows
    test = test[(test["protocol"] == PROTOCOL) & (test["split"] == "test")
                & (test["framework"] == framework)]
    test = test[test["metric"] == test["dataset"].map(PRIMARY)]
    label = test["variant"].str.replace(r"^leak-free/?", "", regex=True)
    test = test.assign(cell=test["unit"] + (" " + label).where(label != "", ""))
    wide = test.pivot_table(index=["dataset", "fold", "seed"], columns="cell", values="value")
    return wide.dropna(axis=0, how="any")


def rank_tests(rows: pd.DataFrame, framework: str, baseline: str = "relu") -> dict:
    """Average ranks (1 = best), Friedman over the blocks, and every cell against ``baseline``
    by the Wilcoxon signed-rank test on the paired block values, Holm-corrected."""
    from scipy import stats as sps

    wide = _blocks(rows, framework)
    if wide.shape[0] < 2 or wide.shape[1] < 3:
        return {}
    ranks = wide.rank(axis=1, ascending=False)
    friedman = sps.friedmanchisquare(*[wide[c].to_numpy() for c in wide.columns])
    cells = [c for c in wide.columns if c != baseline]
    pvalues = []
    for cell in cells:
        diff = wide[cell] - wide[baseline] if baseline in wide else None
        pvalues.append(float(sps.wilcoxon(diff).pvalue) if diff is not None and (diff != 0).any()
                       else float("nan"))
    adjusted = stats.holm(pvalues)
    k, n = wide.shape[1], wide.shape[0]
    q = float(sps.studentized_range.ppf(1 - stats.ALPHA, k, np.inf)) / np.sqrt(2.0)
    return {"framework": framework, "blocks": n, "cells": list(wide.columns),
            "mean_rank": ranks.mean().to_dict(), "friedman_stat": float(friedman.statistic),
            "friedman_p": float(friedman.pvalue), "cd": q * np.sqrt(k * (k + 1) / (6.0 * n)),
            "wilcoxon": {c: (p, a) for c, p, a in zip(cells, pvalues, adjusted, strict=True)},
            "baseline": baseline}


def cd_diagram(result: Mapping, stem: Path) -> list[Path]:
    """Average ranks on one axis; cells closer than the Nemenyi critical difference are joined.

    Demsar's layout: the better half of the cells is labelled on the right (rank 1 is there),
    the worse half on the left, each label on its own row and joined to its rank by an elbow,
    so no label crosses another cell's line (labels written at the rank itself did). A dot in
    the unit's colour marks each label; long labels wrap at their slashes.
    """
    import matplotlib.pyplot as plt

    ranks = sorted(result["mean_rank"].items(), key=lambda kv: kv[1])
    k, cd = len(ranks), result["cd"]
    values = [rank for _, rank in ranks]
    # cliques: maximal runs of cells whose rank range is below the CD (drawn under the axis)
    cliques = []
    for start in range(k):
        end = max(j for j in range(start, k) if values[j] - values[start] < cd)
        if end > start and (start == 0 or values[end] - values[start - 1] >= cd):
            cliques.append((start, end))
    labels = [style.wrap(f"{cell} ({rank:.2f})", 28) for cell, rank in ranks]
    lines = max(label.count("\n") + 1 for label in labels)
    step = 0.32 + 0.22 * (lines - 1)                     # axis units per label row
    best = (k + 1) // 2                                  # labelled on the right
    top = -0.35 - 0.22 * len(cliques)                    # first label row, under the clique bars
    rows = max(best, k - best)
    with style.context(grid=False):
        fig, ax = plt.subplots(figsize=(style.PAGE_WIDTH, 1.0 + 0.28 * rows * (1 + 0.6 * (lines - 1))
                                        + 0.1 * len(cliques)))
        span = max(k - 1, 1)
        ax.set_xlim(k + 0.45 * span, 1 - 0.45 * span)   # inverted: rank 1 on the right
        ax.set_ylim(top - step * (rows - 1) - 0.3, 1.25)
        ax.plot([1, k], [0, 0], color="black", lw=1)
        for r in range(1, k + 1):
            ax.plot([r, r], [0, 0.15], color="black", lw=0.8)
            ax.text(r, 0.22, str(r), ha="center", va="bottom", fontsize=style.SMALL_PT)
        for depth, (start, end) in enumerate(cliques):
            ax.plot([values[start] - 0.03, values[end] + 0.03], [-0.2 - 0.22 * depth] * 2,
                    color="black", lw=2.2, solid_capstyle="butt")
        for i, ((cell, rank), label) in enumerate(zip(ranks, labels, strict=True)):
            right = i < best
            row = i if right else k - 1 - i
            y = top - step * row
            edge = 1 - 0.12 * span if right else k + 0.12 * span
            ax.plot([rank, rank, edge], [0, y, y], color="0.45", lw=0.7)
            ax.plot([edge], [y], marker="o", markersize=4, linestyle="none",
                    color=unit_color(cell.split(" ")[0]))
            ax.text(edge - 0.04 * span if right else edge + 0.04 * span, y, label,
                    ha="left" if right else "right", va="center", fontsize=style.SMALL_PT)
        ax.plot([1, 1 + cd], [0.8, 0.8], color="black", lw=2)
        ax.text(1 + cd / 2, 0.88, f"CD = {cd:.2f}", ha="center", va="bottom",
                fontsize=style.SMALL_PT)
        ax.axis("off")
        ax.set_title(f"uci-actmix, {framework_label(result['framework'])}: average rank over "
                     f"{result['blocks']} (dataset, fold, seed) blocks; Friedman p = "
                     f"{result['friedman_p']:.2g}")
        return style.save_figure(fig, stem, style.PAGE_WIDTH)


def write_rank_outputs(rows: pd.DataFrame, table_dir: Path, figure_dir: Path,
                       baseline: str = "relu") -> list[Path]:
    """tables/<profile>/uci-actmix_ranks.md and figures/<profile>/uci-actmix_cd_<framework>.*"""
    test = rows[(rows["protocol"] == PROTOCOL) & (rows["split"] == "test")]
    frameworks = sorted(f for f in test["framework"].dropna().unique() if f != "xgboost")
    paths: list[Path] = []
    lines = ["# uci-actmix: ranks, Friedman and Wilcoxon-Holm against " + baseline, "",
             "Blocks are (dataset, fold, seed) triples, ranked by each dataset's primary metric "
             "(R2 for CCPP, accuracy for Adult and MAGIC; 1 = best). The three datasets alone would "
             "give a Friedman test of three blocks, which has no power; the folds and seeds are the "
             "blocks instead, so the test is about these three datasets, not about tabular data in "
             "general. Bold: Holm-adjusted Wilcoxon p < 0.05 against " + baseline + ".", ""]
    for framework in frameworks:
        result = rank_tests(rows, framework, baseline)
        if not result:
            continue
        lines += [f"## {framework}: {result['blocks']} blocks, {len(result['cells'])} cells, "
                  f"Friedman chi2 = {result['friedman_stat']:.2f}, p = {result['friedman_p']:.3g}, "
                  f"Nemenyi CD = {result['cd']:.2f}", ""]
        body = []
        for cell, rank in sorted(result["mean_rank"].items(), key=lambda kv: kv[1]):
            p, adjusted = result["wilcoxon"].get(cell, (float("nan"), float("nan")))
            significant = adjusted == adjusted and adjusted < stats.ALPHA
            shown = f"**{rank:.2f}**" if significant else f"{rank:.2f}"
            body.append([cell, shown, "" if p != p else f"{p:.3g}",
                         "" if adjusted != adjusted else f"{adjusted:.3g}"])
        lines += [tables.markdown_table(["cell", "mean rank", "Wilcoxon p", "Holm p"], body), ""]
        paths += cd_diagram(result, figure_dir / f"uci-actmix_cd_{framework}")
    if paths:
        paths.append(tables.write_text(table_dir / "uci-actmix_ranks.md", "\n".join(lines)))
    paths += coefficient_heatmap(rows, figure_dir / "uci-actmix_coefficients")
    paths += entropy_curves(rows, figure_dir / "uci-actmix_entropy")
    paths += learned_shapes(rows, figure_dir / "uci-actmix_learned_shapes")
    return paths


# ----------------------------------------------------------------------------------------------
# What the neurons learned: ActMix mixing coefficients and the learned activation shapes

_BASES = {"sin": np.sin, "tanh": np.tanh, "relu": lambda x: np.maximum(x, 0.0),
          "identity": lambda x: x, "sigmoid": lambda x: 0.5 * (1.0 + np.tanh(x / 2.0)),
          "silu": lambda x: x * 0.5 * (1.0 + np.tanh(x / 2.0))}


def _detail_field(detail: pd.Series, key: str) -> pd.Series:
    return detail.str.extract(rf"{key}=(\d+)")[0].astype(int)


def _learned(rows: pd.DataFrame, unit: str) -> pd.DataFrame:
    part = rows[(rows["protocol"] == PROTOCOL) & (rows["split"] == "learned") & (rows["unit"] == unit)]
    if part.empty:
        return part
    return part.assign(layer=_detail_field(part["detail"], "layer"),
                       name=part["metric"].str.split("/").str[1])


def _basis_order(names: list[str]) -> list[str]:
    """Bases in ActMix's own order (sin, tanh, relu, identity), others after by name."""
    known = ("sin", "tanh", "relu", "identity", "sigmoid", "silu")
    return [b for b in known if b in names] + sorted(set(names) - set(known))


def coefficient_heatmap(rows: pd.DataFrame, stem: Path) -> list[Path]:
    """Mixing coefficients of every neuron of both hidden layers, one trial per ActMix variant
    (the first framework, fold and seed), neurons ordered by their dominant basis.

    Page-wide, one shared colour bar, basis names written horizontally (vertical ones ran into
    each other) and the neuron axis labelled once, under the last row.
    """
    import matplotlib.pyplot as plt
    import seaborn as sns

    learned = _learned(rows, "actmix")
    learned = learned[learned["metric"].str.startswith("coefficient/")] if not learned.empty else learned
    if learned.empty:
        return []
    learned = learned.assign(neuron=_detail_field(learned["detail"], "neuron"))
    first = _heatmap_trial(learned)
    pick = learned[(learned[["framework", "dataset", "fold", "seed"]] == first).all(axis=1)]
    variants = sorted(pick["variant"].unique())
    layers = sorted(pick["layer"].unique())
    with style.context(grid=False):
        fig, axes = plt.subplots(len(variants), len(layers), squeeze=False, layout="constrained",
                                 figsize=(style.PAGE_WIDTH, 0.5 + 1.05 * len(variants)))
        for i, variant in enumerate(variants):
            for j, layer in enumerate(layers):
                ax = axes[i, j]
                cell = pick[(pick["variant"] == variant) & (pick["layer"] == layer)]
                wide = cell.pivot_table(index="neuron", columns="name", values="value")
                wide = wide[_basis_order(list(wide.columns))]
                wide = wide.loc[wide.idxmax(axis=1).map(list(wide.columns).index)
                                .sort_values(kind="mergesort").index]
                sns.heatmap(wide.T, ax=ax, vmin=0, vmax=1, cmap="viridis", xticklabels=False,
                            cbar=False)
                ax.set_title(f"{variant.removeprefix('leak-free/')}, hidden layer {layer + 1}")
                ax.set_xlabel("neuron (ordered by dominant basis)" if i == len(variants) - 1 else "")
                ax.set_ylabel("")
                ax.tick_params(axis="y", rotation=0, length=0)
        fig.colorbar(axes[0, 0].collections[0], ax=axes, shrink=0.6, label="mixing coefficient")
        fig.suptitle(f"uci-actmix: ActMix mixing coefficients after training ({first['dataset']}, "
                     f"fold {first['fold']}, seed {first['seed']}, "
                     f"{framework_label(first['framework'])})")
        return style.save_figure(fig, stem, style.PAGE_WIDTH)


def learned_shapes(rows: pd.DataFrame, stem: Path) -> list[Path]:
    """f(x) on [-4, 4] after training: APTx activation and LearnableSELU from their learned
    scalars (the float64 oracle evaluates them), ActMix as the neuron-averaged mixture; one thin
    line per trial in the unit's colour, one row per hidden layer, the initial shape dashed.

    (Layers were told apart by matplotlib's default blue and orange, which are other units'
    colours in every other figure.)
    """
    import matplotlib.pyplot as plt

    from impls import spec

    x = np.linspace(-4.0, 4.0, 401)[None, :]
    panels = [u for u in ("aptx_activation", "lselu", "actmix") if not _learned(rows, u).empty]
    if not panels:
        return []
    layers = sorted({int(v) for u in panels for v in _learned(rows, u)["layer"].unique()})
    with style.context():
        fig, axes = plt.subplots(len(layers), len(panels), squeeze=False, sharex=True,
                                 layout="constrained",
                                 figsize=(min(style.PAGE_WIDTH, 2.35 * len(panels)),
                                          0.6 + 1.7 * len(layers)))
        for col, unit in enumerate(panels):
            learned = _learned(rows, unit)
            if unit == "actmix":     # the mixture of the neuron-averaged coefficients
                learned = learned[learned["metric"].str.startswith("coefficient_mean/")]
            y0 = _initial_shape(unit, x)
            keys = ["framework", "dataset", "fold", "seed", "variant", "layer"]
            for row, layer in enumerate(layers):
                ax = axes[row, col]
                for _, part in learned[learned["layer"] == layer].groupby(keys):
                    values = part.groupby("name")["value"].mean()
                    if unit == "actmix":
                        y = sum(values[b] * _BASES[b](x[0]) for b in values.index)
                    else:
                        config = {"trainable": True} if unit == "aptx_activation" else {}
                        y = spec.reference(unit, {k: np.array(v) for k, v in values.items()}, x,
                                           **config)[0]
                    ax.plot(x[0], y, lw=0.6, alpha=0.45, color=unit_color(unit))
                ax.plot(x[0], y0, color="black", ls="--", lw=1.0, label="initial")
                if row == 0:
                    ax.set_title(unit)
                if col == 0:
                    ax.set_ylabel(f"f(x), hidden layer {layer + 1}")
                if row == len(layers) - 1:
                    ax.set_xlabel("x")
        fig.suptitle("uci-actmix: learned shapes (one line per trial; dashed: initial shape)")
        return style.save_figure(fig, stem, style.PAGE_WIDTH)


def _initial_shape(unit: str, x: np.ndarray) -> np.ndarray:
    """f(x) of ``unit`` at its initial parameters (ActMix: the mixture of its initial logits)."""
    from impls import spec

    if unit == "actmix":
        init = spec.init_params("actmix", {"features": 1})
        c = spec.actmix_coefficients(init["logits"], 1.0)[0]
        basis = spec.resolve_config("actmix", {"features": 1})["basis"]
        return sum(ck * _BASES[b](x[0]) for ck, b in zip(c, basis, strict=True))
    config = {"trainable": True} if unit == "aptx_activation" else {}
    return spec.reference(unit, spec.init_params(unit, config), x, **config)[0]


def entropy_curves(rows: pd.DataFrame, stem: Path) -> list[Path]:
    """Mean entropy of the ActMix mixtures per epoch (ln 4 = uniform over four bases), one panel
    per variant, hidden layers solid and dashed, mean and 95 % t-interval over datasets, folds
    and seeds.

    Every line is ActMix, so every line has ActMix's colour; the variants get panels rather than
    colours of their own (matplotlib's defaults made them look like other units). The interval is
    the tables' t-interval: order-independent, so the figure rebuilds byte for byte from the
    committed rows, which the seeded bootstrap did not (it depends on the row order).
    """
    import matplotlib.pyplot as plt
    import seaborn as sns

    from suites.report.figures import drawn_interval

    part = rows[(rows["protocol"] == PROTOCOL) & (rows["metric"] == "actmix_entropy")]
    if part.empty:
        return []
    part = part.assign(layer="hidden layer " + (_detail_field(part["detail"], "layer") + 1).astype(str),
                       variant=part["variant"].str.replace(r"^leak-free/?", "", regex=True))
    variants = sorted(part["variant"].unique())
    columns = min(len(variants), 4)
    grid_rows = -(-len(variants) // columns)
    with style.context():
        fig, axes = plt.subplots(grid_rows, columns, squeeze=False, sharex=True, sharey=True,
                                 layout="constrained",
                                 figsize=(min(style.PAGE_WIDTH, 1.75 * columns + 0.4),
                                          0.9 + 1.55 * grid_rows))
        for ax, variant in zip(axes.flat, variants, strict=False):
            sns.lineplot(data=part[part["variant"] == variant], x="epoch", y="value",
                         style="layer", style_order=sorted(part["layer"].unique()), ax=ax,
                         color=unit_color("actmix"), errorbar=drawn_interval,
                         legend=ax is axes.flat[0])
            ax.axhline(np.log(4.0), color="0.5", lw=0.8, ls=":")
            ax.set_title(style.wrap(variant or "default", 24))
            ax.set_ylabel("mixture entropy (nats)")
        for ax in axes.flat[len(variants):]:
            ax.set_visible(False)
        handles, labels = axes.flat[0].get_legend_handles_labels()
        axes.flat[0].get_legend().remove()
        style.legend_below(fig, handles, labels)
        fig.suptitle("uci-actmix: ActMix mixture entropy during training (dotted: ln 4, uniform)")
        return style.save_figure(fig, stem, style.PAGE_WIDTH)
