"""The notebooks stage: notebooks/ executed against a small report folder, byte-identical on
re-execution, failures named, and the committed notebooks kept free of outputs.

Executing a notebook starts a Jupyter kernel (a few seconds each), so the fast tests run one real
notebook (01_equivalence, on a fixture of a few dozen checks) twice and one planted failure; the
slow test runs all six against the committed reports/.
"""

from __future__ import annotations

import argparse
import json
import os
import re
from pathlib import Path

import pandas as pd
import pytest

pytest.importorskip("nbclient")
pytest.importorskip("nbconvert")
pytest.importorskip("ipykernel")

import nbformat

from suites.notebooks import cli, helpers
from suites.notebooks.execute import NotebookError, execute_notebooks, find_notebooks

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
EXPECTED = ("01_equivalence", "02_mnist", "03_tabular", "04_vision", "05_performance",
            "06_learned_activations")
FRAMEWORK_IMPORT = re.compile(r"^\s*(import|from)\s+(torch|jax|flax|tensorflow|keras)\b", re.M)


def _equivalence_fixture(reports: Path) -> None:
    """reports/equivalence/{rows,checkpoint}.csv in the parity harness's schema, a few units."""
    records = []
    for unit in ("relu", "gelu", "aptx_layer"):
        for framework in ("numpy", "torch", "jax", "tf"):
            for dtype, err, tol in (("float32", 3e-7, 1e-5), ("float64", 2e-16, 1e-10)):
                for mode in ("eager",) if framework == "numpy" else ("eager", "compiled"):
                    for check, scale in (("params: names, shapes, init", 0.0),
                                         ("forward |x|~1", 1.0), ("grad x |x|~30", 3.0)):
                        error = 0.0 if scale == 0.0 else err * scale
                        records.append({"unit": unit, "variant": unit, "framework": framework,
                                        "dtype": dtype, "mode": mode, "check": check,
                                        "max_abs_err": error, "rel_l2_err": error,
                                        "tolerance": 0.0 if scale == 0.0 else tol, "passed": True})
    folder = reports / "equivalence"
    folder.mkdir(parents=True)
    pd.DataFrame.from_records(records).to_csv(folder / "rows.csv", index=False)
    pd.DataFrame({"framework": ["numpy", "torch", "jax", "tf"], "dtype": "float32",
                  "correct": 9669, "total": 10000, "logits_rel_l2": 4.9e-7, "passed": True}
                 ).to_csv(folder / "checkpoint.csv", index=False)


@pytest.fixture(scope="module")
def fixture_reports(tmp_path_factory: pytest.TempPathFactory) -> Path:
    reports = tmp_path_factory.mktemp("fixture") / "reports"
    _equivalence_fixture(reports)
    return reports


def _outputs(path: Path) -> list[dict]:
    nb = nbformat.read(path, as_version=4)
    return [output for cell in nb.cells if cell.cell_type == "code" for output in cell.outputs]


def _images(outputs: list[dict]) -> int:
    return sum("image/png" in output.get("data", {}) for output in outputs)


def _missing_messages(outputs: list[dict]) -> list[str]:
    return [output["data"]["text/markdown"] for output in outputs
            if "Missing input" in output.get("data", {}).get("text/markdown", "")]


# ---------------------------------------------------------------------------------------------
# The committed notebooks


def test_committed_notebooks_are_clean() -> None:
    """Six notebooks, committed without outputs, counts or timing metadata, reading only files."""
    assert [p.stem for p in find_notebooks(NOTEBOOKS)] == list(EXPECTED)
    for path in find_notebooks(NOTEBOOKS):
        nb = nbformat.read(path, as_version=4)
        nbformat.validate(nb)
        assert nb.metadata["kernelspec"]["name"] == "python3", path.name
        assert nb.cells[0].cell_type == "markdown" and "reports/" in nb.cells[0].source, path.name
        for cell in nb.cells:
            assert "execution" not in cell.metadata, (path.name, cell.id)
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None, (path.name, cell.id)
                assert not FRAMEWORK_IMPORT.search(cell.source), (path.name, cell.id)


def test_reports_dir_follows_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(helpers.REPORTS_ENV, str(tmp_path / "elsewhere"))
    assert helpers.reports_dir() == (tmp_path / "elsewhere").resolve()
    assert helpers.shown("equivalence/rows.csv") == "elsewhere/equivalence/rows.csv"
    monkeypatch.delenv(helpers.REPORTS_ENV)
    (tmp_path / "reports").mkdir()
    (tmp_path / "notebooks").mkdir()
    monkeypatch.chdir(tmp_path / "notebooks")           # as Jupyter runs a notebook
    assert helpers.reports_dir() == tmp_path / "reports"


def test_table_helpers() -> None:
    assert helpers.plus_minus(0.9, 0.88, 0.92, scale=100) == "90.00 ± 2.00"
    assert helpers.plus_minus(0.9, float("nan"), float("nan"), scale=100) == "90.00"
    frame = pd.DataFrame({"unit": ["aptx_layer", "zeta", "relu", "gelu"], "v": range(4)})
    assert list(helpers.unit_sorted(frame.set_index("unit")).index) == ["relu", "gelu", "aptx_layer", "zeta"]
    cases = pd.DataFrame({"case": ["aptx_layer", "linear_gelu", "linear_relu"], "v": range(3)})
    assert list(helpers.unit_sorted(cases.set_index("case")).index) == ["linear_relu", "linear_gelu", "aptx_layer"]


