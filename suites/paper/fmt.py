"""Number formatting for the claims table and the paper, in one place.

The paper's templates print strings that were formatted here, never raw floats, so the same
number reads the same in Markdown, LaTeX and CSV, and the traceability test can compare the
rendered text with the context token for token.
"""

from __future__ import annotations

import math

DASH = "—"


def missing(value: float | None) -> bool:
    """True for None and NaN (a value that was not measured)."""
    return value is None or (isinstance(value, float) and math.isnan(value))


def num(value: float | None, digits: int = 2) -> str:
    """Fixed-point with ``digits`` decimals; a dash when missing."""
    return DASH if missing(value) else f"{value:.{digits}f}"


def signed(value: float | None, digits: int = 2) -> str:
    """Fixed-point with an explicit sign (differences); a dash when missing."""
    if missing(value):
        return DASH
    text = f"{value:+.{digits}f}"
    return text.replace("-0.00", "+0.00") if text.strip("+-0.") == "" else text


def sci(value: float | None, digits: int = 1) -> str:
    """Scientific notation (error magnitudes); a dash when missing."""
    return DASH if missing(value) else f"{value:.{digits}e}"


def count(value: float | int | None) -> str:
    """An integer with thousands separators (counts of trials, checks, parameters)."""
    return DASH if missing(value) else f"{int(value):,}"


def plain(value: float | int | None) -> str:
    """An integer without separators (image counts quoted as published, epochs, seeds)."""
    return DASH if missing(value) else str(int(value))


def pct(fraction: float | None, digits: int = 2) -> str:
    """A fraction as a percentage number (no % sign)."""
    return DASH if missing(fraction) else f"{100.0 * fraction:.{digits}f}"


def mean_ci(mean: float | None, half: float | None, n: int, digits: int = 2) -> str:
    """``mean ± half (n=k)``; the ``±`` part is left out when there is no interval (n < 2)."""
    if missing(mean):
        return DASH
    body = num(mean, digits) if missing(half) else f"{num(mean, digits)} ± {num(half, digits)}"
    return f"{body} (n={n})"


def short_sha(sha: str) -> str:
    """The first seven hex digits of a git sha, keeping a " (dirty)" mark."""
    head, _, rest = sha.partition(" ")
    return head[:7] + (f" {rest}" if rest else "")
