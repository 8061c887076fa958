"""``neuronbench equivalence``: run the parity harness and write the matrix to reports/."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from impls.registry import FRAMEWORKS, check_framework

DEFAULT_OUT = Path("reports") / "equivalence"


def frameworks_from(args_value: str | None) -> list[str]:
    """--frameworks, else NEURONBENCH_FRAMEWORKS, else all four (explicit, never guessed)."""
    raw = args_value or os.environ.get("NEURONBENCH_FRAMEWORKS") or ",".join(FRAMEWORKS)
    return [check_framework(name.strip()) for name in raw.split(",") if name.strip()]


def add_subparser(subparsers) -> None:
    parser = subparsers.add_parser("equivalence", help="check every framework against the float64 oracle")
    parser.add_argument("--frameworks", help="comma list (default: $NEURONBENCH_FRAMEWORKS or all four)")
    parser.add_argument("--units", help="comma list of units (default: all)")
    parser.add_argument("--dtypes", default="float32,float64")
    parser.add_argument("--modes", help="comma list (default: every mode each framework has)")
    parser.add_argument("--no-trajectories", action="store_true", help="skip the 10-step training checks")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.set_defaults(handler=run_command)


def run_command(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.progress import Progress

    from suites import provenance
    from suites.equivalence import harness, report

    console = Console(stderr=True)
    frameworks = frameworks_from(args.frameworks)
    units = [u.strip() for u in args.units.split(",")] if args.units else None
    modes = [m.strip() for m in args.modes.split(",")] if args.modes else None
    dtypes = [d.strip() for d in args.dtypes.split(",")]
    with Progress(console=console, transient=True) as bar:
        task = bar.add_task("equivalence", total=None)
        rows = harness.run(frameworks, units, dtypes, modes, trajectories=not args.no_trajectories,
                           progress=lambda label: bar.update(task, description=label, advance=1))
    info = provenance.collect()
    info["frameworks"] = ", ".join(frameworks)
    paths = report.write_report(rows, args.out, info)
    print(report.parity_matrix(rows))
    print(f"wrote {', '.join(str(p) for p in paths)}")
    print(report.summary_line(rows))
    return 0 if all(r.passed for r in rows) else 1


