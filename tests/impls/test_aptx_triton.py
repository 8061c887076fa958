"""The fused APTx Triton kernel (impls/kernels/aptx_triton.py) against the float64 oracle.

No GPU is needed: the kernels run in Triton's interpreter (TRITON_INTERPRET=1, CPU tensors).
Triton reads that variable when a kernel is decorated, so the interpreted run happens in a
fresh child process (tests/impls/aptx_triton_child.py, about 15 s), once per test session
even on several pytest-xdist workers (a file lock; the first worker runs it, the others read
its files). The child records outputs and errors; every assertion is here: both directions at
awkward shapes, scales 1 and 30, float32 and float64; tanh and sech^2 element by element;
the torch glue (custom ops, autograd, torch.compile, opcheck) that CUDA tensors go through;
an empty batch; named errors. Which kernel ``impl="fused"`` picks is checked in this process.

triton is in the test extra (Linux x86_64): where it should be installed and is not, these
tests fail rather than skip.
"""

from __future__ import annotations

import json
import os
import platform
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import mpmath
import numpy as np
import pytest

from impls import spec
from impls.kernels import aptx_triton as triton_kernel
from impls.spec.tolerances import relative_l2, tolerance
from tests.conftest import require_framework
from tests.impls.aptx_triton_child import (
    DTYPES,
    GLUE_SHAPE,
    SCALES,
    SHAPES,
    case,
    case_key,
    tanh_grid,
)

REPO = Path(__file__).resolve().parents[2]
GRADIENTS = ("dx", "dA", "dB", "dG")


@dataclass(frozen=True)
class Child:
    """What the interpreted child process wrote."""

    arrays: dict[str, np.ndarray]
    meta: dict


def _require_triton() -> None:
    """torch selected (else skip, as every torch test) and triton installed (else fail)."""
    require_framework("torch")
    if triton_kernel.available():
        return
    if sys.platform.startswith("linux") and platform.machine() == "x86_64":
        pytest.fail("triton is not installed, but the test extra installs it on Linux x86_64 "
                    "(pip install -e '.[test]'); the Triton APTx kernel tests need it")
    pytest.skip("triton is in the test extra only on Linux x86_64")


