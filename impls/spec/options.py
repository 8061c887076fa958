"""Option kinds: what each configuration option of a block accepts, checked once.

Every block of :mod:`impls.spec.blocks` declares, next to its defaults, one *kind* per option
(``BlockSpec.options``). :func:`impls.spec.blocks.resolve_config` checks every option against
its kind before any framework sees the configuration, so the four backends receive the same,
already validated values and none of them has to (or may) coerce anything itself.

Why a table of kinds and not ``bool(value)`` / ``int(value)`` in each backend: coercion hides
mistakes. ``bool("False")`` is ``True``, ``int(2.7)`` is ``2`` and ``float("nan")`` is a
float, so a typo in a sweep file used to build a different network than the one asked for,
silently, and only in the frameworks that happened to coerce. A kind refuses instead, with one
message form::

    unit 'swish': option 'learnable' must be a bool (True/False), got 'no' (str)

Every refusal is an :class:`OptionError`, a ``ValueError`` subclass, so callers that already
catch ``ValueError`` for a bad configuration keep working.

Accepted values are returned unchanged, except that NumPy scalars become the equal Python
scalar (``np.int64(3)`` -> ``3``, ``np.bool_(True)`` -> ``True``, ``np.float32(0.5)`` -> ``0.5``)
and sequences become tuples (conv geometry, the ActMix basis): a resolved configuration then
compares, hashes and serialises the same however it was written, and a NumPy scalar cannot
change type promotion inside a layer.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np


class OptionError(ValueError):
    """A block option of the wrong type or outside its range.

    A ``ValueError`` subclass: the project reports every bad configuration as a ValueError, and
    the subclass lets a caller tell an option problem from other bad input when it needs to.
    """


class _Mismatch(Exception):
    """Raised by a kind's ``coerce`` when a value does not fit; turned into an OptionError by
    :func:`check_option`, which knows the unit and option names the message must carry."""


def describe(value: Any) -> str:
    """``repr`` of a received value plus its type name: ``'no' (str)``, ``2.7 (float)``.

    The type matters in the message because the wrong-type cases look right when printed
    (``'3'`` versus ``3``, ``np.True_`` versus ``True``).
    """
    return f"{value!r} ({type(value).__name__})"


def _is_bool(value: Any) -> bool:
    return isinstance(value, (bool, np.bool_))


def _is_int(value: Any) -> bool:
    # bool is an int subclass in Python; True as a width or a stride is always a mistake.
    return isinstance(value, (int, np.integer)) and not _is_bool(value)


def _is_real(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not _is_bool(value)


def _as_python_number(value: Any) -> int | float:
    """The equal Python scalar of a NumPy int or float; Python numbers come back unchanged."""
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    return value


def _is_finite(value: int | float) -> bool:
    try:
        return math.isfinite(float(value))
    except OverflowError:  # a Python int beyond float range (10**400)
        return False


@dataclass(frozen=True)
class OptionKind:
    """What one option accepts. Subclasses say it in words (``expected``, for the message) and
    in code (``coerce``: the normalised value, or ``_Mismatch``)."""

    @property
    def expected(self) -> str:
        raise NotImplementedError

    def coerce(self, value: Any) -> Any:
        raise NotImplementedError


@dataclass(frozen=True)
class Bool(OptionKind):
    """A real ``bool`` (or ``numpy.bool_``): never a string, never 0/1."""

    @property
    def expected(self) -> str:
        return "a bool (True/False)"

    def coerce(self, value: Any) -> bool:
        if not _is_bool(value):
            raise _Mismatch
        return bool(value)


def _int_words(minimum: int | None) -> str:
    if minimum is None:
        return "an integer"
    if minimum == 1:
        return "a positive integer"
    if minimum == 0:
        return "a non-negative integer"
    return f"an integer >= {minimum}"


@dataclass(frozen=True)
class Int(OptionKind):
    """An integer (``int`` or NumPy integer, not bool, float or str), at least ``minimum``."""

    minimum: int | None = None

    @property
    def expected(self) -> str:
        return _int_words(self.minimum)

    def coerce(self, value: Any) -> int:
        if not _is_int(value) or (self.minimum is not None and value < self.minimum):
            raise _Mismatch
        return int(value)


@dataclass(frozen=True)
class IntPair(OptionKind):
    """Conv geometry: one integer for both spatial axes, or an (h, w) pair; resolved to a tuple.

    Each entry must itself be an integer: ``2.7`` or ``"3"`` used to become 2 and 3 through
    ``int()``, building a different convolution than the one written.
    """

    minimum: int = 1

    @property
    def expected(self) -> str:
        words = _int_words(self.minimum)
        return f"{words} or a pair (h, w) of them"

    def coerce(self, value: Any) -> tuple[int, int]:
        entries = tuple(value) if isinstance(value, (tuple, list)) else (value, value)
        if len(entries) != 2 or not all(_is_int(v) and v >= self.minimum for v in entries):
            raise _Mismatch
        return (int(entries[0]), int(entries[1]))


@dataclass(frozen=True)
class Real(OptionKind):
    """A finite real number (``int``, ``float`` or a NumPy one; not bool, str or complex).

    ``minimum`` with ``strict`` gives the ranges the maths needs: a temperature or an epsilon
    that a layer divides by must be > 0, an additive guard >= 0, an exponent n > 0.
    """

    minimum: float | None = None
    strict: bool = False

    @property
    def expected(self) -> str:
        if self.minimum is None:
            return "a finite number"
        if self.minimum == 0:
            return "a positive finite number" if self.strict else "a non-negative finite number"
        return f"a finite number {'>' if self.strict else '>='} {self.minimum}"

    def coerce(self, value: Any) -> int | float:
        if not _is_real(value) or not _is_finite(value):
            raise _Mismatch
        if self.minimum is not None:
            below = value <= self.minimum if self.strict else value < self.minimum
            if below:
                raise _Mismatch
        return _as_python_number(value)


@dataclass(frozen=True)
class Choice(OptionKind):
    """One of a fixed set of strings (an implementation, a semantics)."""

    choices: tuple[str, ...]

    @property
    def expected(self) -> str:
        return "one of " + ", ".join(repr(c) for c in self.choices)

    def coerce(self, value: Any) -> str:
        if not isinstance(value, str) or value not in self.choices:
            raise _Mismatch
        return value


@dataclass(frozen=True)
class Subset(OptionKind):
    """A non-empty sequence of distinct names from ``choices``, in the caller's order; resolved
    to a tuple (the ActMix basis: order fixes the column of each basis function)."""

    choices: tuple[str, ...]

    @property
    def expected(self) -> str:
        names = ", ".join(repr(c) for c in self.choices)
        return f"a non-empty list or tuple of distinct names among {names}"

    def coerce(self, value: Any) -> tuple[str, ...]:
        if not isinstance(value, (tuple, list)) or not value:
            raise _Mismatch
        if not all(isinstance(v, str) and v in self.choices for v in value):
            raise _Mismatch
        if len(set(value)) != len(value):
            raise _Mismatch
        return tuple(value)


@dataclass(frozen=True)
class YatAlpha(OptionKind):
    """The Yat layers' ``alpha``: ``"learnable"``, ``"sqrt2"``, a finite number, ``None`` or
    ``False`` (no scale; see :func:`impls.spec.blocks.yat_alpha_mode`). ``True`` is refused:
    it says neither which scale nor whether it trains."""

    @property
    def expected(self) -> str:
        return "'learnable', 'sqrt2', a finite number, None or False"

    def coerce(self, value: Any) -> str | int | float | None:
        if value is None or (isinstance(value, str) and value in ("learnable", "sqrt2")):
            return value
        if _is_bool(value):
            if bool(value):
                raise _Mismatch
            return False
        if _is_real(value) and _is_finite(value):
            return _as_python_number(value)
        raise _Mismatch


#: The kinds the blocks use, by the name the docs give them.
BOOL = Bool()
INT = Int()                                    # an axis: any integer, negative counts from the end
POSITIVE_INT = Int(1)                          # widths, features, channels, pool size
POSITIVE_INT_PAIR = IntPair(1)                 # conv kernel_size, stride
NONNEG_INT_PAIR = IntPair(0)                   # conv padding
FINITE = Real()                                # initial values, biases, frequencies
POSITIVE = Real(0.0, strict=True)              # temperatures, divisor epsilons, exponents
NONNEG = Real(0.0)                             # additive guards that may be 0
YAT_ALPHA = YatAlpha()


def check_option(unit: str, key: str, kind: OptionKind, value: Any) -> Any:
    """The normalised value of one option, or an OptionError naming unit, option, value and
    what was expected."""
    try:
        return kind.coerce(value)
    except _Mismatch:
        raise OptionError(
            f"unit {unit!r}: option {key!r} must be {kind.expected}, got {describe(value)}"
        ) from None


def check_options(unit: str, kinds: Mapping[str, OptionKind],
                  config: Mapping[str, Any]) -> dict[str, Any]:
    """Check every option of a (defaults-filled) configuration against its kind."""
    return {key: check_option(unit, key, kinds[key], value) for key, value in config.items()}


# --------------------------------------------------------------------------------------------
# Representability in a layer's dtype


def representability_problems(unit: str, kinds: Mapping[str, OptionKind], config: Mapping[str, Any],
                              divisors: Mapping[str, float], dtype: str) -> list[str]:
    """Why a validated configuration cannot be computed in ``dtype`` (empty when it can).

    Two rules, both about values a backend casts to the layer dtype:

    * every real option must not overflow: 1e39 is a finite float64 but ``inf`` in float32,
      and an infinite initial value or frequency makes the layer's output NaN;
    * every number the layer divides by (``divisors``: a temperature, an epsilon) must be at
      least the dtype's smallest *normal* number. Below it the value underflows to 0 (1e-300
      in float32), or is subnormal, which a flush-to-zero mode (TensorFlow enables one on the
      CPU, GPU kernels commonly run with one) turns into 0, and 1/value overflows: ActMix at temperature 1e-300 in float32 gave
      all-NaN output. The smallest normal number is the one threshold that excludes all three.
    """
    info = np.finfo(np.dtype(dtype))
    problems = []
    for key, kind in kinds.items():
        value = config[key]
        if not isinstance(kind, (Real, YatAlpha)) or not _is_real(value):
            continue
        if abs(float(value)) > float(info.max):
            problems.append(
                f"unit {unit!r}: option {key!r} = {value!r} overflows a {dtype} layer "
                f"(largest {dtype} is {info.max}); use a smaller value or dtype='float64'"
            )
    for label, value in divisors.items():
        if value > float(info.max):
            problems.append(
                f"unit {unit!r}: {label} = {value!r} overflows a {dtype} layer "
                f"(largest {dtype} is {info.max}); use a smaller value or dtype='float64'"
            )
        elif 0 < value < float(info.tiny):
            problems.append(
                f"unit {unit!r}: {label} = {value!r} is too small for a {dtype} layer: below "
                f"{info.tiny}, the smallest normal {dtype}, it rounds or flushes to 0 and its "
                f"reciprocal overflows; use a larger value or dtype='float64'"
            )
    return problems
