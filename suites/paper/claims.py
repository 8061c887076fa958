"""The claims table: every published claim beside our number, with a verdict, from rows only.

Each claim of ``suites.paper.published`` becomes one row per framework that has matching result
rows (the frameworks are twins, not extra seeds, so they are never pooled). The verdict rule,
also in ``docs/paper.md``:

* ``mean`` claims (accuracies): **reproduced** when the published value lies inside our 95 %
  Student-t interval of the mean over seeds/folds, or within the claim's stated tolerance of our
  mean, whichever is wider. With one seed there is no interval and the tolerance alone decides;
  the tolerance stands for the published run's own noise, which no original reports.
* ``exact`` claims (counts): reproduced only on exact equality.
* ``pairwise_bound`` claims ("every pair of frameworks agrees within B"): from each framework's
  max-abs error e against the float64 oracle, a pair differs by at most e_a + e_b and by at least
  |e_a - e_b| (triangle inequality). Reproduced when the largest upper bound is <= B, **not
  reproduced** when the largest lower bound is > B, **inconclusive** in between.
* otherwise: **not reproduced**, with the direction and size of the gap; **not run in this
  profile** when no matching rows exist in a profile implementing the published protocol;
  **not covered** when neuronbench has no twin of the published framework; **no published
  number** when the original published none (ours is printed for the record).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from suites.paper import fmt
from suites.paper.inputs import Inputs
from suites.paper.published import CLAIMS, Claim, Match
from suites.report import stats, tables
from suites.report.palette import FRAMEWORK_LABELS, order_frameworks

REPRODUCED = "reproduced"
NOT_REPRODUCED = "not reproduced"
INCONCLUSIVE = "inconclusive"
NOT_RUN = "not run in this profile"
NOT_COVERED = "not covered"
NO_NUMBER = "no published number"
#: Every verdict, in the order the summary counts them.
VERDICTS: tuple[str, ...] = (REPRODUCED, NOT_REPRODUCED, INCONCLUSIVE, NOT_RUN, NOT_COVERED,
                             NO_NUMBER)
#: Slack for comparing decimal inputs (0.9654 * 100 is not exactly 96.54 in binary).
EPS = 1e-9
#: Label of rows whose source has no profile (equivalence, checkpoint).
NO_PROFILE = "equivalence"


@dataclass(frozen=True)
class Verdict:
    """The outcome of comparing our values with one published value."""

    name: str
    reason: str
    mean: float = math.nan
    half: float = math.nan
    n: int = 0
    diff: float = math.nan
    display: str = fmt.DASH


@dataclass(frozen=True)
class ClaimRow:
    """One row of the claims table (display strings and the raw numbers behind them)."""

    key: str
    project: str
    claim: str
    source: str
    published: str
    framework: str
    profile: str
    ours: str
    n: int
    diff: str
    beside: str
    verdict: str
    reason: str
    note: str
    published_value: float | None
    unit: str
    tolerance: float
    ours_mean: float
    ours_half_width: float
    diff_value: float
    beside_label: str
    beside_mean: float
    beside_half_width: float
    beside_n: int


def mean_half(values: Iterable[float]) -> tuple[float, float, int]:
    """Mean, half-width of the Student-t interval (NaN below two values) and n."""
    x = np.asarray([v for v in values if not fmt.missing(v)], dtype=float)
    if x.size == 0:
        return math.nan, math.nan, 0
    _low, high = stats.t_interval(x)
    mean = float(x.mean())
    return mean, (math.nan if math.isnan(high) else high - mean), int(x.size)


# ----------------------------------------------------------------------------------------------
# Verdict rules (pure functions of numbers; tested on synthetic values)


def mean_verdict(values: Sequence[float], published: float, tolerance: float,
                 unit: str = "pp") -> Verdict:
    """Reproduced when ``published`` is inside our 95 % t-interval or within ``tolerance``."""
    x = np.asarray([v for v in values if not fmt.missing(v)], dtype=float)
    if x.size == 0:
        return Verdict(NOT_RUN, "no matching rows")
    mean = float(x.mean())
    low, high = stats.t_interval(x)
    half = math.nan if math.isnan(high) else high - mean
    diff = mean - published
    in_ci = not math.isnan(half) and abs(diff) <= half + EPS
    in_tol = abs(diff) <= tolerance + EPS
    display = fmt.mean_ci(mean, half, int(x.size))
    if in_ci:
        reason = (f"published value inside our {fmt.plain(100 * stats.CONFIDENCE)} % CI "
                  f"[{fmt.num(low)}, {fmt.num(high)}]")
        return Verdict(REPRODUCED, reason, mean, half, int(x.size), diff, display)
    if in_tol:
        reason = f"within the ±{fmt.num(tolerance)} {unit} tolerance ({fmt.signed(diff)} {unit})"
        return Verdict(REPRODUCED, reason, mean, half, int(x.size), diff, display)
    direction = "lower" if diff < 0 else "higher"
    outside = "the CI and " if not math.isnan(half) else ""
    reason = (f"ours {fmt.num(abs(diff))} {unit} {direction}; outside {outside}the "
              f"±{fmt.num(tolerance)} {unit} tolerance")
    return Verdict(NOT_REPRODUCED, reason, mean, half, int(x.size), diff, display)


def exact_verdict(values: Sequence[float], published: float, total: int | None) -> Verdict:
    """Reproduced only when every value equals ``published`` exactly."""
    x = [int(v) for v in values if not fmt.missing(v)]
    if not x:
        return Verdict(NOT_RUN, "no matching rows")
    suffix = f" / {fmt.plain(total)}" if total else ""
    display = ", ".join(fmt.plain(v) for v in sorted(set(x))) + suffix
    worst = max(x, key=lambda v: abs(v - published))
    diff = float(worst - published)
    if all(v == published for v in x):
        return Verdict(REPRODUCED, "exact match", float(worst), math.nan, len(x), 0.0, display)
    direction = "fewer" if diff < 0 else "more"
    return Verdict(NOT_REPRODUCED, f"{fmt.plain(abs(diff))} {direction} than published",
                   float(worst), math.nan, len(x), diff, display)


def pairwise_bound_verdict(errors: pd.DataFrame, bound: float) -> Verdict:
    """Bound every framework pair's max-abs difference from the errors against the oracle.

    ``errors`` has one row per (case, framework, mode) with columns ``case`` and ``error``. Per
    case, the worst pair differs by at most the sum of the two largest errors and by at least the
    largest minus the smallest. The table prints the overall [lower, upper] range.
    """
    if errors.empty:
        return Verdict(NOT_RUN, "no matching rows")
    lows: dict[str, float] = {}
    highs: dict[str, float] = {}
    for case, group in errors.groupby("case", sort=True):
        e = np.sort(group["error"].to_numpy(dtype=float))[::-1]
        if e.size < 2:
            continue
        lows[str(case)] = float(e[0] - e[-1])
        highs[str(case)] = float(e[0] + e[1])
    if not lows:
        return Verdict(NOT_RUN, "fewer than two frameworks in every case")
    low_case = max(sorted(lows), key=lambda c: lows[c])
    high_case = max(sorted(highs), key=lambda c: highs[c])
    low, high = lows[low_case], highs[high_case]
    n = len(errors)
    display = f"{fmt.sci(low)} to {fmt.sci(high)}"
    if high <= bound:
        return Verdict(REPRODUCED, f"every pair within {fmt.sci(high)} (worst case: {high_case})",
                       high, math.nan, n, high - bound, display)
    if low > bound:
        return Verdict(NOT_REPRODUCED, f"two frameworks differ by at least {fmt.sci(low)}, "
                                       f"{fmt.num(low / bound, 1)}x the bound, on {low_case}",
                       low, math.nan, n, low - bound, display)
    return Verdict(INCONCLUSIVE, f"worst pair between {fmt.sci(low)} and {fmt.sci(high)} "
                                 f"brackets the bound", low, math.nan, n, math.nan, display)


# ----------------------------------------------------------------------------------------------
# Finding our rows


def select_rows(rows: pd.DataFrame, match: Match, profile: str) -> pd.DataFrame:
    """Finished trials' summary rows of one profile that answer ``match`` (source "rows")."""
    mask = ((rows["protocol"] == match.protocol) & rows["unit"].isin(match.units)
            & (rows["metric"] == match.metric) & (rows["split"] == match.split)
            & (rows["profile"] == profile) & (rows["selection"] == match.selection))
    if match.variant:
        mask &= rows["variant"] == match.variant
    if match.dataset:
        mask &= rows["dataset"] == match.dataset
    if match.epoch is not None:
        mask &= pd.to_numeric(rows["epoch"], errors="coerce") == match.epoch
    if match.frameworks is not None:
        mask &= rows["framework"].isin(match.frameworks)
    return stats.ok_rows(rows[mask])


