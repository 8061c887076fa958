"""``neuronbench perf``: the layer benchmark through the runner into the results store.

One case at a time (timings on a small machine must not share cores): the runner's inline
executor runs each trial, and each trial measures in a fresh process of its own. Tables come
from ``neuronbench report`` (``reports/tables/performance/``), like every other suite's.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def _names(value: str | None, what: str) -> list[str] | None:
    from suites.settings import comma_list

    return comma_list(value, what, "perf")


def add_subparser(subparsers: Any) -> None:
    parser = subparsers.add_parser("perf", help="time and memory-profile the units (layer benchmark)",
                                   allow_abbrev=False)
    parser.add_argument("--frameworks", help="comma list (default: $NEURONBENCH_FRAMEWORKS or all four)")
    parser.add_argument("--units", help="comma list of benchmark cases (default: all): "
                        "linear_relu, aptx_layer, yat_dense, linear_actmix, linear_lselu")
    parser.add_argument("--impls", default=None,
                        help="APTx implementations to time (fused, recompute, naive; default "
                        "fused,recompute, --quick fused)")
    parser.add_argument("--modes", default="eager,compiled")
    parser.add_argument("--batch", type=int, default=1024)
    parser.add_argument("--repeats", type=int, default=None, help="timed calls per case (default 7, --quick 3)")
    parser.add_argument("--quick", action="store_true",
                        help="every case and reference row, 3 repeats, the fused APTx kernel only")
    parser.add_argument("--no-originals", action="store_true", help="skip the original packages")
    parser.add_argument("--results-dir", type=Path, default=None)
    parser.set_defaults(handler=run_command)


def run_command(args: argparse.Namespace) -> int:
    import impls
    from suites import settings
    from suites.performance import layer
    from suites.results import write_results
    from suites.run import ResultsLocked, run_grid

    frameworks = settings.frameworks(args.frameworks)
    for framework in frameworks:
        impls.load_backend(framework)
    if args.impls is None:
        args.impls = "fused" if args.quick else "fused,recompute"
    if args.repeats is None:
        args.repeats = 3 if args.quick else 7
    modes = _names(args.modes, "modes") or []
    bad = [m for m in modes if m not in ("eager", "compiled")]
    if bad:
        raise SystemExit(f"neuronbench perf: unknown mode(s) {', '.join(bad)}; known: eager, compiled")
    aptx_impls = _names(args.impls, "impls") or []
    bad = [i for i in aptx_impls if i not in impls.spec.blocks.APTX_IMPLS]
    if bad:
        raise SystemExit(f"neuronbench perf: unknown impl(s) {', '.join(bad)}; "
                         f"known: {', '.join(impls.spec.blocks.APTX_IMPLS)}")
    if args.batch < 1 or args.repeats < 1:
        raise SystemExit("neuronbench perf: --batch and --repeats must be at least 1")
    try:
        trials = layer.plan(frameworks, units=_names(args.units, "units"), impls_=aptx_impls,
                            modes=modes, batch=args.batch, repeats=args.repeats,
                            originals=not args.no_originals)
    except ValueError as error:
        raise SystemExit(f"neuronbench perf: {error}") from error
    results_dir = settings.results_dir(args.results_dir)
    run_config = {"command": "perf", "frameworks": frameworks, "units": args.units, "impls": aptx_impls,
                  "modes": modes, "batch": args.batch, "repeats": args.repeats, "quick": args.quick}
    try:
        summary = run_grid(trials, results_dir, run_config=run_config, executor="inline")
    except ResultsLocked as error:
        print(f"neuronbench perf: {error}")
        return 3
    write_results(results_dir)
    for key, label, error in summary.failures:
        print(f"trial {label} ({key}) failed: {error}")
    print(summary)
    return 0 if summary.failed == 0 else 1
