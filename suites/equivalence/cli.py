"""``neuronbench equivalence``: run the parity harness and write the matrix to reports/.

Finished cells are appended to ``<out>/partial.jsonl`` as they complete, so an interrupted run
(Ctrl-C, a crash, a CI time-out) resumes where it stopped: cells recorded by the same code
(git sha and dirty flag) with the same options are reused, and ``--fresh`` starts over. The
partial file is removed once the report is written.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Sequence
from pathlib import Path

from impls.registry import FRAMEWORKS, check_framework

DEFAULT_OUT = Path("reports") / "equivalence"
PARTIAL_NAME = "partial.jsonl"


def frameworks_from(args_value: str | None) -> list[str]:
    """--frameworks, else NEURONBENCH_FRAMEWORKS, else all four (explicit, never guessed)."""
    raw = args_value or os.environ.get("NEURONBENCH_FRAMEWORKS") or ",".join(FRAMEWORKS)
    return [check_framework(name.strip()) for name in raw.split(",") if name.strip()]


def _comma_list(value: str | None) -> list[str] | None:
    return [v.strip() for v in value.split(",") if v.strip()] if value else None


def add_subparser(subparsers) -> None:
    parser = subparsers.add_parser("equivalence", help="check every framework against the float64 oracle")
    parser.add_argument("--frameworks", help="comma list (default: $NEURONBENCH_FRAMEWORKS or all four)")
    parser.add_argument("--units", help="comma list of units (default: all)")
    parser.add_argument("--dtypes", default="float32,float64")
    parser.add_argument("--modes", help="comma list (default: every mode each framework has)")
    parser.add_argument("--no-trajectories", action="store_true", help="skip the 10-step training checks")
    parser.add_argument("--no-checkpoint", action="store_true",
                        help="skip the published APTx MNIST checkpoint (9669/10000 in every framework)")
    parser.add_argument("--checkpoint-oracle-rows", type=int, default=None,
                        help="test images the float64 oracle evaluates for the logit check (default: all)")
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="MNIST location for the checkpoint (default: $NEURONBENCH_DATA or the cache)")
    parser.add_argument("--fresh", action="store_true", help="ignore cells saved by an interrupted run")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.set_defaults(handler=run_command)


def _fingerprint(args: argparse.Namespace, git_sha: str) -> dict:
    """What must match for saved cells to be reused: the code and the per-cell options."""
    return {"git sha": git_sha, "trajectories": not args.no_trajectories}


def _load_partial(path: Path, fingerprint: dict) -> dict[tuple[str, ...], list]:
    """Cells saved by an earlier run of the same code and options (a torn last line is dropped)."""
    from suites.equivalence.harness import row_from_dict

    if not path.is_file():
        return {}
    lines = path.read_text().splitlines()
    try:
        if not lines or json.loads(lines[0]) != fingerprint:
            return {}
    except json.JSONDecodeError:
        return {}
    cells: dict[tuple[str, ...], list] = {}
    for line in lines[1:]:
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            break
        cells[tuple(record["key"])] = [row_from_dict(r) for r in record["rows"]]
    return cells


def _append(path: Path, record: dict) -> None:
    with path.open("a") as fh:
        fh.write(json.dumps(record) + "\n")
        fh.flush()
        os.fsync(fh.fileno())


def run_cells(keys: Sequence[tuple[str, str, str, str]], args: argparse.Namespace, partial: Path,
              fingerprint: dict) -> list:
    """Rows of every cell, reusing saved ones and saving each new cell as soon as it finishes."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from suites.equivalence import harness

    console = Console(stderr=True)
    saved = {} if args.fresh else _load_partial(partial, fingerprint)
    if saved:
        console.print(f"resuming: {len(saved)} finished cells from {partial}")
    else:
        partial.parent.mkdir(parents=True, exist_ok=True)
        partial.write_text(json.dumps(fingerprint) + "\n")
    rows = []
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task("equivalence", total=len(keys))
        for index, key in enumerate(keys, start=1):
            if key in saved:
                rows.extend(saved[key])
                bar.advance(task)
                continue
            bar.update(task, description=" ".join(key))
            cell = harness.check_group(key, trajectories=not args.no_trajectories)
            _append(partial, {"key": list(key), "rows": [r.as_dict() for r in cell]})
            rows.extend(cell)
            bar.advance(task)
            if not console.is_terminal:  # logs (CI, nox piped to a file) get one line per cell
                verdict = "pass" if all(r.passed for r in cell) else "FAIL"
                console.print(f"[{index}/{len(keys)}] {' '.join(key)}: {verdict}", highlight=False)
    return rows


def run_command(args: argparse.Namespace) -> int:
    from suites import provenance
    from suites.equivalence import checkpoint, harness, report

    frameworks = frameworks_from(args.frameworks)
    dtypes = _comma_list(args.dtypes) or ["float32", "float64"]
    keys = harness.plan(frameworks, _comma_list(args.units), dtypes, _comma_list(args.modes))
    info = provenance.collect()
    info["frameworks"] = ", ".join(frameworks)
    partial = args.out / PARTIAL_NAME
    rows = run_cells(keys, args, partial, _fingerprint(args, info["git sha"]))
    checkpoint_results = None
    if not args.no_checkpoint:
        print(f"evaluating the published APTx checkpoint in {', '.join(frameworks)} ...", flush=True)
        checkpoint_results = checkpoint.evaluate(frameworks, data_dir=args.data_dir,
                                                 oracle_rows=args.checkpoint_oracle_rows)
    paths = report.write_report(rows, args.out, info, checkpoint_results)
    partial.unlink(missing_ok=True)
    print(report.parity_matrix(rows))
    if checkpoint_results is not None:
        print(report.checkpoint_table(*checkpoint_results))
    print(f"wrote {', '.join(str(p) for p in paths)}")
    print(report.summary_line(rows, checkpoint_results))
    checkpoint_ok = checkpoint_results is None or all(r.passed for r in checkpoint_results[1])
    return 0 if all(r.passed for r in rows) and checkpoint_ok else 1
