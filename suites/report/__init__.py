"""The report stage: tables, figures and statistics derived from the results store only.

``build_report(results_dir, out_dir="reports")`` is the entry point (``neuronbench report`` on the
command line); ``stats`` holds the statistics, ``tables`` and ``figures`` the outputs, ``palette``
the one colour/order mapping every output shares. See docs/report.md.
"""

from __future__ import annotations

from suites.report.stage import build_report

__all__ = ["build_report"]
