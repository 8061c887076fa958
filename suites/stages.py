"""The stage table: which stages exist, how each runs, what it produces.

``neuronbench reproduce`` walks this table in order; every stage receives the same
:class:`StageOptions` (profile, frameworks, data root, download policy, results directory,
report directory, jobs), so ``--data-dir`` and ``--no-download`` reach every stage by
construction. A stage whose module is not built yet is listed as such, never silently absent.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class StageOptions:
    profile: str
    frameworks: tuple[str, ...]
    data_dir: Path | None
    no_download: bool
    results_dir: Path
    out: Path
    jobs: int = 1


#: Frameworks of the quick profile's costlier protocols (paper: every requested framework). The
#: quick reproduction must finish on two cores in under an hour: MNIST runs in all four
#: frameworks, the UCI folds in NumPy and torch (the from-scratch framework against the reference
#: one), the CIFAR-10 CNN in torch and JAX (a NumPy or eager-TF CNN would add about half an hour).
QUICK_FRAMEWORKS: dict[str, tuple[str, ...]] = {
    "tabular": ("numpy", "torch"),
    "cifar10": ("torch", "jax"),
}


def stage_frameworks(stage: str, o: StageOptions) -> tuple[str, ...]:
    """The frameworks a stage runs: all requested ones, except in the quick profile where a
    stage listed in QUICK_FRAMEWORKS runs those of its frameworks that were requested (all
    requested ones when none of them was)."""
    if o.profile != "quick" or stage not in QUICK_FRAMEWORKS:
        return o.frameworks
    chosen = tuple(f for f in o.frameworks if f in QUICK_FRAMEWORKS[stage])
    return chosen or o.frameworks


def _data_flags(o: StageOptions) -> list[str]:
    return [*(["--data-dir", str(o.data_dir)] if o.data_dir else []), *(["--no-download"] if o.no_download else [])]


def _data(o: StageOptions) -> list[str]:
    return ["data", "verify", *_data_flags(o)]


def _equivalence(o: StageOptions) -> list[str]:
    # The full matrix in every profile (about 10 minutes on 2 cores): the report must never
    # be rebuilt from a partial matrix.
    return ["equivalence", "--frameworks", ",".join(o.frameworks), "--results-dir", str(o.results_dir),
            *_data_flags(o)]


def _accuracy(o: StageOptions) -> list[str]:
    return ["accuracy", "--profile", o.profile, "--frameworks", ",".join(o.frameworks),
            "--results-dir", str(o.results_dir), "--jobs", str(o.jobs), *_data_flags(o)]


def _tabular(o: StageOptions) -> list[str]:
    return ["accuracy", "--protocol", "uci-actmix", "--profile", o.profile, "--frameworks",
            ",".join(stage_frameworks("tabular", o)), "--results-dir", str(o.results_dir), "--jobs", str(o.jobs),
            *_data_flags(o)]


def _cifar(o: StageOptions) -> list[str]:
    return ["accuracy", "--protocol", "cifar10", "--profile", o.profile, "--frameworks",
            ",".join(stage_frameworks("cifar10", o)), "--results-dir", str(o.results_dir), "--jobs", str(o.jobs),
            *_data_flags(o)]


def _performance(o: StageOptions) -> list[str]:
    # Timings run one case at a time whatever --jobs says (never two timings at once); the
    # quick profile times every case and original with 3 repeats, scaling in numpy and torch.
    return ["perf", "--frameworks", ",".join(o.frameworks), "--results-dir", str(o.results_dir),
            *(["--quick"] if o.profile == "quick" else [])]


def _report(o: StageOptions) -> list[str]:
    return ["report", "--results-dir", str(o.results_dir), "--out", str(o.out)]


@dataclass(frozen=True)
class Stage:
    name: str
    module: str                                   # the module that implements it
    produces: str
    command: Callable[[StageOptions], list[str]] | None

    def available(self) -> bool:
        if self.command is None:
            return False
        try:
            importlib.import_module(self.module)
        except ModuleNotFoundError:
            return False
        return True


STAGES: tuple[Stage, ...] = (
    Stage("data", "suites.data.cli", "dataset verification table", _data),
    Stage("equivalence", "suites.equivalence.cli", "parity rows in the results store", _equivalence),
    Stage("accuracy", "suites.accuracy.cli", "MNIST protocols over seeds in the results store", _accuracy),
    Stage("tabular", "suites.accuracy.tabular_train",
          "uci-actmix: every unit and XGBoost on the UCI folds in the results store", _tabular),
    Stage("cifar10", "suites.accuracy.cifar", "cifar10: the CNN of every unit in the results store",
          _cifar),
    Stage("performance", "suites.performance.cli",
          "layer benchmark: time, throughput, memory, ratios, scaling, originals", _performance),
    Stage("report", "suites.report.cli", "reports/: equivalence matrix, tables, figures, rows", _report),
    Stage("notebooks", "notebooks", "executed figure notebooks", None),
)
STAGE_NAMES = tuple(stage.name for stage in STAGES)
