"""The report stage end to end on the synthetic fixture: tables, figures, determinism, diverged
trials, the planted bad framework, and the CLI over a real results store."""

from __future__ import annotations

import argparse
import hashlib
import json
import math
from pathlib import Path

import pandas as pd
import pytest

from suites.report import build_report, tables
from suites.report.palette import UNIT_COLORS, unit_color, unit_palette
from tests.report.synthetic import MANIFESTS, RUN_ID, make_results


def _digests(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Path, list[Path]]:
    out = tmp_path_factory.mktemp("report") / "reports"
    return out, build_report(make_results(), out, manifests=MANIFESTS)


def test_writes_tables_figures_and_rows(built):
    out, paths = built
    names = {str(p.relative_to(out)) for p in paths}
    for selection in ("best_val", "best_test", "final"):
        for ext in ("md", "csv", "tex"):
            assert f"tables/quick/mnist_accuracy_{selection}.{ext}" in names
    for name in ("tables/quick/mnist_aptx_epoch11.md", "tables/quick/framework_agreement.csv",
                 "tables/quick/wilcoxon_holm.md", "results/quick/accuracy_rows.csv",
                 "results/quick/manifests.json", "results/index.json",
                 "figures/quick/curves_mnist-aptx_paper_test_accuracy.png",
                 "figures/quick/curves_mnist-units_equal-width_test_accuracy.pdf",
                 "figures/quick/accuracy_mnist-units_equal-width_best_val.png"):
        assert name in names
    assert all(p.is_file() for p in paths)
    png = (out / "figures/quick/curves_mnist-aptx_paper_test_accuracy.png").read_bytes()
    assert png.startswith(b"\x89PNG") and b"Software" not in png
    assert b"CreationDate" not in (out / "figures/quick/curves_mnist-aptx_paper_test_accuracy.pdf").read_bytes()


def test_table_contents_and_labels(built):
    out, _ = built
    best_val = (out / "tables/quick/mnist_accuracy_best_val.md").read_text()
    best_test = (out / "tables/quick/mnist_accuracy_best_test.md").read_text()
    assert "validation split" in best_val
    assert "selected on the test set, as the paper does" in best_test
    assert "git sha: 0123abcd" in best_val and RUN_ID in best_val
    assert "| unit | params | NumPy | PyTorch | JAX | TensorFlow |" in best_val
    assert "| aptx_layer | 610,570 |" in best_val
    epoch11 = (out / "tables/quick/mnist_aptx_epoch11.md").read_text()
    assert "| 96.69 |" in epoch11
    tex = (out / "tables/quick/mnist_accuracy_best_val.tex").read_text()
    assert r"\toprule" in tex and r"$\pm$" in tex and r"aptx\_layer" in tex
    csv = pd.read_csv(out / "tables/quick/mnist_accuracy_best_val.csv")
    assert {"mean", "ci_low", "ci_high", "boot_low", "boot_high", "n", "n_params",
            "seconds_per_epoch"} <= set(csv.columns)
    row = csv[(csv["unit"] == "relu") & (csv["framework"] == "numpy")
              & (csv["protocol"] == "mnist-aptx")].iloc[0]
    assert row["n"] == 5 and row["ci_low"] < row["mean"] < row["ci_high"]
    assert row["seconds_per_epoch"] == pytest.approx(1.7)   # mean of 1.5 + 0.1 * seed, seeds 0..4
    manifests = json.loads((out / "results/quick/manifests.json").read_text())
    assert manifests[RUN_ID]["provenance"]["git_sha"] == "0123abcd"


