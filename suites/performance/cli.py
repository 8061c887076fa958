"""``neuronbench perf``: the performance suite through the runner into the results store.

The cases: the layer benchmark (``layer.py``) at the main table's shape in every framework and
mode, its scaling over batch and width, the original packages as reference rows, the machine's
ceilings, and one optimiser step of whole models (``train_step.py``). ``--quick`` keeps every
kind of case but fewer of each (3 repeats, the fused APTx kernel, scaling in NumPy and torch,
the train steps of the MLP and the CNN in each framework's accuracy-suite mode).

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
    parser = subparsers.add_parser("perf", help="time and memory-profile the units (layer benchmark, "
                                   "scaling, original packages, model train steps)",
                                   allow_abbrev=False)
    parser.add_argument("--frameworks", help="comma list (default: $NEURONBENCH_FRAMEWORKS or all four)")
    parser.add_argument("--units", help="comma list of benchmark cases (default: all): "
                        "linear_relu, aptx_layer, yat_dense, linear_actmix, linear_lselu, "
                        "linear_aptx_activation")
    parser.add_argument("--impls", default=None,
                        help="APTx implementations to time (fused, recompute, naive; default "
                        "fused,recompute, --quick fused)")
    parser.add_argument("--modes", default="eager,compiled")
    parser.add_argument("--dtypes", default=None,
                        help="dtypes of the main table's cases (default float32,float64; --quick "
                        "float32); scaling and the originals are float32")
    parser.add_argument("--batch", type=int, default=1024, help="rows of the main table's cases")
    parser.add_argument("--width", type=int, default=256, help="output features of the main table's cases")
    parser.add_argument("--batches", default=None,
                        help="scaling: comma list of batches at --width (default 64,256,1024,4096)")
    parser.add_argument("--widths", default=None,
                        help="scaling: comma list of widths at --batch (default 64,256,1024)")
    parser.add_argument("--scaling-frameworks", default=None,
                        help="frameworks whose eager cases run over the scaling shapes (default: "
                        "every framework run; --quick numpy,torch where run)")
    parser.add_argument("--no-scaling", action="store_true", help="the main table's shape only")
    parser.add_argument("--models", default=None,
                        help="train-step models (default: every one; --quick mlp,cnn): "
                        "mlp, mlp-equal-params, mlp-nmn, cnn")
    parser.add_argument("--train-step-modes", default=None,
                        help="modes of the train-step cases (default: --modes; --quick the "
                        "accuracy suite's mode per framework: numpy/torch eager, jax/tf compiled)")
    parser.add_argument("--no-train-step", action="store_true", help="the layer benchmark only")
    parser.add_argument("--device", default="cpu", choices=("cpu", "gpu", "tpu"),
                        help="where the cases run; every framework must see it (numpy: cpu only)")
    parser.add_argument("--repeats", type=int, default=None, help="timed calls per case (default 7, --quick 3)")
    parser.add_argument("--quick", action="store_true",
                        help="every case and reference row, 3 repeats, the fused APTx kernel only, "
                        "scaling in numpy and torch")
    parser.add_argument("--no-originals", action="store_true", help="skip the original packages")
    parser.add_argument("--results-dir", type=Path, default=None)
    parser.set_defaults(handler=run_command)


def _sizes(value: str | None, default: tuple[int, ...], what: str) -> tuple[int, ...]:
    if value is None:
        return default
    names = _names(value, what) or []
    try:
        sizes = tuple(int(v) for v in names)
    except ValueError as error:
        raise SystemExit(f"neuronbench perf: --{what} takes whole numbers: {value!r}") from error
    if any(v < 1 for v in sizes):
        raise SystemExit(f"neuronbench perf: --{what} must be at least 1: {value!r}")
    return sizes


def run_command(args: argparse.Namespace) -> int:
    import impls
    from suites import settings
    from suites.performance import devices, layer, train_step
    from suites.results import write_results
    from suites.run import ResultsLocked, run_grid

    frameworks = settings.frameworks(args.frameworks)
    for framework in frameworks:
        impls.load_backend(framework)
    try:
        devices.check(frameworks, args.device)
    except ValueError as error:
        raise SystemExit(f"neuronbench perf: {error}") from error
    batches = () if args.no_scaling else _sizes(args.batches, (64, 256, 1024, 4096), "batches")
    widths = () if args.no_scaling else _sizes(args.widths, (64, 256, 1024), "widths")
    if args.scaling_frameworks is not None:
        scaling_frameworks = _names(args.scaling_frameworks, "scaling-frameworks") or []
    elif args.quick:
        scaling_frameworks = [f for f in ("numpy", "torch") if f in frameworks] or frameworks[:1]
    else:
        scaling_frameworks = list(frameworks)
    if args.impls is None:
        args.impls = "fused" if args.quick else "fused,recompute"
    if args.repeats is None:
        args.repeats = 3 if args.quick else 7
    dtypes = _names(args.dtypes, "dtypes") or (["float32"] if args.quick else ["float32", "float64"])
    modes = _names(args.modes, "modes") or []
    bad = [m for m in modes if m not in ("eager", "compiled")]
    if bad:
        raise SystemExit(f"neuronbench perf: unknown mode(s) {', '.join(bad)}; known: eager, compiled")
    aptx_impls = _names(args.impls, "impls") or []
    bad = [i for i in aptx_impls if i not in impls.spec.blocks.APTX_IMPLS]
    if bad:
        raise SystemExit(f"neuronbench perf: unknown impl(s) {', '.join(bad)}; "
                         f"known: {', '.join(impls.spec.blocks.APTX_IMPLS)}")
    if args.batch < 1 or args.repeats < 1 or args.width < 1:
        raise SystemExit("neuronbench perf: --batch, --width and --repeats must be at least 1")
    notes: list[str] = []
    try:
        trials = layer.plan(frameworks, units=_names(args.units, "units"), impls_=aptx_impls,
                            modes=modes, batch=args.batch, width=args.width, repeats=args.repeats,
                            originals=not args.no_originals, device=args.device,
                            scaling_batches=batches, scaling_widths=widths,
                            scaling_frameworks=scaling_frameworks, notes=notes, dtypes=dtypes)
    except ValueError as error:
        raise SystemExit(f"neuronbench perf: {error}") from error
    if not args.no_train_step:
        if args.device != "cpu":
            raise SystemExit("neuronbench perf: the train-step cases run on the CPU only; "
                             "pass --no-train-step with --device gpu/tpu")
        models = _names(args.models, "models") or (["mlp", "cnn"] if args.quick else None)
        step_modes = _names(args.train_step_modes, "train-step-modes")
        try:
            if step_modes is None and args.quick:
                for framework in frameworks:
                    mode = "compiled" if framework in ("jax", "tf") else "eager"
                    trials += train_step.plan([framework], models=models, modes=(mode,),
                                              repeats=args.repeats, notes=notes)
            else:
                trials += train_step.plan(frameworks, models=models, modes=step_modes or modes,
                                          repeats=args.repeats, notes=notes)
        except ValueError as error:
            raise SystemExit(f"neuronbench perf: {error}") from error
    for note in notes:
        print(f"note: {note}")
    results_dir = settings.results_dir(args.results_dir)
    run_config = {"command": "perf", "frameworks": frameworks, "units": args.units, "impls": aptx_impls,
                  "modes": modes, "batch": args.batch, "width": args.width, "repeats": args.repeats,
                  "quick": args.quick, "device": args.device, "dtypes": dtypes, "batches": list(batches),
                  "widths": list(widths), "scaling_frameworks": scaling_frameworks,
                  "models": None if args.no_train_step else args.models,
                  "train_step_modes": args.train_step_modes}
    try:
        # Each case times in a fresh process of its own: the determinism switch would only import
        # torch and TF here and hand TF_DETERMINISTIC_OPS to the timed processes.
        summary = run_grid(trials, results_dir, run_config=run_config, executor="inline",
                           deterministic=False)
    except ResultsLocked as error:
        print(f"neuronbench perf: {error}")
        return 3
    write_results(results_dir)
    for key, label, error in summary.failures:
        print(f"trial {label} ({key}) failed: {error}")
    print(summary)
    return 0 if summary.failed == 0 else 1
