"""Non-finite inputs, forward pass: a NaN input gives a NaN output and +-inf gives the function's
limit, the same in every framework as in the float64 oracle (issue: reliability; gradients at
non-finite points are not settled yet, docs/reliability.md)."""

from __future__ import annotations

import numpy as np
import pytest

import impls
from tests.conftest import require_framework, selected_frameworks

X = np.array([[np.nan, np.inf, -np.inf, 0.0, 1.5, -2.0]], np.float32)
#: Element-wise units defined on the whole real line (softer_sigmoid and soft_tanh take
#: non-negative scores only and refuse anything else, NaN included, with a named error).
UNITS = ("relu", "lselu", "sigmoid", "tanh", "swish", "aptx_activation")


@pytest.mark.parametrize("framework", selected_frameworks())
@pytest.mark.parametrize("unit", UNITS)
def test_nan_propagates_and_infinities_match_the_oracle(framework: str, unit: str) -> None:
    require_framework(framework)
    layer = impls.build(unit, framework, seed=0)
    params = impls.get_params(layer)
    with np.errstate(all="ignore"):
        want = impls.spec.reference(unit, params, X.astype(np.float64))
    for mode in ("eager", "compiled") if framework != "numpy" else ("eager",):
        with np.errstate(all="ignore"):
            got = impls.forward(layer, X, mode=mode)
        assert np.isnan(got[0, 0]), f"{unit} {framework} {mode}: f(NaN) = {got[0, 0]}, not NaN"
        np.testing.assert_allclose(got, want.astype(np.float32), rtol=1e-5, atol=1e-6,
                                   err_msg=f"{unit} {framework} {mode}")