def test_diverged_trial_excluded_from_mean_and_shown(built):
    out, _ = built
    csv = pd.read_csv(out / "tables/quick/mnist_accuracy_best_val.csv")
    cell = csv[(csv["protocol"] == "mnist-units") & (csv["unit"] == "swish")
               & (csv["framework"] == "torch")].iloc[0]
    assert (cell["n"], cell["n_trials"], cell["n_diverged"]) == (4, 5, 1)
    assert cell["mean"] > 0.97           # the diverged trial's 9.8 % is not averaged in
    rows = make_results()
    ok = rows[(rows["protocol"] == "mnist-units") & (rows["unit"] == "swish")
              & (rows["framework"] == "torch") & (rows["selection"] == "best_val")
              & (rows["status"] == "ok")]
    assert cell["mean"] == pytest.approx(ok["value"].mean())
    md = (out / "tables/quick/mnist_accuracy_best_val.md").read_text()
    assert "(n=4); diverged 1/5" in md


def test_rebuild_is_byte_identical(built, tmp_path):
    out, _ = built
    second = tmp_path / "reports"
    build_report(make_results(), second, manifests=MANIFESTS)
    assert _digests(out) == _digests(second)


def test_agreement_table_flags_planted_bad_framework(tmp_path):
    df = make_results(bad_framework="jax", bad_unit="relu", bad_drop=0.09)
    tables.agreement_table_files(df, tmp_path)
    table = pd.read_csv(tmp_path / "framework_agreement.csv")
    flagged = table[table["flagged"]]
    assert set(zip(flagged["protocol"], flagged["unit"], flagged["framework"], strict=True)) == {
        ("mnist-aptx", "relu", "jax"), ("mnist-units", "relu", "jax")}
    assert "Flagged: 2 of 24" in (tmp_path / "framework_agreement.md").read_text()


def test_wilcoxon_table_notes_small_n(built):
    out, _ = built
    table = pd.read_csv(out / "tables/quick/wilcoxon_holm.csv", keep_default_na=False)
    assert set(table["baseline"]) == {"relu"}
    assert (table["n_pairs"] <= 5).all()
    assert table["note"].str.contains("can never reach 0.05").all()
    swish_torch = table[(table["unit"] == "swish") & (table["framework"] == "torch")].iloc[0]
    assert swish_torch["n_pairs"] == 4    # the diverged seed is not paired


def test_stale_files_pruned(tmp_path):
    out = tmp_path / "reports"
    (out / "tables").mkdir(parents=True)
    stale = out / "tables" / "old_protocol.md"
    stale.write_text("stale")
    keep = out / "STAGES.md"
    keep.write_text("not ours")
    claims = out / "tables" / "claims.md"      # the paper stage's, under a folder we own
    claims.write_text("written by neuronbench paper")
    build_report(make_results().iloc[0:0], out, manifests=MANIFESTS)   # no rows: nothing current
    assert not stale.exists() and keep.exists() and claims.exists()


def test_manifest_git_sha_forms():
    assert tables.manifest_git_sha({"provenance": {"git_sha": "abc", "git_dirty": True}}) == "abc (dirty)"
    assert tables.manifest_git_sha({"git sha": "def"}) == "def"
    assert tables.manifest_git_sha({}) is None


def test_palette_is_fixed_per_unit():
    assert unit_palette(["gelu", "relu"]) == {"relu": UNIT_COLORS["relu"], "gelu": UNIT_COLORS["gelu"]}
    assert unit_color("new_unit") == unit_color("new_unit")
    assert list(unit_palette(["zeta", "relu", "alpha"])) == ["relu", "alpha", "zeta"]


