"""The paper stage: no hand-typed numbers in the templates, every placeholder filled, the claims
verdicts, determinism on the committed reports, and every printed number traced to the rows.

Most tests use a small reports folder written here (two profiles, two frameworks, no tabular or
performance rows, so the optional sections are exercised too); the committed ``reports/`` is
read, never written: builds go to a temporary folder.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import re
import shutil
from pathlib import Path

import jinja2
import pandas as pd
import pytest

from suites.paper import claims as claims_mod
from suites.paper.build import TEMPLATES, build_context, build_paper, build_pdf, render
from suites.paper.context import Tex
from suites.paper.inputs import MissingInputError, load_inputs
from suites.paper.published import CLAIMS, Claim, Match, claim

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = ROOT / "reports"
#: Jinja tags: everything inside them is code or a variable, not literal text.
TAGS = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.S)
#: A number as the paper prints it (thousands separators and decimals kept in one token).
NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
SHA = "0123456789abcdef0123456789abcdef01234567"
RUN_PAPER, RUN_QUICK = "20990101T000000Z-paper", "20990101T000000Z-quick"


# ----------------------------------------------------------------------------------------------
# A small reports folder


def _row(run: str, profile: str, protocol: str, unit: str, framework: str, seed: int,
         epoch: int, metric: str, value: float, selection: str = "", variant: str = "paper",
         split: str = "test") -> dict:
    return {"run_id": run, "suite": "accuracy", "protocol": protocol, "unit": unit,
            "framework": framework, "mode": "eager", "device": "cpu", "dtype": "float32",
            "dataset": "mnist", "split": split, "fold": -1, "seed": seed, "epoch": epoch,
            "metric": metric, "value": value, "n_params": 332330,
            "trial_key": f"{run}-{protocol}-{unit}-{variant}-{framework}-{seed}", "status": "ok",
            "variant": variant, "kernel": "default", "selection": selection, "detail": "",
            "profile": profile}


def _manifest(run: str, profile: str, protocol: str, epochs: int) -> dict:
    return {"run_id": run, "run_config": {"profile": profile, "protocols": [protocol]},
            "counts": {"ok": 2},
            "provenance": {"git_sha": SHA, "git_dirty": False, "cpu_model": "Test CPU",
                           "python": "3.11.7", "threads": {"os.cpu_count": 2},
                           "packages": {"numpy": "2.4.6", "torch": "2.13.0"}},
            "trials": [{"config": {"protocol": protocol, "profile": profile, "epochs": epochs,
                                   "train_subset": None, "validation": 5000}}]}


def write_fixture(root: Path, epoch11: dict[str, float] | None = None) -> Path:
    """A reports folder: APTx paper rows (numpy, torch), LearnableSELU quick rows, equivalence."""
    epoch11 = epoch11 or {"numpy": 0.9661, "torch": 0.9662}
    paper = []
    for framework, value in epoch11.items():
        for selection, epoch, v in (("epoch_11", 11, value), ("best_val", 14, value + 0.0004),
                                    ("best_test", 12, value + 0.0010), ("final", 20, value)):
            paper.append(_row(RUN_PAPER, "paper", "mnist-aptx", "aptx_layer", framework, 0,
                              epoch, "accuracy", v, selection))
        paper.append(_row(RUN_PAPER, "paper", "mnist-aptx", "aptx_layer", framework, 0, 1,
                          "epoch_seconds", 12.5, split=""))
    quick = [_row(RUN_QUICK, "quick", "mnist-units", "lselu", framework, seed, 2, "accuracy",
                  0.87 + 0.01 * seed, "best_val", variant="equal-width")
             for framework in ("numpy", "torch") for seed in (0, 1)]
    for profile, rows, run, protocol, epochs in (("paper", paper, RUN_PAPER, "mnist-aptx", 20),
                                                 ("quick", quick, RUN_QUICK, "mnist-units", 2)):
        folder = root / "results" / profile
        folder.mkdir(parents=True)
        pd.DataFrame(rows).to_csv(folder / "accuracy_rows.csv", index=False)
        (folder / "manifests.json").write_text(
            json.dumps({run: _manifest(run, profile, protocol, epochs)}), encoding="utf-8")
    eq = root / "equivalence"
    eq.mkdir(parents=True)
    pd.DataFrame([{"unit": "yat_dense", "variant": "yat_dense", "framework": f, "dtype": "float32",
                   "mode": "eager", "check": "forward |x|~1", "max_abs_err": e,
                   "rel_l2_err": e / 4, "tolerance": 1e-5, "passed": True}
                  for f, e in (("numpy", 2e-7), ("torch", 3e-7))]).to_csv(eq / "rows.csv", index=False)
    pd.DataFrame([{"framework": f, "dtype": "float32", "correct": 9669, "total": 10000,
                   "logits_rel_l2": 5e-7, "passed": True} for f in ("numpy", "torch")]
                 ).to_csv(eq / "checkpoint.csv", index=False)
    (eq / "parity.md").write_text(f"# Equivalence\n\n- git sha: {SHA}\n- runs: eqrun\n"
                                  "- python: 3.11.7\n- machine: Test CPU\n- versions: numpy 2.4.6\n\n"
                                  "| unit |\n", encoding="utf-8")
    return root


@pytest.fixture()
def fixture_reports(tmp_path: Path) -> Path:
    return write_fixture(tmp_path / "reports")


@pytest.fixture(scope="module")
def committed(tmp_path_factory) -> tuple[Path, dict]:
    """The paper built from the committed reports into a temporary folder, and its context."""
    if not (COMMITTED / "results").is_dir():
        pytest.fail("the committed reports/results folder is missing")
    out = tmp_path_factory.mktemp("paper")
    build_paper(COMMITTED, out)
    return out, build_context(COMMITTED, out)


def _digests(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def _context_numbers(value: object) -> set[str]:
    """Every number token of every string, int and float in the context."""
    if isinstance(value, dict):
        return set().union(*(_context_numbers(v) for v in value.values())) if value else set()
    if isinstance(value, list | tuple):
        return set().union(*(_context_numbers(v) for v in value)) if value else set()
    return set(NUMBER.findall(str(value)))


# ----------------------------------------------------------------------------------------------
# (a) no number typed by hand in a template


@pytest.mark.parametrize("template", sorted(p.name for p in TEMPLATES.glob("*.j2")))
def test_template_literal_text_has_no_digit(template: str) -> None:
    text = (TEMPLATES / template).read_text(encoding="utf-8")
    literal = TAGS.sub("", text)
    offenders = [f"line {i}: {line.strip()}" for i, line in enumerate(literal.splitlines(), 1)
                 if re.search(r"\d", line)]
    assert not offenders, f"{template} types digits outside Jinja tags:\n" + "\n".join(offenders)


def test_digit_check_catches_a_typed_number() -> None:
    """The stripping keeps literal text: a digit typed between two tags is still found."""
    sample = "{{ a }} reaches 96.69 % {% if b %}{# note 1 #}{% endif %}"
    assert re.search(r"\d", TAGS.sub("", sample))
    assert not re.search(r"\d", TAGS.sub("", "{{ a }} reaches {{ b }} % {# 1 #}"))


# ----------------------------------------------------------------------------------------------
# (b) every placeholder is filled; missing inputs fail clearly


def test_fixture_renders_both_outputs(fixture_reports: Path) -> None:
    context = build_context(fixture_reports)
    md, tex = render(context, "md"), render(context, "tex")
    assert "96.61" in md and "9669" in md and SHA in md
    assert tex.startswith("\\documentclass") and tex.rstrip().endswith("\\end{document}")
    assert context["performance"] is None and context["tabular"] == []


@pytest.mark.parametrize("key", ["claims", "equivalence", "provenance", "vocab", "latex"])
def test_missing_context_key_is_an_error_naming_it(fixture_reports: Path, key: str) -> None:
    context = build_context(fixture_reports)
    del context[key]
    kind = "tex" if key == "latex" else "md"
    with pytest.raises(jinja2.UndefinedError, match=key):
        render(context, kind)


@pytest.mark.parametrize("relative", ["equivalence/rows.csv", "equivalence/checkpoint.csv"])
def test_missing_input_file_is_named(fixture_reports: Path, relative: str) -> None:
    (fixture_reports / relative).unlink()
    with pytest.raises(MissingInputError, match=re.escape(relative)):
        build_context(fixture_reports)


def test_no_accuracy_rows_is_a_clear_error(fixture_reports: Path) -> None:
    shutil.rmtree(fixture_reports / "results")
    with pytest.raises(MissingInputError, match="accuracy rows"):
        build_context(fixture_reports)


def test_cli_builds_and_reports_missing_inputs(fixture_reports: Path, tmp_path: Path) -> None:
    from suites.cli import build_parser

    out = tmp_path / "out"
    args = build_parser().parse_args(["paper", "--reports", str(fixture_reports), "--out", str(out)])
    assert args.handler(args) == 0
    assert {"paper.md", "paper.tex", "tables/claims.md", "tables/claims.csv",
            "tables/claims.tex"} <= set(_digests(out))
    missing = argparse.Namespace(reports=tmp_path / "nowhere", out=None, profile=None)
    assert args.handler(missing) == 2


def test_tex_escapes_text_values_but_not_tables(fixture_reports: Path) -> None:
    context = build_context(fixture_reports)
    context["title"] = "50% of a_b & c #1"
    tex = render(context, "tex")
    assert r"\title{50\% of a\_b \& c \#1}" in tex
    assert "\\toprule" in tex and "\\bottomrule" in tex      # Tex tables pass through unescaped
    assert isinstance(context["claims"]["tex"], Tex)


def test_pdf_needs_an_engine_and_uses_the_first_found(fixture_reports: Path, tmp_path: Path,
                                                      monkeypatch, caplog) -> None:
    tex = fixture_reports / "paper.tex"
    tex.write_text(render(build_context(fixture_reports), "tex"), encoding="utf-8")
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    with caplog.at_level("INFO", logger="neuronbench.paper"):
        assert build_pdf(tex) is None
    assert "no LaTeX engine found" in caplog.text
    fake = empty / "pdflatex"       # writes a PDF where -output-directory points
    fake.write_text("#!/bin/sh\nfor a in \"$@\"; do case $a in -output-directory=*) "
                    "printf '%%PDF fake' > \"${a#-output-directory=}/paper.pdf\";; esac; done\n")
    fake.chmod(0o755)
    # PATH holds the fake alone (printf and case are /bin/sh built-ins), so a real engine
    # installed elsewhere is never picked up by this test.
    pdf = build_pdf(tex)
    assert pdf == fixture_reports / "paper.pdf" and pdf.read_bytes().startswith(b"%PDF")
    assert sorted(p.name for p in fixture_reports.iterdir() if p.is_file()) == ["paper.pdf",
                                                                             "paper.tex"]


# ----------------------------------------------------------------------------------------------
# (c) verdicts


def test_single_seed_within_tolerance_is_reproduced() -> None:
    v = claims_mod.mean_verdict([96.41], 96.69, 0.5)
    assert v.name == claims_mod.REPRODUCED and v.n == 1 and math.isnan(v.half)
    assert "tolerance" in v.reason and math.isclose(v.diff, -0.28, abs_tol=1e-9)


def test_single_seed_outside_tolerance_is_not_reproduced_with_direction() -> None:
    v = claims_mod.mean_verdict([95.9], 96.69, 0.5)
    assert v.name == claims_mod.NOT_REPRODUCED
    assert "0.79 pp lower" in v.reason


def test_tight_interval_excluding_the_published_value_is_not_reproduced() -> None:
    v = claims_mod.mean_verdict([97.50, 97.52, 97.49, 97.51, 97.50], 96.69, 0.5)
    assert v.name == claims_mod.NOT_REPRODUCED and v.n == 5
    assert "higher" in v.reason and "CI" in v.reason


def test_published_value_inside_a_wide_interval_is_reproduced() -> None:
    v = claims_mod.mean_verdict([95.0, 98.0, 96.0, 97.5, 96.5], 96.69 + 0.9, 0.5)
    assert v.name == claims_mod.REPRODUCED and "inside" in v.reason


def test_tolerance_edge_is_inclusive_despite_binary_rounding() -> None:
    assert claims_mod.mean_verdict([100 * 0.9619], 96.69, 0.5).name == claims_mod.REPRODUCED


def test_counts_must_match_exactly() -> None:
    assert claims_mod.exact_verdict([9669], 9669, 10000).name == claims_mod.REPRODUCED
    v = claims_mod.exact_verdict([9668], 9669, 10000)
    assert v.name == claims_mod.NOT_REPRODUCED and "1 fewer" in v.reason


def test_pairwise_bound_three_ways() -> None:
    def errors(values):
        return pd.DataFrame({"case": "c", "framework": [f"f{i}" for i in range(len(values))],
                             "error": values})

    assert claims_mod.pairwise_bound_verdict(errors([2e-7, 3e-7]), 1e-6).name == \
        claims_mod.REPRODUCED
    assert claims_mod.pairwise_bound_verdict(errors([2e-6, 1e-7]), 1e-6).name == \
        claims_mod.NOT_REPRODUCED
    assert claims_mod.pairwise_bound_verdict(errors([7e-7, 6e-7]), 1e-6).name == \
        claims_mod.INCONCLUSIVE


def test_claims_on_synthetic_rows(fixture_reports: Path) -> None:
    rows = claims_mod.build_claims(load_inputs(fixture_reports))
    by_key: dict[str, list[claims_mod.ClaimRow]] = {}
    for r in rows:
        by_key.setdefault(r.key, []).append(r)
    assert [r.framework for r in by_key["aptx-epoch11"]] == ["NumPy", "PyTorch"]
    assert {r.verdict for r in by_key["aptx-epoch11"]} == {claims_mod.REPRODUCED}
    assert by_key["aptx-best-of-20"][0].beside.startswith("epoch chosen on the hold-out: 96.65")
    assert {r.verdict for r in by_key["aptx-checkpoint"]} == {claims_mod.REPRODUCED}
    assert by_key["nmn-mnist-torch"][0].verdict == claims_mod.NOT_RUN
    assert by_key["nmn-mnist-mlx"][0].verdict == claims_mod.NOT_COVERED
    assert by_key["actmix-magic-readme"][0].verdict == claims_mod.NO_NUMBER
    lselu = by_key["lselu-none"]
    assert lselu[0].profile == "quick" and lselu[0].n == 2       # paper not run: quick is used
    assert by_key["nmn-consistency-readme"][0].verdict == claims_mod.REPRODUCED


def test_claim_far_from_the_published_value_is_not_reproduced(tmp_path: Path) -> None:
    root = write_fixture(tmp_path / "reports", {"numpy": 0.9500, "torch": 0.9668})
    rows = claims_mod.build_claims(load_inputs(root), [claim("aptx-epoch11")])
    verdicts = {r.framework: (r.verdict, r.reason) for r in rows}
    assert verdicts["NumPy"][0] == claims_mod.NOT_REPRODUCED
    assert "1.69 pp lower" in verdicts["NumPy"][1]
    assert verdicts["PyTorch"][0] == claims_mod.REPRODUCED


def test_profile_filter_turns_paper_claims_into_not_run(fixture_reports: Path) -> None:
    rows = claims_mod.build_claims(load_inputs(fixture_reports, profile="quick"),
                                   [claim("aptx-epoch11")])
    assert [r.verdict for r in rows] == [claims_mod.NOT_RUN]
    assert "quick profile" in rows[0].reason


def test_claim_records_are_consistent() -> None:
    keys = [c.key for c in CLAIMS]
    assert len(keys) == len(set(keys))
    for record in CLAIMS:
        assert record.source.startswith("spec/units.md §")
    with pytest.raises(ValueError, match="kind 'none'"):
        Claim("x", "p", "t", None, "%", "mean", "s", Match())


# ----------------------------------------------------------------------------------------------
# (d) the committed reports: provenance in the text, claims table, byte-identical rebuilds


def test_committed_paper_names_sha_profile_and_claims(committed) -> None:
    out, context = committed
    md = (out / "paper.md").read_text(encoding="utf-8")
    for sha in context["provenance"]["shas"]:
        assert sha["sha"].split()[0] in md
    for profile in context["profiles"]:
        assert profile in md
    assert "## Claims" in md and "| project | claim |" in md
    assert claims_mod.REPRODUCED in md
    tex = (out / "paper.tex").read_text(encoding="utf-8")
    assert "\\toprule" in tex and "\\midrule" in tex and "\\bottomrule" in tex
    claims_tex = (out / "tables" / "claims.tex").read_text(encoding="utf-8")
    assert claims_tex.count("\\toprule") == 1
    csv = pd.read_csv(out / "tables" / "claims.csv")
    assert set(csv["key"]) == {c.key for c in CLAIMS}


def test_committed_rebuild_is_byte_identical(committed, tmp_path: Path) -> None:
    out, _context = committed
    first = _digests(out)
    build_paper(COMMITTED, out)
    assert _digests(out) == first


# ----------------------------------------------------------------------------------------------
# (e) every number in the rendered paper comes from the context


@pytest.mark.parametrize("source", ["fixture", "committed"])
def test_every_number_in_the_paper_is_in_the_context(source: str, fixture_reports: Path,
                                                    committed) -> None:
    context = build_context(fixture_reports) if source == "fixture" else committed[1]
    md = render(context, "md")
    allowed = _context_numbers(context)
    untraced = sorted(set(NUMBER.findall(md)) - allowed)
    assert not untraced, f"numbers in paper.md that no context value holds: {untraced}"
