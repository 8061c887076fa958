"""Property-based tests (hypothesis): every unit, every selected framework, float32 and float64,
against the float64 oracle on inputs drawn to be awkward.

For each (unit, framework, dtype) the layer is built once (cached) and hypothesis draws:

* a batch of 0, 1 or 3 rows; element-wise units also draw their width (1 or 4);
* values from the whole range [-1e4, 1e4] of the dtype, mixed with 0, -0, denormals,
  +-1, +-1e4 and +-100 (float32) / +-800 (float64), where exp overflows;
* an upstream gradient.

Properties: the forward pass and every gradient of ``impls.vjp`` (eager mode; compiled modes at
awkward values are covered by tests/impls/test_nonfinite.py and the equivalence tests) are
non-finite exactly where the oracle's are (``assert_same_nonfinite``), and agree with it within
the tolerances of impls/spec/tolerances.py, by the same relative L2 metric. An empty batch gives empty outputs and exactly zero
parameter gradients.

Parameter gradients sum over the batch, and a float32 sum of +-1e4 terms that cancel is only as
accurate as its largest terms (the classic bound: |error| <= n eps sum |term|). Their error is
therefore measured against max(|oracle|, |per-row terms| summed), the terms being the oracle's
gradients of each row on its own (of each element, for the element-wise units); this is the
tolerance "relative to magnitude" at 1e4. Everything else is compared exactly as in the
equivalence tests.

Documented exceptions, each narrow and each probed or derived, never a looser tolerance:

* Denormals are zero in TensorFlow and JAX: their CPU kernels run with DAZ/FTZ, so a denormal
  input is read as a (signed) zero, and relu'(5e-324) is 0 there, not 1. A framework that reads
  the smallest denormal as 0 (probed, :func:`_reads_denormals_as_zero`) is compared with the
  oracle at the input with its denormals flushed; and since its intermediates below the
  smallest normal number ``tiny`` are 0 too (exp(-100) in float32, before lselu multiplies it
  by x), each entry may differ by ``tiny`` times the most such an intermediate is multiplied by
  afterwards, bounded by (1 + max|x|)^2 max(1, |g|) max(1, |parameter|) (x^2: APTx's beta).
  That is about 1e-29 at most in float32 (1e-299 in float64), so it only ever matters where the
  oracle's value is itself that small.
* The fused APTx CPU kernel in float32 (impls/kernels/_aptx_numba.py) floors its exp2 at
  2^-126, so its sech^2 never drops below ~2^-123 (the truth is 0 in float32 past |B x| = 44):
  dB gets at most 2^-123 sum |g G| x^2 on top (5e-30 at x = 1e4, where the oracle's dB can be
  exactly 0). That amount is allowed in dB, absolutely, and nowhere else.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import impls
from impls.spec import blocks
from impls.spec.cases import CASES, Case
from impls.spec.tolerances import tolerance
from tests.conftest import require_framework, selected_frameworks
from tests.impls.test_nonfinite import assert_same_nonfinite

FRAMEWORKS = selected_frameworks()
DTYPES = ("float32", "float64")
BATCHES = (0, 1, 3)
#: Widths drawn for element-wise units (few, so JAX's op-by-op eager mode compiles few shapes).
WIDTHS = (1, 4)
BIG = 1e4
#: exp overflows above 88.7 in float32 and 709.8 in float64.
EXP_OVERFLOW = {"float32": 100.0, "float64": 800.0}
#: Examples per (unit, framework, dtype): 8 keeps the file near a minute on two cores; set
#: NEURONBENCH_HYPOTHESIS_EXAMPLES higher for a deeper local search.
EXAMPLES = int(os.environ.get("NEURONBENCH_HYPOTHESIS_EXAMPLES", "8"))

SETTINGS = settings(derandomize=True, deadline=None, max_examples=EXAMPLES, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _case(unit: str) -> Case:
    """The unit's first catalogue case (its default configuration, with sizes)."""
    return next(c for c in CASES if c.unit == unit)


def _elementwise(unit: str) -> bool:
    """Input of any width: element-wise units and the ones normalising along the last axis."""
    spec = blocks.get_block(unit)
    return spec.kind in ("activation", "squasher") and "features" not in spec.defaults


@functools.cache
def _layer(unit: str, framework: str, dtype: str) -> tuple[Any, dict[str, np.ndarray]]:
    """Built once per (unit, framework, dtype): the native layer and its canonical parameters."""
    layer = impls.build(unit, framework, seed=0, dtype=dtype, **_case(unit).config)
    return layer, impls.get_params(layer)


