"""The one check every array passes at the public API boundary (``impls``, ``impls.training``).

``np.asarray`` takes anything, and each framework then does something different with it: a
string array is parsed into numbers by NumPy, JAX and TensorFlow and refused by torch; an
object array becomes NaN in some and an exception in others; a complex array silently loses its
imaginary part; a ragged list raises NumPy's own message, naming nothing of ours. So the public
API turns every array argument into a NumPy array here, once, before any framework sees it, and
every framework receives the same thing.

What is accepted:

* float (any width) and integer (signed or unsigned) arrays, and anything ``np.asarray`` turns
  into one (lists, scalars, CPU tensors). With ``dtype`` the result is cast to it, so integers
  reach a float32 layer as float32 (the framework would otherwise have to cast, and TensorFlow
  refuses to).
* NaN and infinities, unless ``finite=True``: a forward pass or gradient at a non-finite input
  has a documented behaviour (docs/reliability.md), so inputs keep them. Parameters pass
  ``finite=True``: a NaN weight is never what anyone meant.

What is refused, with a ValueError naming ``what`` and the dtype received:

* booleans: a mask fed as an input is almost always a bug, and the frameworks disagree on
  whether True is 1.0 (cast explicitly, ``x.astype(np.float32)``, to mean it);
* complex numbers (the imaginary part would be dropped), strings and bytes (never parsed),
  Python objects and ``None``, datetimes, timedeltas and structured dtypes;
* ragged sequences (rows of different lengths);
* with ``finite=True``: NaN, +-inf, and values that overflow ``dtype`` (1e39 into float32).
"""

from __future__ import annotations

from typing import Any

import numpy as np

#: dtype kinds accepted as real numbers: float, signed and unsigned integer.
REAL_KINDS = "fiu"

#: Why a dtype kind is refused, appended to the error (kinds not listed get no reason).
_REFUSAL_REASONS = {
    "b": "booleans are refused; cast explicitly (x.astype(np.float32)) if 0/1 is meant",
    "c": "complex numbers are refused; the imaginary part would be dropped",
    "U": "strings are refused, never parsed",
    "S": "bytes are refused, never parsed",
    "O": "Python objects (None, mixed types, ragged rows) are refused",
    "M": "datetimes are refused",
    "m": "timedeltas are refused",
    "V": "structured and void dtypes are refused",
}


def check_array(value: Any, *, what: str, dtype: str | np.dtype | None = None,
                finite: bool = False) -> np.ndarray:
    """``value`` as a NumPy array of real numbers, or a ValueError that names ``what``.

    ``what`` says where the array came from ("forward: input x", "set_params: unit 'relu'
    parameter 'alpha'"): the error message starts with it. ``dtype`` (a NumPy dtype or its name)
    casts the result; ``finite`` refuses NaN, infinities and values that overflow ``dtype``.
    """
    array = _as_array(value, what)
    _check_real(array, what)
    if finite:
        _check_finite(array, what)
    if dtype is None:
        return array
    cast = _cast(array, np.dtype(dtype))
    if finite:
        _check_no_overflow(array, cast, what)
    return cast


def _as_array(value: Any, what: str) -> np.ndarray:
    """``np.asarray(value)``, with None and ragged sequences refused in our words."""
    if value is None:
        raise ValueError(f"{what} is None; expected real numbers (float or int)")
    try:
        return np.asarray(value)
    except ValueError as error:
        # NumPy >= 1.24 refuses a ragged nested sequence instead of making an object array.
        raise ValueError(f"{what} is a ragged sequence (rows of different lengths) or mixes "
                         f"arrays and scalars; expected a rectangular array of real numbers "
                         f"(NumPy: {error})") from error


def _check_real(array: np.ndarray, what: str) -> None:
    """Refuse every dtype that is not a float or an integer, saying why."""
    kind = array.dtype.kind
    if kind in REAL_KINDS:
        return
    reason = _REFUSAL_REASONS.get(kind)
    raise ValueError(f"{what} has dtype {array.dtype}; expected real numbers (float or int)"
                     + (f": {reason}" if reason else ""))


def _check_finite(array: np.ndarray, what: str) -> None:
    """Refuse NaN and infinities (integers are always finite)."""
    if array.dtype.kind != "f":
        return
    bad = ~np.isfinite(array)
    if np.any(bad):
        values = np.unique(array[bad]).tolist()
        raise ValueError(f"{what} must be finite; received {int(bad.sum())} non-finite "
                         f"value(s) of {array.size} ({', '.join(map(str, values))})")


def _cast(array: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """``array`` in ``dtype``; an overflow becomes inf here and is judged by the caller."""
    with np.errstate(over="ignore", invalid="ignore"):
        return array.astype(dtype, copy=False)


def _check_no_overflow(source: np.ndarray, cast: np.ndarray, what: str) -> None:
    """Refuse finite values that the cast to a narrower dtype turned into infinities."""
    overflowed = ~np.isfinite(cast)
    if np.any(overflowed):
        largest = float(np.max(np.abs(source[overflowed].astype(np.float64))))
        limit = float(np.finfo(cast.dtype).max)
        raise ValueError(f"{what} overflows {cast.dtype}: magnitude {largest:.6g} exceeds its "
                         f"largest finite value {limit:.6g}")
