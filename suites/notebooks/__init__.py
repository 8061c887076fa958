"""The notebooks stage: execute notebooks/ against a report folder into executed .ipynb + HTML.

``execute_notebooks(notebooks_dir, reports_dir, out_dir)`` is the entry point (``neuronbench
notebooks`` on the command line); ``helpers`` is what the notebooks themselves import (where the
report folder is, loading with a clear message when a file is missing, one figure style). See
docs/notebooks.md.
"""

from __future__ import annotations

from typing import Any

__all__ = ["REPORTS_ENV", "NotebookError", "execute_notebooks"]

#: Environment variable naming the report folder a notebook reads (``neuronbench notebooks``
#: sets it for each kernel; ``helpers.reports_dir`` reads it).
REPORTS_ENV = "NEURONBENCH_REPORTS"


def __getattr__(name: str) -> Any:
    # Lazy: every ``neuronbench`` command imports suites.notebooks.cli to register it, and a
    # notebook kernel imports suites.notebooks.helpers; neither needs the executor's imports.
    if name in ("NotebookError", "execute_notebooks"):
        from suites.notebooks import execute

        return getattr(execute, name)
    raise AttributeError(f"module 'suites.notebooks' has no attribute {name!r}")
