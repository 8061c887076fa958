"""The committed golden files: the oracle still produces them, and each framework matches them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import impls
from impls import spec
from impls.spec.tolerances import relative_l2, tolerance
from tests.conftest import require_framework, selected_frameworks

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
INDEX = json.loads((GOLDEN / "index.json").read_text())


@pytest.fixture(scope="module")
def golden() -> dict[str, np.ndarray]:
    with np.load(GOLDEN / "oracle.npz") as data:
        return {k: data[k] for k in data.files}


def _entry(golden, key):
    prefix = f"{key}/"
    arrays = {k[len(prefix):]: v for k, v in golden.items() if k.startswith(prefix)}
    params = {k[6:]: v for k, v in arrays.items() if k.startswith("param.")}
    grads = {k[5:]: v for k, v in arrays.items() if k.startswith("grad.")}
    return arrays, params, grads


def _config(entry):
    return {k: tuple(v) if isinstance(v, list) else v for k, v in entry["config"].items()}


def test_golden_covers_every_block() -> None:
    assert {e["unit"] for e in INDEX} == {n for n, b in spec.BLOCKS.items() if b.origin == "neuronbench"}


@pytest.mark.parametrize("entry", INDEX, ids=lambda e: e["key"])
def test_oracle_reproduces_golden(entry, golden) -> None:
    arrays, params, grads = _entry(golden, entry["key"])
    config = _config(entry)
    np.testing.assert_allclose(spec.reference(entry["unit"], params, arrays["x"], **config), arrays["y"],
                               rtol=1e-12, atol=1e-300)
    dx, got = spec.reference_grad(entry["unit"], params, arrays["x"], arrays["upstream"], **config)
    np.testing.assert_allclose(dx, arrays["dx"], rtol=1e-12, atol=1e-300)
    assert set(got) == set(grads)
    for name in grads:
        np.testing.assert_allclose(got[name], grads[name], rtol=1e-12, atol=1e-300)


@pytest.mark.parametrize("framework", selected_frameworks())
def test_framework_matches_golden_float64(framework, golden) -> None:
    """Every framework, in float64, against the stored oracle numbers (no oracle call at all)."""
    require_framework(framework)
    failures = []
    for entry in INDEX:
        arrays, params, grads = _entry(golden, entry["key"])
        layer = impls.build(entry["unit"], framework, dtype="float64", **_config(entry))
        impls.set_params(layer, params)
        err = relative_l2(impls.forward(layer, arrays["x"]), arrays["y"], "float64")
        dx, got = impls.vjp(layer, arrays["x"], arrays["upstream"])
        errs = [err, relative_l2(dx, arrays["dx"], "float64")]
        errs += [relative_l2(got[name], grads[name], "float64") for name in grads]
        if max(errs) > tolerance("float64", "gradient") or set(got) != set(grads):
            failures.append(f"{entry['key']}: worst relative error {max(errs):.2e}")
    assert not failures, "\n".join(failures)
