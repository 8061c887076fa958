"""Accuracy tables (Markdown, CSV, LaTeX booktabs) and the statistics tables, from tidy rows only.

Every table is a pure function of the rows (and the run manifests, for provenance): no clock, no
environment, no random state other than the fixed bootstrap seed. Regenerating from unchanged
results therefore gives byte-identical files, so a diff of ``reports/`` shows only real changes.

Accuracy cells are the mean over finished trials with the half-width of the 95 % Student-t
interval; trials that diverged are never averaged in and are counted beside the cell instead
("diverged 1/5"), because a diverged run says something about the unit that a mean would hide.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from suites.report import stats
from suites.report.palette import FRAMEWORK_LABELS, order_frameworks, order_units

#: What each summary selection means; printed in every table that uses it.
SELECTION_TITLES: dict[str, str] = {
    "best_val": "epoch selected on the validation split (the honest estimate)",
    "best_test": "epoch selected on the test set, as the paper does (optimistic: the test set "
                 "chose the epoch)",
    "final": "last epoch",
    "epoch_11": "epoch 11, as the APTx paper reports",
}

#: Selections given their own accuracy table, in this order.
TABLE_SELECTIONS: tuple[str, ...] = ("best_val", "best_test", "final")

#: Published figures the report prints beside ours: (protocol, unit, selection) -> accuracy.
#: APTx Neuron paper: 96.69 % MNIST test accuracy after 11 epochs (the published checkpoint
#: classifies 9669/10000 test images, see suites/equivalence/checkpoint.py).
PAPER_FIGURES: dict[tuple[str, str, str], float] = {
    ("mnist-aptx", "aptx_layer", "epoch_11"): 0.9669,
}

DASH = "—"


# ----------------------------------------------------------------------------------------------
# Writing helpers


def write_text(path: Path, text: str) -> Path:
    """Write text atomically with "\\n" line endings (a reader never sees a half-written table)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8", newline="\n") as fh:
        fh.write(text)
    os.replace(tmp, path)
    return path


def write_csv(path: Path, frame: pd.DataFrame) -> Path:
    """CSV with a fixed float format, so the bytes do not depend on pandas' repr choices."""
    return write_text(path, frame.to_csv(index=False, float_format="%.10g", lineterminator="\n"))


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """A GitHub-flavoured Markdown table (pipes in cells escaped)."""
    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"

    out = [line(header), "|" + "|".join("---" for _ in header) + "|"]
    out += [line(r) for r in rows]
    return "\n".join(out)


_LATEX_ESCAPES = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#",
                  "_": r"\_", "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}",
                  "^": r"\textasciicircum{}"}


def latex_escape(text: str) -> str:
    """Escape LaTeX special characters in plain text."""
    return "".join(_LATEX_ESCAPES.get(ch, ch) for ch in str(text))


def latex_table(header: Sequence[str], rows: Iterable[Sequence[str]], caption: str) -> str:
    """A booktabs tabular (first column left, the rest centred) preceded by its caption as a comment.

    Cells are escaped here; "±" and "—" become math/text commands so the file compiles with
    plain pdflatex, and a cell wrapped in Markdown bold (``**...**``) becomes ``\\textbf``.
    """
    def cell(text: str) -> str:
        if len(text) > 4 and text.startswith("**") and text.endswith("**"):    # Markdown bold
            return r"\textbf{" + cell(text[2:-2]) + "}"
        return (latex_escape(text).replace("±", r"$\pm$").replace(DASH, "---")
                .replace("−", "-"))

    rows = list(rows)
    spec = "l" + "c" * (len(header) - 1)
    lines = [f"% {caption}", f"\\begin{{tabular}}{{{spec}}}", r"\toprule",
             " & ".join(cell(h) for h in header) + r" \\", r"\midrule"]
    lines += [" & ".join(cell(c) for c in r) + r" \\" for r in rows]
    lines += [r"\bottomrule", r"\end{tabular}"]
    return "\n".join(lines)


def pct(value: float, digits: int = 2) -> str:
    """A fraction as a percentage string; NaN as a dash."""
    return DASH if value is None or pd.isna(value) else f"{100 * value:.{digits}f}"


def _num(value: float, fmt: str) -> str:
    return DASH if value is None or pd.isna(value) else format(value, fmt)