def _trial_values(frame: pd.DataFrame) -> list[float]:
    """One value per trial (a trial that wrote its summary twice counts once)."""
    if frame.empty:
        return []
    return [float(v) for v in frame.groupby(tables.trial_ids(frame))["value"].mean()]


def _profile_used(inputs: Inputs, match: Match) -> str | None:
    """The first profile of the match's preference list that has matching rows."""
    for profile in match.profiles:
        if profile in inputs.profiles and not select_rows(inputs.rows, match, profile).empty:
            return profile
    return None


def equivalence_errors(equivalence: pd.DataFrame, match: Match) -> pd.DataFrame:
    """Rows of the parity matrix a pairwise-bound claim reads, as (case, framework, error)."""
    frame = equivalence[equivalence["unit"].isin(match.units)
                        & equivalence["check"].astype(str).str.startswith(match.check_prefix)]
    if match.dtype:
        frame = frame[frame["dtype"] == match.dtype]
    case = frame["variant"].astype(str) + " " + frame["check"].astype(str)
    return pd.DataFrame({"case": case, "framework": frame["framework"] + "/" + frame["mode"],
                         "error": pd.to_numeric(frame[match.metric], errors="coerce")})


# ----------------------------------------------------------------------------------------------
# Building the table


def _published(claim: Claim) -> str:
    if claim.value is None:
        return fmt.DASH
    if claim.kind == "exact":
        total = f" / {fmt.plain(claim.total)}" if claim.total else ""
        return f"{fmt.plain(claim.value)}{total}"
    if claim.kind == "pairwise_bound":
        return f"< {fmt.sci(claim.value, 0)}"
    return f"{fmt.num(claim.value)} {claim.unit}"


