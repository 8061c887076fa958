"""The acceptance test of issue 14: the example plug-in, installed with pip, passes
``neuronbench evaluate`` quick, and the report lists parity, accuracy with CIs, and speed and
memory ratios, without a file of neuronbench edited.

The plug-in is built from a copy of ``examples/plugin`` (so no build folder lands in the
checkout) and installed with pip into a temporary target that the evaluation's interpreter
sees on PYTHONPATH: the entry point is found through the installed ``*.dist-info``, exactly as
after ``pip install ./examples/plugin`` into an environment.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import require_framework

REPO = Path(__file__).resolve().parents[2]


def _git_status() -> str:
    done = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO,
                          capture_output=True, text=True)
    return done.stdout if done.returncode == 0 else "(no git)"


@pytest.fixture(scope="module")
def installed_plugin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("plugin")
    source = root / "src"
    shutil.copytree(REPO / "examples" / "plugin", source)
    target = root / "site"
    done = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                           "--no-build-isolation", "--no-index", "--target", str(target), str(source)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    assert list(target.glob("neuronbench_mish-0.1.0.dist-info"))
    return target


def _env(site: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(REPO)]),
            "NEURONBENCH_PLUGINS": "1"}


@pytest.mark.slow
def test_installed_example_plugin_passes_the_quick_battery(installed_plugin: Path,
                                                          tmp_path: Path) -> None:
    require_framework("numpy")
    require_framework("torch")
    require_framework("jax")
    before = _git_status()
    out = tmp_path / "report"
    done = subprocess.run(
        [sys.executable, "-m", "suites.cli", "evaluate", "mish_beta", "--profile", "quick",
         "--frameworks", "numpy,torch,jax", "--results-dir", str(tmp_path / "results"),
         "--out", str(out), "--progress", "plain", "--no-download"],
        cwd=REPO, env=_env(installed_plugin), capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    assert "absent: jax" in done.stdout
    summary = json.loads((out / "summary.json").read_text())
    report = (out / "report.md").read_text()
    assert summary["origin"] == "neuronbench-mish 0.1.0"
    assert summary["gradcheck"]["verdict"] == "pass" and summary["gradcheck"]["checks"] == 6
    # Parity: every provided framework, both dtypes, every mode; JAX reported absent.
    assert summary["parity"]["numpy"]["verdict"] == "pass"
    assert summary["parity"]["torch"]["verdict"] == "pass"
    assert {(c["dtype"], c["mode"]) for c in summary["parity"]["torch"]["cells"]} == {
        ("float32", "eager"), ("float32", "compiled"), ("float64", "eager"), ("float64", "compiled")}
    assert all(c["trajectories"] == 4 for p in ("numpy", "torch") for c in summary["parity"][p]["cells"])
    assert summary["parity"]["jax"]["verdict"].startswith("absent")
    # Accuracy with confidence intervals against both baselines, in both variants.
    for variant in ("equal-width", "equal-params"):
        cell = summary["accuracy"]["variants"][variant]
        assert set(cell["units"]) == {"mish_beta", "relu", "gelu"}
        for unit in cell["units"].values():
            assert unit["n"] == 3 and 0.5 < unit["mean"] < 1.0
            assert unit["ci_low"] <= unit["mean"] <= unit["ci_high"]
        assert set(cell["vs"]) == {"relu", "gelu"}
    # Speed and memory against Linear + ReLU in each provided framework.
    assert set(summary["speed"]) == {"numpy/eager", "torch/eager"}
    for cell in summary["speed"].values():
        assert math.isfinite(cell["ratio_vs_linear_relu"]) and cell["ratio_vs_linear_relu"] > 0
        assert cell["peak_memory_bytes"] >= 0 and cell["baseline_peak_memory_bytes"] >= 0
    assert summary["failures"] == []
    for heading in ("## Parity with the oracle", "## Accuracy", "95 % CI", "## Speed and memory",
                    "memory ratio", "absent (the unit provides no implementation): jax"):
        assert heading in report.replace("\n", " ") or heading in report
    assert (out / "accuracy.png").stat().st_size > 0 and (out / "speed.png").stat().st_size > 0
    # The rows and run manifests behind the page travel with it.
    import pandas as pd

    rows = pd.read_csv(out / "rows.csv")
    assert set(rows["suite"]) == {"evaluate", "equivalence", "accuracy", "performance"}
    manifests = json.loads((out / "manifests.json").read_text())
    assert {m["run_id"] for m in manifests} == set(rows["run_id"])
    assert str(tmp_path) not in (out / "manifests.json").read_text()   # no machine paths
    # Nothing of neuronbench was edited (or written) by installing and evaluating the plug-in.
    assert _git_status() == before


def test_installed_example_plugin_registers_without_any_neuronbench_edit(installed_plugin: Path) -> None:
    """The cheap sibling: the unit appears in impls.UNITS and agrees with its oracle."""
    probe = ("import impls, numpy as np\n"
             "b = impls.spec.BLOCKS['mish_beta']\n"
             "x = np.linspace(-30, 30, 24).reshape(4, 6)\n"
             "layer = impls.build('mish_beta', 'numpy', dtype='float64', beta=0.7)\n"
             "p = impls.get_params(layer)\n"
             "err = np.abs(impls.forward(layer, x) - impls.spec.reference('mish_beta', p, x, beta=0.7)).max()\n"
             "print('mish_beta' in impls.UNITS, b.origin, ','.join(b.frameworks), err < 1e-12)\n")
    done = subprocess.run([sys.executable, "-c", probe], cwd=REPO, env=_env(installed_plugin),
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "neuronbench-mish", "0.1.0", "numpy,torch", "True"]
