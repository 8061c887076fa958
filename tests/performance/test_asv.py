"""ASV: a configuration asv would silently misread fails here, the benchmarks pass ``asv check``
in this environment, and the regression gate reads ``asv compare``'s verdicts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _config() -> dict:
    from asv.util import load_json

    return load_json(str(ROOT / "asv.conf.json"), js_comments=True)


def test_asv_conf_has_only_keys_asv_knows() -> None:
    """asv ignores unknown keys, so a misspelt one (``benchmarks_dir``) would be a silent no-op."""
    from asv.config import Config

    known = set(vars(Config())) | {"version"}
    config = _config()
    assert not set(config) - known, f"keys asv does not know: {sorted(set(config) - known)}"
    assert config["environment_type"] == "existing"
    for key in ("benchmark_dir",):
        assert (ROOT / config[key]).is_dir(), f"{key} {config[key]!r} is not a folder"
    assert config["results_dir"].startswith("reports/asv") and config["html_dir"].startswith("reports/asv")


def test_a_misspelt_key_is_caught() -> None:
    """The check above would fail on the classic typo: asv itself accepts it without a word."""
    from asv.config import Config

    known = set(vars(Config())) | {"version"}
    assert "benchmarks_dir" not in known and "benchmark_dir" in known


def test_benchmarks_pass_asv_check() -> None:
    """asv imports every benchmark and checks its signature against its parameters."""
    done = subprocess.run([sys.executable, "-m", "asv", "check", "--environment", f"existing:{sys.executable}",
                           "--config", str(ROOT / "asv.conf.json")], cwd=ROOT, capture_output=True, text=True,
                          timeout=600, check=False)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-3000:]


def test_the_benchmarks_module_lists_the_cases() -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("neuronbench_asv_benchmarks", ROOT / "suites/asv/benchmarks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    from suites.performance import layer

    assert set(module.LAYER_UNITS) <= set(layer.NETWORKS)
    assert module.Layer.params[0] == module.LAYER_UNITS
    assert {"time_forward", "time_forward_backward", "peakmem_forward_backward"} <= set(vars(module.Layer))
    assert "track_error" in vars(module.QuickAccuracy) and "setup_cache" in vars(module.QuickAccuracy)


@pytest.mark.slow
def test_quick_error_trains_for_real() -> None:
    """The tracked number is a real short MNIST training: far better than chance (0.9)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("neuronbench_asv_benchmarks", ROOT / "suites/asv/benchmarks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    error = module.quick_error("relu", "numpy")
    assert 0.0 < error < 0.3
