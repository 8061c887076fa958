"""Plug-in registration through the ``neuronbench.units`` entry-point group (issue 14).

The entry points are declared the way an installed package declares them: a ``*.dist-info``
folder with ``entry_points.txt`` on the path of a fresh interpreter, so the registry is built
exactly as for a user (nothing monkeypatched).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from impls import spec
from impls.spec import blocks
from tests.plugins import fake_units

REPO = Path(__file__).resolve().parents[2]

ENTRY_POINTS = """\
[neuronbench.units]
good = tests.plugins.fake_units:GOOD
several = tests.plugins.fake_units:several
impostor = tests.plugins.fake_units:TAKES_RELU
half = tests.plugins.fake_units:NO_ORACLE
notspec = tests.plugins.fake_units:NOT_A_SPEC
missing = tests.plugins.nowhere:UNIT
"""

PROBE = textwrap.dedent("""
    import json, warnings
    import numpy as np
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        import impls
    from impls.spec import blocks
    out = {"units": list(impls.UNITS), "plugin_units": list(blocks.PLUGIN_UNITS),
           "errors": blocks.PLUGIN_ERRORS, "relu_origin": blocks.BLOCKS["relu"].origin,
           "warnings": [str(w.message) for w in caught if w.category is blocks.PluginWarning]}
    if "scaled_identity" in impls.UNITS:
        b = blocks.BLOCKS["scaled_identity"]
        out["origin"], out["frameworks"] = b.origin, list(b.frameworks)
        layer = impls.build("scaled_identity", "numpy", init=2.0)
        x = np.arange(6.0).reshape(2, 3)
        out["forward"] = impls.forward(layer, x).tolist()
        out["oracle"] = impls.spec.reference("scaled_identity", impls.get_params(layer), x).tolist()
        out["framework_of"] = impls.framework_of(layer)
        try:
            impls.build("scaled_identity", "torch")
        except Exception as error:
            out["torch_error"] = [type(error).__name__, str(error)]
        model = impls.build_model(impls.spec.MLPSpec(3, (4,), 2, "scaled_identity"), "numpy")
        out["model_blocks"] = [s.block for s in model.layer_specs]
    try:
        impls.spec.get_block("half_done")
    except ValueError as error:
        out["unknown_message"] = str(error)
    print(json.dumps(out))
""")


def _fake_distribution(root: Path) -> Path:
    dist = root / "fake_neuronbench_plugin-0.3.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: fake-neuronbench-plugin\nVersion: 0.3\n")
    (dist / "entry_points.txt").write_text(ENTRY_POINTS)
    return root


def _probe(tmp_path: Path, **env: str) -> dict:
    site = _fake_distribution(tmp_path / "site")
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(REPO)]), **env}
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=REPO, env=environment,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_installed_entry_points_register_units_and_broken_ones_are_named(tmp_path: Path) -> None:
    out = _probe(tmp_path)
    assert out["plugin_units"] == ["scaled_identity", "scaled_identity_a", "scaled_identity_b"]
    assert out["units"][: len(blocks.BUILTIN_UNITS)] == list(blocks.BUILTIN_UNITS)
    assert out["origin"] == "fake-neuronbench-plugin 0.3"
    assert out["frameworks"] == ["numpy"]
    assert out["forward"] == out["oracle"] == [[0.0, 2.0, 4.0], [6.0, 8.0, 10.0]]
    assert out["framework_of"] == "numpy"
    assert out["model_blocks"] == ["linear", "scaled_identity", "linear"]
    # A framework the plug-in does not provide is absent for that unit, never faked.
    assert out["torch_error"][0] == "UnitNotProvidedError"
    assert "provides no torch implementation; it provides: numpy" in out["torch_error"][1]
    # Each broken entry point is refused with its reason; the built-in relu is untouched.
    errors = out["errors"]
    assert out["relu_origin"] == "neuronbench"
    assert "already taken by a built-in block" in errors["impostor = tests.plugins.fake_units:TAKES_RELU"]
    half = errors["half = tests.plugins.fake_units:NO_ORACLE"]
    assert "no oracle" in half and "option kinds [] do not match its options ['k']" in half
    assert "expected a BlockSpec" in errors["notspec = tests.plugins.fake_units:NOT_A_SPEC"]
    assert "ModuleNotFoundError" in errors["missing = tests.plugins.nowhere:UNIT"]
    assert len(out["warnings"]) == 4
    assert "plug-in 'half = tests.plugins.fake_units:NO_ORACLE' was not registered" in out["unknown_message"]


def test_plugins_can_be_switched_off(tmp_path: Path) -> None:
    out = _probe(tmp_path, NEURONBENCH_PLUGINS="0")
    assert out["plugin_units"] == [] and out["errors"] == {}
    assert out["units"] == list(blocks.BUILTIN_UNITS)


def test_spec_problems_are_checked_for_builtins_and_plugins_alike() -> None:
    assert blocks.spec_problems(fake_units.GOOD) == []
    assert all(blocks.spec_problems(b) == [] for b in blocks.BLOCKS.values())
    problems = blocks.spec_problems(fake_units.NO_ORACLE)
    assert any("no oracle" in p for p in problems)
    assert any("option kinds" in p for p in problems)


def test_the_spec_is_the_only_registry() -> None:
    """UNITS, building blocks, class names and oracles all come from the block specs."""
    assert tuple(n for n, b in spec.BLOCKS.items() if b.role == "unit") == spec.UNITS
    assert spec.BUILDING_BLOCKS == ("linear", "conv2d", "max_pool2d", "flatten")
    assert blocks.CLASS_NAMES["lselu"] == "LearnableSELU"
    from impls.spec import oracle

    assert oracle.oracle_of("relu") is oracle._relu
    # Model rules read the spec: width options, axis options and scale invariance.
    (_linear, prelu) = spec.hidden_layers("prelu", 4, 3)
    assert prelu.config["features"] == 3 and prelu.config["axis"] == -1
    assert spec.hidden_layers("softermax", 4, 3)[0].config["alpha"] is None
    assert spec.hidden_layers("soft_tanh", 4, 3)[0].config["alpha"] == "learnable"


def test_a_unit_absent_in_a_framework_is_refused_before_any_backend() -> None:
    import impls

    block = blocks.BLOCKS["relu"]
    from dataclasses import replace

    numpy_only = replace(block, classes={"numpy": block.classes["numpy"]})
    with pytest.raises(impls.UnitNotProvidedError, match="provides no jax implementation"):
        numpy_only.check_provides("jax")
    with pytest.raises(ValueError, match="unknown framework 'mxnet'"):
        numpy_only.check_provides("mxnet")
