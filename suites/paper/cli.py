"""``neuronbench paper``: the claims table and the paper text from the committed reports.

Registered by ``add_subparser``; the handler returns the process exit code. It reads only the
reports folder (``--reports``, default ``reports``) and writes ``paper.{md,tex}`` (a PDF when a
LaTeX engine is on PATH) and ``tables/claims.{md,csv,tex}`` under ``--out`` (default: the same
folder). Nothing is trained or measured, so it runs on a fresh clone in seconds.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

DEFAULT_REPORTS = Path("reports")
PROFILES = ("quick", "paper")


def add_subparser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``paper [--reports DIR] [--out DIR] [--profile quick|paper]``."""
    parser = subparsers.add_parser(
        "paper", help="claims table and paper text (Markdown, LaTeX) from the committed reports")
    parser.add_argument("--reports", type=Path, default=DEFAULT_REPORTS,
                        help="reports folder to read (default: reports)")
    parser.add_argument("--out", type=Path, default=None,
                        help="folder to write paper.* and tables/claims.* (default: --reports)")
    parser.add_argument("--profile", choices=PROFILES, default=None,
                        help="use only this profile's accuracy rows (default: every profile)")
    parser.set_defaults(handler=run_command)


def _configure_logging() -> logging.Logger:
    """Rich log lines for the paper's progress (plain logging if rich is missing)."""
    logger = logging.getLogger("neuronbench.paper")
    if not logger.handlers:
        try:
            from rich.logging import RichHandler
            handler: logging.Handler = RichHandler(show_time=False, show_path=False,
                                                   markup=False)
        except ImportError:
            handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("paper: %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
    return logger


def run_command(args: argparse.Namespace) -> int:
    """Build the paper; 0 on success, 2 when an input is missing (the log says which)."""
    from suites.paper.build import build_paper
    from suites.paper.inputs import MissingInputError

    log = _configure_logging()
    try:
        paths = build_paper(args.reports, args.out, profile=args.profile)
    except MissingInputError as error:
        log.error("%s", error)
        return 2
    log.info("done: %d files under %s", len(paths), (args.out or args.reports).as_posix())
    return 0
