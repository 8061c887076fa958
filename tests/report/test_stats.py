"""suites/report/stats.py against known numbers: scipy directly, a hand-worked Holm example."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from suites.report import stats
from tests.report.synthetic import make_results

VALUES = [0.971, 0.975, 0.969, 0.978, 0.973]


def test_summarise_t_interval_matches_scipy():
    s = stats.summarise(VALUES)
    x = np.array(VALUES)
    low, high = sps.t.interval(0.95, len(x) - 1, loc=x.mean(), scale=sps.sem(x))
    assert s.n == 5
    assert s.mean == pytest.approx(x.mean())
    assert s.std == pytest.approx(x.std(ddof=1))
    assert (s.ci_low, s.ci_high) == pytest.approx((low, high), rel=1e-12)
    # hand check: t_{0.975, 4} = 2.776445
    assert s.ci_high - s.mean == pytest.approx(2.776445 * x.std(ddof=1) / math.sqrt(5), rel=1e-6)


def test_summarise_bootstrap_is_seeded_and_inside_data_range():
    a, b = stats.summarise(VALUES), stats.summarise(VALUES)
    assert (a.boot_low, a.boot_high) == (b.boot_low, b.boot_high)
    assert min(VALUES) <= a.boot_low < a.mean < a.boot_high <= max(VALUES)
    expected = sps.bootstrap((np.array(VALUES),), np.mean, n_resamples=10_000,
                             method="percentile",
                             **{stats._BOOTSTRAP_RNG: np.random.default_rng(stats.BOOTSTRAP_SEED)})
    assert a.boot_low == pytest.approx(expected.confidence_interval.low)
    assert a.boot_high == pytest.approx(expected.confidence_interval.high)


def test_summarise_edge_cases():
    empty = stats.summarise([])
    assert empty.n == 0 and math.isnan(empty.mean)
    one = stats.summarise([0.9])
    assert one.n == 1 and one.mean == 0.9 and math.isnan(one.ci_low) and math.isnan(one.std)
    same = stats.summarise([0.5, 0.5, 0.5])
    assert (same.ci_low, same.ci_high, same.boot_low, same.boot_high) == (0.5, 0.5, 0.5, 0.5)
    assert stats.summarise([0.1, float("nan"), 0.3]).n == 2


def test_holm_hand_worked_example():
    # p = (0.01, 0.04, 0.03, 0.005), m = 4. Sorted: 0.005, 0.01, 0.03, 0.04
    # scaled: 4*0.005=0.02, 3*0.01=0.03, 2*0.03=0.06, 1*0.04=0.04 -> running max 0.02, 0.03, 0.06, 0.06
    adjusted = stats.holm([0.01, 0.04, 0.03, 0.005])
    np.testing.assert_allclose(adjusted, [0.03, 0.06, 0.06, 0.02])
    # capped at 1, NaN ignored (m = 2)
    np.testing.assert_allclose(stats.holm([0.6, np.nan, 0.2]), [0.6, np.nan, 0.4])
    np.testing.assert_allclose(stats.holm([0.7, 0.9]), [1.0, 1.0])
    assert stats.holm([]).size == 0


def test_min_exact_wilcoxon_p():
    assert stats.min_exact_wilcoxon_p(5) == 0.0625
    assert stats.min_exact_wilcoxon_p(6) == 0.03125
    # scipy agrees: five same-sign differences give exactly the minimum
    assert sps.wilcoxon([1, 2, 3, 4, 5]).pvalue == pytest.approx(0.0625)


def _summary_rows(values_by_unit: dict[str, list[float]], framework: str = "torch") -> pd.DataFrame:
    rows = []
    for unit, values in values_by_unit.items():
        for seed, value in enumerate(values):
            rows.append({"protocol": "p", "framework": framework, "variant": "paper",
                         "unit": unit, "seed": seed, "fold": 0, "split": "test",
                         "metric": "accuracy", "selection": "best_val", "value": value,
                         "status": "ok"})
    return pd.DataFrame(rows)


def test_paired_wilcoxon_holm_matches_scipy_and_corrects():
    base = np.linspace(0.95, 0.96, 8)
    better = base + np.array([0.01, 0.012, 0.008, 0.011, 0.009, 0.013, 0.007, 0.01])
    mixed = base + np.array([0.001, -0.002, 0.003, -0.001, 0.002, -0.003, 0.0015, -0.0005])
    df = _summary_rows({"relu": list(base), "gelu": list(better), "swish": list(mixed)})
    out = stats.paired_wilcoxon_holm(df).set_index("unit")
    p_gelu = sps.wilcoxon(better, base).pvalue
    p_swish = sps.wilcoxon(mixed, base).pvalue
    assert out.loc["gelu", "p_value"] == pytest.approx(p_gelu)
    assert out.loc["swish", "p_value"] == pytest.approx(p_swish)
    np.testing.assert_allclose(out.loc[["gelu", "swish"], "p_holm"], stats.holm([p_gelu, p_swish]))
    assert out.loc["gelu", "significant"] and not out.loc["swish", "significant"]
    assert out.loc["gelu", "n_pairs"] == 8 and out.loc["gelu", "note"] == ""


def test_paired_wilcoxon_small_n_note_and_diverged_excluded():
    df = _summary_rows({"relu": [0.97, 0.971, 0.972, 0.973, 0.974],
                        "gelu": [0.98, 0.981, 0.982, 0.983, 0.1]})
    df.loc[(df["unit"] == "gelu") & (df["seed"] == 4), "status"] = "diverged"
    out = stats.paired_wilcoxon_holm(df).iloc[0]
    assert out["n_pairs"] == 4                      # the diverged seed is not paired
    assert out["p_value"] == pytest.approx(0.125)   # 2 / 2**4, all same sign
    assert "cannot go below 0.1250" in out["note"] and not out["significant"]


def test_framework_agreement_flags_planted_outlier_only():
    df = make_results(bad_framework="torch", bad_unit="gelu", bad_drop=0.08)
    out = stats.framework_agreement(df).set_index(["protocol", "unit", "framework"])
    flagged = out[out["flagged"]]
    assert set(flagged.index) == {("mnist-aptx", "gelu", "torch"), ("mnist-units", "gelu", "torch")}
    assert (flagged["gap"] < -0.05).all()
    assert "worse" in flagged["note"].iloc[0]


def test_framework_agreement_consistent_frameworks_not_flagged():
    out = stats.framework_agreement(make_results())
    assert not out["flagged"].any()
    assert len(out) == 24


def test_framework_agreement_single_framework():
    out = stats.framework_agreement(_summary_rows({"relu": [0.9, 0.91, 0.92]}))
    assert not out["flagged"].any() and out["note"].iloc[0] == "only one framework"
