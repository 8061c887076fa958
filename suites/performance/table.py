"""The layer benchmark's tables: medians, spread, throughput, memory and the ratios that carry
the verdicts.

Read from the results store only. ``cases`` turns the rows into one line per case (unit,
implementation, framework, mode, device, batch, width). For every case:

* ``throughput``: rows per second through forward + backward (batch / median time);
* ``vs Linear+ReLU``: forward + backward over the Linear + ReLU network of the same framework,
  mode and shape, as the median ratio of alternating pairs timed in the case's own process
  (``layer.pairing``), else over the Linear + ReLU case of the run (the targets: Yat dense
  <= 1.2, ActMix and LearnableSELU <= 1.5);
* ``vs roofline`` (APTx only): over 2 B*O*I / tanh_rate, paired the same way with a sweep of
  the kernel's tanh, else with the run's tanh ceiling (target <= 2);
* ``vs original``: forward + backward time and peak memory over the original package's layer
  measured in the same run at the same shape (APTx target: memory <= 1 %);
* ``other_load``: cores other processes kept busy while the case was timed (the machine state).

``layer_table`` is the main table (the shape with the most cases, 1024 x 784 -> 256 in every
run so far); ``scaling_table`` has every shape, for the figures over batch and width.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from suites.performance import layer
from suites.performance.ceilings import aptx_roofline_s

COLUMNS = ("unit", "kernel", "framework", "mode", "dtype", "forward_ms", "forward_iqr_ms",
           "forward_backward_ms", "forward_backward_iqr_ms", "throughput_per_s", "compile_s",
           "peak_mib", "vs_linear_relu", "vs_roofline", "time_vs_original", "memory_vs_original",
           "other_load")
SCALING_COLUMNS = ("unit", "kernel", "framework", "mode", "dtype", "device", "source", "batch", "width",
                   "forward_ms", "forward_backward_ms", "throughput_per_s", "peak_mib",
                   "vs_linear_relu")
_KEYS = ["unit", "variant", "kernel", "framework", "mode", "dtype", "device", "batch", "width"]


def _detail(detail: str, key: str) -> float:
    found = re.search(rf"{key}=([^ ]+)", detail or "")
    return float(found.group(1)) if found else float("nan")


def _with_shape(perf: pd.DataFrame) -> pd.DataFrame:
    """Rows with ``batch`` and ``width`` filled: runs before the shape columns kept the batch
    in the detail text and always had width 256."""
    perf = perf.copy()
    parsed = perf["detail"].map(lambda d: _detail(d, "batch"))
    perf["batch"] = perf["batch"].astype("Float64").fillna(parsed) if "batch" in perf else parsed
    perf["width"] = (perf["width"].astype("Float64").fillna(layer.OUT_FEATURES) if "width" in perf
                     else float(layer.OUT_FEATURES))
    perf["device"] = perf["device"].fillna("cpu") if "device" in perf else "cpu"
    perf["dtype"] = perf["dtype"].fillna("float32") if "dtype" in perf else "float32"
    return perf.astype({"batch": "int64", "width": "int64"})


def tanh_ceiling(rows: pd.DataFrame) -> float:
    """The run's tanh ceiling (NaN without a ceilings row)."""
    ceilings = rows[(rows["suite"] == layer.SUITE) & (rows["protocol"] == "ceiling")]
    found = ceilings.loc[ceilings["metric"] == "tanh_per_s", "value"]
    return float(found.iloc[-1]) if not found.empty else float("nan")