# ---------------------------------------------------------------------------------------------
# Execution


def test_equivalence_notebook_runs_and_is_deterministic(fixture_reports: Path, tmp_path: Path) -> None:
    before = os.environ.get(helpers.REPORTS_ENV)
    first = execute_notebooks(NOTEBOOKS, fixture_reports, tmp_path / "a", timeout=120,
                              names=["01_equivalence"])
    second = execute_notebooks(NOTEBOOKS, fixture_reports, tmp_path / "b", timeout=120,
                               names=["01_equivalence.ipynb"])
    assert os.environ.get(helpers.REPORTS_ENV) == before      # restored for the caller
    assert [p.name for p in first] == ["01_equivalence.ipynb", "01_equivalence.html"]
    for a, b in zip(first, second, strict=True):
        assert a.read_bytes() == b.read_bytes(), f"{a.name} differs between two executions"
    outputs = _outputs(first[0])
    assert _images(outputs) >= 2
    assert not _missing_messages(outputs)
    assert not [o for o in outputs if o.get("name") == "stderr"], "a cell wrote to stderr"
    assert any("126 of 126 checks pass" in o.get("text", "") for o in outputs)
    executed = json.loads(first[0].read_text())
    assert all("execution" not in cell["metadata"] for cell in executed["cells"])
    html = first[1].read_text()
    assert "<html" in html and "data:image/png;base64" in html
    assert str(fixture_reports) not in html and str(fixture_reports) not in first[0].read_text()
    assert not list((tmp_path / "a").glob(".*.tmp")), "a temporary file was left behind"


def test_missing_input_is_a_message_not_a_crash(fixture_reports: Path, tmp_path: Path) -> None:
    """06 reads uci-actmix rows, which the fixture does not have: it runs and names the file."""
    paths = execute_notebooks(NOTEBOOKS, fixture_reports, tmp_path, timeout=120,
                              names=["06_learned_activations"])
    messages = _missing_messages(_outputs(paths[0]))
    assert messages and "uci-actmix_rows.csv" in messages[0]


def test_failing_notebook_is_named_and_leaves_old_outputs(fixture_reports: Path, tmp_path: Path) -> None:
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell("x = 1"),
                nbformat.v4.new_code_cell("raise ValueError('planted failure')")]
    nbformat.write(nb, notebooks / "99_broken.ipynb")
    out = tmp_path / "out"
    out.mkdir()
    (out / "99_broken.ipynb").write_text("previous")
    with pytest.raises(NotebookError) as caught:
        execute_notebooks(notebooks, fixture_reports, out, timeout=60)
    message = str(caught.value)
    assert "99_broken.ipynb" in message
    assert "raise ValueError('planted failure')" in message and "ValueError" in message
    assert "\x1b[" not in message
    assert list(caught.value.failures) == ["99_broken.ipynb"]
    assert (out / "99_broken.ipynb").read_text() == "previous"
    assert not (out / "99_broken.html").exists()


# ---------------------------------------------------------------------------------------------
# Command line (no kernel)


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(allow_abbrev=False)
    cli.add_subparser(parser.add_subparsers(dest="command"))
    return parser.parse_args(["notebooks", *argv])


def test_cli_defaults_and_usage_errors(fixture_reports: Path, tmp_path: Path) -> None:
    args = _parse([])
    assert (args.reports, args.out, args.notebooks_dir, args.timeout, args.only) == (
        Path("reports"), None, Path("notebooks"), 600.0, None)
    assert _parse(["--only", "01_equivalence, 05_performance"]).only == ["01_equivalence", "05_performance"]
    assert cli.run_command(_parse(["--reports", str(tmp_path / "nowhere")])) == 2
    unknown = _parse(["--reports", str(fixture_reports), "--notebooks-dir", str(NOTEBOOKS),
                      "--out", str(tmp_path / "out"), "--only", "07_nothing"])
    assert cli.run_command(unknown) == 2
    assert not (tmp_path / "out").exists()


def test_cli_reports_a_failed_notebook(fixture_reports: Path, tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from suites.notebooks import execute

    def fail(*args: object, **kwargs: object) -> list[Path]:
        raise NotebookError({"02_mnist.ipynb": "boom"})

    monkeypatch.setattr(execute, "execute_notebooks", fail)
    assert cli.run_command(_parse(["--reports", str(fixture_reports)])) == 1


def test_top_level_cli_registers_notebooks() -> None:
    from suites.cli import build_parser

    args = build_parser().parse_args(["notebooks", "--only", "01_equivalence"])
    assert args.handler is cli.run_command


# ---------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_all_notebooks_on_the_committed_reports(tmp_path: Path) -> None:
    reports = ROOT / "reports"
    if not (reports / "equivalence" / "rows.csv").is_file():
        pytest.skip("no committed reports/ in this checkout")
    paths = execute_notebooks(NOTEBOOKS, reports, tmp_path, timeout=300)
    assert sorted(p.name for p in paths) == sorted(f"{n}.{s}" for n in EXPECTED for s in ("ipynb", "html"))
    for path in paths:
        if path.suffix == ".ipynb":
            outputs = _outputs(path)
            assert _images(outputs) >= 1, path.name
            assert not _missing_messages(outputs), (path.name, _missing_messages(outputs))
            assert not [o for o in outputs if o.get("name") == "stderr"], path.name
