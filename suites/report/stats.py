"""Statistics for the report stage: summaries with confidence intervals, paired tests, agreement.

Everything here works on the tidy result rows (design §7) and uses scipy's distributions; no
distribution is re-derived by hand, so the numbers can be checked against scipy directly.

Why these statistics:

* ``summarise`` gives both a Student-t interval (the conventional one, exact under normality) and a
  seeded percentile bootstrap interval (no normality assumption). With 5 seeds the two often
  disagree, and showing both keeps a reader from over-trusting either.
* ``paired_wilcoxon_holm`` pairs units by seed: every framework sees the same initial weights and
  batch order for a given seed (design §8), so seed-paired differences remove most of the
  seed-to-seed variance. The Wilcoxon signed-rank test makes no normality assumption; Holm's
  step-down correction controls the family-wise error over the units compared with one baseline.
* ``framework_agreement`` exists to catch a framework that trains worse than its twins (Keras 3 once
  trained MNIST to 98 % on TF/JAX but below 90 % on torch); the implementations are supposed to
  be equivalent, so a framework whose mean lies outside the others' interval is suspect.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Iterable, Sequence
from typing import NamedTuple

import numpy as np
import pandas as pd
from scipy import stats

#: Confidence level of every interval in the report.
CONFIDENCE = 0.95
#: Bootstrap resamples and the seed that makes the bootstrap interval reproducible byte for byte.
BOOTSTRAP_RESAMPLES = 10_000
BOOTSTRAP_SEED = 20240601
#: Significance level for the paired tests (after Holm correction).
ALPHA = 0.05
#: A framework is flagged only if its mean is outside the others' CI *and* this far from their mean
#: (accuracy fraction; 0.005 = 0.5 percentage points). Without it, identical-by-design frameworks
#: that differ only by float round-off would be flagged by chance in about a third of the cells,
#: because the CI of a pooled mean shrinks with the number of seeds while seed noise does not.
AGREEMENT_MIN_GAP = 0.005

#: scipy >= 1.15 calls the bootstrap's generator ``rng``; older releases call it ``random_state``.
_BOOTSTRAP_RNG = "rng" if "rng" in inspect.signature(stats.bootstrap).parameters else "random_state"

#: The cells within which units are compared with the baseline (one Holm family each).
KEY_COLUMNS = ("protocol", "framework", "variant")


class Summary(NamedTuple):
    """Mean, sample standard deviation (ddof=1), count, and two 95 % intervals for the mean."""

    mean: float
    std: float
    n: int
    ci_low: float
    ci_high: float
    boot_low: float
    boot_high: float


def t_interval(values: Sequence[float] | np.ndarray, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Student-t interval for the mean (scipy.stats.t.interval with the standard error).

    NaN for fewer than two values (no spread to estimate); a zero-width interval when every value
    is equal (scipy would return NaN there, but the mean is then known exactly).
    """
    x = np.asarray(values, dtype=float)
    if x.size < 2:
        return math.nan, math.nan
    mean = float(x.mean())
    sem = float(stats.sem(x))
    if sem == 0.0:
        return mean, mean
    low, high = stats.t.interval(confidence, x.size - 1, loc=mean, scale=sem)
    return float(low), float(high)


def bootstrap_interval(values: Sequence[float] | np.ndarray, confidence: float = CONFIDENCE,
                       n_resamples: int = BOOTSTRAP_RESAMPLES,
                       seed: int = BOOTSTRAP_SEED) -> tuple[float, float]:
    """Percentile bootstrap interval for the mean (scipy.stats.bootstrap), seeded for determinism."""
    x = np.asarray(values, dtype=float)
    if x.size < 2:
        return math.nan, math.nan
    if float(np.ptp(x)) == 0.0:
        return float(x[0]), float(x[0])
    result = stats.bootstrap((x,), np.mean, confidence_level=confidence, n_resamples=n_resamples,
                             method="percentile", **{_BOOTSTRAP_RNG: np.random.default_rng(seed)})
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


def summarise(values: Iterable[float], confidence: float = CONFIDENCE,
              n_resamples: int = BOOTSTRAP_RESAMPLES, seed: int = BOOTSTRAP_SEED) -> Summary:
    """Summarise one cell's values (one per seed/fold): mean, std, n, t-interval, bootstrap interval.

    NaN values are dropped (a missing measurement is not a zero); an empty input gives NaNs, n=0.
    """
    x = np.asarray([v for v in values if not pd.isna(v)], dtype=float)
    if x.size == 0:
        return Summary(math.nan, math.nan, 0, math.nan, math.nan, math.nan, math.nan)
    std = float(x.std(ddof=1)) if x.size > 1 else math.nan
    t_low, t_high = t_interval(x, confidence)
    b_low, b_high = bootstrap_interval(x, confidence, n_resamples, seed)
    return Summary(float(x.mean()), std, int(x.size), t_low, t_high, b_low, b_high)