def cases(rows: pd.DataFrame) -> pd.DataFrame:
    """One line per case and shape, every column of ``COLUMNS`` and ``SCALING_COLUMNS``."""
    perf = rows[(rows["suite"] == layer.SUITE) & (rows["protocol"] == layer.PROTOCOL)]
    if perf.empty:
        return pd.DataFrame(columns=[*dict.fromkeys([*COLUMNS, *SCALING_COLUMNS])])
    tanh_rate = tanh_ceiling(rows)
    out = []
    for key, part in _with_shape(perf).groupby(_KEYS, sort=True, dropna=False):
        metric = dict(zip(part["metric"], part["value"], strict=True))
        detail = dict(zip(part["metric"], part["detail"], strict=True))
        fb, fwd = detail.get("forward_backward_s", ""), detail.get("forward_s", "")
        case = dict(zip(_KEYS, key, strict=True))
        fb_s = metric.get("forward_backward_s", float("nan"))
        out.append({
            **case,
            "source": case["variant"],
            "forward_ms": 1e3 * metric.get("forward_s", float("nan")),
            "forward_iqr_ms": 1e3 * (_detail(fwd, "q3") - _detail(fwd, "q1")),
            "forward_backward_ms": 1e3 * fb_s,
            "forward_backward_iqr_ms": 1e3 * (_detail(fb, "q3") - _detail(fb, "q1")),
            "throughput_per_s": case["batch"] / fb_s,
            "compile_s": _detail(fb, "compile_s"),
            "peak_mib": metric.get("peak_memory_bytes", float("nan")) / 2**20,
            "paired_linear_relu": metric.get("forward_backward_vs_linear_relu", float("nan")),
            "paired_roofline": metric.get("forward_backward_vs_roofline", float("nan")),
            "other_load": metric.get("other_load_cores", float("nan")),
        })
    table = pd.DataFrame(out)
    shape = ["device", "batch", "width"]
    ours = table[table["variant"] == "ours"]
    baseline = ours[ours["unit"] == "linear_relu"].set_index(["framework", "mode", "dtype", *shape])
    baseline = baseline["forward_backward_ms"]
    # A ratio measured in pairs inside the case's process wins over one across processes.
    table["vs_linear_relu"] = [
        row.paired_linear_relu if not pd.isna(row.paired_linear_relu)
        else 1.0 if row.unit == "linear_relu" and row.variant == "ours"
        else row.forward_backward_ms / baseline.get(
            (row.framework, row.mode, row.dtype, row.device, row.batch, row.width), float("nan"))
        if row.variant == "ours" else float("nan") for row in table.itertuples()]
    table["vs_roofline"] = [
        row.paired_roofline if not pd.isna(row.paired_roofline)
        else row.forward_backward_ms / (1e3 * aptx_roofline_s(
            tanh_rate, int(row.batch), int(row.width), layer.IN_FEATURES)[1])
        if row.unit == "aptx_layer" and row.dtype == "float32" else float("nan")
        for row in table.itertuples()]
    originals = table[table["variant"] == "original"].set_index(["unit", *shape])
    # A peak under 1 MiB (0 where the allocator reused memory freed during warm-up, a few pages
    # otherwise) is below what the resident-set probe resolves: it gives no ratio.
    original_peak = originals["peak_mib"].where(originals["peak_mib"] >= 1.0)
    # the originals ship float32 only: a float64 case has no original beside it
    at = [(r.unit, r.device, r.batch, r.width) if r.dtype == "float32" else None
          for r in table.itertuples()]
    table["time_vs_original"] = [
        row.forward_backward_ms / originals["forward_backward_ms"].get(k, float("nan"))
        if k is not None else float("nan")
        for row, k in zip(table.itertuples(), at, strict=True)]
    table["memory_vs_original"] = [
        row.peak_mib / original_peak.get(k, float("nan")) if k is not None else float("nan")
        for row, k in zip(table.itertuples(), at, strict=True)]
    is_original = table["variant"] == "original"
    table.loc[is_original, "framework"] = table.loc[is_original, "framework"] + " (original)"
    order = {u: i for i, u in enumerate(layer.CASE_UNITS)}
    return table.sort_values(by=["unit", "variant", "framework", "kernel", "mode", "dtype", "batch",
                                 "width"],
                             key=lambda s: s.map(order) if s.name == "unit" else s,
                             kind="mergesort").reset_index(drop=True)


def main_shape(table: pd.DataFrame) -> tuple[int, int]:
    """(batch, width) of the main table: the shape with the most cases."""
    counts = table.groupby(["batch", "width"]).size()
    return tuple(int(v) for v in counts.idxmax()) if not counts.empty else (layer.BATCH, layer.OUT_FEATURES)


