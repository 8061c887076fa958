"""``neuronbench accuracy``: plan a protocol's grid, run it through the runner, summarise.

Everything that can be checked is checked before the first trial starts: protocol, profile,
units, variants, datasets, seeds, mode, dtype, jobs and frameworks, all at once (one error
listing every problem, so a user fixes them in one go), then each framework imported and the
data files present and verified against their pinned checksums. Raw rows go to ``--results-dir`` (default
``results/``); the committed ``reports/`` is written only by ``neuronbench report``.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from suites.accuracy.protocols import PROFILES, PROTOCOLS
from suites.accuracy.train import ENV_EPOCH_LOG

#: Protocols planned outside the MNIST grid, one at a time: ``uci-actmix``
#: (``suites/accuracy/tabular_train.py``, with the XGBoost baseline as the unit ``xgboost``) and
#: ``cifar10`` (``suites/accuracy/cifar.py``).
STANDALONE_PROTOCOLS = ("uci-actmix", "cifar10")


def _comma_list(value: str | None, what: str) -> list[str] | None:
    from suites.settings import comma_list

    return comma_list(value, what, "accuracy")


def _names(value: str | None, option: str, problems: list[str]) -> list[str] | None:
    """A ``--option a,b`` list (duplicates dropped); one that names nothing is a problem noted
    in ``problems`` (not raised, so the other options are still checked)."""
    if value is None:
        return None
    items = list(dict.fromkeys(v.strip() for v in value.split(",") if v.strip()))
    if not items:
        problems.append(f"--{option} is empty ({value!r}); give at least one name")
        return None
    return items


def _run_option_problems(args: argparse.Namespace, problems: list[str]) -> tuple[str, ...] | None:
    """Note the problems of the frameworks and executor options every accuracy protocol shares;
    returns the frameworks (None when they are wrong: checks that need them are skipped)."""
    from suites import settings
    from suites.accuracy.protocols import count_problem

    problems += count_problem("--jobs", args.jobs, 1)
    problems += count_problem("--dask-workers", args.dask_workers, 1, optional=True)
    problems += count_problem("--seeds", args.seeds, 1, optional=True)
    try:
        return settings.frameworks(args.frameworks)
    except ValueError as error:
        problems.append(str(error))
        return None


def _refuse(problems: list[str]) -> None:
    """Stop before anything ran, naming every problem at once."""
    from suites.accuracy.protocols import ConfigError

    if problems:
        raise SystemExit(str(ConfigError("neuronbench accuracy", problems)))


def add_common_run_options(parser: argparse.ArgumentParser) -> None:
    """Options every runner-backed command shares (executor, jobs, Dask, results directory)."""
    parser.add_argument("--jobs", type=int, default=1,
                        help="local worker processes (default 1: per-epoch timings stay honest on a small machine)")
    parser.add_argument("--executor", choices=("processes", "inline", "dask"), default=None,
                        help="default: processes, or dask when --scheduler/--dask-workers is given")
    parser.add_argument("--scheduler", help="address of a Dask scheduler (tcp://host:port)")
    parser.add_argument("--dask-workers", type=int, default=None,
                        help="start a local Dask cluster with this many single-threaded workers")
    parser.add_argument("--results-dir", type=Path, default=None,
                        help="raw results (default: $NEURONBENCH_RESULTS or ./results)")


def add_subparser(subparsers: Any) -> None:
    parser = subparsers.add_parser("accuracy", help="train the accuracy protocols over seeds",
                                   allow_abbrev=False)
    parser.add_argument("--protocol", default=",".join(PROTOCOLS),
                        help=f"comma list of protocols (default: the MNIST ones): "
                             f"{', '.join((*PROTOCOLS, *STANDALONE_PROTOCOLS))}")
    parser.add_argument("--datasets", help="uci-actmix: comma list of ccpp, adult, magic (default: all)")
    parser.add_argument("--profile", choices=PROFILES, default="quick")
    parser.add_argument("--units", help="comma list (default: the protocol's units)")
    parser.add_argument("--variants", help="comma list (default: the protocol's variants)")
    parser.add_argument("--frameworks", help="comma list (default: $NEURONBENCH_FRAMEWORKS or all four)")
    parser.add_argument("--seeds", type=int, default=None, help="seeds per cell (default: the profile's)")
    parser.add_argument("--mode", choices=("eager", "compiled"), default=None,
                        help="default per framework: numpy/torch eager, jax/tf compiled")
    parser.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--no-download", action="store_true")
    add_common_run_options(parser)
    parser.set_defaults(handler=run_command)


def executor_options(args: argparse.Namespace) -> dict[str, Any]:
    executor = args.executor or ("dask" if (args.scheduler or args.dask_workers) else "processes")
    if args.jobs < 1:
        raise SystemExit(f"--jobs must be at least 1, received {args.jobs}")
    return {"executor": executor, "jobs": args.jobs, "scheduler": args.scheduler,
            "dask_workers": args.dask_workers}


def prepare_data(data_dir: Path | None, no_download: bool) -> Path:
    """Verify MNIST before any trial starts and export the root for the worker processes."""
    from suites.data import fetch_dataset, resolve_data_root

    root = resolve_data_root(data_dir)
    fetch_dataset("mnist", root, download=False if no_download else None)
    os.environ["NEURONBENCH_DATA"] = str(root)
    if no_download:
        os.environ["NEURONBENCH_OFFLINE"] = "1"
    return root


def run_command(args: argparse.Namespace) -> int:
    import impls
    from suites.accuracy import grid
    from suites.accuracy.protocols import name_problems
    from suites.data import DataError

    problems: list[str] = []
    protocols = _names(args.protocol, "protocol", problems) or []
    problems += name_problems("protocol", protocols, (*PROTOCOLS, *STANDALONE_PROTOCOLS))
    if any(p in STANDALONE_PROTOCOLS for p in protocols):
        if len(protocols) != 1:
            problems.append(f"run {', '.join(STANDALONE_PROTOCOLS)} one at a time")
        else:
            return run_cifar(args) if protocols == ["cifar10"] else run_tabular(args)
    units, variants = _names(args.units, "units", problems), _names(args.variants, "variants", problems)
    frameworks = _run_option_problems(args, problems)
    mnist = [p for p in protocols if p in PROTOCOLS]
    problems += grid.grid_problems(mnist, args.profile, units=units, frameworks=frameworks,
                                   variants=variants, mode=args.mode, dtype=args.dtype) if mnist else []
    _refuse(problems)
    frameworks = frameworks or ()  # not None: refused above otherwise
    for framework in frameworks:
        impls.load_backend(framework)  # a missing framework fails now, not after the grid
    try:
        prepare_data(args.data_dir, args.no_download)
    except DataError as error:
        print(f"neuronbench accuracy: {error}")
        return 2
    try:
        trials = grid.plan_all(protocols, args.profile, units=units, frameworks=frameworks,
                               seeds=args.seeds, variants=variants, mode=args.mode, dtype=args.dtype)
    except ValueError as error:
        raise SystemExit(f"neuronbench accuracy: {error}") from error
    if not sys.stderr.isatty():  # a log: one line per epoch too (the runner prints one per trial)
        os.environ.setdefault(ENV_EPOCH_LOG, "1")
    run_config = {"command": "accuracy", "protocols": protocols, "profile": args.profile,
                  "frameworks": frameworks, "units": args.units, "seeds": args.seeds,
                  "mode": args.mode, "dtype": args.dtype}
    return run_and_summarise(trials, args, run_config, lambda d: print_summary(d, protocols))


def print_summary(results_dir: Path, protocols: list[str]) -> None:
    """Mean test accuracy (epoch picked on validation) per unit x framework, in the terminal."""
    from rich.console import Console
    from rich.table import Table

    from suites.results import load_results

    df = load_results(results_dir)
    if df.empty:
        return
    df = df[(df["suite"] == "accuracy") & (df["protocol"].isin(protocols)) & (df["metric"] == "accuracy")
            & (df["split"] == "test") & (df["selection"].isin(["best_val", "final"]))]
    console = Console()
    for (protocol, variant, selection), part in df.groupby(["protocol", "variant", "selection"], sort=True):
        if selection == "final" and (df[(df["protocol"] == protocol)]["selection"] == "best_val").any():
            continue
        pivot = part.pivot_table(index="unit", columns="framework", values="value",
                                 aggfunc=["mean", "count"])
        table = Table(title=f"{protocol} ({variant}): test accuracy %, epoch picked by {selection}")
        table.add_column("unit")
        frameworks = sorted(part["framework"].unique())
        for fw in frameworks:
            table.add_column(fw, justify="right")
        for unit in pivot.index:
            cells = []
            for fw in frameworks:
                mean = pivot[("mean", fw)].get(unit) if ("mean", fw) in pivot else None
                count = pivot[("count", fw)].get(unit) if ("count", fw) in pivot else None
                cells.append("" if mean is None or mean != mean else f"{100 * mean:.2f} (n={int(count)})")
            table.add_row(unit, *cells)
        console.print(table)


def run_tabular(args: argparse.Namespace) -> int:
    """``--protocol uci-actmix``: the networks and the XGBoost baseline on the protocol's folds."""
    from suites import settings
    from suites.accuracy import tabular, tabular_train, xgboost_baseline
    from suites.accuracy.protocols import name_problems
    from suites.data import DataError, fetch_dataset, resolve_data_root

    problems: list[str] = []
    units = _names(args.units, "units", problems) or [*tabular_train.UNITS, "xgboost"]
    datasets = _names(args.datasets, "datasets", problems) or list(tabular.DATASETS)
    variants = _names(args.variants, "variants", problems) or ["leak-free"]
    problems += name_problems("uci-actmix unit", units, (*tabular_train.UNITS, "xgboost"))
    problems += name_problems("uci-actmix dataset", datasets, tuple(tabular.DATASETS))
    problems += name_problems("uci-actmix variant", variants, tabular_train.DATA_VARIANTS)
    _run_option_problems(args, problems)
    _refuse(problems)
    root = resolve_data_root(args.data_dir)
    try:
        for name in datasets:
            fetch_dataset(name, root, download=False if args.no_download else None)
    except (DataError, ValueError) as error:
        print(f"neuronbench accuracy: {error}")
        return 2
    os.environ["NEURONBENCH_DATA"] = str(root)
    frameworks = settings.frameworks(args.frameworks)
    trials = []
    try:
        networks = [u for u in units if u != "xgboost"]
        if networks:
            import impls

            for framework in frameworks:
                impls.load_backend(framework)
            trials += tabular_train.plan(units=networks, frameworks=frameworks, datasets=datasets,
                                         profile=args.profile, seeds=args.seeds,
                                         data_variants=variants, dtype=args.dtype)
        if "xgboost" in units:
            xgboost_baseline._xgboost()
            trials += xgboost_baseline.plan(datasets, profile=args.profile, seeds=args.seeds or 1)
    except (ImportError, ValueError) as error:
        raise SystemExit(f"neuronbench accuracy: {error}") from error
    run_config = {"command": "accuracy", "protocols": ["uci-actmix"], "units": units,
                  "datasets": datasets, "variants": variants, "frameworks": frameworks,
                  "profile": args.profile, "seeds": args.seeds}
    return run_and_summarise(trials, args, run_config, print_tabular_summary)


