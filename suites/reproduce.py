"""``neuronbench reproduce``: run every stage that exists, in order, and say which do not yet.

Stages are listed once, here, with the command that runs each; a stage not built yet is named
in the output (and in reports/STAGES.md) instead of being silently absent.
"""

from __future__ import annotations

import argparse
import importlib
from pathlib import Path

#: (stage, module that implements it, what it produces)
STAGES: tuple[tuple[str, str, str], ...] = (
    ("data", "suites.data.cli", "dataset verification table"),
    ("equivalence", "suites.equivalence.cli", "parity matrix in reports/equivalence/"),
    ("accuracy", "suites.accuracy", "MNIST / UCI / CIFAR-10 protocols over seeds"),
    ("performance", "suites.performance.cli", "throughput and memory tables"),
    ("report", "suites.report", "paper tables and figures"),
    ("notebooks", "notebooks", "executed figure notebooks"),
)
PROFILES = ("quick", "paper")


def add_subparser(subparsers) -> None:
    parser = subparsers.add_parser("reproduce", help="run every built stage and write the reports")
    parser.add_argument("--profile", choices=PROFILES, default="quick")
    parser.add_argument("--frameworks", help="comma list (default: $NEURONBENCH_FRAMEWORKS or all four)")
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--no-download", action="store_true")
    parser.add_argument("--out", type=Path, default=Path("reports"))
    parser.set_defaults(handler=run_command)


def _available(module: str) -> bool:
    try:
        importlib.import_module(module)
    except ModuleNotFoundError:
        return False
    return True


def built_frameworks() -> list[str]:
    """Frameworks whose backend package exists in this checkout (installed or not)."""
    import importlib.util

    from impls.registry import FRAMEWORKS

    return [f for f in FRAMEWORKS if importlib.util.find_spec(f"impls.{f}") is not None]


def run_command(args: argparse.Namespace) -> int:
    import os

    from impls.registry import FRAMEWORKS
    from suites.cli import main as cli_main

    if not args.frameworks and not os.environ.get("NEURONBENCH_FRAMEWORKS"):
        built = built_frameworks()
        missing = [f for f in FRAMEWORKS if f not in built]
        if missing:
            print(f"[reproduce] framework backends not built yet: {', '.join(missing)}")
        args.frameworks = ",".join(built)

    status = 0
    lines = ["# Reproduction stages", "", f"profile: {args.profile}", "", "| stage | status | output |", "|---|---|---|"]
    for stage, module, output in STAGES:
        if not _available(module):
            print(f"[reproduce] stage {stage!r}: not built yet ({output})")
            lines.append(f"| {stage} | not built yet | {output} |")
            continue
        argv = [stage]
        if stage == "data":
            argv = ["data", "verify", *(["--data-dir", str(args.data_dir)] if args.data_dir else []),
                    *(["--no-download"] if args.no_download else [])]
        elif stage == "equivalence":
            # The full matrix in both profiles (about 10 minutes on 2 cores): the committed
            # report must never be replaced by a partial one.
            argv = ["equivalence", "--out", str(args.out / "equivalence"),
                    *(["--frameworks", args.frameworks] if args.frameworks else []),
                    *(["--data-dir", str(args.data_dir)] if args.data_dir else [])]
        print(f"[reproduce] stage {stage!r}: neuronbench {' '.join(argv)}")
        code = cli_main(argv)
        lines.append(f"| {stage} | {'ok' if code == 0 else f'FAILED (exit {code})'} | {output} |")
        status = status or code
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "STAGES.md").write_text("\n".join(lines) + "\n")
    print(f"[reproduce] wrote {args.out / 'STAGES.md'}")
    return status
