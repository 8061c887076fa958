"""The layer benchmark's table: medians, spread, memory and the ratios that carry the verdicts.

Read from the results store only. For every case (unit, implementation, framework, mode):
forward and forward + backward medians with their IQR, peak memory, and

* ``vs Linear+ReLU``: forward + backward over the Linear + ReLU network of the same framework
  and mode, as the median ratio of alternating pairs timed in the case's own process
  (``layer.pairing``), else over the Linear + ReLU case of the run (the issue's targets: Yat
  dense <= 1.2, ActMix and LearnableSELU <= 1.5);
* ``vs roofline`` (APTx only): over 2 B*O*I / tanh_rate, paired the same way with a sweep of
  the kernel's tanh, else with the run's tanh ceiling (target <= 2);
* ``vs original``: forward + backward time and peak memory over the original package's layer
  measured in the same run (APTx target: memory <= 1 %).
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from suites.performance import layer
from suites.performance.ceilings import aptx_roofline_s

COLUMNS = ("unit", "kernel", "framework", "mode", "forward_ms", "forward_iqr_ms",
           "forward_backward_ms", "forward_backward_iqr_ms", "compile_s", "peak_mib",
           "vs_linear_relu", "vs_roofline", "time_vs_original", "memory_vs_original")


def _detail(detail: str, key: str) -> float:
    found = re.search(rf"{key}=([^ ]+)", detail or "")
    return float(found.group(1)) if found else float("nan")


def layer_table(rows: pd.DataFrame) -> tuple[pd.DataFrame, float]:
    """(one row per case, the run's tanh ceiling); rows of other suites are ignored."""
    perf = rows[(rows["suite"] == layer.SUITE) & (rows["protocol"] == layer.PROTOCOL)]
    ceilings = rows[(rows["suite"] == layer.SUITE) & (rows["protocol"] == "ceiling")]
    if perf.empty:
        return pd.DataFrame(columns=COLUMNS), float("nan")
    tanh_rate = float(ceilings.loc[ceilings["metric"] == "tanh_per_s", "value"].iloc[-1]) \
        if not ceilings.empty else float("nan")
    keys = ["unit", "variant", "kernel", "framework", "mode"]
    cases = []
    for key, part in perf.groupby(keys, sort=True, dropna=False):
        metric = dict(zip(part["metric"], part["value"], strict=True))
        detail = dict(zip(part["metric"], part["detail"], strict=True))
        fb = detail.get("forward_backward_s", "")
        fwd = detail.get("forward_s", "")
        cases.append({
            **dict(zip(keys, key, strict=True)),
            "forward_ms": 1e3 * metric.get("forward_s", float("nan")),
            "forward_iqr_ms": 1e3 * (_detail(fwd, "q3") - _detail(fwd, "q1")),
            "forward_backward_ms": 1e3 * metric.get("forward_backward_s", float("nan")),
            "forward_backward_iqr_ms": 1e3 * (_detail(fb, "q3") - _detail(fb, "q1")),
            "compile_s": _detail(fb, "compile_s"),
            "batch": _detail(fb, "batch"),
            "peak_mib": metric.get("peak_memory_bytes", float("nan")) / 2**20,
            "paired_linear_relu": metric.get("forward_backward_vs_linear_relu", float("nan")),
            "paired_roofline": metric.get("forward_backward_vs_roofline", float("nan")),
        })
    table = pd.DataFrame(cases)
    ours = table[table["variant"] == "ours"]
    baseline = ours[ours["unit"] == "linear_relu"].set_index(["framework", "mode"])["forward_backward_ms"]
    # A ratio measured in pairs inside the case's process wins over one across processes.
    table["vs_linear_relu"] = [
        row.paired_linear_relu if not pd.isna(row.paired_linear_relu)
        else 1.0 if row.unit == "linear_relu" and row.variant == "ours"
        else row.forward_backward_ms / baseline.get((row.framework, row.mode), float("nan"))
        if row.variant == "ours" else float("nan") for row in table.itertuples()]
    roof = {int(b): 1e3 * aptx_roofline_s(tanh_rate, int(b), layer.OUT_FEATURES, layer.IN_FEATURES)[1]
            for b in table["batch"].dropna().unique()}
    table["vs_roofline"] = [
        row.paired_roofline if not pd.isna(row.paired_roofline)
        else row.forward_backward_ms / roof[int(row.batch)] if row.unit == "aptx_layer"
        else float("nan") for row in table.itertuples()]
    originals = table[table["variant"] == "original"].set_index("unit")
    table["time_vs_original"] = [
        row.forward_backward_ms / originals["forward_backward_ms"].get(row.unit, float("nan"))
        for row in table.itertuples()]
    # A peak of 0 (the allocator reused memory freed during warm-up) gives no ratio.
    original_peak = originals["peak_mib"].where(originals["peak_mib"] > 0)
    table["memory_vs_original"] = [
        row.peak_mib / original_peak.get(row.unit, float("nan")) for row in table.itertuples()]
    table.loc[table["variant"] == "original", "framework"] = "torch (original)"
    order = {u: i for i, u in enumerate(layer.NETWORKS)}
    table = table.sort_values(by=["unit", "variant", "framework", "kernel", "mode"],
                              key=lambda s: s.map(order) if s.name == "unit" else s)
    return table[list(COLUMNS)].reset_index(drop=True), tanh_rate


def write_layer_table(rows: pd.DataFrame, out_dir: Path) -> list[Path]:
    """tables/performance/layer.{md,csv}; returns the files written (none without rows)."""
    table, tanh_rate = layer_table(rows)
    if table.empty:
        return []
    folder = Path(out_dir) / "tables" / "performance"
    folder.mkdir(parents=True, exist_ok=True)
    csv = folder / "layer.csv"
    table.to_csv(csv, index=False, float_format="%.6g")
    md = folder / "layer.md"
    shown = table.copy()
    for col in shown.columns:
        if shown[col].dtype.kind == "f":
            shown[col] = shown[col].map(lambda v: "" if pd.isna(v) else f"{v:.3g}")
    lines = [f"# Layer benchmark: {layer.IN_FEATURES} -> {layer.OUT_FEATURES}, batch {layer.BATCH}, float32, CPU",
             "",
             f"Medians of repeated calls, each case in a fresh process; tanh ceiling measured in the "
             f"same run: {tanh_rate / 1e9:.3g} G tanh/s (APTx roofline, forward + backward: "
             f"{1e3 * aptx_roofline_s(tanh_rate, layer.BATCH, layer.OUT_FEATURES, layer.IN_FEATURES)[1]:.0f} ms). "
             "vs_linear_relu and vs_roofline are medians of ratios timed in alternating pairs "
             "inside each case's process (Linear + ReLU of the same framework and mode; a tanh "
             "sweep of B*O*I evaluations), so drift between cases does not enter them.",
             "",
             "| " + " | ".join(shown.columns) + " |",
             "|" + "---|" * len(shown.columns)]
    lines += ["| " + " | ".join(str(v) for v in row) + " |" for row in shown.itertuples(index=False)]
    md.write_text("\n".join(lines) + "\n")
    return [csv, md]