def _scale(claim: Claim) -> float:
    """Rows hold accuracies as fractions; percent claims compare in percent."""
    return 100.0 if claim.unit == "%" else 1.0


def _row(claim: Claim, framework: str, profile: str, verdict: Verdict,
         beside: Verdict | None = None, beside_label: str = "") -> ClaimRow:
    beside_text = fmt.DASH
    if beside is not None and beside.n:
        beside_text = f"{beside_label}: {beside.display}"
    elif beside_label:
        beside_text = f"{beside_label}: {fmt.DASH}"
    diff = fmt.DASH
    if claim.kind == "mean" and not fmt.missing(verdict.diff):
        diff = f"{fmt.signed(verdict.diff)} pp"
    elif claim.kind == "exact" and not fmt.missing(verdict.diff):
        diff = "0" if verdict.diff == 0 else fmt.signed(verdict.diff, 0)
    return ClaimRow(
        key=claim.key, project=claim.project, claim=claim.text, source=claim.source,
        published=_published(claim), framework=FRAMEWORK_LABELS.get(framework, framework),
        profile=profile, ours=verdict.display, n=verdict.n, diff=diff, beside=beside_text,
        verdict=verdict.name, reason=verdict.reason, note=claim.note,
        published_value=claim.value, unit=claim.unit, tolerance=claim.tolerance,
        ours_mean=verdict.mean, ours_half_width=verdict.half, diff_value=verdict.diff,
        beside_label=beside_label, beside_mean=beside.mean if beside else math.nan,
        beside_half_width=beside.half if beside else math.nan,
        beside_n=beside.n if beside else 0)


