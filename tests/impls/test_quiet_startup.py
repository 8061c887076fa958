"""CPU-only logs stay readable: TensorFlow's start-up notices (oneDNN, missing CUDA driver,
cuInit) are dropped, while anything else native code prints still reaches stderr."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import require_framework


def test_only_the_listed_native_lines_are_dropped(capfd) -> None:
    from impls.tf._env import _native_stderr_without

    with _native_stderr_without((r"benign notice",)):
        os.write(2, b"I0000 benign notice about nothing\nE0000 a real problem\n")
    err = capfd.readouterr().err
    assert "a real problem" in err and "benign notice" not in err


def test_exceptions_propagate_through_the_filter() -> None:
    from impls.tf._env import _native_stderr_without

    with pytest.raises(RuntimeError, match="boom"), _native_stderr_without(("x",)):
        raise RuntimeError("boom")


@pytest.mark.skipif(os.path.exists("/dev/nvidiactl"), reason="a GPU driver is present: cuInit "
                    "messages are real errors there and are kept")
def test_tensorflow_starts_quietly_on_a_cpu_machine() -> None:
    require_framework("tf")
    code = ("import numpy as np, impls\n"
            "layer = impls.build('relu', 'tf')\n"
            "impls.forward(layer, np.ones((2, 3), np.float32))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    for noise in ("absl::InitializeLog", "oneDNN custom operations", "cuda drivers", "cuInit"):
        assert noise not in done.stderr, done.stderr
