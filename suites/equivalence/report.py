"""Parity matrix (Markdown) and tidy rows (CSV) of an equivalence run."""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from pathlib import Path

from suites.equivalence.harness import Row, summarise


def parity_matrix(rows: Sequence[Row]) -> str:
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


def summary_line(rows: Sequence[Row]) -> str:
    cells = summarise(rows)
    passed = sum(ok for ok, _ in cells.values())
    return (f"{len(cells)} (unit, framework, dtype, mode) cases ran: {passed} passed, "
            f"{len(cells) - passed} failed, 0 skipped ({len(rows)} checks)")


def write_report(rows: Sequence[Row], out_dir: Path, provenance: dict[str, str]) -> list[Path]:
    """Write rows.csv and parity.md atomically; returns the paths written."""
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
             "(tolerances in docs/equivalence.md).", "", parity_matrix(rows), summary_line(rows), ""]
    if failures:
        text += ["## Failed checks", "", "| unit | variant | framework | dtype | mode | check | rel. L2 | tol |",
                 "|---|---|---|---|---|---|---|---|"]
        text += [f"| {r.unit} | {r.variant} | {r.framework} | {r.dtype} | {r.mode} | {r.check} | "
                 f"{r.rel_l2_err:.2e} | {r.tolerance:.0e} |" for r in failures]
    tmp = md_path.with_suffix(".md.tmp")
    tmp.write_text("\n".join(text) + "\n")
    os.replace(tmp, md_path)
    return [csv_path, md_path]