def test_cli_over_a_real_results_store(tmp_path):
    results = pytest.importorskip("suites.results")
    from suites.report import cli

    store = tmp_path / "results"
    df = make_results(seeds=3, epochs=3, diverged=None, frameworks=("numpy", "torch"))
    for i, (key, trial) in enumerate(df.groupby("trial_key", sort=True)):
        rows = [{k: v for k, v in row.items() if not (isinstance(v, float) and math.isnan(v))}
                for row in trial.to_dict("records")]
        rows = [{k: (int(v) if k in ("fold", "seed", "epoch", "n_params") else v)
                 for k, v in row.items()} for row in rows]
        results.write_record(store, {"key": f"trial{i:04d}", "suite": "accuracy", "status": "ok",
                                     "rows": rows, "label": key})
    results.write_manifest(store, MANIFESTS[RUN_ID])
    parser = argparse.ArgumentParser()
    cli.add_subparser(parser.add_subparsers())
    out = tmp_path / "reports"
    args = parser.parse_args(["report", "--results-dir", str(store), "--out", str(out)])
    assert args.handler(args) == 0
    md = (out / "tables/quick/mnist_accuracy_best_val.md").read_text()
    assert "git sha: 0123abcd" in md and "(n=3)" in md
    missing = parser.parse_args(["report", "--results-dir", str(tmp_path / "nowhere")])
    assert missing.handler(missing) == 2


def test_equivalence_rows_handed_to_write_report(tmp_path, monkeypatch):
    from suites.equivalence import report as equivalence_report

    calls = []

    def fake_write_report(source, out_dir, provenance=None):
        calls.append((source, out_dir, provenance))
        out_dir.mkdir(parents=True, exist_ok=True)
        path = out_dir / "parity.md"
        path.write_text("parity\n")
        return [path]

    monkeypatch.setattr(equivalence_report, "write_report", fake_write_report)
    monkeypatch.delattr(equivalence_report, "provenance_from_manifests", raising=False)
    df = make_results(seeds=2, epochs=2, diverged=None, equivalence_rows=True)
    paths = build_report(df[df["suite"] == "equivalence"], tmp_path / "reports", manifests=MANIFESTS)
    (source, out_dir, provenance), = calls
    assert set(source["suite"]) == {"equivalence"} and out_dir.name == "equivalence"
    # the writer builds into a staging folder that replaces the report whole (suites/report/stage.py)
    assert out_dir.parent.parent == tmp_path / "reports" and out_dir.parent.name.startswith(".building-")
    assert provenance == {"runs": RUN_ID, "git sha": "0123abcd"}
    assert tmp_path / "reports/equivalence/parity.md" in paths


def test_equivalence_skipped_when_write_report_takes_other_arguments(tmp_path, monkeypatch, caplog):
    from suites.equivalence import report as equivalence_report

    monkeypatch.setattr(equivalence_report, "write_report", lambda rows, out_dir, a, b: [])
    df = make_results(seeds=2, epochs=2, diverged=None, equivalence_rows=True)
    with caplog.at_level("INFO", logger="neuronbench.report"):
        paths = build_report(df[df["suite"] == "equivalence"], tmp_path / "reports")
    assert "skipped" in caplog.text
    assert [p.name for p in paths] == ["index.json"]


def test_diverged_trial_without_summary_rows_is_still_counted():
    # The real accuracy trial stops at the diverging epoch and writes no summary rows at all.
    df = make_results(seeds=3, epochs=4, diverged=("mnist-units", "swish", "torch", 1))
    df = df[~((df["status"] == "diverged") & (df["selection"] != ""))]
    summary = tables.accuracy_summary(df, "best_val")
    cell = summary[(summary["unit"] == "swish") & (summary["framework"] == "torch")].iloc[0]
    assert (cell["n"], cell["n_trials"], cell["n_diverged"]) == (2, 3, 1)
    assert tables.accuracy_cell(cell).endswith("(n=2); diverged 1/3")


def test_committed_manifests_name_no_machine_path(tmp_path):
    from suites.report.stage import portable_paths

    proj = tmp_path / "proj"
    manifest = {"argv": [str(proj / ".nox/reproduce/bin/neuronbench"), "--results-dir", str(proj / "results")],
                "run_config": {"results_dir": str(tmp_path / "x" / "results"), "note": "a b /c"}, "n": 3}
    assert portable_paths(manifest) == {
        "argv": [".nox/reproduce/bin/neuronbench", "--results-dir", "results"],
        "run_config": {"results_dir": "results", "note": "a b /c"}, "n": 3}


