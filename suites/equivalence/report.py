"""Parity matrix (Markdown), heatmap and tidy rows (CSV) of the equivalence suite, from the store.

``neuronbench equivalence`` only fills the results store (suites/results.py) and prints the
matrix; the committed ``reports/equivalence/{parity.md,rows.csv,checkpoint.csv}`` and
``parity_heatmap.{png,pdf}`` (``heatmap.py``) are written by :func:`write_report`, which the
report stage calls, so nothing but that stage writes to reports/ (design §7).
"""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from suites.equivalence.checkpoint import LOGIT_TOLERANCE, PUBLISHED_CORRECT, CheckpointResult
from suites.equivalence.harness import Row, summarise


def parity_matrix(rows: Sequence[Row]) -> str:
    """Units x frameworks: pass/fail over every dtype and mode, worst relative error per dtype."""
    cells = summarise(rows)
    frameworks = list(dict.fromkeys(f for _, f, _, _ in cells))
    units = list(dict.fromkeys(u for u, *_ in cells))
    lines = ["| unit | " + " | ".join(frameworks) + " |", "|---|" + "---|" * len(frameworks)]
    for unit in units:
        entries = []
        for framework in frameworks:
            mine = {(d, m): v for (u, f, d, m), v in cells.items() if u == unit and f == framework}
            if not mine:
                entries.append("not run")
                continue
            ok = all(passed for passed, _ in mine.values())
            worst = {d: max(w for (dd, _), (_, w) in mine.items() if dd == d) for d, _ in mine}
            detail = ", ".join(f"{d.replace('float', 'f')} {w:.0e}" for d, w in worst.items())
            entries.append(f"{'pass' if ok else '**FAIL**'} ({len(mine)} cases; {detail})")
        lines.append(f"| {unit} | " + " | ".join(entries) + " |")
    return "\n".join(lines) + "\n"


def detailed_matrix(rows: Sequence[Row]) -> str:
    """Units x (framework, dtype, mode) table: worst relative error per cell and pass/fail."""
    cells = summarise(rows)
    columns = sorted({(f, d, m) for _, f, d, m in cells}, key=lambda c: (c[0], c[1], c[2]))
    units = list(dict.fromkeys(u for u, *_ in cells))
    header = "| unit | " + " | ".join(f"{f} {d} {m}" for f, d, m in columns) + " |"
    lines = [header, "|---|" + "---|" * len(columns)]
    for unit in units:
        entries = []
        for f, d, m in columns:
            if (unit, f, d, m) not in cells:
                entries.append("not run")
                continue
            ok, worst = cells[(unit, f, d, m)]
            entries.append(f"{'pass' if ok else '**FAIL**'} {worst:.1e}")
        lines.append(f"| {unit} | " + " | ".join(entries) + " |")
    return "\n".join(lines) + "\n"


def checkpoint_table(oracle_correct: int | None, results: Sequence[CheckpointResult]) -> str:
    """One line per framework: correct count on the MNIST test set and logit error vs the oracle."""
    oracle = "not computed (oracle on a subset)" if oracle_correct is None else f"{oracle_correct}/10000"
    lines = [f"Published APTx MNIST checkpoint (expected {PUBLISHED_CORRECT}/10000; float64 oracle: {oracle})",
             "", "| framework | dtype | correct | logits rel. L2 vs oracle | tolerance | result |",
             "|---|---|---|---|---|---|"]
    lines += [f"| {r.framework} | {r.dtype} | {r.correct}/{r.total} | {r.logits_rel_l2:.1e} | "
              f"{LOGIT_TOLERANCE:.0e} | {'pass' if r.passed else '**FAIL**'} |" for r in results]
    return "\n".join(lines) + "\n"


def summary_line(rows: Sequence[Row],
                 checkpoint: tuple[int | None, Sequence[CheckpointResult]] | None = None) -> str:
    cells = summarise(rows)
    passed = sum(ok for ok, _ in cells.values())
    line = (f"{len(cells)} (unit, framework, dtype, mode) cases ran: {passed} passed, "
            f"{len(cells) - passed} failed, 0 skipped ({len(rows)} checks)")
    if checkpoint is not None:
        results = checkpoint[1]
        good = sum(r.passed for r in results)
        line += f"; APTx checkpoint: {good}/{len(results)} frameworks at {PUBLISHED_CORRECT}/10000"
    return line


