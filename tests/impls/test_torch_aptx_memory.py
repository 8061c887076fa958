"""The memory-lean APTx layer: forward+backward peak below 5 % of the package's layer.

Batch 1024, 784 -> 256, float32 (issue acceptance). The package's aptx_layer materialises
[1024, 256, 784] tensors (about 0.8 GB each) for its backward pass; ours keeps only x and the
parameter matrices. Measured in fresh subprocesses (suites.performance.memory).
"""

from __future__ import annotations

import pytest

from suites.performance.memory import peak_rss_increase
from tests.conftest import require_framework, require_original

SETUP = """
import numpy as np, torch
torch.manual_seed(0)
x = torch.randn(1024, 784, requires_grad=True)
{build}
y = layer(x[:2]); y.sum().backward()  # warm-up: lazy initialisation outside the measurement
"""
RUN = "layer(x).sum().backward()"


@pytest.mark.slow
def test_recompute_layer_uses_under_5_percent_of_package_memory() -> None:
    require_framework("torch")
    require_original("aptx_neuron")
    ours = peak_rss_increase(
        SETUP.format(build="import impls; layer = impls.build('aptx_layer', 'torch', in_features=784, out_features=256)"),
        RUN,
    )
    theirs = peak_rss_increase(
        SETUP.format(build="import aptx_neuron; layer = aptx_neuron.aptx_layer(784, 256)"),
        RUN,
    )
    assert theirs > 1 << 30, f"package layer peaked at only {theirs / 2**20:.0f} MiB: probe broken?"
    assert ours < 0.05 * theirs, (
        f"recompute APTx peaked at {ours / 2**20:.1f} MiB, package at {theirs / 2**20:.0f} MiB "
        f"({100 * ours / theirs:.1f} %, limit 5 %)"
    )