def holm(pvalues: Sequence[float] | np.ndarray) -> np.ndarray:
    """Holm's step-down adjusted p-values (Holm 1979), same order as the input.

    Sort the m p-values ascending, p_(1) <= ... <= p_(m); the adjusted value of p_(i) is
    max_{j <= i} min(1, (m - j + 1) p_(j)). Rejecting where adjusted <= alpha is Holm's procedure.
    NaN p-values (tests that could not run) stay NaN and do not count towards m.
    """
    p = np.asarray(pvalues, dtype=float)
    out = np.full(p.shape, np.nan)
    valid = np.flatnonzero(~np.isnan(p))
    m = valid.size
    if m == 0:
        return out
    order = valid[np.argsort(p[valid], kind="stable")]
    scaled = (m - np.arange(m)) * p[order]
    out[order] = np.minimum(1.0, np.maximum.accumulate(scaled))
    return out


def min_exact_wilcoxon_p(n: int) -> float:
    """The smallest two-sided exact Wilcoxon signed-rank p-value with n non-zero pairs: 2 / 2**n.

    It is reached only when every difference has the same sign; for n <= 5 it is >= 0.0625, so no
    such test can be significant at 0.05 however large the effect.
    """
    return min(1.0, 2.0 / 2.0**n) if n > 0 else math.nan


def ok_rows(df: pd.DataFrame) -> pd.DataFrame:
    """Rows of trials that did not diverge (a missing status column means every trial is ok)."""
    if "status" not in df.columns:
        return df
    return df[df["status"].fillna("ok").replace("", "ok") == "ok"]


def selected_rows(df: pd.DataFrame, selection: str, metric: str = "accuracy",
                  split: str = "test") -> pd.DataFrame:
    """One row per trial: the given summary selection (``best_val``, ``best_test``, ...)."""
    mask = (df["metric"] == metric) & (df["split"] == split)
    if "selection" in df.columns:
        mask &= df["selection"].fillna("") == selection
    elif selection:
        return df.iloc[0:0]
    out = df[mask].copy()
    if "variant" not in out.columns:
        out["variant"] = ""
    out["variant"] = out["variant"].fillna("")
    return out


def paired_wilcoxon_holm(df: pd.DataFrame, baseline: str = "relu", selection: str = "best_val",
                         metric: str = "accuracy", alpha: float = ALPHA) -> pd.DataFrame:
    """Compare every unit with ``baseline`` per (protocol, framework, variant), paired by seed.

    Only trials that finished ("ok") on both sides are paired, on (seed, fold). The Wilcoxon
    signed-rank test (two-sided; scipy chooses exact or normal approximation) gives the raw p;
    Holm's correction is applied across the units of one (protocol, framework, variant). The
    ``note`` column says when a result cannot be significant by construction (n < 6 pairs) or when
    a test could not be run, so that "not significant" is never mistaken for "no difference".
    """
    rows = ok_rows(selected_rows(df, selection, metric))
    columns = ["protocol", "framework", "variant", "unit", "baseline", "n_pairs", "mean_unit",
               "mean_baseline", "mean_diff", "median_diff", "statistic", "p_value", "p_holm",
               "significant", "min_possible_p", "note"]
    records: list[dict] = []
    for (protocol, framework, variant), group in rows.groupby(list(KEY_COLUMNS), sort=True):
        base = group[group["unit"] == baseline]
        if base.empty:
            continue
        base_values = base.groupby(["seed", "fold"])["value"].mean()
        family: list[dict] = []
        for unit, unit_rows in group[group["unit"] != baseline].groupby("unit", sort=True):
            values = unit_rows.groupby(["seed", "fold"])["value"].mean()
            paired = pd.concat([values.rename("unit"), base_values.rename("base")], axis=1,
                               join="inner").sort_index()
            diff = (paired["unit"] - paired["base"]).to_numpy()
            n = int(diff.size)
            nonzero = int(np.count_nonzero(diff))
            record = {"protocol": protocol, "framework": framework, "variant": variant,
                      "unit": unit, "baseline": baseline, "n_pairs": n,
                      "mean_unit": float(paired["unit"].mean()) if n else math.nan,
                      "mean_baseline": float(paired["base"].mean()) if n else math.nan,
                      "mean_diff": float(diff.mean()) if n else math.nan,
                      "median_diff": float(np.median(diff)) if n else math.nan,
                      "statistic": math.nan, "p_value": math.nan,
                      "min_possible_p": min_exact_wilcoxon_p(nonzero), "note": ""}
            if n == 0:
                record["note"] = "no seeds in common with the baseline"
            elif nonzero == 0:
                record["p_value"] = 1.0
                record["note"] = "every paired difference is zero"
            else:
                result = stats.wilcoxon(paired["unit"], paired["base"], alternative="two-sided")
                record["statistic"] = float(result.statistic)
                record["p_value"] = float(result.pvalue)
                if nonzero < 6:
                    record["note"] = (f"only {nonzero} non-zero pairs: the exact two-sided p cannot "
                                      f"go below {min_exact_wilcoxon_p(nonzero):.4f}, so it can never "
                                      f"reach {alpha}; run more seeds")
            family.append(record)
        adjusted = holm([r["p_value"] for r in family])
        for record, p_adj in zip(family, adjusted, strict=True):
            record["p_holm"] = float(p_adj)
            record["significant"] = bool(p_adj <= alpha) if not math.isnan(p_adj) else False
            records.append(record)
    return pd.DataFrame.from_records(records, columns=columns)