def _value_verdict(claim: Claim, values: Sequence[float]) -> Verdict:
    if claim.kind == "mean":
        return mean_verdict(values, float(claim.value), claim.tolerance)
    if claim.kind == "exact":
        return exact_verdict(values, float(claim.value), claim.total)
    mean, half, n = mean_half(values)
    if n == 0:
        return Verdict(NOT_RUN, "no matching rows")
    return Verdict(NO_NUMBER, "nothing published to compare with", mean, half, n, math.nan,
                   fmt.mean_ci(mean, half, n))


def _rows_claim(claim: Claim, inputs: Inputs) -> list[ClaimRow]:
    match = claim.match
    wanted = "/".join(match.profiles)
    if match.frameworks == ():
        return [_row(claim, fmt.DASH, wanted, Verdict(NOT_COVERED, claim.note or "no twin here"))]
    profile = _profile_used(inputs, match)
    if profile is None:
        name = NO_NUMBER if claim.kind == "none" else NOT_RUN
        reason = f"no {wanted} rows of {match.protocol}"
        if inputs.requested_profile and inputs.requested_profile not in match.profiles:
            reason += f" (this build is the {inputs.requested_profile} profile)"
        frameworks = ", ".join(FRAMEWORK_LABELS.get(f, f) for f in match.frameworks or ())
        return [_row(claim, frameworks or fmt.DASH, wanted, Verdict(name, reason))]
    selected = select_rows(inputs.rows, match, profile)
    out = []
    for framework in order_frameworks(selected["framework"].unique()):
        scale = _scale(claim)
        values = [scale * v for v in _trial_values(selected[selected["framework"] == framework])]
        verdict = _value_verdict(claim, values)
        beside = None
        if claim.beside is not None:
            beside_rows = select_rows(inputs.rows, claim.beside, profile)
            beside_values = [scale * v for v in
                             _trial_values(beside_rows[beside_rows["framework"] == framework])]
            beside = _value_verdict(
                Claim(claim.key, claim.project, claim.text, None, claim.unit, "none",
                      claim.source, claim.beside), beside_values)
        out.append(_row(claim, framework, profile, verdict, beside,
                        claim.beside.label if claim.beside else ""))
    return out


def _checkpoint_claim(claim: Claim, inputs: Inputs) -> list[ClaimRow]:
    frame = inputs.checkpoint
    out = []
    for framework in order_frameworks(frame["framework"].unique()):
        values = frame.loc[frame["framework"] == framework, claim.match.metric].tolist()
        out.append(_row(claim, framework, NO_PROFILE, _value_verdict(claim, values)))
    if not out:
        out.append(_row(claim, fmt.DASH, NO_PROFILE, Verdict(NOT_RUN, "no checkpoint rows")))
    return out


def _equivalence_claim(claim: Claim, inputs: Inputs) -> list[ClaimRow]:
    errors = equivalence_errors(inputs.equivalence, claim.match)
    verdict = pairwise_bound_verdict(errors, float(claim.value))
    frameworks = sorted({f.split("/")[0] for f in errors["framework"]})
    label = ", ".join(FRAMEWORK_LABELS.get(f, f) for f in order_frameworks(frameworks))
    return [_row(claim, f"pairs of {label}" if label else fmt.DASH, NO_PROFILE, verdict)]


def build_claims(inputs: Inputs, claims: Iterable[Claim] = CLAIMS) -> list[ClaimRow]:
    """Every claim evaluated against the inputs, in the order of ``published.CLAIMS``."""
    out: list[ClaimRow] = []
    for claim in claims:
        if claim.match.source == "checkpoint":
            out += _checkpoint_claim(claim, inputs)
        elif claim.match.source == "equivalence":
            out += _equivalence_claim(claim, inputs)
        else:
            out += _rows_claim(claim, inputs)
    return out


def verdict_counts(rows: Sequence[ClaimRow]) -> dict[str, int]:
    """How many table rows got each verdict (every verdict listed, zeros included)."""
    return {name: sum(1 for r in rows if r.verdict == name) for name in VERDICTS}


# ----------------------------------------------------------------------------------------------
# Writing