def _values(dtype: str, nonneg: bool) -> st.SearchStrategy[float]:
    """Awkward values first (hypothesis draws sampled_from early and shrinks towards it)."""
    info = np.finfo(np.dtype(dtype))
    specials = [0.0, -0.0, float(info.smallest_subnormal), -float(info.smallest_subnormal),
                float(info.tiny) / 3, 1.0, -1.0, BIG, -BIG, EXP_OVERFLOW[dtype], -EXP_OVERFLOW[dtype]]
    width = 32 if dtype == "float32" else 64
    anywhere = st.floats(-BIG, BIG, width=width, allow_subnormal=True)
    values = st.one_of(st.sampled_from(specials), anywhere)
    return values.map(abs) if nonneg else values


@st.composite
def _draw(draw, unit: str, dtype: str) -> tuple[np.ndarray, np.ndarray]:
    case = _case(unit)
    batch = draw(st.sampled_from(BATCHES))
    rest = (draw(st.sampled_from(WIDTHS)),) if _elementwise(unit) else case.input_shape[1:]
    shape = (batch, *rest)
    size = int(np.prod(shape))
    flat = draw(st.lists(_values(dtype, case.distribution == "nonneg"), min_size=size, max_size=size))
    x = np.asarray(flat, dtype=np.float64).reshape(shape).astype(dtype)
    seed = draw(st.integers(0, 2**16))
    upstream = np.random.default_rng(seed).standard_normal((batch, *_output_row(unit, rest)))
    return x, upstream.astype(dtype)


@functools.cache
def _output_row(unit: str, row: tuple[int, ...]) -> tuple[int, ...]:
    """Shape of one output row for an input row of shape ``row`` (the oracle on ones)."""
    config = _case(unit).config
    params = impls.spec.init_params(unit, impls.spec.resolve_config(unit, config), seed=0)
    return impls.spec.reference(unit, params, np.ones((1, *row)), **config).shape[1:]


def _flush_denormals(x: np.ndarray) -> np.ndarray:
    """x with every denormal replaced by a zero of the same sign (what DAZ reads)."""
    tiny = np.finfo(x.dtype).tiny
    return np.where(np.abs(x) < tiny, np.copysign(np.zeros_like(x), x), x)


@functools.cache
def _reads_denormals_as_zero(framework: str, dtype: str) -> bool:
    """Probe: softermax of the smallest denormal d is d / (1e-12 + d), a normal number (1e-33 in
    float32), unless the kernels read d as 0 (relu is no probe: TensorFlow's passes d through
    bit for bit while its comparisons and products read it as 0)."""
    layer = impls.build("softermax", framework, dtype=dtype)
    smallest = np.finfo(np.dtype(dtype)).smallest_subnormal
    return bool(impls.forward(layer, np.array([[smallest]], dtype))[0, 0] == 0)


#: Upper bound of the float32 fused APTx kernel's sech^2 where the true value is below 2^-126
#: (its exp2 floored at 2^-126 gives e < 2^-125, and sech^2 = 4 e / (1 + e)^2).
KERNEL_SECH2_FLOOR = 2.0 ** -123


def _kernel_floor_allowance(unit: str, framework: str, dtype: str, params: Mapping[str, np.ndarray],
                            x: np.ndarray, g: np.ndarray) -> dict[str, np.ndarray]:
    """Absolute allowance per parameter gradient for the fused float32 APTx kernel's sech^2
    floor (the module docstring): 2^-123 sum_b |g_bo G_oi| x_bi^2 in dB, nothing elsewhere."""
    kernel = impls.kernel_name(unit, framework, "eager", **_case(unit).config)
    if unit != "aptx_layer" or dtype != "float32" or not kernel.startswith("fused"):
        return {}
    return {"beta": KERNEL_SECH2_FLOOR * (np.abs(g).T @ (x * x)) * np.abs(params["gamma"])}


