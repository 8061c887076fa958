"""The stage table: which stages exist, how each runs, what it produces.

``neuronbench reproduce`` walks this table in order; every stage receives the same
:class:`StageOptions` (profile, frameworks, data root, download policy, results directory,
report directory, jobs), so ``--data-dir`` and ``--no-download`` reach every stage by
construction. A stage whose module is not built yet is listed as such, never silently absent.
"""

from __future__ import annotations

import importlib
import os
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


#: Most parity workers the equivalence stage starts (each loads every framework, ~1.5 GB).
PARITY_JOBS_MAX = 4


def parity_jobs(o: StageOptions) -> int:
    """Worker processes of the equivalence stage: one per core (up to PARITY_JOBS_MAX), at
    least --jobs. Parity checks time nothing and train nothing that is timed, so unlike the
    training stages (one trial at a time by default: their epoch seconds are results) they may
    share the cores; on 2 cores this takes the matrix from about 12 to about 7 minutes."""
    return max(o.jobs, min(os.cpu_count() or 1, PARITY_JOBS_MAX))


def _equivalence(o: StageOptions) -> list[str]:
    # The full matrix in every profile: the report must never be rebuilt from a partial matrix.
    return ["equivalence", "--frameworks", ",".join(o.frameworks), "--results-dir", str(o.results_dir),
            "--jobs", str(parity_jobs(o)), *_data_flags(o)]


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


def _notebooks(o: StageOptions) -> list[str]:
    # They read only the report folder, so they run after the report stage wrote it.
    return ["notebooks", "--reports", str(o.out)]


def _paper(o: StageOptions) -> list[str]:
    # Every profile the report folder holds (a quick reproduction keeps the committed paper
    # profile's outputs, and the paper sets both side by side, each labelled).
    return ["paper", "--reports", str(o.out)]


@dataclass(frozen=True)
class Stage:
    name: str
    module: str                                   # the module that implements it
    produces: str
    command: Callable[[StageOptions], list[str]] | None
    #: Whether it fills the results store (its trial counts come from the run manifests) or
    #: writes files under the report folder (its output is counted as files written).
    writes: str = "store"

    def available(self) -> bool:
        if self.command is None:
            return False
        try:
            importlib.import_module(self.module)
        except ModuleNotFoundError:
            return False
        return True


STAGES: tuple[Stage, ...] = (
    Stage("data", "suites.data.cli", "dataset verification table", _data, writes="nothing"),
    Stage("equivalence", "suites.equivalence.cli", "parity rows in the results store", _equivalence),
    Stage("accuracy", "suites.accuracy.cli", "MNIST protocols over seeds in the results store", _accuracy),
    Stage("tabular", "suites.accuracy.tabular_train",
          "uci-actmix: every unit and XGBoost on the UCI folds in the results store", _tabular),
    Stage("cifar10", "suites.accuracy.cifar", "cifar10: the CNN of every unit in the results store",
          _cifar),
    Stage("performance", "suites.performance.cli",
          "layer benchmark: time, throughput, memory, ratios, scaling, originals", _performance),
    Stage("report", "suites.report.cli", "reports/: equivalence matrix, tables, figures, rows", _report,
          writes="reports"),
    Stage("notebooks", "suites.notebooks.cli",
          "reports/notebooks: one executed notebook per paper section (.ipynb and HTML)", _notebooks,
          writes="reports"),
    Stage("paper", "suites.paper.cli",
          "reports/paper.md and paper.tex with the claims table, every number from result rows", _paper,
          writes="reports"),
)
STAGE_NAMES = tuple(stage.name for stage in STAGES)
