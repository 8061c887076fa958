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


# -- rows for the other figure writers (uci-actmix, performance, equivalence) ----------------

#: (unit, variant) cells of the synthetic uci-actmix rows and their accuracy shift over relu.
UCI_CELLS = {("relu", "leak-free"): 0.0, ("gelu", "leak-free"): 0.01,
             ("actmix", "leak-free/full/relu_bias=1.5"): 0.03,
             ("actmix", "leak-free/notemp/relu_bias=0"): -0.02}


def make_uci_rows(seeds: int = 2, folds: int = 3, epochs: int = 3) -> pd.DataFrame:
    """uci-actmix rows as the network trials write them: test metrics per fold and seed, the
    learned parameters of the APTx activation, LearnableSELU and ActMix (from their initial
    values) and the per-epoch ActMix mixture entropy."""
    from impls import spec
    from impls.spec import MLPSpec
    from suites.accuracy.tabular_train import learned_values

    rng = np.random.default_rng(7)
    base = {"run_id": RUN_ID, "suite": "accuracy", "protocol": "uci-actmix", "framework": "numpy",
            "profile": "quick", "status": "ok"}
    rows = []
    for dataset, metric in (("magic", "accuracy"), ("ccpp", "r2")):
        for fold in range(folds):
            for seed in range(seeds):
                level = 0.8 + 0.02 * rng.standard_normal()
                for (unit, variant), shift in UCI_CELLS.items():
                    rows.append({**base, "unit": unit, "variant": variant, "dataset": dataset,
                                 "split": "test", "fold": fold, "seed": seed, "metric": metric,
                                 "value": level + shift + 0.002 * rng.standard_normal()})
    for unit in ("actmix", "lselu", "aptx_activation"):
        arch = MLPSpec(4, (6, 6), 2, unit, {"trainable": True} if unit == "aptx_activation" else {})
        params = [spec.init_params(layer.block, layer.config, seed=1) for layer in arch.layers()]
        for metric, value, detail in learned_values(arch, params):
            rows.append({**base, "unit": unit, "variant": "leak-free", "dataset": "magic",
                         "split": "learned", "fold": 0, "seed": 0, "metric": metric,
                         "value": value, "detail": detail})
    for variant in ("leak-free/full/relu_bias=1.5", "leak-free/notemp/relu_bias=0"):
        for seed in range(3):
            for epoch in range(1, epochs + 1):
                for layer in range(2):
                    rows.append({**base, "unit": "actmix", "variant": variant, "dataset": "magic",
                                 "split": "", "fold": 0, "seed": seed, "epoch": epoch,
                                 "metric": "actmix_entropy", "detail": f"layer={layer}",
                                 "value": 1.38 - 0.1 * epoch + 0.01 * seed + 0.02 * layer})
    return pd.DataFrame(rows)


def make_scaling(frameworks: tuple[str, ...] = ("numpy", "torch")) -> pd.DataFrame:
    """A ``performance.table.scaling_table``-shaped frame: our cases in every framework and one
    original package, each over batch (width 256) and width (batch 1024)."""
    cases = [("linear_relu", "ours", "default", f, 1.0) for f in frameworks]
    cases += [("aptx_layer", "ours", "fused-numba", f, 20.0) for f in frameworks]
    cases += [("linear_actmix", "ours", "default", f, 3.0) for f in frameworks]
    cases.append(("aptx_layer", "original", "aptx_neuron.aptx_layer", "torch (original)", 400.0))
    frames = []
    for unit, source, kernel, framework, scale in cases:
        for batch, width in ((64, 256), (256, 256), (1024, 256), (1024, 64), (1024, 1024)):
            frames.append({"unit": unit, "source": source, "kernel": kernel,
                           "framework": framework, "mode": "eager", "device": "cpu",
                           "batch": batch, "width": width,
                           "forward_backward_ms": scale * batch * width / 1e5,
                           "peak_mib": scale * batch * width / 1e6})
    return pd.DataFrame(frames)


def make_parity_rows() -> pd.DataFrame:
    """Equivalence rows (the columns of reports/equivalence/rows.csv) of 3 units x numpy eager
    and torch eager/compiled in float32, with known outcomes: gelu fails torch compiled's
    forward check (ratio 30), softmax's torch compiled case crashed (an infinite error on an
    exact check), relu has no torch compiled rows (missing), everything else passes."""
    rows = []
    for unit in ("relu", "gelu", "softmax"):
        for framework, mode in (("numpy", "eager"), ("torch", "eager"), ("torch", "compiled")):
            if (unit, framework, mode) == ("relu", "torch", "compiled"):
                continue
            case = {"unit": unit, "variant": unit, "framework": framework, "dtype": "float32",
                    "mode": mode}
            rows.append({**case, "check": "params: names, shapes, init", "max_abs_err": 0.0,
                         "rel_l2_err": 0.0, "tolerance": 0.0, "passed": True})
            forward = 3e-4 if (unit, framework, mode) == ("gelu", "torch", "compiled") else 2e-7
            rows.append({**case, "check": "forward |x|~1", "max_abs_err": forward,
                         "rel_l2_err": forward, "tolerance": 1e-5, "passed": forward <= 1e-5})
            if (unit, framework, mode) == ("softmax", "torch", "compiled"):
                rows.append({**case, "check": "grad x: RuntimeError: boom", "max_abs_err": np.inf,
                             "rel_l2_err": np.inf, "tolerance": 0.0, "passed": False})
            else:
                rows.append({**case, "check": "grad x |x|~1", "max_abs_err": 1e-6,
                             "rel_l2_err": 1e-6, "tolerance": 1e-4, "passed": True})
    return pd.DataFrame(rows)