#: parity.md's pointer to the heatmap (``heatmap.py``) written beside it.
HEATMAP_LINK = ("![Worst error / tolerance of every case, log scale: at most 1 passes; hatched "
                "FAIL: above 1; grey n/a: no rows](parity_heatmap.png)\n\n"
                "Heatmap: the worst error-to-tolerance ratio of every (unit, framework, dtype, mode) "
                "case ([PNG](parity_heatmap.png), [PDF](parity_heatmap.pdf)).")


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def write_files(rows: Sequence[Row], out_dir: Path, provenance: dict[str, str],
                 checkpoint: tuple[int | None, Sequence[CheckpointResult]] | None = None) -> list[Path]:
    """Write rows.csv, parity.md, the heatmap (and checkpoint.csv); returns the paths written.

    The text files are replaced atomically; the heatmap is drawn from the same rows, so the
    figure and the table beside it never describe different runs.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    csv_path, md_path = out_dir / "rows.csv", out_dir / "parity.md"
    tmp = csv_path.with_suffix(".csv.tmp")
    with tmp.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(Row.__dataclass_fields__))
        writer.writeheader()
        writer.writerows(row.as_dict() for row in rows)
    os.replace(tmp, csv_path)
    failures = [r for r in rows if not r.passed]
    text = ["# Equivalence: every framework against the float64 oracle", ""]
    text += [f"- {k}: {v}" for k, v in provenance.items()]
    text += ["", "Cell: worst relative L2 error over every variant, input scale and check "
             "(tolerances in docs/equivalence.md); a case is one (unit, framework, dtype, mode).",
             "", parity_matrix(rows), ""]
    if rows:
        text += [HEATMAP_LINK, ""]
    if checkpoint is not None:
        text += [checkpoint_table(*checkpoint)]
    text += [summary_line(rows, checkpoint), "", "## Every (framework, dtype, mode)", "",
             detailed_matrix(rows)]
    if failures:
        text += ["## Failed checks", "", "| unit | variant | framework | dtype | mode | check | rel. L2 | tol |",
                 "|---|---|---|---|---|---|---|---|"]
        text += [f"| {r.unit} | {r.variant} | {r.framework} | {r.dtype} | {r.mode} | {r.check} | "
                 f"{r.rel_l2_err:.2e} | {r.tolerance:.0e} |" for r in failures]
    _write_atomic(md_path, "\n".join(text) + "\n")
    paths = [csv_path, md_path]
    if rows:
        import pandas as pd

        from suites.equivalence.heatmap import STEM, parity_heatmap

        frame = pd.DataFrame([row.as_dict() for row in rows])
        paths += parity_heatmap(frame, out_dir / STEM)
    if checkpoint is not None:
        ck_path = out_dir / "checkpoint.csv"
        lines = ["framework,dtype,correct,total,logits_rel_l2,passed"]
        lines += [f"{r.framework},{r.dtype},{r.correct},{r.total},{r.logits_rel_l2:.3e},{r.passed}"
                  for r in checkpoint[1]]
        _write_atomic(ck_path, "\n".join(lines) + "\n")
        paths.append(ck_path)
    return paths


# -- from the results store ------------------------------------------------------------------

_DTYPES = ("float32", "float64")
_MODES = ("eager", "compiled")


def latest_per_cell(frame: Any) -> Any:
    """Rows of the newest trial of every cell (run ids start with the UTC time).

    The store may hold several trials of one cell (a run with --no-trajectories next to a
    full one); the report shows one, the latest, rather than mixing them.
    """
    if frame.empty:
        return frame
    cell = ["protocol", "unit", "framework", "dtype", "mode"]
    newest = (frame[[*cell, "trial_key", "run_id"]].drop_duplicates("trial_key")
              .sort_values("run_id", kind="mergesort").groupby(cell, dropna=False).tail(1))
    return frame[frame.trial_key.isin(set(newest.trial_key))]


def _order(frame: Any) -> Any:
    """Plan order (framework, unit, dtype, mode), as the matrix has always been printed."""
    import impls
    from impls.registry import FRAMEWORKS

    def rank(values, known):
        return values.map(lambda v: known.index(v) if v in known else len(known))

    keyed = frame.assign(_f=rank(frame["framework"], list(FRAMEWORKS)), _u=rank(frame["unit"], list(impls.UNITS)),
                         _d=rank(frame["dtype"], list(_DTYPES)), _m=rank(frame["mode"], list(_MODES)),
                         _i=range(len(frame)))
    return keyed.sort_values(["_f", "_u", "_d", "_m", "_i"], kind="mergesort")


def rows_from_frame(frame: Any) -> list[Row]:
    """harness.Row objects of the parity rows of a store DataFrame, in plan order."""
    parity = frame[frame.protocol == "parity"]
    rows = []
    for r in _order(parity).itertuples(index=False):
        detail = r.detail if isinstance(r.detail, str) else ""
        max_abs = float(detail.split("=", 1)[1]) if detail.startswith("max_abs_err=") else float("nan")
        rows.append(Row(r.unit, r.variant, r.framework, r.dtype, r.mode, r.metric, max_abs,
                        float(r.value), float(r.tolerance), bool(r.passed)))
    return rows


def checkpoint_from_frame(frame: Any) -> tuple[int | None, list[CheckpointResult]] | None:
    """(oracle correct, one result per framework) from the checkpoint rows, or None if none."""
    rows = _order(frame[frame.protocol == "checkpoint"]) if "protocol" in frame else frame
    if rows.empty:
        return None
    results, oracle = [], None
    for framework, group in rows.groupby("framework", sort=False):
        values = dict(zip(group.metric, group.value, strict=True))
        details = dict(zip(group.metric, group.detail, strict=True))
        total = int(str(details.get("correct", "total=10000")).split("=", 1)[1])
        results.append(CheckpointResult(str(framework), str(group["dtype"].iloc[0]), int(values["correct"]),
                                        total, float(values["logits rel_l2 vs oracle"])))
        count = values.get("oracle correct")
        if count is not None and count == count:  # not NaN
            oracle = int(count)
    return oracle, results


def provenance_from_manifests(manifests: Sequence[dict[str, Any]], run_ids: set[str]) -> dict[str, str]:
    """The parity.md header from the manifests of the runs whose rows the report shows."""
    used = [m for m in manifests if m.get("run_id") in run_ids]
    if not used:
        from suites import provenance

        return provenance.collect()
    latest = used[-1]
    info = latest.get("provenance", {})
    shas = list(dict.fromkeys(
        f"{m.get('provenance', {}).get('git_sha', 'unknown')}"
        + (" (dirty)" if m.get("provenance", {}).get("git_dirty") else "") for m in used))
    packages = info.get("packages", {})
    names = ("numpy", "scipy", "torch", "jax", "jaxlib", "flax", "optax", "tensorflow", "tensorflow-cpu", "keras")
    return {
        "git sha": ", ".join(shas),
        "time (UTC)": str(latest.get("finished") or latest.get("started") or "")[:19].replace("T", " "),
        "runs": ", ".join(m["run_id"] for m in used),
        "python": str(info.get("python", "")),
        "machine": f"{info.get('cpu_model', 'unknown')}, {info.get('threads', {}).get('os.cpu_count')} CPUs",
        "device": ", ".join(info.get("gpus") or []) or "CPU",
        "versions": ", ".join(f"{n} {packages[n]}" for n in names if n in packages),
    }


def write_report(source: Path | Any, out_dir: Path, provenance: dict[str, str] | None = None) -> list[Path]:
    """Rebuild reports/equivalence (parity.md, rows.csv, checkpoint.csv) from the store.

    ``source`` is a results directory (its equivalence records are read, newest trial per
    cell) or a DataFrame of store rows. The report stage calls this; no run writes reports/.
    """
    from suites import results as store

    if isinstance(source, (str, os.PathLike)):
        frame = store.load_results(Path(source), suite="equivalence")
        manifests = store.load_manifests(Path(source))
    else:
        frame, manifests = source, []
    frame = latest_per_cell(frame)
    if frame.empty:
        raise ValueError(f"no equivalence results in {source}; run `neuronbench equivalence` first")
    rows = rows_from_frame(frame)
    checkpoint = checkpoint_from_frame(frame)
    if provenance is None:
        provenance = provenance_from_manifests(manifests, set(frame.run_id))
    frameworks = list(dict.fromkeys(r.framework for r in rows))
    return write_files(rows, Path(out_dir), {**provenance, "frameworks": ", ".join(frameworks)}, checkpoint)
