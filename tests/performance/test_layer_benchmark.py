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
                 "--no-originals", "--no-scaling", "--no-train-step", "--dtypes", "float32",
                 "--results-dir", str(results)])
    assert code == 0
    rows = load_results(results, suite="performance")
    cases = rows[rows["protocol"] == "layer"]
    assert set(cases["kernel"]) == {"default", "fused-numba", "recompute"}
    assert set(cases["metric"]) == {"forward_s", "forward_backward_s", "peak_memory_bytes",
                                    "other_load_cores", *layer.PAIRED_METRICS}
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
                 "--no-originals", "--no-scaling", "--no-train-step", "--dtypes", "float32",
                 "--results-dir", str(results)]) == 0
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


def test_plan_sweeps_shapes_and_leaves_out_originals_over_budget() -> None:
    notes: list[str] = []
    trials = layer.plan(["numpy", "torch"], units=["linear_relu", "aptx_layer"], impls_=("fused",),
                        modes=("eager", "compiled"), scaling_batches=(64, 1024, 4096),
                        scaling_widths=(64,), scaling_frameworks=["torch"], notes=notes)
    configs = [t.config for t in trials if "unit" in t.config]
    main = [c for c in configs if (c["batch"], c["width"]) == (1024, 256) and c["source"] == "ours"]
    # numpy eager + torch eager/compiled, two units
    assert len(main) == 6
    scaling = [c for c in configs if (c["batch"], c["width"]) != (1024, 256) and c["source"] == "ours"]
    assert {(c["batch"], c["width"]) for c in scaling} == {(64, 256), (4096, 256), (1024, 64)}
    assert {(c["framework"], c["mode"]) for c in scaling} == {("torch", "eager")}
    originals = {(c["kernel"], c["batch"], c["width"]) for c in configs if c["source"] == "original"}
    # aptx_neuron needs about 5 B*O*I*4 bytes: 16 GiB at 4096 x 256 is over the 8 GiB budget
    assert ("aptx_neuron.aptx_layer", 4096, 256) not in originals
    assert ("aptx_neuron.aptx_layer", 1024, 256) in originals
    assert ("mpneuralnetwork.Dense+ReLU", 4096, 256) in originals
    assert any("aptx_neuron.aptx_layer left out at 4096x784->256" in n for n in notes)
    with pytest.raises(ValueError, match="not among the frameworks"):
        layer.plan(["numpy"], scaling_frameworks=["torch"])
    with pytest.raises(ValueError, match="unknown benchmark unit"):
        layer.plan(["numpy"], units=["linear_rleu"])


def test_a_device_no_framework_sees_is_refused_before_any_case() -> None:
    from suites.performance import devices

    assert devices.available("numpy") == ("cpu",)
    with pytest.raises(ValueError, match="not visible to numpy"):
        devices.check(["numpy"], "gpu")
    with pytest.raises(ValueError, match="unknown device"):
        devices.check(["numpy"], "npu")
    with pytest.raises(SystemExit, match="not visible to numpy"):
        main(["perf", "--frameworks", "numpy", "--device", "gpu", "--results-dir", "unused"])


def test_table_keys_ratios_and_originals_by_shape() -> None:
    def row(unit, variant, kernel, framework, metric, value, batch, width):
        return {**_row(unit, variant, kernel, framework, metric, value, batch),
                "batch": batch, "width": width, "device": "cpu"}

    rows = pd.DataFrame([
        row("linear_relu", "ours", "default", "numpy", "forward_backward_s", 0.010, 1024, 256),
        row("linear_relu", "ours", "default", "numpy", "forward_backward_s", 0.040, 4096, 256),
        row("linear_actmix", "ours", "default", "numpy", "forward_backward_s", 0.020, 1024, 256),
        row("linear_actmix", "ours", "default", "numpy", "forward_backward_s", 0.120, 4096, 256),
        row("linear_relu", "original", "mpneuralnetwork.Dense+ReLU", "numpy", "forward_backward_s",
            0.020, 1024, 256),
    ])
    table, _ = layer_table(rows)
    assert set(table["unit"]) == {"linear_relu", "linear_actmix"}
    actmix = table[table["unit"] == "linear_actmix"].iloc[0]
    assert actmix["vs_linear_relu"] == pytest.approx(2.0)       # 1024 against 1024, not 4096
    assert actmix["throughput_per_s"] == pytest.approx(1024 / 0.020)
    ours_relu = table[(table["unit"] == "linear_relu") & (table["framework"] == "numpy")].iloc[0]
    assert ours_relu["time_vs_original"] == pytest.approx(0.5)
    from suites.performance.table import scaling_table

    scaling = scaling_table(rows)
    big = scaling[(scaling["unit"] == "linear_actmix") & (scaling["batch"] == 4096)].iloc[0]
    assert big["vs_linear_relu"] == pytest.approx(3.0)


