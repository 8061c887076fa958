"""``neuronbench report``: rebuild reports/ (tables, figures, rows) from the results store.

Registered by ``add_subparser``; the handler returns the process exit code. It reads only the
results directory (``--results-dir``, else $NEURONBENCH_RESULTS, else ./results) and writes only
under ``--out``.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

DEFAULT_OUT = Path("reports")


def add_subparser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``report [--results-dir D] [--out reports] [--profile P] [--baseline U]``."""
    parser = subparsers.add_parser(
        "report", help="tables, figures and statistics from the results store (writes reports/)")
    parser.add_argument("--results-dir", type=Path, default=None,
                        help="results store (default: $NEURONBENCH_RESULTS or ./results)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="report folder (default: reports)")
    parser.add_argument("--profile", default=None,
                        help="use only rows of this profile (default: every row in the store)")
    parser.add_argument("--baseline", default="relu", help="unit the paired tests compare against")
    parser.add_argument("--only", choices=("performance",), default=None,
                        help="rebuild this suite's outputs alone, leaving the rest of --out as it is")
    parser.set_defaults(handler=run_command)


def _configure_logging() -> None:
    """Rich log lines for the report's progress (plain logging if rich is missing)."""
    logger = logging.getLogger("neuronbench.report")
    if logger.handlers:
        return
    try:
        from rich.logging import RichHandler
        handler: logging.Handler = RichHandler(show_time=False, show_path=False, markup=False)
    except ImportError:
        handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("report: %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)


def run_command(args: argparse.Namespace) -> int:
    """Build the report; 0 on success, 2 when the results directory does not exist."""
    from suites import settings
    from suites.report.stage import build_report

    _configure_logging()
    log = logging.getLogger("neuronbench.report")
    results_dir = settings.results_dir(args.results_dir)
    if not results_dir.is_dir():
        log.error("no results directory at %s (run a suite first, or pass --results-dir)", results_dir)
        return 2
    paths = build_report(results_dir, args.out, profile=args.profile, baseline=args.baseline,
                         only=args.only)
    log.info("done: %d files under %s", len(paths), args.out)
    return 0
