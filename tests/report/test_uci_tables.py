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
