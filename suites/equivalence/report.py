"""Parity matrix (Markdown) and tidy rows (CSV) of an equivalence run."""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from pathlib import Path

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


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def write_report(rows: Sequence[Row], out_dir: Path, provenance: dict[str, str],
                 checkpoint: tuple[int | None, Sequence[CheckpointResult]] | None = None) -> list[Path]:
    """Write rows.csv, parity.md (and checkpoint.csv) atomically; returns the paths written."""
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
    if checkpoint is not None:
        ck_path = out_dir / "checkpoint.csv"
        lines = ["framework,dtype,correct,total,logits_rel_l2,passed"]
        lines += [f"{r.framework},{r.dtype},{r.correct},{r.total},{r.logits_rel_l2:.3e},{r.passed}"
                  for r in checkpoint[1]]
        _write_atomic(ck_path, "\n".join(lines) + "\n")
        paths.append(ck_path)
    return paths
