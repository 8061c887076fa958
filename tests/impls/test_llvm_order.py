"""TensorFlow and torch.compile in one process while triton is installed (impls/llvm_order.py).

Triton loaded after TensorFlow aborts the process in LLVM (its option registry is bound to
TensorFlow's copy); CI lost three pytest workers to it when the test extra gained triton. An
abort takes the interpreter down, so each case runs in a fresh child process and is judged by
its exit status and output.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from impls.kernels import aptx_triton as triton_kernel
from tests.conftest import require_framework

REPO = Path(__file__).resolve().parents[2]


def _require_torch_tf_triton() -> None:
    require_framework("torch")
    require_framework("tf")
    if not triton_kernel.available():
        pytest.skip("triton is not installed: there is no second LLVM to collide with")


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=REPO,
                          capture_output=True, text=True, timeout=300)


def test_tf_then_torch_compile_works_through_impls():
    """The orders the CI workers crashed in: jax or tf first, then torch's custom op or compile.

    JAX goes first because it once made impls.tf skip the triton preload (an early return);
    torch eager goes before compiled because a custom op's first call imports torch._dynamo.
    """
    _require_torch_tf_triton()
    result = _run("""
        import numpy as np
        import impls
        x = np.linspace(-2, 2, 24, dtype=np.float32).reshape(3, 8)
        ys = []
        for framework, mode in (("jax", "eager"), ("tf", "compiled"), ("torch", "eager"),
                                ("torch", "compiled")):
            layer = impls.build("aptx_layer", framework, in_features=8, out_features=4, seed=0)
            ys.append(impls.forward(layer, x, mode=mode))
        for y in ys[1:]:
            np.testing.assert_allclose(y, ys[0], rtol=1e-5, atol=1e-5)
        print("every framework ran")
    """)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "every framework ran" in result.stdout


def test_tensorflow_imported_directly_gives_a_clear_error():
    """TensorFlow imported behind impls' back: a named RuntimeError, never the LLVM abort."""
    _require_torch_tf_triton()
    result = _run("""
        import tensorflow
        import impls
        layer = impls.build("aptx_layer", "torch", in_features=8, out_features=4, seed=0)
        try:
            impls.forward(layer, __import__("numpy").ones((2, 8), "float32"))
        except RuntimeError as error:
            print("refused:", error)
    """)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "refused: torch would abort this process" in result.stdout