def _run_child(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "TRITON_INTERPRET": "1"}
    result = subprocess.run([sys.executable, "-m", "tests.impls.aptx_triton_child", str(out)],
                            cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    if result.returncode != 0:
        pytest.fail(f"the interpreted Triton kernel run failed (rc {result.returncode}):\n"
                    f"{result.stderr[-4000:]}")


@pytest.fixture(scope="session")
def child(tmp_path_factory: pytest.TempPathFactory) -> Child:
    _require_triton()
    if os.environ.get("PYTEST_XDIST_WORKER") is None:
        out = tmp_path_factory.mktemp("aptx_triton_child")
        _run_child(out)
    else:                                   # the workers' base temp dirs share this parent
        from filelock import FileLock  # a torch dependency

        out = tmp_path_factory.getbasetemp().parent / "aptx_triton_child"
        with FileLock(f"{out}.lock"):
            if not (out / "meta.json").is_file():
                _run_child(out)
    with np.load(out / "arrays.npz") as data:
        arrays = {key: data[key] for key in data.files}
    return Child(arrays, json.loads((out / "meta.json").read_text()))


def _oracle(x, A, B, G, g) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
    params = {"alpha": A, "beta": B, "gamma": G}
    params = {k: v.astype(np.float64) for k, v in params.items()}
    config = {"in_features": A.shape[1], "out_features": A.shape[0], "use_delta": False}
    x, g = x.astype(np.float64), g.astype(np.float64)
    y = spec.reference("aptx_layer", params, x, **config)
    dx, grads = spec.reference_grad("aptx_layer", params, x, g, **config)
    return y, (dx, grads["alpha"], grads["beta"], grads["gamma"])


def _assert_close(got: np.ndarray, ref: np.ndarray, dtype: str, check: str, what: str) -> None:
    assert got.dtype == np.dtype(dtype), f"{what}: {got.dtype}, not {dtype}"
    err = relative_l2(got, ref, dtype)
    # float64: to rounding, as the CPU kernel (the table's 1e-10 would hide float32 constants)
    limit = tolerance(dtype, check) if dtype == "float32" else 1e-12
    assert err <= limit, f"{what}: relative L2 error {err:.2e} > {limit:g}"


def test_impls_does_not_import_triton_and_the_child_ran_interpreted(child: Child) -> None:
    assert child.meta["triton_imported_by_impls"] is False
    assert child.meta["interpreted"] is True


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("scale", SCALES)
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_both_directions_match_the_oracle(child: Child, shape, scale, dtype) -> None:
    key = case_key(shape, scale, dtype)
    y_ref, grads_ref = _oracle(*case(*shape, scale, dtype))
    _assert_close(child.arrays[f"{key}/y"], y_ref, dtype, "forward", f"{key} y")
    for name, ref in zip(GRADIENTS, grads_ref, strict=True):
        _assert_close(child.arrays[f"{key}/{name}"], ref, dtype, "gradient", f"{key} {name}")


def test_float32_tanh_and_sech2_keep_relative_accuracy_everywhere(child: Child) -> None:
    z = tanh_grid("float32").astype(np.float64)
    t, s = (child.arrays[f"{f}/float32"].astype(np.float64) for f in ("tanh", "sech2"))
    exact_t = np.tanh(z)
    ulps = np.abs(t - exact_t) / np.spacing(np.abs(exact_t).astype(np.float32)).astype(np.float64)
    assert ulps.max() <= 4.0, f"tanh: worst {ulps.max():.1f} ulps at z={z[np.argmax(ulps)]}"
    assert np.array_equal(np.sign(t), np.sign(exact_t)) and np.abs(t).max() <= 1.0
    e = np.exp(-2.0 * np.abs(z))
    exact_s = 4.0 * e / (1.0 + e) ** 2
    normal = exact_s > np.finfo(np.float32).tiny           # beyond: float32 underflow, ~0 both
    rel = np.abs(s[normal] - exact_s[normal]) / exact_s[normal]
    assert rel.max() < 1e-6, f"sech2: worst {rel.max():.2e} at z={z[normal][np.argmax(rel)]}"
    assert np.all(s[~normal] <= 2 * np.finfo(np.float32).tiny)


def test_float64_tanh_and_sech2_are_within_a_few_ulps(child: Child) -> None:
    every = slice(None, None, 7)                             # mpmath: a sample of the grid
    z = tanh_grid("float64")[every]
    t, s = (child.arrays[f"{f}/float64"][every] for f in ("tanh", "sech2"))
    exact_t = np.array([float(mpmath.tanh(v)) for v in z])
    exact_s = np.array([float(mpmath.sech(v) ** 2) for v in z])
    # measured on the whole grid (NumPy's exp in the interpreter): 3 and 5 ulps
    for name, got, exact, limit in (("tanh", t, exact_t, 4), ("sech2", s, exact_s, 8)):
        ulps = np.abs(got - exact) / np.spacing(np.abs(exact))
        assert ulps.max() <= limit, f"{name}: worst {ulps.max():.1f} ulps at z={z[np.argmax(ulps)]}"


@pytest.mark.parametrize("x_grad", ["with-dx", "without-dx"])
@pytest.mark.parametrize("mode", ["eager", "compiled"])
def test_autograd_through_the_custom_op_matches_the_oracle(child: Child, mode, x_grad) -> None:
    tag = f"autograd/{mode}/{x_grad}"
    y_ref, grads_ref = _oracle(*case(*GLUE_SHAPE, 3.0, "float32", seed=1))
    _assert_close(child.arrays[f"{tag}/y"], y_ref, "float32", "forward", f"{tag} y")
    assert child.meta[f"{tag}/dx_is_none"] is (x_grad == "without-dx")
    for name, ref in zip(GRADIENTS, grads_ref, strict=True):
        if name != "dx" or x_grad == "with-dx":
            _assert_close(child.arrays[f"{tag}/{name}"], ref, "float32", "gradient", f"{tag} {name}")
    if mode == "compiled":                       # the op is opaque: the same kernels ran
        for name in ("y", *GRADIENTS[int(x_grad == "without-dx"):]):
            eager = child.arrays[f"autograd/eager/{x_grad}/{name}"]
            np.testing.assert_array_equal(child.arrays[f"{tag}/{name}"], eager, err_msg=name)


def test_aptx_fused_runs_the_triton_op_when_the_backend_says_triton(child: Child) -> None:
    np.testing.assert_array_equal(child.arrays["routed/y"], child.arrays["routed/reference"])


@pytest.mark.parametrize("op", ["forward", "backward"])
def test_the_custom_ops_pass_torch_opcheck(child: Child, op: str) -> None:
    assert child.meta[f"opcheck/{op}"] == ["none", ""], child.meta[f"opcheck/{op}"]


def test_an_empty_batch_gives_empty_outputs_and_zero_parameter_gradients(child: Child) -> None:
    assert child.arrays["empty/y"].shape == (0, 6)
    assert child.arrays["empty/dx"].shape == (0, 5)
    for name in ("dA", "dB", "dG"):
        assert child.arrays[f"empty/{name}"].shape == (6, 5)
        assert not child.arrays[f"empty/{name}"].any(), name


#: error case (aptx_triton_child._empty_and_errors) -> (exception type, message pattern)
ERRORS = {
    "int64 input": ("TypeError", "float32 or float64 tensors, not torch.int64"),
    "float16 input": ("TypeError", "float32 or float64 tensors, not torch.float16"),
    "narrow input": ("ValueError", r"input must be \[batch, 5\]; got \(3, 4\)"),
    "narrow beta": ("ValueError", r"beta must be a torch.float64 \[out, in\] matrix"),
    "float32 gamma": ("ValueError", "gamma must be a torch.float64 .* got torch.float32"),
    "vector alpha": ("ValueError", "alpha must be"),
    "narrow upstream": ("ValueError", r"upstream gradient must be \[3, 4\]; got \(3, 2\)"),
    "meta input": ("ValueError", "on one device; got input on meta, alpha on cpu"),
    "int64 input via the op": ("TypeError", "float32 or float64 tensors, not torch.int64"),
    "float16 tanh": ("TypeError", "not torch.float16"),
}


@pytest.mark.parametrize("name", sorted(ERRORS))
def test_bad_inputs_are_named(child: Child, name: str) -> None:
    kind, pattern = ERRORS[name]
    got_kind, message = child.meta["errors"][name]
    assert got_kind == kind, f"{name}: {got_kind} {message!r}"
    assert re.search(pattern, message), f"{name}: {message!r}"


def test_cpu_tensors_are_refused_outside_the_interpreter() -> None:
    _require_triton()
    if os.environ.get("TRITON_INTERPRET") == "1":
        pytest.skip("this test process runs Triton's interpreter itself (TRITON_INTERPRET=1)")
    import torch

    x, A, B, G, _ = (torch.from_numpy(a) for a in case(2, 3, 4, 1.0, "float32"))
    assert not triton_kernel.interpreted()
    with pytest.raises(ValueError, match="runs on CUDA tensors, not cpu; set TRITON_INTERPRET=1"):
        triton_kernel.forward(x, A, B, G)


@pytest.mark.parametrize("installed", [True, False])
def test_kernel_name_and_aptx_fused_pick_the_same_kernel(monkeypatch, installed: bool) -> None:
    require_framework("torch")
    from impls.torch import aptx

    monkeypatch.setattr(triton_kernel, "available", lambda: installed)
    on_cuda = "fused-triton" if installed else "recompute"
    for mode in ("eager", "compiled"):
        assert aptx.kernel_name("fused", mode, device="cuda") == on_cuda
        assert aptx.kernel_name("fused", mode, device="cuda:1") == on_cuda
        assert aptx.kernel_name("fused", mode, device="cpu") == "fused-numba"
        assert aptx.kernel_name("fused", mode, device="mps") == "recompute"
        assert aptx.kernel_name("recompute", mode, device="cuda") == "recompute"
    assert aptx._fused_backend("cuda") == ("triton" if installed else "recompute")
    assert aptx._FUSED["triton"][0] is aptx.aptx_triton
    assert aptx._FUSED["numba"][1] == "fused-numba" and aptx._FUSED["triton"][1] == "fused-triton"