# ----------------------------------------------------------------------------------------------
# Provenance


def manifest_git_sha(manifest: Mapping) -> str | None:
    """The git sha a run manifest records, with " (dirty)" when the tree had local changes.

    suites/run.py writes ``{"provenance": {"git_sha": ..., "git_dirty": ...}}``; a flat "git sha"
    or "git_sha" key (older or hand-written manifests) is accepted too.
    """
    info = manifest.get("provenance")
    for source in (info if isinstance(info, Mapping) else {}, manifest):
        for key in ("git_sha", "git sha"):
            if source.get(key):
                dirty = source.get("git_dirty") or source.get("dirty")
                return str(source[key]) + (" (dirty)" if dirty else "")
    return None


def provenance_lines(df: pd.DataFrame, manifests: Mapping[str, Mapping] | None = None) -> list[str]:
    """Bullet lines naming the runs and code behind a table, taken from the data, never from now.

    The git sha comes from the run manifests (see ``manifest_git_sha``); the run ids and profile
    from the rows.
    """
    run_ids = sorted({str(r) for r in df["run_id"].dropna().unique()}) if "run_id" in df else []
    lines = [f"- runs: {len(run_ids)} ({', '.join(run_ids) if len(run_ids) <= 8 else ', '.join(run_ids[:8]) + ', ...'})"]
    shas: set[str] = set()
    for run_id in run_ids:
        sha = manifest_git_sha((manifests or {}).get(run_id) or {})
        if sha:
            shas.add(sha)
    lines.append(f"- git sha: {', '.join(sorted(shas)) if shas else 'not recorded'}")
    if "profile" in df.columns:
        profiles = sorted({str(p) for p in df["profile"].dropna().unique() if str(p)})
        if profiles:
            lines.append(f"- profile: {', '.join(profiles)}")
    return lines


# ----------------------------------------------------------------------------------------------
# Accuracy summaries


def trial_ids(df: pd.DataFrame) -> pd.Series:
    """One id per trial: ``trial_key`` where present, else run id + seed + fold."""
    fallback = (df["run_id"].astype(str) + "/" + df["seed"].astype(str) + "/"
                + df["fold"].astype(str))
    if "trial_key" not in df.columns:
        return fallback
    key = df["trial_key"].astype("string").fillna("")
    return key.where(key != "", fallback).astype(str)


def _status(df: pd.DataFrame) -> pd.Series:
    if "status" not in df.columns:
        return pd.Series("ok", index=df.index)
    return df["status"].fillna("ok").replace("", "ok").astype(str)


def _with_variant(df: pd.DataFrame) -> pd.DataFrame:
    df = df.copy()
    df["variant"] = df["variant"].fillna("").astype(str) if "variant" in df.columns else ""
    return df


def accuracy_summary(df: pd.DataFrame, selection: str, metric: str = "accuracy") -> pd.DataFrame:
    """One row per (dataset, protocol, variant, unit, framework) for a summary selection.

    ``n`` counts the finished trials averaged; ``n_trials`` every trial that has rows in the cell;
    ``n_diverged`` those with status "diverged" (never averaged). ``seconds_per_epoch`` is the mean
    of the finished trials' per-epoch training wall time.
    """
    df = _with_variant(df)
    df["_trial"] = trial_ids(df)
    df["_status"] = _status(df)
    keys = ["dataset", "protocol", "variant", "unit", "framework"]
    selected = stats.selected_rows(df, selection, metric)
    columns = [*keys, "selection", "n", "n_trials", "n_diverged", "mean", "std", "ci_low",
               "ci_high", "boot_low", "boot_high", "n_params", "seconds_per_epoch", "paper"]
    if selected.empty:
        return pd.DataFrame(columns=columns)
    epoch_seconds = df[(df["metric"] == "epoch_seconds") & (df["_status"] == "ok")]
    seconds = epoch_seconds.groupby(keys)["value"].mean()
    trials_all = df.groupby(keys)["_trial"].nunique()
    diverged = df[df["_status"] == "diverged"].groupby(keys)["_trial"].nunique()
    records = []
    for key, cell in selected.groupby(keys, sort=True):
        ok = cell[cell["_status"] == "ok"]
        # One value per trial, even if a trial wrote its summary row twice.
        values = ok.groupby("_trial")["value"].mean()
        summary = stats.summarise(values.to_numpy())
        params = cell["n_params"].dropna()
        records.append({
            **dict(zip(keys, key, strict=True)), "selection": selection, "n": summary.n,
            "n_trials": int(trials_all.get(key, 0)), "n_diverged": int(diverged.get(key, 0)),
            "mean": summary.mean, "std": summary.std, "ci_low": summary.ci_low,
            "ci_high": summary.ci_high, "boot_low": summary.boot_low,
            "boot_high": summary.boot_high,
            "n_params": int(params.mode().min()) if not params.empty else np.nan,
            "seconds_per_epoch": float(seconds.get(key, np.nan)),
            "paper": PAPER_FIGURES.get((key[1], key[3], selection), np.nan),
        })
    out = pd.DataFrame.from_records(records, columns=columns)
    return sort_cells(out)


