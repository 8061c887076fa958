"""The paper stage: the published-claims table and the generated paper text (Markdown, LaTeX).

``build_paper(reports_dir)`` reads only the committed report rows and manifests under
``reports/`` (``suites.paper.inputs``), compares every published claim with our rows
(``suites.paper.claims``; the published numbers live in ``suites.paper.published`` alone) and
renders ``paper.md`` and ``paper.tex`` from Jinja2 templates whose prose holds no typed number
(``suites.paper.build``). See ``docs/paper.md``.
"""

from typing import Any

__all__ = ["build_paper"]


def __getattr__(name: str) -> Any:
    """``suites.paper.build_paper``, imported on first use (the CLI imports this package at start,
    and jinja2 and pandas are not needed until a paper is built)."""
    if name == "build_paper":
        from suites.paper.build import build_paper

        return build_paper
    raise AttributeError(f"module 'suites.paper' has no attribute {name!r}")