def layer_table(rows: pd.DataFrame) -> tuple[pd.DataFrame, float]:
    """(one row per case at the main shape, the run's tanh ceiling); rows of other suites are
    ignored."""
    table = cases(rows)
    if table.empty:
        return pd.DataFrame(columns=COLUMNS), float("nan")
    batch, width = main_shape(table)
    table = table[(table["batch"] == batch) & (table["width"] == width)]
    return table[list(COLUMNS)].reset_index(drop=True), tanh_ceiling(rows)


def scaling_table(rows: pd.DataFrame) -> pd.DataFrame:
    """Every eager case and original at every shape (the figures over batch and width)."""
    table = cases(rows)
    if table.empty:
        return pd.DataFrame(columns=SCALING_COLUMNS)
    eager = table[(table["mode"] == "eager") & (table["dtype"] == "float32")]
    return eager[list(SCALING_COLUMNS)].reset_index(drop=True)


def _markdown(frame: pd.DataFrame) -> list[str]:
    shown = frame.copy()
    for col in shown.columns:
        if shown[col].dtype.kind == "f":
            shown[col] = shown[col].map(lambda v: "" if pd.isna(v) else f"{v:.3g}")
    return (["| " + " | ".join(shown.columns) + " |", "|" + "---|" * len(shown.columns)]
            + ["| " + " | ".join(str(v) for v in row) + " |" for row in shown.itertuples(index=False)])


def write_layer_table(rows: pd.DataFrame, out_dir: Path) -> list[Path]:
    """tables/performance/layer.{md,csv} and layer_scaling.{md,csv}; returns the files written
    (none without rows)."""
    table, tanh_rate = layer_table(rows)
    if table.empty:
        return []
    all_cases = cases(rows)
    batch, width = main_shape(all_cases)
    devices = ", ".join(sorted(all_cases["device"].unique()))
    folder = Path(out_dir) / "tables" / "performance"
    folder.mkdir(parents=True, exist_ok=True)
    csv = folder / "layer.csv"
    table.to_csv(csv, index=False, float_format="%.6g")
    md = folder / "layer.md"
    roofline_ms = 1e3 * aptx_roofline_s(tanh_rate, batch, width, layer.IN_FEATURES)[1]
    dtypes = ", ".join(sorted(all_cases["dtype"].unique()))
    lines = [f"# Layer benchmark: {layer.IN_FEATURES} -> {width}, batch {batch}, {dtypes}, {devices}",
             "",
             f"Medians of repeated calls, each case in a fresh process; tanh ceiling measured in the "
             f"same run: {tanh_rate / 1e9:.3g} G tanh/s (APTx roofline, forward + backward: "
             f"{roofline_ms:.3g} ms). "
             "vs_linear_relu and vs_roofline are medians of ratios timed in alternating pairs "
             "inside each case's process (Linear + ReLU of the same framework and mode; a tanh "
             "sweep of B*O*I evaluations), so drift between cases does not enter them. "
             "The original packages are the rows marked (original); throughput_per_s is rows "
             "per second through forward + backward; other_load is how many cores other "
             "processes kept busy while the case was timed.",
             "", *_markdown(table)]
    md.write_text("\n".join(lines) + "\n")
    paths = [csv, md]
    scaling = scaling_table(rows)
    if scaling[["batch", "width"]].drop_duplicates().shape[0] > 1:
        scsv, smd = folder / "layer_scaling.csv", folder / "layer_scaling.md"
        scaling.to_csv(scsv, index=False, float_format="%.6g")
        smd.write_text("\n".join([
            "# Layer benchmark over batch and width (eager)", "",
            f"Batches at width {width} and widths at batch {batch}; the original packages at every "
            "shape their memory allows (aptx_neuron needs about 5 B*O*I*4 bytes and is left out "
            "beyond 8 GiB).", "", *_markdown(scaling)]) + "\n")
        paths += [scsv, smd]
    return paths


