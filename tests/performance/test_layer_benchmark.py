"""The layer benchmark end to end (a small real run) and the arithmetic of its table."""

from __future__ import annotations

import pandas as pd
import pytest

from suites.cli import main
from suites.performance import layer
from suites.performance.ceilings import aptx_roofline_s
from suites.performance.table import layer_table
from suites.report.stage import build_report
from suites.results import load_results


def test_a_small_run_writes_rows_and_the_report_table(tmp_path) -> None:
    results = tmp_path / "results"
    code = main(["perf", "--frameworks", "numpy", "--units", "linear_relu,aptx_layer",
                 "--impls", "fused,recompute", "--batch", "16", "--repeats", "3",
                 "--no-originals", "--results-dir", str(results)])
    assert code == 0
    rows = load_results(results, suite="performance")
    cases = rows[rows["protocol"] == "layer"]
    assert set(cases["kernel"]) == {"default", "fused-numba", "recompute"}
    assert set(cases["metric"]) == {"forward_s", "forward_backward_s", "peak_memory_bytes",
                                    *layer.PAIRED_METRICS}
    timed = cases[cases["metric"] != "peak_memory_bytes"]
    assert (timed["value"] > 0).all()
    # Paired ratios: every case of ours against Linear + ReLU, APTx also against the roofline.
    paired = cases[cases["metric"].isin(layer.PAIRED_METRICS)]
    assert set(paired.loc[paired["metric"] == "forward_backward_vs_linear_relu", "unit"]) == {"aptx_layer"}
    assert set(paired.loc[paired["metric"] == "forward_backward_vs_roofline", "kernel"]) == {
        "fused-numba", "recompute"}
    table, _ = layer_table(rows)
    fused = table[table["kernel"] == "fused-numba"].iloc[0]
    fused_rows = paired[paired["kernel"] == "fused-numba"].set_index("metric")["value"]
    assert fused["vs_roofline"] == pytest.approx(fused_rows["forward_backward_vs_roofline"])
    assert fused["vs_linear_relu"] == pytest.approx(fused_rows["forward_backward_vs_linear_relu"])
    ceilings = rows[rows["protocol"] == "ceiling"]
    assert (ceilings.set_index("metric")["value"] > 0).all()
    build_report(results, tmp_path / "reports")
    md = (tmp_path / "reports" / "tables" / "performance" / "layer.md").read_text()
    assert "fused-numba" in md and "G tanh/s" in md
    assert (tmp_path / "reports" / "results" / "performance" / "layer_rows.csv").is_file()
    # a rerun measures nothing again
    assert main(["perf", "--frameworks", "numpy", "--units", "linear_relu,aptx_layer",
                 "--impls", "fused,recompute", "--batch", "16", "--repeats", "3",
                 "--no-originals", "--results-dir", str(results)]) == 0
    assert load_results(results, suite="performance")["run_id"].nunique() == 1


def _row(unit, variant, kernel, framework, metric, value, batch=1024):
    detail = f"q1={value * 0.9!r} q3={value * 1.1!r} n=5 batch={batch} compile_s=0.5 threads=2"
    return {"suite": "performance", "protocol": "layer", "unit": unit, "variant": variant,
            "kernel": kernel, "framework": framework, "mode": "eager", "metric": metric,
            "value": value, "detail": detail}


def test_table_ratios_use_the_same_run_baselines() -> None:
    tanh_rate = 1.0e9
    rows = pd.DataFrame([
        {"suite": "performance", "protocol": "ceiling", "unit": "ceiling", "variant": "machine",
         "kernel": "numba", "framework": "numpy", "mode": "eager", "metric": "tanh_per_s",
         "value": tanh_rate, "detail": "threads=2"},
        _row("linear_relu", "ours", "default", "torch", "forward_backward_s", 0.010),
        _row("linear_relu", "ours", "default", "torch", "peak_memory_bytes", 2.0**20),
        _row("aptx_layer", "ours", "fused-numba", "torch", "forward_backward_s", 0.600),
        _row("aptx_layer", "ours", "fused-numba", "torch", "peak_memory_bytes", 4 * 2.0**20),
        _row("aptx_layer", "original", "aptx_neuron.aptx_layer", "torch", "forward_backward_s", 6.0),
        _row("aptx_layer", "original", "aptx_neuron.aptx_layer", "torch", "peak_memory_bytes", 4000 * 2.0**20),
    ])
    table, rate = layer_table(rows)
    assert rate == tanh_rate
    fused = table[table["kernel"] == "fused-numba"].iloc[0]
    assert fused["vs_linear_relu"] == pytest.approx(60.0)
    roofline_ms = 1e3 * aptx_roofline_s(tanh_rate, 1024, layer.OUT_FEATURES, layer.IN_FEATURES)[1]
    assert fused["vs_roofline"] == pytest.approx(600.0 / roofline_ms)
    assert fused["time_vs_original"] == pytest.approx(0.1)
    assert fused["memory_vs_original"] == pytest.approx(0.001)
    assert fused["forward_backward_iqr_ms"] == pytest.approx(120.0)
    original = table[table["kernel"] == "aptx_neuron.aptx_layer"].iloc[0]
    assert original["framework"] == "torch (original)"


def test_jax_compiled_forward_backward_keeps_the_forward_pass() -> None:
    """Under jit a bare pullback lets XLA drop the forward as dead code (the fused kernel's
    custom_vjp does not need its output), which timed the backward alone as forward +
    backward. The timed call returns the output, so the forward is computed, as in training."""
    import numpy as np

    import impls
    from impls.spec import LayerSpec
    from suites.performance.native import native_calls
    from tests.conftest import require_framework

    require_framework("jax")
    spec = LayerSpec("aptx_layer", impls.spec.resolve_config(
        "aptx_layer", {"in_features": 6, "out_features": 3, "impl": "fused"}))
    model = impls.build_model([spec], "jax", seed=0, dtype="float32")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 6)).astype(np.float32)
    g = rng.standard_normal((4, 3)).astype(np.float32)
    forward, forward_backward = native_calls("jax", model, x, g, "compiled")
    y, (dx, _) = forward_backward()
    np.testing.assert_allclose(np.asarray(y), np.asarray(forward()), rtol=1e-6)
    assert np.asarray(dx).shape == x.shape
