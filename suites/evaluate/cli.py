"""``neuronbench evaluate UNIT``: run the battery on one unit and write its report."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from suites.evaluate.plan import PROFILES


def add_subparser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "evaluate", allow_abbrev=False,
        help="the whole battery on one unit (a plug-in's too): gradients, parity, accuracy, speed",
        description="Gradient check of the oracle, parity of every framework the unit provides, "
                    "the MNIST accuracy protocol against ReLU and GELU, the layer benchmark "
                    "against Linear + ReLU, and a one-page report (docs/extending.md).")
    parser.add_argument("unit", help="a unit of impls.UNITS (plug-ins included)")
    parser.add_argument("--profile", choices=PROFILES, default="quick")
    parser.add_argument("--frameworks",
                        help="comma list (default: every framework the unit provides); a framework "
                             "the unit does not provide is reported as absent")
    parser.add_argument("--out", type=Path, default=None,
                        help="report directory (default: reports/evaluate/<unit>/<profile>)")
    parser.add_argument("--results-dir", type=Path, default=None,
                        help="results store (default: <$NEURONBENCH_RESULTS or ./results>/evaluate/<unit>)")
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--no-download", action="store_true")
    parser.add_argument("--progress", choices=("auto", "rich", "plain", "off"), default="auto")
    parser.set_defaults(handler=run_command)


def run_command(args: argparse.Namespace) -> int:
    from suites import settings
    from suites.accuracy.cli import prepare_data
    from suites.data import DataError
    from suites.evaluate import plan as planner
    from suites.evaluate import report
    from suites.results import ResultsLocked, write_results
    from suites.run import run_grid

    try:
        requested = settings.frameworks(args.frameworks) if args.frameworks is not None else None
        battery = planner.plan(args.unit, args.profile, requested)
    except ValueError as error:
        raise SystemExit(f"neuronbench evaluate: {error}") from error
    try:
        prepare_data(args.data_dir, args.no_download)
    except DataError as error:
        print(f"neuronbench evaluate: {error}")
        return 2
    results_dir = (settings.results_dir(args.results_dir) if args.results_dir is not None
                   else settings.results_dir() / "evaluate" / args.unit)
    out_dir = args.out or settings.REPO_ROOT / "reports" / "evaluate" / args.unit / args.profile
    print(f"evaluating {args.unit!r} ({battery.origin}) in {', '.join(battery.frameworks)}"
          + (f"; absent: {', '.join(battery.absent)}" if battery.absent else "")
          + f": {len(battery.trials)} trials into {results_dir}")
    run_config = {"command": "evaluate", "unit": args.unit, "profile": args.profile,
                  "frameworks": list(battery.frameworks), "absent": list(battery.absent)}
    try:
        summary = run_grid(battery.trials, results_dir, run_config=run_config,
                           progress=args.progress)
    except ResultsLocked as error:
        print(f"neuronbench evaluate: {error}")
        return 3
    write_results(results_dir)
    path = report.write(battery, results_dir, Path(out_dir))
    for key, label, error in summary.failures:
        print(f"trial {label} ({key}) failed: {error}")
    print(summary)
    print(f"report: {path}")
    return 0 if summary.failed == 0 else 1