def test_scaling_figures_draw_one_line_per_unit(tmp_path) -> None:
    from suites.performance.figures import scaling_figures

    frames = []
    for unit, source, kernel, framework, scale in (
            ("linear_relu", "ours", "default", "numpy", 1.0),
            ("aptx_layer", "ours", "fused-numba", "numpy", 20.0),
            ("aptx_layer", "original", "aptx_neuron.aptx_layer", "torch (original)", 400.0)):
        for batch, width in ((64, 256), (256, 256), (1024, 256), (1024, 64), (1024, 1024)):
            frames.append({"unit": unit, "source": source, "kernel": kernel, "framework": framework,
                           "mode": "eager", "device": "cpu", "batch": batch, "width": width,
                           "forward_backward_ms": scale * batch * width / 1e5,
                           "peak_mib": scale * batch * width / 1e6})
    paths = scaling_figures(pd.DataFrame(frames), tmp_path)
    assert sorted(p.name for p in paths) == ["scaling_batch.pdf", "scaling_batch.png",
                                             "scaling_width.pdf", "scaling_width.png"]
    assert all(p.stat().st_size > 5000 for p in paths)


def test_a_small_run_with_the_original_packages(tmp_path) -> None:
    """mpneuralnetwork's NumPy Dense + ReLU and aptx_activation's APTx after a torch Linear run
    as reference rows of their cases, at every scaling shape."""
    from tests.conftest import require_framework

    require_framework("torch")
    results = tmp_path / "results"
    assert main(["perf", "--frameworks", "numpy,torch", "--units", "linear_relu,linear_aptx_activation",
                 "--modes", "eager", "--batch", "8", "--width", "4", "--batches", "16",
                 "--widths", "4", "--repeats", "2", "--no-train-step", "--dtypes", "float32",
                 "--results-dir", str(results)]) == 0
    rows = load_results(results, suite="performance")
    cases = rows[rows["protocol"] == "layer"]
    originals = cases[cases["variant"] == "original"]
    assert set(originals["kernel"]) == {"mpneuralnetwork.Dense+ReLU", "torch.nn.Linear+aptx_activation.APTx"}
    assert set(zip(originals["batch"], originals["width"], strict=True)) == {(8, 4), (16, 4)}
    load = cases[cases["metric"] == "other_load_cores"]["value"]
    assert ((load >= 0) & (load <= 64)).all() and not load.empty
    table, _ = layer_table(rows)
    assert table["time_vs_original"].notna().sum() >= 4
    assert (table["throughput_per_s"] > 0).all()


def test_float64_cases_are_their_own_rows_with_their_own_baseline(tmp_path) -> None:
    """--dtypes float32,float64: each dtype's case is paired with Linear + ReLU of that dtype;
    the float32 roofline and the (float32) originals are not set against float64 cases."""
    results = tmp_path / "results"
    assert main(["perf", "--frameworks", "numpy", "--units", "linear_relu,aptx_layer",
                 "--impls", "fused", "--dtypes", "float32,float64", "--batch", "8", "--width", "4",
                 "--repeats", "2", "--no-scaling", "--no-train-step", "--no-originals",
                 "--results-dir", str(results)]) == 0
    rows = load_results(results, suite="performance")
    table, _ = layer_table(rows)
    aptx = table[table["unit"] == "aptx_layer"].set_index("dtype")
    assert set(aptx.index) == {"float32", "float64"}
    assert aptx["vs_linear_relu"].notna().all()
    assert pd.notna(aptx.loc["float32", "vs_roofline"]) and pd.isna(aptx.loc["float64", "vs_roofline"])
    with pytest.raises(SystemExit, match="not benchmarked"):
        main(["perf", "--frameworks", "numpy", "--dtypes", "float16", "--results-dir", str(results)])
