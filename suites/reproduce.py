"""``neuronbench reproduce``: every built stage of the stage table, in order, then a summary.

A failing stage (non-zero exit or an exception) is a FAILED row in the stage summary and makes
the run exit non-zero; the stages after it still run where they can (the report then shows
what exists). Stages not built yet are named.

Resuming is the runner's: every store stage plans its trials and skips the finished ones, so a
rerun recomputes only what is missing (one deleted trial is one trial rerun). What each stage
produced is read back, not assumed: a store stage's trial counts (run, finished earlier,
failed) come from the run manifests it wrote, a report stage's from the files it wrote. The
summary (status, what was produced, seconds) is printed as a table and saved as
``<results-dir>/stages.json``; ``<out>/STAGES.md`` lists each stage's status and what it
produces only, so regenerating it from the same state gives the same file.
"""

from __future__ import annotations

import argparse
import json
import time
import traceback
from pathlib import Path

from suites.results import write_atomic
from suites.stages import STAGES, StageOptions

PROFILES = ("quick", "paper")


def add_subparser(subparsers) -> None:
    parser = subparsers.add_parser("reproduce", help="run every built stage and write the reports",
                                   allow_abbrev=False)
    parser.add_argument("--profile", choices=PROFILES, default="quick")
    parser.add_argument("--frameworks", help="comma list (default: $NEURONBENCH_FRAMEWORKS or all four)")
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--no-download", action="store_true")
    parser.add_argument("--results-dir", type=Path, default=None,
                        help="raw results (default: $NEURONBENCH_RESULTS or ./results)")
    parser.add_argument("--out", type=Path, default=Path("reports"))
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--stages", help="comma list of stages to run (default: all built ones)")
    parser.set_defaults(handler=run_command)


def run_command(args: argparse.Namespace) -> int:
    from suites import settings
    from suites.cli import main as cli_main

    options = StageOptions(profile=args.profile, frameworks=tuple(settings.frameworks(args.frameworks)),
                           data_dir=args.data_dir, no_download=args.no_download,
                           results_dir=settings.results_dir(args.results_dir), out=args.out, jobs=args.jobs)
    wanted = None
    if args.stages:
        wanted = [s.strip() for s in args.stages.split(",") if s.strip()]
        unknown = [s for s in wanted if s not in {stage.name for stage in STAGES}]
        if unknown or not wanted:
            raise SystemExit(f"neuronbench reproduce: unknown or empty --stages {args.stages!r}; "
                             f"stages: {', '.join(stage.name for stage in STAGES)}")
    status = 0
    summary = []
    for stage in STAGES:
        if wanted is not None and stage.name not in wanted:
            continue
        if not stage.available():
            print(f"[reproduce] stage {stage.name!r}: not built yet ({stage.produces})")
            summary.append({"stage": stage.name, "status": "not built yet", "seconds": 0.0,
                            "produces": stage.produces})
            continue
        argv = stage.command(options)
        print(f"[reproduce] stage {stage.name!r}: neuronbench {' '.join(argv)}", flush=True)
        manifests_before = _manifest_files(options.results_dir)
        wall_start = time.time()
        start = time.perf_counter()
        try:
            code = cli_main(argv)
            outcome = "ok" if code == 0 else f"FAILED (exit {code})"
        except SystemExit as error:
            code = error.code if isinstance(error.code, int) else 1
            outcome = "ok" if code == 0 else f"FAILED (exit {code}: {error})"
        except Exception as error:  # a stage's crash is a FAILED row, never a bare traceback
            code = 1
            outcome = f"FAILED ({type(error).__name__}: {error})"
            print(f"[reproduce] stage {stage.name!r} crashed:\n{traceback.format_exc()}")
        seconds = time.perf_counter() - start
        summary.append({"stage": stage.name, "status": outcome, "seconds": round(seconds, 1),
                        "produces": stage.produces,
                        "produced": _produced(stage.writes, options, manifests_before, wall_start)})
        status = status or (code or 0)
    # Atomic (tmp file + os.replace): a reproduction killed while writing its summary leaves the
    # previous one whole, and a full disk says which file it could not write.
    write_atomic(options.results_dir / "stages.json",
                 json.dumps({"profile": args.profile, "stages": summary}, indent=2) + "\n")
    lines = ["# Reproduction stages", "", f"profile: {args.profile}", "",
             "| stage | status | output |", "|---|---|---|"]
    lines += [f"| {s['stage']} | {s['status']} | {s['produces']} |" for s in summary]
    write_atomic(args.out / "STAGES.md", "\n".join(lines) + "\n")
    _print_summary(summary)
    return status


def _manifest_files(results_dir: Path) -> set[Path]:
    folder = results_dir / "runs"
    return set(folder.glob("*.json")) if folder.is_dir() else set()


def _produced(writes: str, options: StageOptions, manifests_before: set[Path], since: float) -> str:
    """What the stage left behind, read from disk: trial counts from the run manifests it wrote
    (store stages) or the number of files it wrote under the report folder."""
    if writes == "store":
        counts = {"ok": 0, "skipped": 0, "failed": 0, "diverged": 0}
        for path in sorted(_manifest_files(options.results_dir) - manifests_before):
            try:
                manifest = json.loads(path.read_text())
            except (OSError, ValueError):
                continue
            for key, value in (manifest.get("counts") or {}).items():
                if key in counts and isinstance(value, int):
                    counts[key] += value
        parts = [f"{counts['ok']} trials run", f"{counts['skipped']} finished earlier"]
        parts += [f"{counts[k]} {k}" for k in ("diverged", "failed") if counts[k]]
        return ", ".join(parts)
    if writes == "reports":
        written = [p for p in options.out.rglob("*") if p.is_file() and p.stat().st_mtime >= since - 1]
        return f"{len(written)} files written under {options.out}"
    return "-"


def _print_summary(summary: list[dict]) -> None:
    """The stage table on the terminal (rich), with the total time."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title="neuronbench reproduce: stages", title_justify="left")
    for column, justify in (("stage", "left"), ("status", "left"), ("produced", "left"),
                            ("seconds", "right")):
        table.add_column(column, justify=justify)
    for row in summary:
        table.add_row(row["stage"], row["status"], row.get("produced", "-"), f"{row['seconds']:.1f}")
    table.add_row("total", "", "", f"{sum(r['seconds'] for r in summary):.1f}")
    Console(width=140).print(table)
