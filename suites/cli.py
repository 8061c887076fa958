"""The ``neuronbench`` command line.

Each suite owns its sub-command in its own ``cli.py`` exposing ``add_subparser(subparsers)``;
this module only wires them together, importing a suite when the program starts but never a
framework (suites import frameworks lazily, when a command asks for one).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

#: Modules that contribute sub-commands, in the order they appear in ``--help``.
SUBCOMMAND_MODULES: tuple[str, ...] = (
    "suites.data.cli",
    "suites.equivalence.cli",
    "suites.accuracy.cli",
    "suites.performance.cli",
    "suites.evaluate.cli",
    "suites.report.cli",
    "suites.notebooks.cli",
    "suites.paper.cli",
    "suites.reproduce",
)


class _ExactOptionsParser(argparse.ArgumentParser):
    """Sub-command parsers that take options only by their full names: argparse would otherwise
    accept any unambiguous prefix (``--framework numpy`` meaning ``--frameworks``), so a typo
    could silently mean another option, and adding an option could break a command line."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs["allow_abbrev"] = False
        super().__init__(*args, **kwargs)


def build_parser() -> argparse.ArgumentParser:
    """Return the top-level parser with every available suite's sub-command registered."""
    parser = argparse.ArgumentParser(
        prog="neuronbench",
        allow_abbrev=False,
        description="Benchmark suite for trainable neurons and learnable activations.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND",
                                       parser_class=_ExactOptionsParser)
    subparsers.required = True
    for module_name in SUBCOMMAND_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as error:
            # A suite not built yet is simply absent; any other import failure is a bug.
            if error.name is None or not module_name.startswith(error.name):
                raise
            continue
        module.add_subparser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    result = args.handler(args)
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
