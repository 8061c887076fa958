"""The one table of equivalence tolerances (design §4) and the error metric they apply to.

Metric: relative L2 error ``|a - b|_2 / max(|b|_2, tiny)`` where ``b`` is the float64 oracle
and ``tiny`` the smallest normal number of the dtype under test. The floor only matters when
the reference itself is below what the tested dtype can represent (an ActMix gradient at
T = 0.01 is ~1e-64 in float64 and exactly 0 in float32): such a reference is compared
absolutely, at the resolution of the dtype, instead of dividing by ~0. NaN or inf in the
tested values always fails.

Tolerances are never loosened to make a case pass; a case that fails is a bug to fix or a
finding to report.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

#: (dtype, check) -> maximum relative L2 error against the float64 oracle.
TOLERANCES: Mapping[tuple[str, str], float] = {
    ("float32", "forward"): 1e-5,
    ("float32", "gradient"): 1e-4,
    ("float32", "trajectory"): 1e-3,
    ("float64", "forward"): 1e-10,
    ("float64", "gradient"): 1e-10,
    ("float64", "trajectory"): 1e-8,
}


def tolerance(dtype: str, check: str) -> float:
    try:
        return TOLERANCES[(dtype, check)]
    except KeyError:
        raise ValueError(f"no tolerance for dtype {dtype!r} and check {check!r}; "
                         f"known: {sorted(TOLERANCES)}") from None


def relative_l2(actual: np.ndarray, expected: np.ndarray, dtype: str = "float32") -> float:
    """Relative L2 error of ``actual`` against ``expected`` (see the module docstring)."""
    a = np.asarray(actual, dtype=np.float64)
    b = np.asarray(expected, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"shape mismatch: actual {a.shape}, expected {b.shape}")
    if not np.all(np.isfinite(a)):
        return float("inf")
    floor = float(np.finfo(np.dtype(dtype)).tiny)
    return float(np.linalg.norm(a - b) / max(float(np.linalg.norm(b)), floor))


def max_abs(actual: np.ndarray, expected: np.ndarray) -> float:
    a = np.asarray(actual, dtype=np.float64)
    b = np.asarray(expected, dtype=np.float64)
    return float(np.max(np.abs(a - b))) if a.size else 0.0
