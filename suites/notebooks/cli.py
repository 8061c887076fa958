"""``neuronbench notebooks``: execute notebooks/ against a report folder (executed .ipynb + HTML).

Registered by ``add_subparser``; the handler returns the process exit code. The notebooks read
only ``--reports`` (they never train or read results/), and the command writes only under
``--out``. Imports of nbclient and friends wait until the command runs, so the top-level CLI
works without the ``notebooks`` extra.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

DEFAULT_REPORTS = Path("reports")
DEFAULT_NOTEBOOKS = Path("notebooks")
DEFAULT_TIMEOUT = 600.0

log = logging.getLogger("neuronbench.notebooks")


def add_subparser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``notebooks [--reports D] [--out D] [--notebooks-dir D] [--timeout S] [--only N,..]``."""
    parser = subparsers.add_parser(
        "notebooks", allow_abbrev=False,
        help="execute notebooks/ against the report folder into <reports>/notebooks (ipynb + HTML)")
    parser.add_argument("--reports", type=Path, default=DEFAULT_REPORTS,
                        help="report folder the notebooks read (default: reports)")
    parser.add_argument("--out", type=Path, default=None,
                        help="where executed notebooks and HTML go (default: <reports>/notebooks)")
    parser.add_argument("--notebooks-dir", type=Path, default=DEFAULT_NOTEBOOKS,
                        help="folder of the notebooks to execute (default: notebooks)")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT,
                        help="seconds one cell may run before the notebook fails (default: 600)")
    parser.add_argument("--only", type=_names, default=None, metavar="NAME,...",
                        help="execute only these notebooks (e.g. 01_equivalence,05_performance)")
    parser.set_defaults(handler=run_command)


def _names(value: str) -> list[str]:
    """``a,b`` -> ['a', 'b']; an empty list is a usage error, not 'run nothing'."""
    names = [name.strip() for name in value.split(",") if name.strip()]
    if not names:
        raise argparse.ArgumentTypeError("--only needs at least one notebook name")
    return names


def _configure_logging() -> None:
    """Rich log lines for the stage's messages (plain logging if rich is missing)."""
    if log.handlers:
        return
    try:
        from rich.logging import RichHandler
        handler: logging.Handler = RichHandler(show_time=False, show_path=False, markup=False)
    except ImportError:
        handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("notebooks: %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)


def run_command(args: argparse.Namespace) -> int:
    """Execute the notebooks: 0 on success, 1 when a notebook failed, 2 for a usage problem
    (a missing folder, an unknown notebook name, the ``notebooks`` extra not installed)."""
    from suites.notebooks.execute import NotebookDependencyError, NotebookError, execute_notebooks

    _configure_logging()
    out = args.out if args.out is not None else args.reports / "notebooks"
    if args.timeout <= 0:
        log.error("--timeout must be positive, not %s", args.timeout)
        return 2
    if not args.reports.is_dir():
        log.error("no report folder at %s (run `neuronbench report` first, or pass --reports)",
                  args.reports)
        return 2
    try:
        paths = execute_notebooks(args.notebooks_dir, args.reports, out, timeout=args.timeout,
                                  names=args.only)
    except NotebookDependencyError as error:
        log.error("%s", error)
        return 2
    except (FileNotFoundError, ValueError) as error:
        log.error("%s", error)
        return 2
    except NotebookError as error:
        log.error("%s", error)
        log.error("%d of the notebooks failed (%s); the others wrote %d files under %s",
                  len(error.failures), ", ".join(error.failures), len(error.written), out)
        return 1
    log.info("done: %d files under %s", len(paths), out)
    return 0
