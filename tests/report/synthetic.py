"""A synthetic accuracy-suite results table with the exact columns of the results store.

Built from fixed numbers (a seeded generator), so tests know what the report must say: units
differ by known amounts, seeds are shared across units and frameworks (as in the real suite, where
a seed fixes the initial weights and batch order), and one trial can be planted as diverged or one
framework as training worse.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

COLUMNS = ["run_id", "suite", "protocol", "unit", "framework", "mode", "device", "dtype",
           "dataset", "split", "fold", "seed", "epoch", "metric", "value", "n_params",
           "trial_key", "status", "variant", "kernel", "selection", "tolerance", "passed",
           "detail", "profile"]

#: Final accuracy of each unit (the truth the tables should recover).
UNIT_ACCURACY = {"relu": 0.975, "gelu": 0.979, "swish": 0.977, "aptx_layer": 0.966}
UNIT_PARAMS = {"relu": 203_530, "gelu": 203_530, "swish": 203_530, "aptx_layer": 610_570}
PROTOCOL_UNITS = {"mnist-aptx": ("relu", "gelu", "aptx_layer"),
                  "mnist-units": ("relu", "gelu", "swish")}
PROTOCOL_VARIANT = {"mnist-aptx": "paper", "mnist-units": "equal-width"}
FRAMEWORKS = ("numpy", "torch", "jax", "tf")
RUN_ID = "run-synthetic-0001"
MANIFESTS = {RUN_ID: {"run_id": RUN_ID, "started": "2025-01-01T00:00:00Z", "state": "finished",
                      "provenance": {"git_sha": "0123abcd", "git_dirty": False,
                                     "python": "3.11.0"}}}


def make_results(seeds: int = 5, epochs: int = 12, bad_framework: str | None = None,
                 bad_unit: str = "gelu", bad_drop: float = 0.08,
                 diverged: tuple[str, str, str, int] | None = ("mnist-units", "swish", "torch", 2),
                 equivalence_rows: bool = False,
                 frameworks: tuple[str, ...] = FRAMEWORKS) -> pd.DataFrame:
    """Rows of one synthetic accuracy run (and a few equivalence rows).

    ``diverged`` = (protocol, unit, framework, seed) of a trial that blows up at epoch 3: its
    rows have status "diverged" and a chance-level summary accuracy that must never be averaged.
    """
    rng = np.random.default_rng(1234)
    seed_effect = rng.normal(0.0, 0.0015, size=seeds)          # shared by every unit/framework
    records: list[dict] = []
    for protocol, units in PROTOCOL_UNITS.items():
        variant = PROTOCOL_VARIANT[protocol]
        for unit in units:
            for framework in frameworks:
                for seed in range(seeds):
                    is_diverged = diverged == (protocol, unit, framework, seed)
                    status = "diverged" if is_diverged else "ok"
                    final = UNIT_ACCURACY[unit] + seed_effect[seed] + rng.normal(0.0, 0.0004)
                    if framework == bad_framework and unit == bad_unit:
                        final -= bad_drop
                    base = {"run_id": RUN_ID, "suite": "accuracy", "protocol": protocol,
                            "unit": unit, "framework": framework, "mode": "eager",
                            "device": "cpu", "dtype": "float32", "dataset": "mnist", "fold": 0,
                            "seed": seed, "n_params": UNIT_PARAMS[unit],
                            "trial_key": f"{protocol}/{unit}/{framework}/{seed}",
                            "status": status, "variant": variant, "kernel": "", "selection": "",
                            "tolerance": np.nan, "passed": np.nan, "detail": "",
                            "profile": "quick"}
                    last = 3 if is_diverged else epochs
                    test_acc, val_acc = [], []
                    for epoch in range(1, last + 1):
                        if is_diverged and epoch == last:
                            acc = 0.098
                        else:
                            acc = final - 0.06 * np.exp(-(epoch - 1) / 2.0) + rng.normal(0, 0.0008)
                        val = acc + rng.normal(0, 0.001)
                        test_acc.append(acc)
                        val_acc.append(val)
                        loss = -np.log(max(acc, 1e-3)) * 0.8
                        for split, metric, value in (
                            ("train", "loss", loss * 0.9), ("val", "accuracy", val),
                            ("val", "loss", loss * 1.02), ("test", "accuracy", acc),
                            ("test", "loss", loss), ("", "epoch_seconds", 1.5 + 0.1 * seed),
                            ("", "lr", 1e-3),
                        ):
                            records.append({**base, "split": split, "epoch": epoch,
                                            "metric": metric, "value": float(value)})
                    best_val_epoch = int(np.argmax(val_acc)) + 1
                    best_test_epoch = int(np.argmax(test_acc)) + 1
                    summaries = [("best_val", best_val_epoch), ("best_test", best_test_epoch),
                                 ("final", last)]
                    if protocol == "mnist-aptx" and last >= 11:
                        summaries.append(("epoch_11", 11))
                    for selection, epoch in summaries:
                        records.append({**base, "split": "test", "epoch": epoch,
                                        "metric": "accuracy", "selection": selection,
                                        "value": float(test_acc[epoch - 1])})
    if equivalence_rows:
        for framework in frameworks:
            records.append({"run_id": RUN_ID, "suite": "equivalence", "protocol": "",
                            "unit": "relu", "framework": framework, "mode": "eager",
                            "device": "cpu", "dtype": "float32", "dataset": "", "split": "",
                            "fold": 0, "seed": 0, "epoch": 0, "metric": "rel_l2_err",
                            "value": 1e-7, "n_params": 0, "trial_key": f"eq/{framework}",
                            "status": "ok", "variant": "", "kernel": "", "selection": "",
                            "tolerance": 1e-5, "passed": True, "detail": "forward",
                            "profile": "quick"})
    return pd.DataFrame.from_records(records, columns=COLUMNS)
