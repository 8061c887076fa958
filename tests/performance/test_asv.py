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


def test_the_regression_gate_reads_asv_compare_in_both_formats() -> None:
    """``nox -s asv-compare`` fails on what asv lists as worse: its Markdown tables (asv 0.6)
    and the older whitespace columns; improvements and unchanged rows never count."""
    from suites.performance.asv_runs import worse_benchmarks

    markdown = """
Benchmarks that have improved:

| Change   | Before [aaaa]   | After [bbbb]   |   Ratio | Benchmark (Parameter)                          |
|----------|-----------------|----------------|---------|------------------------------------------------|
| -        | 3.37±0.5ms      | 1.86±0.04ms    |    0.55 | benchmarks.Layer.time_forward('relu', 'torch') |

Benchmarks that have got worse:

| Change   | Before [aaaa]   | After [bbbb]   |   Ratio | Benchmark (Parameter)                                   |
|----------|-----------------|----------------|---------|---------------------------------------------------------|
| +        | 2.00±0.1ms      | 2.60±0.1ms     |    1.3  | benchmarks.Layer.time_forward_backward('aptx_layer', 'numpy') |
| !        | 1.00ms          | failed         |     n/a | benchmarks.Layer.time_forward('yat_dense', 'torch')      |

Benchmarks that have stayed the same:

| Change   | Before [aaaa]   | After [bbbb]   | Ratio   | Benchmark (Parameter)                          |
|----------|-----------------|----------------|---------|------------------------------------------------|
|          | 676±40μs        | 677±40μs       | 1.00    | benchmarks.Layer.time_forward('relu', 'numpy') |
"""
    assert worse_benchmarks(markdown) == [
        "benchmarks.Layer.time_forward_backward('aptx_layer', 'numpy')",
        "benchmarks.Layer.time_forward('yat_dense', 'torch')"]
    columns = """Benchmarks that have got worse:

       before           after         ratio
     [aaaa]       [bbbb]
+      2.00ms        2.60ms     1.30  benchmarks.Layer.time_forward_backward
Benchmarks that have stayed the same:
       1.00ms        1.00ms     1.00  benchmarks.Layer.time_forward
"""
    assert worse_benchmarks(columns) == ["benchmarks.Layer.time_forward_backward"]
    assert worse_benchmarks(markdown.split("Benchmarks that have got worse")[0]) == []


def test_results_name_no_machine_path(tmp_path, monkeypatch) -> None:
    """asv names an ``existing`` environment after the interpreter's absolute path; the results
    are rewritten to the Python version so checkouts elsewhere extend the same history."""
    import json

    from suites.performance import asv_runs

    monkeypatch.setattr(asv_runs, "RESULTS", tmp_path)
    folder = tmp_path / asv_runs.MACHINE
    folder.mkdir()
    (folder / "machine.json").write_text("{}")
    raw = folder / "abcdef12-existing-py_somewhere_.nox_asv_bin_python.json"
    raw.write_text(json.dumps({"commit_hash": "abcdef1234", "env_name": "existing-py_somewhere",
                               "python": "/somewhere/.nox/asv/bin/python",
                               "params": {"python": "/somewhere/.nox/asv/bin/python"}}))
    (written,) = asv_runs.portable_results()
    assert not raw.exists() and written.name.startswith("abcdef12-existing-py3.")
    text = written.read_text()
    assert "/somewhere" not in text
    assert asv_runs.portable_results() == []          # already portable: nothing rewritten
