"""The equivalence suite as runner trials (suites/run.py).

One trial per (unit, framework, dtype, mode) cell of the parity matrix, and one per framework
for the published APTx checkpoint. Each trial lists the code it runs (the oracle, the shared
``impls`` modules, its own framework's backend, the harness) so that editing any of it makes
the cell run again, while editing, say, the TF backend leaves finished NumPy cells alone.

Rows are in the store schema (suites/results.py): ``metric`` is the check name, ``value`` its
relative L2 error against the float64 oracle, with ``tolerance`` and ``passed``; ``detail``
holds the max abs error (``max_abs_err=<repr>``) so the report can rebuild its rows.csv.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from suites.run import Trial, backend_code
from suites.settings import DISTRIBUTIONS

SUITE = "equivalence"
PARITY = "parity"
CHECKPOINT = "checkpoint"
CHECKPOINT_UNIT = "aptx_paper_mlp"


def cell_code(framework: str) -> tuple[str, ...]:
    """Source a parity cell of ``framework`` runs."""
    return (*backend_code(framework), "suites.equivalence.harness",
            "suites.equivalence.trials")


def checkpoint_code(framework: str) -> tuple[str, ...]:
    return (*backend_code(framework), "suites.equivalence.checkpoint",
            "suites.equivalence.trials", "suites.data", "suites.settings")


def cell_trial(unit: str, framework: str, dtype: str, mode: str, trajectories: bool = True) -> Trial:
    return Trial(SUITE, "suites.equivalence.trials:run_cell",
                 {"unit": unit, "framework": framework, "dtype": dtype, "mode": mode,
                  "trajectories": trajectories},
                 cell_code(framework), DISTRIBUTIONS[framework], f"{unit} {framework} {dtype} {mode}")


def checkpoint_trial(framework: str, oracle_rows: int | None = None, data_dir: str | None = None,
                     reference_dir: str | None = None, download: bool | None = None) -> Trial:
    """The published checkpoint in one framework. Paths and the download policy enter the
    config only when given (otherwise the worker resolves them from its environment)."""
    config: dict[str, Any] = {"framework": framework, "dtype": "float32", "oracle_rows": oracle_rows}
    if data_dir is not None:
        config["data_dir"] = str(data_dir)
    if reference_dir is not None:
        config["reference_dir"] = str(reference_dir)
    if download is not None:
        config["download"] = bool(download)
    distributions = tuple(dict.fromkeys((*DISTRIBUTIONS[framework], "torch")))  # torch.load
    return Trial(SUITE, "suites.equivalence.trials:run_checkpoint", config, checkpoint_code(framework),
                 distributions, f"APTx checkpoint {framework}")


def plan_trials(frameworks: Sequence[str], units: Sequence[str] | None = None,
                dtypes: Sequence[str] = ("float32", "float64"), modes: Sequence[str] | None = None,
                trajectories: bool = True, checkpoint: bool = True, oracle_rows: int | None = None,
                data_dir: str | None = None, reference_dir: str | None = None,
                download: bool | None = None) -> list[Trial]:
    """The whole equivalence grid; unknown units/modes and missing frameworks raise (harness.plan)."""
    from suites.equivalence import harness

    trials = [cell_trial(*key, trajectories=trajectories)
              for key in harness.plan(frameworks, units, dtypes, modes)]
    if checkpoint:
        trials += [checkpoint_trial(f, oracle_rows, data_dir, reference_dir, download) for f in frameworks]
    return trials


def _device(framework: str) -> str:
    """"gpu" or "cpu": where the backend runs by default."""
    import impls

    try:
        device = impls.load_backend(framework).device.default_device()
    except Exception:
        return "cpu"
    text = str(getattr(device, "platform", device)).lower()
    return "gpu" if "gpu" in text or "cuda" in text else "cpu"


def _base(unit: str, framework: str, dtype: str, mode: str, protocol: str) -> dict[str, Any]:
    return {"protocol": protocol, "unit": unit, "framework": framework, "mode": mode,
            "device": _device(framework), "dtype": dtype, "dataset": None, "split": None,
            "fold": None, "seed": None, "epoch": None, "n_params": None}


def run_cell(config: dict[str, Any]) -> list[dict[str, Any]]:
    """Trial function: every check of one parity cell, as store rows."""
    from suites.equivalence import harness

    key = (config["unit"], config["framework"], config["dtype"], config["mode"])
    base = _base(*key, PARITY)
    return [{**base, "variant": r.variant, "metric": r.check, "value": float(r.rel_l2_err),
             "tolerance": float(r.tolerance), "passed": bool(r.passed),
             "detail": f"max_abs_err={float(r.max_abs_err)!r}"}
            for r in harness.check_group(key, trajectories=bool(config["trajectories"]))]


def run_checkpoint(config: dict[str, Any]) -> list[dict[str, Any]]:
    """Trial function: the published checkpoint in one framework (correct count, logit error
    and the oracle's own count, NaN when the oracle saw a subset)."""
    from suites import settings
    from suites.equivalence import checkpoint

    framework = config["framework"]
    oracle_correct, (result,) = checkpoint.evaluate(
        [framework], data_dir=config.get("data_dir"), download=config.get("download"),
        dtype=config["dtype"],
        reference_dir=settings.reference_root(config.get("reference_dir")),
        oracle_rows=config.get("oracle_rows"))
    base = {**_base(CHECKPOINT_UNIT, framework, result.dtype, "eager", CHECKPOINT),
            "dataset": "mnist", "split": "test"}
    return [
        {**base, "metric": "correct", "value": float(result.correct), "tolerance": None,
         "passed": result.correct == checkpoint.PUBLISHED_CORRECT,
         "detail": f"total={result.total}"},
        {**base, "metric": "logits rel_l2 vs oracle", "value": float(result.logits_rel_l2),
         "tolerance": checkpoint.LOGIT_TOLERANCE, "passed": result.logits_rel_l2 <= checkpoint.LOGIT_TOLERANCE,
         "detail": f"oracle rows={config.get('oracle_rows') or result.total}"},
        {**base, "metric": "oracle correct",
         "value": float("nan") if oracle_correct is None else float(oracle_correct),
         "tolerance": None, "passed": None, "detail": "float64 oracle"},
    ]
