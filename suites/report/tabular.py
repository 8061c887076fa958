"""The ``uci-actmix`` tables: every test metric per dataset, unit and variant over the folds.

Per cell (dataset, unit, variant, framework, metric): the mean over folds and seeds with its 95 % Student-t interval (``stats.summarise``),
in Markdown, LaTeX (booktabs) and CSV. Leaky rows (variant ``replicate-actmix``) are labelled as
such in every format. The significance tests and the critical-difference diagram of the issue
come with the networks; with the baseline alone there is nothing to compare.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from suites.report import stats, tables

PROTOCOL = "uci-actmix"
#: Metric order and direction per task (spec §3.4 plus ROC-AUC).
METRICS: Mapping[str, tuple[str, ...]] = {"ccpp": ("rmse", "mae", "r2"),
                                          "adult": ("accuracy", "macro_f1", "roc_auc"),
                                          "magic": ("accuracy", "macro_f1", "roc_auc")}


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


def write_uci_tables(rows: pd.DataFrame, out_dir: Path,
                     manifests: Mapping[str, Mapping] | None = None) -> list[Path]:
    """tables/<profile>/uci-actmix.{md,tex,csv}; nothing without uci-actmix rows."""
    summary = uci_summary(rows)
    if summary.empty:
        return []
    out_dir = Path(out_dir)
    header = ["dataset", "unit", "variant", "framework", "metric", "folds x seeds", "mean ± 95 % CI"]
    body = []
    for dataset in [d for d in METRICS if d in set(summary["dataset"])]:
        part = summary[summary["dataset"] == dataset]
        order = {m: i for i, m in enumerate(METRICS[dataset])}
        part = part.sort_values(by=["unit", "variant", "framework", "metric"],
                                key=lambda s: s.map(order) if s.name == "metric" else s)
        for row in part.itertuples():
            half = (row.ci_high - row.ci_low) / 2 if row.n > 1 else float("nan")
            variant = f"{row.variant} (leaky)" if row.leaky else row.variant
            body.append([row.dataset, row.unit, variant, row.framework, row.metric,
                         f"{row.folds} x {row.seeds}",
                         f"{row.mean:.4f} ± {half:.4f}" if half == half else f"{row.mean:.4f}"])
    caption = ("uci-actmix: test-fold metrics, mean over folds and seeds with the 95 % t-interval; "
               "leak-free: preprocessing and early stopping on the training folds only")
    md = "\n".join([f"# {caption}", "", *tables.provenance_lines(rows, manifests), "",
                    tables.markdown_table(header, body)]) + "\n"
    return [tables.write_text(out_dir / "uci-actmix.md", md),
            tables.write_text(out_dir / "uci-actmix.tex", tables.latex_table(header, body, caption) + "\n"),
            tables.write_csv(out_dir / "uci-actmix.csv", summary)]