def _agreement_record(group: pd.DataFrame, framework: str, pool: Sequence[str],
                      confidence: float, min_gap: float) -> dict:
    """Compare one framework's mean with the t-interval of the pooled trials of ``pool``."""
    own = group.loc[group["framework"] == framework, "value"].to_numpy(dtype=float)
    others = group.loc[group["framework"].isin(pool), "value"].to_numpy(dtype=float)
    mean = float(own.mean())
    record = {"framework": framework, "n": int(own.size), "mean": mean,
              "others_n": int(others.size), "others_mean": math.nan, "others_ci_low": math.nan,
              "others_ci_high": math.nan, "gap": math.nan, "outside_ci": False,
              "flagged": False, "note": ""}
    if not pool:
        record["note"] = "only one framework"
    elif others.size < 2:
        record["note"] = "other frameworks have fewer than 2 trials"
    else:
        low, high = t_interval(others, confidence)
        others_mean = float(others.mean())
        outside = bool(mean < low or mean > high)
        gap = mean - others_mean
        record.update(others_mean=others_mean, others_ci_low=low, others_ci_high=high, gap=gap,
                      outside_ci=outside, flagged=bool(outside and abs(gap) >= min_gap))
        if record["flagged"]:
            record["note"] = ("trains worse than the other frameworks" if gap < 0
                              else "trains better than the other frameworks")
        elif outside:
            record["note"] = (f"outside the CI but within {100 * min_gap:g} pp of the others' "
                              "mean: treated as noise")
    return record


def framework_agreement(df: pd.DataFrame, selection: str = "best_val", metric: str = "accuracy",
                        confidence: float = CONFIDENCE,
                        min_gap: float = AGREEMENT_MIN_GAP) -> pd.DataFrame:
    """Flag frameworks whose mean falls outside the CI of the other frameworks' pooled values.

    Per (protocol, unit, variant) and framework F: ``others`` are the finished trials of every
    other framework, pooled; their t-interval for the mean is the reference. ``outside_ci`` is
    True when F's mean is outside it; ``flagged`` additionally needs |F's mean - others' mean| >=
    ``min_gap`` (see ``AGREEMENT_MIN_GAP`` for why).

    Flags are found one at a time: the flagged framework with the largest gap is set aside and left
    out of every other framework's pool before the rest are checked again. Without this, one
    framework that trains badly drags the pooled mean of its twins' references down and gets the
    good frameworks flagged too. With a single framework nothing is compared.
    """
    rows = ok_rows(selected_rows(df, selection, metric))
    columns = ["protocol", "unit", "variant", "framework", "n", "mean", "others_n",
               "others_mean", "others_ci_low", "others_ci_high", "gap", "outside_ci", "flagged",
               "note"]
    records: list[dict] = []
    for (protocol, unit, variant), group in rows.groupby(["protocol", "unit", "variant"], sort=True):
        active = sorted(group["framework"].unique())
        set_aside: dict[str, dict] = {}
        while True:
            current = {f: _agreement_record(group, f, [o for o in active if o != f], confidence,
                                            min_gap) for f in active}
            flagged = [r for r in current.values() if r["flagged"]]
            if not flagged or len(active) <= 2:
                break
            worst = max(flagged, key=lambda r: (abs(r["gap"]), r["framework"]))
            set_aside[worst["framework"]] = worst
            active = [f for f in active if f != worst["framework"]]
        for record in current.values():
            if set_aside:
                record["note"] = "; ".join(filter(None, [
                    record["note"], f"pool leaves out flagged {', '.join(sorted(set_aside))}"]))
        key = {"protocol": protocol, "unit": unit, "variant": variant}
        for framework in sorted({**current, **set_aside}):
            records.append({**key, **{**current, **set_aside}[framework]})
    return pd.DataFrame.from_records(records, columns=columns)
