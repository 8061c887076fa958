"""``neuronbench data ...``: ``verify`` and ``info``.

Imports only ``argparse`` at module import (the top-level CLI imports every suite's ``cli``);
NumPy, rich and the loaders are imported when a command runs.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any


def add_data_options(parser: argparse.ArgumentParser) -> None:
    """Add ``--data-dir`` and ``--no-download`` to a parser (use it on every command that reads
    data, then pass ``args.data_dir`` and ``download_from_args(args)`` to the loaders)."""
    parser.add_argument(
        "--data-dir",
        metavar="D",
        default=None,
        help="data root (default: $NEURONBENCH_DATA, else the per-user cache folder)",
    )
    parser.add_argument(
        "--no-download",
        action="store_true",
        help="never download a missing file; fail with the path searched and the URL "
        "(also: NEURONBENCH_OFFLINE=1)",
    )


def download_from_args(args: argparse.Namespace) -> bool | None:
    """``False`` when ``--no-download`` was given, else ``None`` (default policy)."""
    return False if getattr(args, "no_download", False) else None


def add_subparser(subparsers: Any) -> None:
    """Register ``data`` and its sub-commands on the top-level CLI."""
    data = subparsers.add_parser(
        "data",
        help="verify and inspect the datasets",
        description="Verify (checksums, rows, classes) and inspect the benchmark datasets.",
    )
    sub = data.add_subparsers(dest="data_command", metavar="ACTION")
    sub.required = True

    verify = sub.add_parser(
        "verify",
        help="check every dataset file (size, sha256, rows, classes)",
        description="Check every file of every dataset (or of the NAMEs given): size and pinned "
        "checksum, then rows and classes after parsing. Exits non-zero if any dataset fails.",
    )
    verify.add_argument("names", nargs="*", metavar="NAME", help="datasets (default: all)")
    add_data_options(verify)
    verify.set_defaults(handler=run_verify)

    info = sub.add_parser(
        "info",
        help="print shapes, class balance and feature statistics of a dataset",
        description="Load a dataset and print its shapes, class balance and feature statistics.",
    )
    info.add_argument(
        "name", metavar="NAME", help="dataset name (mnist, cifar10, adult, magic, ccpp)"
    )
    add_data_options(info)
    info.set_defaults(handler=run_info)


def _console():
    from rich.console import Console

    console = Console()
    if not console.is_terminal:
        # Logs and pipes: wide enough for full sha256 digests, no colour codes.
        console = Console(width=max(console.width, 240), no_color=True, highlight=False)
    return console


def _short(relpath: str) -> str:
    """A file's path without the dataset folder (``mnist/x.gz`` -> ``x.gz``)."""
    return relpath.split("/", 1)[-1]


def run_verify(args: argparse.Namespace) -> int:
    from rich.markup import escape
    from rich.table import Table

    from .errors import DataError
    from .registry import DATASET_NAMES, canonical_name
    from .root import data_root_and_source, downloads_allowed
    from .verify import verify_all

    console = _console()
    try:
        names = [canonical_name(n) for n in args.names] if args.names else list(DATASET_NAMES)
    except ValueError as error:
        console.print(f"error: {error}")
        return 2
    try:
        root, source = data_root_and_source(args.data_dir)
    except ValueError as error:
        console.print(f"error: {escape(str(error))}")
        return 2
    download = download_from_args(args)
    console.print(
        f"data root: {escape(str(root))} (from {source}); downloads "
        f"{'allowed' if downloads_allowed(download) else 'disabled'}"
    )
    try:
        reports = verify_all(names, args.data_dir, download=download)
    except DataError as error:  # pragma: no cover - verify_dataset reports instead of raising
        console.print(f"error: {escape(str(error))}")
        return 1

    table = Table(title="neuronbench data verify", show_lines=False)
    for col, kw in (
        ("dataset", {}),
        ("file", {"no_wrap": True}),
        ("bytes", {"justify": "right"}),
        ("sha256", {"no_wrap": True}),
        ("version", {}),
        ("status", {}),
        ("rows", {"no_wrap": True}),
        ("classes", {}),
    ):
        table.add_column(col, **kw)
    for rep in reports:
        for i, f in enumerate(rep.files):
            table.add_row(
                rep.name if i == 0 else "",
                escape(_short(f.file)),
                "" if f.size is None else str(f.size),
                f.sha256 or "",
                escape(f.version),
                f.status.upper() if not f.ok else f.status,
                "",
                "",
            )
        verdict = "ok" if rep.ok else "FAIL"
        table.add_row(
            "",
            "(parsed content)",
            "",
            "",
            "",
            verdict,
            escape(rep.rows),
            escape(rep.classes),
            end_section=True,
        )
    console.print(table)
    failed = [r for r in reports if not r.ok]
    for rep in failed:
        console.print(escape(f"\n[{rep.name}] FAILED"))
        for message in rep.errors + rep.checks:
            console.print(escape(message), soft_wrap=True)
    summary = f"{len(reports) - len(failed)}/{len(reports)} datasets verified"
    console.print(
        ("\n" if failed else "")
        + summary
        + ("" if not failed else f"; failed: {', '.join(r.name for r in failed)}")
    )
    return 1 if failed else 0


def run_info(args: argparse.Namespace) -> int:
    from rich.markup import escape

    from .errors import DataError
    from .info import describe

    console = _console()
    try:
        describe(args.name, args.data_dir, download=download_from_args(args), console=console)
    except ValueError as error:
        console.print(f"error: {escape(str(error))}")
        return 2
    except DataError as error:
        console.print(f"error: {type(error).__name__}: {escape(str(error))}", soft_wrap=True)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:  # pragma: no cover - convenience
    parser = argparse.ArgumentParser(prog="neuronbench")
    add_subparser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    return int(args.handler(args) or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