def print_tabular_summary(results_dir: Path) -> None:
    """Mean +- std over folds of every test metric, per dataset and unit."""
    from rich.console import Console
    from rich.table import Table

    from suites.results import load_results

    df = load_results(results_dir)
    if df.empty:
        return
    from suites.report.tabular import PRIMARY

    df = df[(df["suite"] == "accuracy") & (df["protocol"] == "uci-actmix") & (df["split"] == "test")]
    df = df[df["metric"] == df["dataset"].map(PRIMARY)]     # every metric is in the report
    table = Table(title="uci-actmix: test-fold R2 (CCPP) / accuracy, mean +- std over folds and seeds")
    for column in ("dataset", "unit", "variant", "framework", "metric", "folds", "mean +- std"):
        table.add_column(column)
    for (dataset, unit, variant, framework, metric), part in df.groupby(
            ["dataset", "unit", "variant", "framework", "metric"]):
        table.add_row(dataset, unit, variant, framework, metric, str(part["fold"].nunique()),
                      f"{part['value'].mean():.4f} +- {part['value'].std(ddof=0):.4f}")
    Console().print(table)


def run_cifar(args: argparse.Namespace) -> int:
    """``--protocol cifar10``: the CNN of every unit on real CIFAR-10, via the runner."""
    import impls
    from suites import settings
    from suites.accuracy import cifar
    from suites.accuracy.protocols import name_problems
    from suites.data import DataError, fetch_dataset, resolve_data_root

    problems: list[str] = []
    units = _names(args.units, "units", problems)
    variants = _names(args.variants, "variants", problems) or list(cifar.VARIANTS)
    problems += name_problems("cifar10 unit", units or (), cifar.UNITS)
    problems += name_problems("cifar10 variant", variants, cifar.VARIANTS)
    _run_option_problems(args, problems)
    _refuse(problems)
    root = resolve_data_root(args.data_dir)
    try:
        fetch_dataset("cifar10", root, download=False if args.no_download else None)
    except DataError as error:
        print(f"neuronbench accuracy: {error}")
        return 2
    os.environ["NEURONBENCH_DATA"] = str(root)
    frameworks = settings.frameworks(args.frameworks)
    for framework in frameworks:
        impls.load_backend(framework)
    try:
        trials = cifar.plan(units=units, frameworks=frameworks, profile=args.profile, seeds=args.seeds,
                            dtype=args.dtype, variants=variants)
    except ValueError as error:
        raise SystemExit(f"neuronbench accuracy: {error}") from error
    run_config = {"command": "accuracy", "protocols": ["cifar10"], "units": args.units,
                  "variants": variants, "frameworks": frameworks, "profile": args.profile,
                  "seeds": args.seeds}
    return run_and_summarise(trials, args, run_config, lambda d: print_summary(d, ["cifar10"]))


def run_and_summarise(trials: list, args: argparse.Namespace, run_config: dict[str, Any],
                      summarise: Any) -> int:
    """Run ``trials`` into the results store, consolidate, print ``summarise(results_dir)``, the
    failures and the counts; exit code 0 unless a trial failed (a diverged one is a result)."""
    from suites import settings
    from suites.results import StoreWriteError, write_results
    from suites.run import ResultsLocked, run_grid

    results_dir = settings.results_dir(args.results_dir)
    try:
        summary = run_grid(trials, results_dir, run_config=run_config, **executor_options(args))
    except ResultsLocked as error:
        print(f"neuronbench accuracy: {error}")
        return 3
    except StoreWriteError as error:  # a full disk: the path and the cause, not a traceback
        print(f"neuronbench accuracy: {error}")
        return 4
    write_results(results_dir)
    summarise(results_dir)
    for key, label, error in summary.failures:
        print(f"trial {label} ({key}) failed: {error}")
    print(summary)
    return 0 if summary.failed == 0 else 1
