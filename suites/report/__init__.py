"""The report stage: tables, figures and statistics derived from the results store only.

``build_report(results_dir, out_dir="reports")`` is the entry point (``neuronbench report`` on the
command line); ``stats`` holds the statistics, ``tables`` and ``figures`` the outputs, ``palette``
the one colour/order mapping every output shares and ``style`` the one set of figure widths,
fonts and file settings. See docs/report.md.
"""

from __future__ import annotations

from typing import Any

__all__ = ["build_report"]


def __getattr__(name: str) -> Any:
    # Lazy: every ``neuronbench`` command imports suites.report.cli to register it, and the
    # stage pulls in pandas, matplotlib and seaborn (seconds); only ``report`` needs them.
    if name == "build_report":
        from suites.report.stage import build_report

        return build_report
    raise AttributeError(f"module 'suites.report' has no attribute {name!r}")
