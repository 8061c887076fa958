"""The uci-actmix tables: fold means with their t-interval, leaky rows labelled in every format."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from suites.report.tabular import uci_summary, write_uci_tables


def _rows() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    rows = []
    for variant in ("leak-free", "replicate-actmix"):
        for fold in range(10):
            rows.append({"suite": "accuracy", "protocol": "uci-actmix", "unit": "xgboost",
                         "variant": variant, "dataset": "magic", "split": "test", "fold": fold, "framework": "xgboost",
                         "seed": 0, "metric": "accuracy", "value": 0.88 + 0.01 * rng.standard_normal(),
                         "run_id": "r1", "profile": "quick", "status": "ok"})
    return pd.DataFrame(rows)


def test_summary_is_the_fold_mean_with_a_t_interval() -> None:
    rows = _rows()
    summary = uci_summary(rows)
    clean = summary[summary["variant"] == "leak-free"].iloc[0]
    values = rows[rows["variant"] == "leak-free"]["value"].to_numpy()
    low, high = stats.t.interval(0.95, len(values) - 1, loc=values.mean(), scale=stats.sem(values))
    assert clean["mean"] == pytest.approx(values.mean()) and clean["folds"] == 10
    assert (clean["ci_low"], clean["ci_high"]) == pytest.approx((low, high))
    assert bool(summary[summary["variant"] == "replicate-actmix"]["leaky"].iloc[0])


def test_tables_in_three_formats_label_the_leak(tmp_path) -> None:
    paths = write_uci_tables(_rows(), tmp_path)
    assert sorted(p.name for p in paths) == ["uci-actmix.csv", "uci-actmix.md", "uci-actmix.tex"]
    md = (tmp_path / "uci-actmix.md").read_text()
    assert "replicate-actmix (leaky)" in md and "| magic | xgboost | leak-free | xgboost | accuracy | 10 x 1 |" in md
    tex = (tmp_path / "uci-actmix.tex").read_text()
    assert r"\toprule" in tex and "replicate-actmix (leaky)" in tex
    assert write_uci_tables(_rows().assign(protocol="mnist-aptx"), tmp_path / "none") == []


def _network_rows() -> pd.DataFrame:
    """Three units over 2 datasets x 5 folds x 2 seeds: 'good' always beats relu, 'same' ties."""
    rng = np.random.default_rng(1)
    rows = []
    for dataset, metric in (("magic", "accuracy"), ("ccpp", "r2")):
        for fold in range(5):
            for seed in range(2):
                base = 0.8 + 0.02 * rng.standard_normal()
                for unit, shift in (("relu", 0.0), ("good", 0.05), ("same", 0.0005 * rng.standard_normal())):
                    rows.append({"suite": "accuracy", "protocol": "uci-actmix", "unit": unit,
                                 "variant": "leak-free", "framework": "numpy", "dataset": dataset,
                                 "split": "test", "fold": fold, "seed": seed, "metric": metric,
                                 "value": base + shift, "run_id": "r", "profile": "quick"})
    return pd.DataFrame(rows)


def test_rank_tests_find_the_better_unit_and_only_it() -> None:
    from suites.report.tabular import rank_tests

    result = rank_tests(_network_rows(), "numpy")
    assert result["blocks"] == 20 and result["mean_rank"]["good"] == 1.0
    assert result["friedman_p"] < 0.05
    _, adjusted = result["wilcoxon"]["good"]
    assert adjusted < 0.05 and result["wilcoxon"]["same"][1] > 0.05
    # Nemenyi's critical difference for k = 3 at alpha 0.05: q = 3.314 / sqrt 2 (Demsar 2006)
    assert result["cd"] == pytest.approx(2.343 * np.sqrt(3 * 4 / (6 * 20)), rel=1e-3)


def test_rank_outputs_write_the_table_and_one_diagram_per_framework(tmp_path) -> None:
    from suites.report.tabular import write_rank_outputs

    paths = write_rank_outputs(_network_rows(), tmp_path / "t", tmp_path / "f")
    assert sorted(p.name for p in paths) == ["uci-actmix_cd_numpy.pdf", "uci-actmix_cd_numpy.png",
                                             "uci-actmix_ranks.md"]
    text = (tmp_path / "t" / "uci-actmix_ranks.md").read_text()
    assert "| good | **1.00** |" in text and "no power" in text


def test_learned_figures_from_learned_rows(tmp_path) -> None:
    """The heatmap and the shapes are drawn from the 'learned' rows a network trial writes."""
    from impls import spec
    from impls.spec import MLPSpec
    from suites.accuracy.tabular_train import learned_values
    from suites.report.tabular import coefficient_heatmap, learned_shapes

    rows = []
    for unit in ("actmix", "lselu", "aptx_activation"):
        arch = MLPSpec(4, (6, 6), 2, unit, {"trainable": True} if unit == "aptx_activation" else {})
        params = [spec.init_params(layer.block, layer.config, seed=1) for layer in arch.layers()]
        for metric, value, detail in learned_values(arch, params):
            rows.append({"protocol": "uci-actmix", "unit": unit, "variant": "leak-free",
                         "framework": "numpy", "dataset": "magic", "fold": 0, "seed": 0,
                         "split": "learned", "metric": metric, "value": value, "detail": detail})
    df = pd.DataFrame(rows)
    actmix = df[df["unit"] == "actmix"]
    assert len(actmix) == 2 * 6 * 4 + 2 * 4          # two layers x (6 neurons + their mean) x 4 bases
    assert set(df[df["unit"] == "lselu"]["metric"]) == {f"param/{k}" for k in
                                                        ("lambda", "alpha", "beta", "gamma", "omega")}
    assert [p.suffix for p in coefficient_heatmap(df, tmp_path / "heat")] == [".png", ".pdf"]
    assert [p.suffix for p in learned_shapes(df, tmp_path / "shapes")] == [".png", ".pdf"]
    assert coefficient_heatmap(df[df["unit"] != "actmix"], tmp_path / "none") == []


def test_entropy_curves_from_epoch_rows(tmp_path) -> None:
    from suites.report.tabular import entropy_curves

    rows = pd.DataFrame([{"protocol": "uci-actmix", "unit": "actmix", "variant": "leak-free/notemp/relu_bias=0",
                          "metric": "actmix_entropy", "epoch": e, "value": 1.38 - 0.01 * e + 0.001 * s,
                          "detail": f"layer={layer}", "seed": s}
                         for e in range(1, 4) for s in range(2) for layer in range(2)])
    assert [p.suffix for p in entropy_curves(rows, tmp_path / "entropy")] == [".png", ".pdf"]
    assert entropy_curves(rows.assign(metric="loss"), tmp_path / "none") == []



def test_main_table_bolds_only_significant_differences_from_relu(tmp_path) -> None:
    """10 paired (fold, seed) blocks per dataset: 'good' (always +0.05) differs from relu after
    Holm, 'same' (noise of 5e-4) does not; bold and the p-value follow in Markdown, LaTeX, CSV."""
    from suites.report.tabular import versus_baseline

    rows = _network_rows()
    tests = versus_baseline(rows).set_index(["dataset", "unit"])
    assert set(tests.index) == {(d, u) for d in ("magic", "ccpp") for u in ("good", "same")}
    assert (tests["pairs"] == 10).all()
    assert tests.loc[("magic", "good"), "significant"] and tests.loc[("ccpp", "good"), "significant"]
    exact = stats.wilcoxon(np.full(10, 0.05)).pvalue                  # every pair positive
    assert tests.loc[("magic", "good"), "p"] == pytest.approx(exact)
    assert tests.loc[("magic", "good"), "p_holm"] == pytest.approx(2 * exact)   # Holm over 2 cells
    assert not tests.loc[("magic", "same"), "significant"] and not tests.loc[("ccpp", "same"), "significant"]
    write_uci_tables(rows, tmp_path)
    md = (tmp_path / "uci-actmix.md").read_text()
    good = [line for line in md.splitlines() if "| good |" in line]
    same = [line for line in md.splitlines() if "| same |" in line]
    relu = [line for line in md.splitlines() if "| relu |" in line]
    assert good and all("**" in line for line in good)
    assert same and not any("**" in line for line in same)
    assert relu and not any("**" in line for line in relu)
    tex = (tmp_path / "uci-actmix.tex").read_text()
    assert tex.count(r"\textbf{") == len(good) and "**" not in tex
    csv = pd.read_csv(tmp_path / "uci-actmix.csv")
    assert set(csv.loc[csv["significant_vs_relu"], "unit"]) == {"good"}


def test_a_leaky_cell_is_tested_against_the_leaky_baseline() -> None:
    from suites.report.tabular import versus_baseline

    clean = _network_rows()
    leaky = clean.assign(variant="replicate-actmix",
                         value=clean["value"] + np.where(clean["unit"] == "relu", 0.05, 0.0))
    tests = versus_baseline(pd.concat([clean, leaky], ignore_index=True))
    leaky_good = tests[(tests["variant"] == "replicate-actmix") & (tests["unit"] == "good")]
    # leaky relu was lifted by the same 0.05 as 'good': against it 'good' is no better
    assert len(leaky_good) == 2 and not leaky_good["significant"].any()
    assert tests[(tests["variant"] == "leak-free") & (tests["unit"] == "good")]["significant"].all()
