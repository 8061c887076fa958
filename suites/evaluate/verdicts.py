"""From the battery's rows to its verdicts: plain data the report renders and tests read.

Kept apart from the rendering so every number in the report comes from one function here and
``summary.json`` holds exactly what the Markdown says.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

#: The layer-benchmark bound the fast-units issue sets for an activation that replaces ReLU.
SPEED_BOUND = 1.5


def gradcheck(rows: pd.DataFrame) -> dict[str, Any]:
    part = rows[(rows["suite"] == "evaluate") & (rows["protocol"] == "gradcheck")]
    if part.empty:
        return {"verdict": "not run", "checks": 0, "failed": [], "worst": math.nan}
    failed = part[~part["passed"].astype(bool)]
    return {"verdict": "pass" if failed.empty else "fail", "checks": len(part),
            "worst": float(part["value"].max()), "tolerance": float(part["tolerance"].max()),
            "failed": [f"{r.variant} {r.metric}: {r.value:.3g}" for r in failed.itertuples()]}


def parity(rows: pd.DataFrame, frameworks: list[str], absent: list[str]) -> dict[str, Any]:
    part = rows[(rows["suite"] == "equivalence") & (rows["protocol"] == "parity")]
    out: dict[str, Any] = {}
    for framework in frameworks:
        mine = part[part["framework"] == framework]
        cells = []
        for (dtype, mode), cell in mine.groupby(["dtype", "mode"], sort=True):
            failed = cell[~cell["passed"].astype(bool)]
            cells.append({"dtype": dtype, "mode": mode, "checks": len(cell),
                          "worst_rel_err": float(cell["value"].max()),
                          "tolerance": float(cell["tolerance"].max()),
                          "trajectories": int(cell["variant"].str.endswith("[trajectory]").sum()),
                          "failed": [f"{r.variant} {r.metric}" for r in failed.itertuples()]})
        verdict = ("not run" if not cells else
                   "pass" if all(not c["failed"] for c in cells) else "fail")
        out[framework] = {"verdict": verdict, "cells": cells}
    for framework in absent:
        out[framework] = {"verdict": "absent (the unit provides no implementation)", "cells": []}
    return out


def _interval(values: np.ndarray) -> tuple[float, float, float]:
    from suites.report.stats import t_interval

    low, high = t_interval(values)
    return float(np.mean(values)) if len(values) else math.nan, low, high


def accuracy(rows: pd.DataFrame, unit: str, baselines: tuple[str, ...]) -> dict[str, Any]:
    """Per variant: each unit's test accuracy at the epoch picked on validation (mean, 95 %
    t-interval over seeds), and the unit minus each baseline, paired by seed."""
    from suites.report.stats import ok_rows, selected_rows

    part = rows[rows["suite"] == "accuracy"]
    chosen = selected_rows(ok_rows(part), "best_val")
    out: dict[str, Any] = {}
    for variant, cell in chosen.groupby("variant", sort=True):
        units = {}
        for name, group in cell.groupby("unit", sort=False):
            values = group.sort_values("seed")["value"].to_numpy(float)
            mean, low, high = _interval(values)
            units[name] = {"mean": mean, "ci_low": low, "ci_high": high, "n": len(values),
                           "n_params": int(group["n_params"].iloc[0])}
        comparisons = {}
        mine = cell[cell["unit"] == unit].set_index("seed")["value"]
        for baseline in baselines:
            theirs = cell[cell["unit"] == baseline].set_index("seed")["value"]
            seeds = sorted(set(mine.index) & set(theirs.index))
            if not seeds:
                continue
            diff = mine.loc[seeds].to_numpy(float) - theirs.loc[seeds].to_numpy(float)
            mean, low, high = _interval(diff)
            verdict = ("better" if low > 0 else "worse" if high < 0 else
                       "no significant difference" if not math.isnan(low) else "too few seeds")
            comparisons[baseline] = {"mean_diff": mean, "ci_low": low, "ci_high": high,
                                     "n": len(seeds), "verdict": verdict}
        out[variant] = {"units": units, "vs": comparisons}
    diverged = part[(part.get("status", pd.Series(dtype=str)) == "diverged")]
    return {"variants": out, "diverged_trials": int(diverged["trial_key"].nunique())}


def speed(rows: pd.DataFrame, case: str, baseline: str) -> dict[str, Any]:
    """Per framework and mode: forward + backward median, its paired ratio to Linear + ReLU,
    and peak memory against the baseline's in the same framework and mode."""
    part = rows[(rows["suite"] == "performance") & (rows["protocol"] == "layer")]
    out: dict[str, Any] = {}
    for (framework, mode), cell in part.groupby(["framework", "mode"], sort=False):
        def metric(unit: str, name: str, cell=cell) -> float:
            hit = cell[(cell["unit"] == unit) & (cell["metric"] == name)]
            return float(hit["value"].iloc[0]) if len(hit) else math.nan

        ratio = metric(case, "forward_backward_vs_linear_relu")
        memory = metric(case, "peak_memory_bytes")
        base_memory = metric(baseline, "peak_memory_bytes")
        batch = cell["batch"].dropna()
        out[f"{framework}/{mode}"] = {
            "framework": framework, "mode": mode,
            "batch": int(batch.iloc[0]) if len(batch) else None,
            "forward_backward_s": metric(case, "forward_backward_s"),
            "baseline_forward_backward_s": metric(baseline, "forward_backward_s"),
            "ratio_vs_linear_relu": ratio,
            "peak_memory_bytes": memory, "baseline_peak_memory_bytes": base_memory,
            "memory_ratio": memory / base_memory if base_memory > 0 else math.nan,
            # cores other processes kept busy while the case ran: a busy machine is said, not hidden
            "other_load_cores": metric(case, "other_load_cores"),
            "verdict": ("not measured" if math.isnan(ratio) else
                        f"within {SPEED_BOUND:g}x of Linear + ReLU" if ratio <= SPEED_BOUND else
                        f"{ratio:.2f}x Linear + ReLU (over {SPEED_BOUND:g}x)"),
        }
    return out


def builtin_reference(path: Any, protocol: str, framework: str) -> list[dict[str, Any]]:
    """Committed accuracy of the built-in units under the same protocol and profile (the
    report table ``reports/tables/<profile>/mnist_accuracy_best_val.csv``), for context."""
    from pathlib import Path

    path = Path(path)
    if not path.is_file():
        return []
    table = pd.read_csv(path)
    table = table[(table["protocol"] == protocol) & (table["framework"] == framework)]
    return [{"unit": r.unit, "variant": r.variant, "mean": float(r.mean), "ci_low": float(r.ci_low),
             "ci_high": float(r.ci_high), "n": int(r.n)} for r in table.itertuples()]