HEADER = ("project", "claim", "source", "published", "framework", "profile", "ours", "n",
          "ours − published", "beside ours", "verdict", "why")


def table_cells(rows: Sequence[ClaimRow]) -> list[list[str]]:
    """Display cells; the claim's own columns are printed on its first row only."""
    cells, previous = [], None
    for r in rows:
        first = r.key != previous
        previous = r.key
        cells.append([r.project if first else "", r.claim if first else "",
                      r.source if first else "", r.published if first else "", r.framework,
                      r.profile, r.ours, fmt.plain(r.n), r.diff, r.beside, r.verdict, r.reason])
    return cells


def claims_markdown(rows: Sequence[ClaimRow]) -> str:
    """The claims table as GitHub Markdown (bold verdicts)."""
    cells = table_cells(rows)
    for row in cells:
        row[10] = f"**{row[10]}**"
    return tables.markdown_table(HEADER, cells)


#: Column types of the LaTeX table: wrapped text for the long columns.
LATEX_COLUMNS = (r"p{0.09\linewidth}", r"p{0.16\linewidth}", r"p{0.08\linewidth}", "l", "l",
                 "l", r"p{0.08\linewidth}", "r", "l", r"p{0.1\linewidth}", "l",
                 r"p{0.14\linewidth}")


#: Characters plain pdflatex cannot print as text, and what to print instead.
_LATEX_SYMBOLS = {"±": r"$\pm$", fmt.DASH: "---", "−": "-", "§": r"\S{}", "×": r"$\times$",
                  "≥": r"$\geq$", "≤": r"$\leq$", "<": r"$<$", ">": r"$>$", "|": r"$|$"}


def latex_text(text: object) -> str:
    """Plain text to LaTeX: the specials escaped (%, _, &, #, ...) and symbols made printable."""
    escaped = tables.latex_escape(str(text))
    return "".join(_LATEX_SYMBOLS.get(ch, ch) for ch in escaped)


def claims_latex(rows: Sequence[ClaimRow]) -> str:
    """The claims table as a booktabs tabular (every cell through ``latex_text``)."""
    cell = latex_text
    lines = ["% published claims beside ours (generated by suites/paper/claims.py)",
             r"\begin{tabular}{" + "".join(LATEX_COLUMNS) + "}", r"\toprule",
             " & ".join(cell(h) for h in HEADER) + r" \\", r"\midrule"]
    lines += [" & ".join(cell(c) for c in row) + r" \\" for row in table_cells(rows)]
    lines += [r"\bottomrule", r"\end{tabular}"]
    return "\n".join(lines) + "\n"


def claim_notes(rows: Sequence[ClaimRow]) -> list[dict[str, str]]:
    """The notes of the claims in the table, once per claim, in table order."""
    seen: dict[str, dict[str, str]] = {}
    for r in rows:
        if r.note and r.key not in seen:
            seen[r.key] = {"key": r.key, "project": r.project, "claim": r.claim, "note": r.note}
    return list(seen.values())


def claims_frame(rows: Sequence[ClaimRow]) -> pd.DataFrame:
    """The long, machine-readable form (every column on every row, raw numbers)."""
    return pd.DataFrame.from_records([asdict(r) for r in rows],
                                     columns=list(ClaimRow.__dataclass_fields__))


def write_claims_tables(rows: Sequence[ClaimRow], tables_dir: Path,
                        notes: Sequence[str] = ()) -> list[Path]:
    """Write ``claims.md``, ``claims.csv`` and ``claims.tex`` atomically under ``tables_dir``.

    ``notes`` (Markdown lines: provenance, the verdict rule) go above the Markdown table.
    """
    md = ["# Published claims beside ours", "", *notes, "", claims_markdown(rows), "", "Notes:", ""]
    md += [f"- {n['project']}, {n['claim']}: {n['note']}." for n in claim_notes(rows)]
    md.append("")
    return [tables.write_text(tables_dir / "claims.md", "\n".join(md)),
            tables.write_csv(tables_dir / "claims.csv", claims_frame(rows)),
            tables.write_text(tables_dir / "claims.tex", claims_latex(rows))]
