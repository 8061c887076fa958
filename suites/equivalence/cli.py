"""``neuronbench equivalence``: run the parity grid through the trial runner and print the matrix.

Every (unit, framework, dtype, mode) cell, and the published checkpoint per framework, is one
trial of suites/run.py written to the results store (``--results-dir``, default ``results/``,
suite "equivalence"). An interrupted run resumes by the runner's rule: finished cells whose key
(config + code fingerprint) matches are skipped, so a cell computed by other code is recomputed.
``--fresh`` deletes this suite's records first.

This command never writes to reports/: ``suites.equivalence.report.write_report`` rebuilds
``reports/equivalence/`` from the store, and only the report stage calls it.
"""

from __future__ import annotations

import argparse
import sys

from suites import settings

SUITE = "equivalence"


DTYPES = ("float32", "float64")
MODES = ("eager", "compiled")


def _checked_lists(args: argparse.Namespace) -> tuple[list[str] | None, list[str], list[str] | None]:
    """--units, --dtypes, --modes: duplicates removed, empty lists and unknown names refused
    (every unknown name listed), before any cell runs."""
    from impls.spec import UNITS

    units = settings.comma_choices(args.units, "units", "equivalence", UNITS)
    dtypes = settings.comma_choices(args.dtypes, "dtypes", "equivalence", DTYPES) or list(DTYPES)
    modes = settings.comma_choices(args.modes, "modes", "equivalence", MODES)
    return units, dtypes, modes


def _check_preconditions(args: argparse.Namespace, frameworks) -> None:
    """What the run needs, checked before the first cell: installed frameworks, and for the
    checkpoint trials the published weights and the MNIST test files."""
    settings.require_installed(frameworks, "equivalence")
    if args.no_checkpoint:
        return
    from suites.data.fetch import fetch_dataset
    from suites.equivalence import checkpoint

    try:
        checkpoint.checkpoint_path(getattr(args, "reference_dir", None))
    except FileNotFoundError as error:
        raise SystemExit(f"neuronbench equivalence: {error} (or pass --no-checkpoint)") from None
    download = False if getattr(args, "no_download", False) else None
    try:
        fetch_dataset("mnist", getattr(args, "data_dir", None), download=download,
                      keep_bytes=False, progress=False)
    except Exception as error:  # the data layer's message names the path and the URL
        raise SystemExit(f"neuronbench equivalence: the checkpoint check needs MNIST: {error} "
                         "(or pass --no-checkpoint)") from None


def add_subparser(subparsers) -> None:
    parser = subparsers.add_parser("equivalence", help="check every framework against the float64 oracle")
    settings.add_arguments(parser, frameworks=True, results=True, data=True, reference=True)
    parser.add_argument("--no-download", action="store_true", help="never download MNIST for the checkpoint")
    parser.add_argument("--units", help="comma list of units (default: all)")
    parser.add_argument("--dtypes", default="float32,float64")
    parser.add_argument("--modes", help="comma list (default: every mode each framework has)")
    parser.add_argument("--no-trajectories", action="store_true", help="skip the 10-step training checks")
    parser.add_argument("--no-checkpoint", action="store_true",
                        help="skip the published APTx MNIST checkpoint (9669/10000 in every framework)")
    parser.add_argument("--checkpoint-oracle-rows", type=settings.positive_int, default=None,
                        help="test images the float64 oracle evaluates for the logit check (default: all)")
    parser.add_argument("--executor", choices=("processes", "inline", "dask"), default="processes",
                        help="where trials run (default: local processes)")
    parser.add_argument("--jobs", type=int, default=1, help="local worker processes (default 1)")
    parser.add_argument("--scheduler", help="Dask scheduler address, tcp://host:port (--executor dask)")
    parser.add_argument("--dask-workers", type=int, default=None,
                        help="start a local Dask cluster with this many workers (--executor dask)")
    parser.add_argument("--fresh", action="store_true",
                        help="delete this suite's records in the results directory first")
    # Accepted for callers not yet updated (reproduce); nothing is written there any more.
    parser.add_argument("--out", type=str, default=None, help=argparse.SUPPRESS)
    parser.set_defaults(handler=run_command)


def run_command(args: argparse.Namespace) -> int:
    from suites import results as store
    from suites.equivalence import report, trials
    from suites.run import ResultsLocked, run_grid

    frameworks = settings.frameworks(args.frameworks)
    results_dir = settings.results_dir(args.results_dir)
    if getattr(args, "out", None):
        print(f"note: --out {args.out} is ignored; results go to {results_dir} and the report stage "
              "writes reports/equivalence (suites.equivalence.report.write_report)", file=sys.stderr)
    units, dtypes, modes = _checked_lists(args)
    _check_preconditions(args, frameworks)
    data_dir = str(args.data_dir) if getattr(args, "data_dir", None) else None
    reference_dir = str(args.reference_dir) if getattr(args, "reference_dir", None) else None
    grid = trials.plan_trials(frameworks, units, dtypes, modes,
                              trajectories=not args.no_trajectories, checkpoint=not args.no_checkpoint,
                              oracle_rows=args.checkpoint_oracle_rows, data_dir=data_dir,
                              reference_dir=reference_dir,
                              download=False if getattr(args, "no_download", False) else None)
    run_config = {"suite": SUITE, "frameworks": list(frameworks), "units": units,
                  "dtypes": dtypes, "modes": modes,
                  "trajectories": not args.no_trajectories, "checkpoint": not args.no_checkpoint,
                  "checkpoint_oracle_rows": args.checkpoint_oracle_rows}
    try:
        if getattr(args, "fresh", False):
            with store.lock(results_dir):
                removed = store.delete_suite(results_dir, SUITE)
            print(f"--fresh: removed {removed} {SUITE} records from {results_dir}", file=sys.stderr)
        summary = run_grid(grid, results_dir, executor=getattr(args, "executor", "processes"),
                           jobs=getattr(args, "jobs", 1), scheduler=getattr(args, "scheduler", None),
                           dask_workers=getattr(args, "dask_workers", None), run_config=run_config)
    except ResultsLocked as error:
        print(f"error: {error}", file=sys.stderr)
        return 2

    frame = store.load_results(results_dir, keys=summary.keys)
    rows = report.rows_from_frame(frame)
    checkpoint_results = report.checkpoint_from_frame(frame)
    if rows:
        print(report.parity_matrix(rows))
    if checkpoint_results is not None:
        print(report.checkpoint_table(*checkpoint_results))
    for key, label, error in summary.failures:
        print(f"trial {label} ({key}) failed: {error}")
    print(summary)
    print(report.summary_line(rows, checkpoint_results))
    cells_ok = all(r.passed for r in rows)
    checkpoint_ok = checkpoint_results is None or all(r.passed for r in checkpoint_results[1])
    return 0 if cells_ok and checkpoint_ok and summary.failed == 0 else 1