def sort_cells(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows in the report's fixed order: dataset, protocol, variant, unit order, framework order."""
    if frame.empty:
        return frame.reset_index(drop=True)
    unit_rank = {u: i for i, u in enumerate(order_units(frame["unit"].unique()))}
    fw_rank = {f: i for i, f in enumerate(order_frameworks(frame["framework"].unique()))}
    sort_keys = [c for c in ("dataset", "protocol", "variant") if c in frame.columns]
    return (frame.assign(_u=frame["unit"].map(unit_rank), _f=frame["framework"].map(fw_rank))
            .sort_values([*sort_keys, "_u", "_f"], kind="stable")
            .drop(columns=["_u", "_f"]).reset_index(drop=True))


def accuracy_cell(row: Mapping) -> str:
    """"97.12 ± 0.15 (n=5)"; "diverged 1/5" appended when trials diverged; n=1 has no interval."""
    if row["n"] == 0:
        text = DASH
    elif pd.isna(row["ci_high"]):
        text = f"{pct(row['mean'])} (n={row['n']})"
    else:
        text = f"{pct(row['mean'])} ± {pct(row['ci_high'] - row['mean'])} (n={row['n']})"
    if row["n_diverged"]:
        text += f"; diverged {row['n_diverged']}/{row['n_trials']}"
    return text


def _params(values: pd.Series) -> str:
    unique = sorted({int(v) for v in values.dropna()})
    return "/".join(f"{v:,}" for v in unique) if unique else DASH


def _wide_rows(cells: pd.DataFrame, frameworks: Sequence[str]) -> list[list[str]]:
    rows = []
    for unit in order_units(cells["unit"].unique()):
        unit_cells = cells[cells["unit"] == unit]
        by_fw = {r["framework"]: r for r in unit_cells.to_dict("records")}
        rows.append([unit, _params(unit_cells["n_params"])]
                    + [accuracy_cell(by_fw[f]) if f in by_fw else DASH for f in frameworks])
    return rows


def _detail_rows(cells: pd.DataFrame) -> list[list[str]]:
    return [[r["unit"], r["framework"], _params(pd.Series([r["n_params"]])), str(r["n"]),
             f"{r['n_diverged']}/{r['n_trials']}", pct(r["mean"]), pct(r["std"]),
             f"[{pct(r['ci_low'])}, {pct(r['ci_high'])}]",
             f"[{pct(r['boot_low'])}, {pct(r['boot_high'])}]",
             _num(r["seconds_per_epoch"], ".2f")]
            for r in cells.to_dict("records")]


DETAIL_HEADER = ("unit", "framework", "params", "n", "diverged", "mean %", "std %",
                 "95 % CI (t)", "95 % CI (bootstrap)", "s/epoch")

CELL_NOTE = ("Cell: mean test accuracy (%) ± half-width of the 95 % Student-t interval over "
             "finished trials (n). Diverged trials are never averaged; they are counted as "
             "\"diverged k/N\". The detail table adds the seeded percentile-bootstrap interval "
             "(10,000 resamples) and the mean training time per epoch.")


def accuracy_table_files(df: pd.DataFrame, selection: str, out_dir: Path,
                         manifests: Mapping[str, Mapping] | None = None) -> list[Path]:
    """Write ``<dataset>_accuracy_<selection>.{md,csv,tex}`` for every dataset with such rows."""
    summary = accuracy_summary(df, selection)
    paths: list[Path] = []
    for dataset, by_dataset in summary.groupby("dataset", sort=True):
        stem = f"{dataset}_accuracy_{selection}"
        title = f"{str(dataset).upper()} test accuracy: {SELECTION_TITLES.get(selection, selection)}"
        md = [f"# {title}", "", *provenance_lines(df[df["dataset"] == dataset], manifests), "",
              CELL_NOTE, ""]
        tex = [f"% {title}", "% generated by suites/report/tables.py from the results store", ""]
        for (protocol, variant), cells in by_dataset.groupby(["protocol", "variant"], sort=True):
            frameworks = order_frameworks(cells["framework"].unique())
            header = ["unit", "params", *[FRAMEWORK_LABELS.get(f, f) for f in frameworks]]
            wide = _wide_rows(cells, frameworks)
            heading = f"{protocol}, variant {variant or DASH}"
            md += [f"## {heading}", "", markdown_table(header, wide), "", "Detail:", "",
                   markdown_table(DETAIL_HEADER, _detail_rows(cells)), ""]
            tex += [latex_table(header, wide, f"{title} -- {heading}"), ""]
        paths.append(write_text(out_dir / f"{stem}.md", "\n".join(md)))
        paths.append(write_csv(out_dir / f"{stem}.csv", by_dataset))
        paths.append(write_text(out_dir / f"{stem}.tex", "\n".join(tex)))
    return paths


def epoch11_table_files(df: pd.DataFrame, out_dir: Path,
                        manifests: Mapping[str, Mapping] | None = None,
                        protocol: str = "mnist-aptx") -> list[Path]:
    """The APTx protocol at epoch 11 beside the paper's 96.69 %, with best_val/best_test for context.

    The paper reports the test accuracy after epoch 11; our epoch-11 figure is the like-for-like
    comparison, and the two selected figures show how much epoch selection moves it.
    """
    rows = df[df["protocol"] == protocol]
    epoch11 = accuracy_summary(rows, "epoch_11")
    if epoch11.empty:
        return []
    keys = ["dataset", "protocol", "variant", "unit", "framework"]
    table = epoch11.copy()
    index = pd.MultiIndex.from_frame(table[keys])
    for selection in ("best_val", "best_test"):
        frame = accuracy_summary(rows, selection)
        table[f"mean_{selection}"] = (np.nan if frame.empty else
                                      frame.set_index(keys)["mean"].reindex(index).to_numpy())
    table["minus_paper"] = table["mean"] - table["paper"]
    header = ["unit", "framework", "variant", "epoch 11 (ours) %", "paper epoch 11 %",
              "ours − paper (pp)", "best_val %", "best_test % (selected on test)"]
    body = [[r["unit"], r["framework"], r["variant"] or DASH, accuracy_cell(r), pct(r["paper"]),
             _num(100 * r["minus_paper"], "+.2f"), pct(r["mean_best_val"]),
             pct(r["mean_best_test"])] for r in table.to_dict("records")]
    title = f"{protocol}: test accuracy after epoch 11 beside the paper's 96.69 %"
    md = [f"# {title}", "", *provenance_lines(rows, manifests), "", CELL_NOTE,
          "The paper's figure is for the APTx layer network at epoch 11; best_test is selected on "
          "the test set, as the paper does.", "", markdown_table(header, body), ""]
    stem = f"{protocol.replace('-', '_')}_epoch11"
    return [write_text(out_dir / f"{stem}.md", "\n".join(md)),
            write_csv(out_dir / f"{stem}.csv", table),
            write_text(out_dir / f"{stem}.tex", latex_table(header, body, title) + "\n")]


# ----------------------------------------------------------------------------------------------
# Statistics tables


def agreement_table_files(df: pd.DataFrame, out_dir: Path, selection: str = "best_val",
                          manifests: Mapping[str, Mapping] | None = None) -> list[Path]:
    """framework_agreement.{md,csv}: frameworks whose mean lies outside the others' 95 % CI."""
    table = stats.framework_agreement(df, selection=selection)
    if not table.empty:
        table = sort_cells(table)
    flagged = int(table["flagged"].sum()) if not table.empty else 0
    header = ["protocol", "unit", "variant", "framework", "n", "mean %", "others n",
              "others mean %", "others 95 % CI (t)", "gap (pp)", "flagged", "note"]
    body = [[r["protocol"], r["unit"], r["variant"] or DASH, r["framework"], str(r["n"]),
             pct(r["mean"]), str(r["others_n"]), pct(r["others_mean"]),
             f"[{pct(r['others_ci_low'])}, {pct(r['others_ci_high'])}]",
             _num(100 * r["gap"], "+.2f"), "**FLAGGED**" if r["flagged"] else "no", r["note"]]
            for r in table.to_dict("records")]
    md = ["# Framework agreement", "", *provenance_lines(df, manifests), "",
          f"Selection: {SELECTION_TITLES.get(selection, selection)}. A framework is flagged when "
          "its mean lies outside the 95 % t-interval of the other frameworks' pooled trials and "
          f"differs from their mean by at least {100 * stats.AGREEMENT_MIN_GAP:g} percentage "
          "points. The implementations are equivalent by construction (reports/equivalence), so "
          "a flag points at a training difference in that framework, not at the unit.", "",
          f"Flagged: {flagged} of {len(table)} (framework, cell) pairs.", "",
          markdown_table(header, body), ""]
    return [write_text(out_dir / "framework_agreement.md", "\n".join(md)),
            write_csv(out_dir / "framework_agreement.csv", table)]


def wilcoxon_table_files(df: pd.DataFrame, out_dir: Path, baseline: str = "relu",
                         selection: str = "best_val",
                         manifests: Mapping[str, Mapping] | None = None) -> list[Path]:
    """wilcoxon_holm.{md,csv}: each unit against the baseline, paired by seed, Holm-corrected."""
    table = stats.paired_wilcoxon_holm(df, baseline=baseline, selection=selection)
    if not table.empty:
        table = sort_cells(table)
    header = ["protocol", "framework", "variant", "unit", "vs", "pairs", "mean diff (pp)",
              "median diff (pp)", "W", "p", "p (Holm)", "significant", "note"]
    body = [[r["protocol"], r["framework"], r["variant"] or DASH, r["unit"], r["baseline"],
             str(r["n_pairs"]), _num(100 * r["mean_diff"], "+.2f"),
             _num(100 * r["median_diff"], "+.2f"), _num(r["statistic"], "g"),
             _num(r["p_value"], ".4f"), _num(r["p_holm"], ".4f"),
             "yes" if r["significant"] else "no", r["note"]]
            for r in table.to_dict("records")]
    md = [f"# Paired Wilcoxon signed-rank tests against {baseline}", "",
          *provenance_lines(df, manifests), "",
          f"Selection: {SELECTION_TITLES.get(selection, selection)}. Pairs are trials with the "
          "same seed (and fold), both finished; two-sided test; Holm's correction over the units "
          f"of each (protocol, framework, variant); significant means p (Holm) <= {stats.ALPHA}. "
          "With fewer than 6 non-zero pairs the exact test cannot reach 0.05 at all; the note "
          "says so rather than letting \"not significant\" read as \"no difference\".", "",
          markdown_table(header, body), ""]
    return [write_text(out_dir / "wilcoxon_holm.md", "\n".join(md)),
            write_csv(out_dir / "wilcoxon_holm.csv", table)]


def write_tables(df: pd.DataFrame, out_dir: Path, manifests: Mapping[str, Mapping] | None = None,
                 baseline: str = "relu") -> list[Path]:
    """Every accuracy and statistics table for the accuracy-suite rows ``df`` into ``out_dir``."""
    out_dir = Path(out_dir)
    paths: list[Path] = []
    for selection in TABLE_SELECTIONS:
        paths += accuracy_table_files(df, selection, out_dir, manifests)
    paths += epoch11_table_files(df, out_dir, manifests)
    paths += agreement_table_files(df, out_dir, manifests=manifests)
    paths += wilcoxon_table_files(df, out_dir, baseline=baseline, manifests=manifests)
    return paths


__all__ = [
    "PAPER_FIGURES", "SELECTION_TITLES", "accuracy_cell", "accuracy_summary", "accuracy_table_files",
    "agreement_table_files", "epoch11_table_files", "latex_table", "markdown_table",
    "provenance_lines", "wilcoxon_table_files", "write_csv", "write_tables", "write_text",
]