def test_a_performance_only_build_leaves_the_other_reports_alone(tmp_path):
    """``nox -s perf`` rebuilds the performance outputs from a store that holds no accuracy
    rows; the committed accuracy tables and their index entries must survive it."""
    out = tmp_path / "reports"
    build_report(make_results(), out, manifests=MANIFESTS)
    before = _digests(out)
    stale = out / "tables" / "performance" / "old.md"
    stale.parent.mkdir(parents=True, exist_ok=True)
    stale.write_text("stale")
    perf = pd.DataFrame([{
        "run_id": RUN_ID, "suite": "performance", "protocol": "layer", "unit": "linear_relu",
        "framework": "numpy", "mode": "eager", "device": "cpu", "dtype": "float32",
        "variant": "ours", "kernel": "default", "metric": metric, "value": value,
        "detail": "q1=0.001 q3=0.002 n=3 batch=1024 compile_s=0.1 threads=2",
        "batch": 1024, "width": 256} for metric, value in (("forward_s", 0.001),
                                                          ("forward_backward_s", 0.003),
                                                          ("peak_memory_bytes", 0.0))])
    build_report(perf, out, manifests=MANIFESTS, only="performance")
    after = _digests(out)
    assert not stale.exists()
    assert (out / "tables" / "performance" / "layer.md").is_file()
    untouched = {k: v for k, v in before.items() if k != "results/index.json"}
    assert {k: after[k] for k in untouched} == untouched
    index = json.loads((out / "results" / "index.json").read_text())["files"]
    assert set(untouched) - {"STAGES.md"} <= set(index)
    assert "tables/performance/layer.md" in index
    with pytest.raises(ValueError, match="not supported"):
        build_report(perf, out, manifests=MANIFESTS, only="accuracy")


def test_a_profile_absent_from_the_store_keeps_its_outputs(tmp_path):
    """Rebuilding from a store without paper rows leaves tables/paper and its index entries."""
    out = tmp_path / "reports"
    paper = out / "tables" / "paper" / "mnist_aptx_epoch11.md"
    paper.parent.mkdir(parents=True)
    paper.write_text("hours of training")
    (out / "results").mkdir(parents=True)
    (out / "results" / "index.json").write_text(json.dumps({"files": {
        "tables/paper/mnist_aptx_epoch11.md": "abc", "tables/gone.md": "def"}}))
    stale_quick = out / "tables" / "quick" / "old.md"
    stale_quick.parent.mkdir(parents=True)
    stale_quick.write_text("stale")
    rows = make_results()
    rows = rows.assign(profile="quick") if "profile" not in rows.columns else rows
    assert set(rows["profile"].dropna().unique()) == {"quick"}
    build_report(rows, out, manifests=MANIFESTS)
    assert paper.read_text() == "hours of training"
    assert not stale_quick.exists()
    index = json.loads((out / "results" / "index.json").read_text())["files"]
    assert index["tables/paper/mnist_aptx_epoch11.md"] == "abc"
    assert "tables/gone.md" not in index                   # a file that no longer exists


def test_cifar10_rows_are_written_apart_from_the_mnist_rows(tmp_path):
    rows = make_results()
    cifar = rows[rows["protocol"] == rows["protocol"].iloc[0]].assign(protocol="cifar10",
                                                                      dataset="cifar10")
    out = tmp_path / "reports"
    build_report(pd.concat([rows, cifar], ignore_index=True), out, manifests=MANIFESTS)
    mnist_rows = pd.read_csv(out / "results" / "quick" / "accuracy_rows.csv")
    cifar_rows = pd.read_csv(out / "results" / "quick" / "cifar10_rows.csv")
    assert "cifar10" not in set(mnist_rows["protocol"]) and set(cifar_rows["protocol"]) == {"cifar10"}
    assert (out / "results" / "quick" / "cifar10_manifests.json").is_file()