def _per_row_magnitude(unit: str, params: Mapping[str, np.ndarray], x: np.ndarray, g: np.ndarray,
                       config: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """sum over rows of |the oracle's parameter gradients of that row alone| (of each element
    alone for element-wise units, whose scalar parameters sum over the features too)."""
    if _elementwise(unit) and unit not in ("softmax", "softermax"):
        x, g = x.reshape(-1, 1), g.reshape(-1, 1)
    total: dict[str, np.ndarray] = {}
    for row in range(x.shape[0]):
        _, grads = impls.spec.reference_grad(unit, params, x[row:row + 1], g[row:row + 1], **config)
        for name, grad in grads.items():
            total[name] = total.get(name, 0.0) + np.abs(grad)
    return total


def _ftz_allowance(framework: str, dtype: str, params: Mapping[str, np.ndarray], x: np.ndarray,
                   g: np.ndarray) -> float:
    """Absolute difference allowed per entry where intermediates flush to zero (docstring)."""
    if not _reads_denormals_as_zero(framework, dtype):
        return 0.0
    largest = [float(np.max(np.abs(a), initial=0.0)) for a in (x, g)]
    largest_param = max((float(np.max(np.abs(v), initial=0.0)) for v in params.values()), default=0.0)
    return float(np.finfo(np.dtype(dtype)).tiny) * (1.0 + largest[0]) ** 2 * max(1.0, largest[1]) \
        * max(1.0, largest_param)


def _assert_close(got: np.ndarray, want: np.ndarray, dtype: str, check: str, what: str,
                  magnitude: np.ndarray | None = None, allowance: np.ndarray | float = 0.0) -> None:
    """Non-finite exactly where the oracle is; on the finite entries, the part of the difference
    above ``allowance`` (absolute, per entry: the documented exceptions) within the tolerance,
    relative to the larger of the oracle's norm and ``magnitude``'s (a sum's summands)."""
    finite = assert_same_nonfinite(got, want, what)
    got64 = np.asarray(got, np.float64)[finite]
    want64 = np.asarray(want, np.float64)[finite]
    norms = [float(np.linalg.norm(want64)), float(np.finfo(np.dtype(dtype)).tiny)]
    if magnitude is not None:
        norms.append(float(np.linalg.norm(magnitude[finite])))
    excess = np.maximum(np.abs(got64 - want64) - np.broadcast_to(allowance, finite.shape)[finite], 0.0)
    err = float(np.linalg.norm(excess)) / max(norms)
    assert err <= tolerance(dtype, check), f"{what}: {check} error {err:.2e} (scale {max(norms):.3g})"


def _check(unit: str, framework: str, dtype: str, x: np.ndarray, g: np.ndarray) -> None:
    config = _case(unit).config
    layer, params = _layer(unit, framework, dtype)
    where = f"{unit} {framework} {dtype} x={x.ravel().tolist()}"
    x64 = (_flush_denormals(x) if _reads_denormals_as_zero(framework, dtype) else x).astype(np.float64)
    g64 = g.astype(np.float64)
    with np.errstate(all="ignore"):
        y = impls.forward(layer, x)
        dx, grads = impls.vjp(layer, x, g)
        y_want = impls.spec.reference(unit, params, x64, **config)
        dx_want, grads_want = impls.spec.reference_grad(unit, params, x64, g64, **config)
    assert y.dtype == np.dtype(dtype) and dx.dtype == np.dtype(dtype), where
    ftz = _ftz_allowance(framework, dtype, params, x64, g64)
    _assert_close(y, y_want, dtype, "forward", f"{where}: forward", allowance=ftz)
    _assert_close(dx, dx_want, dtype, "gradient", f"{where}: gradient of x", allowance=ftz)
    assert set(grads) == set(grads_want), where
    if x.shape[0] == 0:
        for name, grad in grads.items():
            assert grad.shape == grads_want[name].shape and not np.any(grad), f"{where}: {name}"
        return
    with np.errstate(all="ignore"):
        magnitude = _per_row_magnitude(unit, params, x64, g64, config)
    kernel = _kernel_floor_allowance(unit, framework, dtype, params, x64, g64)
    for name, grad in grads.items():
        _assert_close(grad, grads_want[name], dtype, "gradient", f"{where}: gradient of {name}",
                      magnitude[name], kernel.get(name, 0.0) + ftz)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("framework", FRAMEWORKS)
@pytest.mark.parametrize("unit", impls.UNITS)
def test_unit_matches_the_oracle_on_awkward_inputs(unit: str, framework: str, dtype: str) -> None:
    require_framework(framework)

    @SETTINGS
    @given(_draw(unit, dtype))
    def check(drawn: tuple[np.ndarray, np.ndarray]) -> None:
        _check(unit, framework, dtype, *drawn)

    check()