TRAIN_STEP_COLUMNS = ("model", "unit", "kernel", "framework", "mode", "batch", "n_params",
                      "step_ms", "step_iqr_ms", "api_step_ms", "throughput_per_s", "compile_s",
                      "peak_mib", "vs_linear_relu", "other_load")


def train_step_table(rows: pd.DataFrame) -> pd.DataFrame:
    """One line per train-step case (``train_step.py``): the native step's median and IQR, the
    public ``impls.train_steps`` call's median, rows per second, memory and the paired ratio to
    the same model with ReLU."""
    from suites.performance import train_step

    steps = rows[(rows["suite"] == train_step.SUITE) & (rows["protocol"] == train_step.PROTOCOL)]
    if steps.empty:
        return pd.DataFrame(columns=TRAIN_STEP_COLUMNS)
    out = []
    keys = ["variant", "unit", "kernel", "framework", "mode"]
    for key, part in steps.groupby(keys, sort=True, dropna=False):
        metric = dict(zip(part["metric"], part["value"], strict=True))
        detail = dict(zip(part["metric"], part["detail"], strict=True))
        step = detail.get("train_step_s", "")
        batch = _detail(step, "batch")
        step_s = metric.get("train_step_s", float("nan"))
        case = dict(zip(keys, key, strict=True))
        out.append({
            "model": case.pop("variant"), **case, "batch": batch,
            "n_params": part["n_params"].dropna().iloc[0] if part["n_params"].notna().any() else None,
            "step_ms": 1e3 * step_s,
            "step_iqr_ms": 1e3 * (_detail(step, "q3") - _detail(step, "q1")),
            "api_step_ms": 1e3 * metric.get("train_step_api_s", float("nan")),
            "throughput_per_s": batch / step_s,
            "compile_s": _detail(step, "compile_s"),
            "peak_mib": metric.get("peak_memory_bytes", float("nan")) / 2**20,
            "vs_linear_relu": 1.0 if case["unit"] == train_step.BASELINE_UNIT
            else metric.get(train_step.PAIRED_METRIC, float("nan")),
            "other_load": metric.get("other_load_cores", float("nan")),
        })
    table = pd.DataFrame(out, columns=TRAIN_STEP_COLUMNS)
    from suites.report.palette import FRAMEWORK_ORDER, order_units

    order = {"model": {m: i for i, m in enumerate(train_step.MODELS)},
             "framework": {f: i for i, f in enumerate(FRAMEWORK_ORDER)},
             "unit": {u: i for i, u in enumerate(order_units(table["unit"]))}}
    return table.sort_values(
        by=["model", "framework", "mode", "unit"], kind="mergesort",
        key=lambda s: s.map(order[s.name]) if s.name in order else s).reset_index(drop=True)


def write_train_step_table(rows: pd.DataFrame, out_dir: Path) -> list[Path]:
    """tables/performance/train_step.{md,csv} (none without train-step rows)."""
    from suites.performance import train_step

    table = train_step_table(rows)
    if table.empty:
        return []
    folder = Path(out_dir) / "tables" / "performance"
    folder.mkdir(parents=True, exist_ok=True)
    csv, md = folder / "train_step.csv", folder / "train_step.md"
    table.to_csv(csv, index=False, float_format="%.6g")
    described = "; ".join(f"`{name}`: {train_step.MODELS[name].description}"
                          for name in table["model"].unique() if name in train_step.MODELS)
    md.write_text("\n".join([
        "# Train step: one optimiser step of a whole model", "",
        "Medians of repeated steps, each case in a fresh process, float32, CPU. step_ms is the "
        "backend's own step on tensors made before the clock starts (forward, loss, backward, "
        "clipping, update); api_step_ms is the public impls.train_steps call with NumPy arrays "
        "(validation and conversion included). vs_linear_relu is the median ratio of steps timed "
        "in alternating pairs with the same model whose unit is ReLU. Models: " + described + ".",
        "", *_markdown(table)]) + "\n")
    return [csv, md]
