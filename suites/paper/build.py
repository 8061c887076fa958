"""Render the paper (``paper.md``, ``paper.tex``, a PDF when a LaTeX engine exists) from the rows.

``build_context`` computes every number the paper prints from the committed rows and manifests
(``suites.paper.context``, ``suites.paper.claims``); the Jinja2 templates under ``templates/``
hold prose and layout only. The rule that keeps the text honest: a template's literal text has
no digit at all (tested), so any number in the paper came through a variable, and every number
in the rendered Markdown is found in the context (tested). Words that contain digits (float32,
the CIFAR data set's name) come from ``VOCAB`` below, for the same reason.

Output is deterministic: sorted orders, no clock, git shas and run ids from the manifests, so
regenerating from unchanged rows gives byte-identical files (tested).
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import jinja2

from suites.paper import claims as claims_mod
from suites.paper import context as ctx
from suites.paper import fmt
from suites.paper.context import Tex
from suites.paper.inputs import Inputs, load_inputs
from suites.paper.published import CLAIMS, KNOWN_ISSUES, SINGLE_SEED_PP, claim
from suites.report import stats, tables

log = logging.getLogger("neuronbench.paper")

TEMPLATES = Path(__file__).with_name("templates")
#: Words with digits in them, so the templates' literal text can stay digit-free.
VOCAB: dict[str, str] = {
    "float32": "float32",
    "float64": "float64",
    "cifar": "CIFAR-10",
    "cifar_code": "cifar10",
    "f1": "F1",
    "r2": "R2",
    "l2": "L2",
}
#: LaTeX preamble options (they hold digits, so they live here, not in the template).
LATEX: dict[str, str] = {"class_options": "11pt", "geometry": "margin=2cm"}
#: LaTeX engines tried in this order; the first on PATH builds ``paper.pdf``. ``{out}`` is a
#: scratch folder, so no auxiliary file lands in the reports folder.
ENGINES: tuple[tuple[str, ...], ...] = (
    ("latexmk", "-pdf", "-interaction=nonstopmode", "-halt-on-error", "-outdir={out}", "paper.tex"),
    ("tectonic", "--outdir", "{out}", "paper.tex"),
    ("pdflatex", "-interaction=nonstopmode", "-halt-on-error", "-output-directory={out}",
     "paper.tex"),
)
#: Claim verdicts of one claim's rows, most severe first (a claim's overall outcome).
_SEVERITY = (claims_mod.NOT_REPRODUCED, claims_mod.INCONCLUSIVE, claims_mod.REPRODUCED,
             claims_mod.NOT_RUN, claims_mod.NOT_COVERED, claims_mod.NO_NUMBER)


# ----------------------------------------------------------------------------------------------
# Context


def _planned_seeds() -> dict[tuple[str, str], int]:
    """Seeds each protocol's profile asks for (to say where a run used fewer)."""
    from suites.accuracy import cifar, tabular_train
    from suites.accuracy.protocols import PROFILES, PROTOCOLS

    planned = {(name, p): protocol.profile(p).seeds
               for name, protocol in PROTOCOLS.items() for p in PROFILES}
    planned.update({("cifar10", p): prof.seeds for p, prof in cifar.PROFILES.items()})
    planned.update({("uci-actmix", p): prof.seeds for p, prof in tabular_train.PROFILES.items()})
    return planned


def _known_protocols(inputs: Inputs) -> tuple[list[str], list[str]]:
    from suites.accuracy.protocols import PROFILES, PROTOCOLS

    names = sorted(set(PROTOCOLS) | {"uci-actmix", "cifar10"} | set(inputs.rows["protocol"]))
    return names, list(PROFILES)


def _claim_outcomes(rows: Sequence[claims_mod.ClaimRow]) -> list[dict]:
    """One outcome per claim: its most severe row verdict, with the reasons behind it."""
    out: dict[str, dict] = {}
    for r in rows:
        entry = out.setdefault(r.key, {"key": r.key, "project": r.project, "claim": r.claim,
                                       "published": r.published, "verdicts": [], "reasons": []})
        entry["verdicts"].append(r.verdict)
        if r.verdict == claims_mod.NOT_REPRODUCED:
            entry["reasons"].append((r.framework, r.reason))
    for entry in out.values():
        entry["outcome"] = next(v for v in _SEVERITY if v in entry["verdicts"])
        several = len(entry["verdicts"]) > 1
        entry["why"] = "; ".join(f"{fw}: {why}" if several else why
                                 for fw, why in entry["reasons"])
        entry["n_rows"] = len(entry["verdicts"])
        del entry["verdicts"], entry["reasons"]
    return list(out.values())


def _claims_context(rows: Sequence[claims_mod.ClaimRow], out_dir: Path, root: Path) -> dict:
    outcomes = _claim_outcomes(rows)
    published = [o for o in outcomes if o["published"] != fmt.DASH]
    count = {v.replace(" ", "_"): sum(1 for o in published if o["outcome"] == v)
             for v in _SEVERITY}
    rows_count = {k.replace(" ", "_"): v for k, v in claims_mod.verdict_counts(rows).items()}
    return {
        "md": claims_mod.claims_markdown(rows),
        "tex": Tex(claims_mod.claims_latex(rows)),
        "outcomes": outcomes,
        "notes": claims_mod.claim_notes(rows),
        "failed": [o for o in outcomes if o["outcome"] == claims_mod.NOT_REPRODUCED],
        "n_claims": len(outcomes),
        "n_published": len(published),
        "n_unpublished": len(outcomes) - len(published),
        "count": count,
        "rows": rows_count,
        "n_rows": len(rows),
        "tolerance": fmt.num(SINGLE_SEED_PP),
        "link_md": _rel(root / "tables" / "claims.md", out_dir),
        "link_csv": _rel(root / "tables" / "claims.csv", out_dir),
    }


def _rel(path: Path, start: Path) -> str:
    return Path(os.path.relpath(path, start)).as_posix()


def _files(root: Path, archived: Sequence[str], folder: str, suffix: str, out: Path) -> list[dict]:
    """Files of the main report, then those of each archived report (named by its folder)."""
    found = ctx.files_under(root, folder, suffix, out)
    for name in archived:
        found += ctx.files_under(root, f"{name}/{folder}", suffix, out, prefix=f"{name}/")
    return found


def _per_profile(profiles: Sequence[str], make) -> list[dict]:
    return [section for section in (make(p) for p in profiles) if section is not None]


def build_context(reports_dir: Path | str, out_dir: Path | str | None = None,
                  profile: str | None = None) -> dict[str, Any]:
    """Every template variable, computed from the rows and manifests under ``reports_dir``."""
    root = Path(reports_dir)
    inputs = load_inputs(root, profile)
    return assemble(inputs, claims_mod.build_claims(inputs),
                    Path(out_dir) if out_dir is not None else root)


def assemble(inputs: Inputs, rows: Sequence[claims_mod.ClaimRow], out: Path) -> dict[str, Any]:
    """The template context from loaded inputs and their claims rows (links relative to ``out``)."""
    root, profile = inputs.reports_dir, inputs.requested_profile
    profiles = list(inputs.profiles)
    epoch11 = claim("aptx-epoch11")
    known, known_profiles = _known_protocols(inputs)
    prov = ctx.provenance(inputs)
    return {
        "title": "neuronbench: trainable neurons and learnable activations, measured alike in "
                 "every framework",
        "vocab": dict(VOCAB),
        "latex": dict(LATEX),
        "confidence": fmt.plain(100 * stats.CONFIDENCE),
        "profiles": profiles,
        "profile_label": ", ".join(profiles),
        "requested_profile": profile or "",
        "provenance": prov,
        "sources": list(inputs.sources),
        "archived": list(inputs.archived),
        "equivalence": ctx.equivalence(inputs),
        "protocols": ctx.protocols(inputs),
        "aptx": (ctx.aptx_paper(inputs, float(epoch11.value), int(epoch11.match.epoch))
                 if "paper" in profiles else None),
        "mnist_units": _per_profile(profiles, lambda p: ctx.mnist_units(inputs, p)),
        "nmn": _per_profile(profiles, lambda p: ctx.nmn(inputs, p)),
        "tabular_leak": _per_profile(profiles, lambda p: ctx.tabular_leak(inputs, p)),
        # A profile with the leak comparison shows that table; its leak-free column is the same.
        "tabular": _per_profile(profiles, lambda p: None if ctx.tabular_leak(inputs, p)
                                else ctx.tabular_overview(inputs, p)),
        "cifar": _per_profile(profiles, lambda p: ctx.cifar(inputs, p)),
        "performance": ctx.performance(inputs),
        "claims": _claims_context(rows, out, root),
        "coverage": ctx.coverage(inputs, known, known_profiles, _planned_seeds()),
        "issues": [{"project": p, "source": s, "text": t} for p, s, t in KNOWN_ISSUES],
        "figures": _files(root, inputs.archived, "figures", ".png", out),
        "figures_pdf": _files(root, inputs.archived, "figures", ".pdf", out),
        # The claims table is linked on its own; listing it here would make the first build
        # (before claims.md exists) differ from the second.
        "table_files": [t for t in _files(root, inputs.archived, "tables", ".md", out)
                        if t["name"] != "claims.md"],
        "links": {
            "parity": _rel(root / "equivalence" / "parity.md", out),
            "tables": _rel(root / "tables", out),
            "figures": _rel(root / "figures", out),
            "results": _rel(root / "results", out),
        },
        "n_claim_records": len(CLAIMS),
        "checkpoint_epoch": fmt.plain(epoch11.match.epoch),
    }


# ----------------------------------------------------------------------------------------------
# Rendering


def _tex_finalize(value: Any) -> Any:
    """Escape every printed value for LaTeX unless it is already LaTeX (``Tex``)."""
    if isinstance(value, Tex):
        return value
    if isinstance(value, str):
        return tex_escape(value)
    return value


def tex_escape(text: Any) -> str:
    """Plain text to LaTeX: specials escaped (%, _, &, #, ...) and symbols made printable."""
    return claims_mod.latex_text(text)


def environment(kind: str) -> jinja2.Environment:
    """The Jinja2 environment of one output kind ("md" or "tex"): strict, no autoescape.

    For LaTeX every ``{{ value }}`` is escaped by ``finalize`` (a forgotten filter cannot leak a
    bare ``%``); a ``Tex`` value (a rendered table) passes through unchanged. ``tex`` is also a
    filter, for values built inside a template.
    """
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)), undefined=jinja2.StrictUndefined,
        autoescape=False, keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True,
        finalize=_tex_finalize if kind == "tex" else None)
    env.filters["tex"] = tex_escape
    return env


def render(context: Mapping[str, Any], kind: str) -> str:
    """Render ``paper.<kind>.j2`` against ``context`` (``kind`` is "md" or "tex")."""
    return environment(kind).get_template(f"paper.{kind}.j2").render(**context)


def _write(path: Path, text: str) -> Path:
    return tables.write_text(path, text)


def build_pdf(tex_path: Path) -> Path | None:
    """Compile ``paper.tex`` with the first engine on PATH; None (and a log line) if there is none.

    The engine runs beside ``paper.tex`` (figure paths are relative to it) with its output in a
    scratch folder; ``SOURCE_DATE_EPOCH`` pins the dates pdfTeX writes. pdflatex runs twice so
    references resolve.
    """
    for command in ENGINES:
        if shutil.which(command[0]) is None:
            continue
        with tempfile.TemporaryDirectory() as scratch:
            argv = [part.replace("{out}", scratch) for part in command]
            env = {**os.environ, "SOURCE_DATE_EPOCH": "0", "FORCE_SOURCE_DATE": "1"}
            for _ in range(2 if command[0] == "pdflatex" else 1):
                result = subprocess.run(argv, cwd=tex_path.parent, env=env, capture_output=True,
                                        text=True, check=False)
            built = Path(scratch) / "paper.pdf"
            if result.returncode != 0 or not built.is_file():
                log.warning("%s failed (exit %d); no PDF: %s", command[0], result.returncode,
                            result.stdout[-400:])
                return None
            target = tex_path.with_suffix(".pdf")
            tmp = target.with_name(target.name + ".tmp")
            shutil.copyfile(built, tmp)
            os.replace(tmp, target)
            log.info("PDF built with %s", command[0])
            return target
    log.info("no LaTeX engine found (tried %s): paper.pdf not built",
             ", ".join(c[0] for c in ENGINES))
    return None


def build_paper(reports_dir: Path | str, out_dir: Path | str | None = None,
                profile: str | None = None) -> list[Path]:
    """Write the claims tables, ``paper.md``, ``paper.tex`` (and ``paper.pdf``); return the paths.

    Reads only ``reports_dir`` (the committed reports); writes under ``out_dir`` (default: the
    same folder): ``tables/claims.{md,csv,tex}`` and ``paper.{md,tex}``.
    """
    root = Path(reports_dir)
    out = Path(out_dir) if out_dir is not None else root
    log.info("reading rows under %s%s", root.as_posix(),
             f" (profile {profile})" if profile else "")
    inputs = load_inputs(root, profile)
    claim_rows = claims_mod.build_claims(inputs)
    context = assemble(inputs, claim_rows, out)
    paths = claims_mod.write_claims_tables(claim_rows, out / "tables", notes=claims_notes(context))
    log.info("claims: %d rows, %s", context["claims"]["n_rows"],
             ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in context["claims"]["rows"].items()
                       if v))
    paths.append(_write(out / "paper.md", render(context, "md")))
    paths.append(_write(out / "paper.tex", render(context, "tex")))
    pdf = build_pdf(out / "paper.tex")
    if pdf is not None:
        paths.append(pdf)
    for path in paths:
        log.info("wrote %s", path.as_posix())
    return paths


def claims_notes(context: Mapping[str, Any]) -> list[str]:
    """The lines printed above the claims table: inputs, provenance and the verdict rule."""
    prov = context["provenance"]
    return [
        f"- profiles: {context['profile_label']}",
        f"- git shas: {', '.join(fmt.short_sha(s['sha']) for s in prov['shas'])}",
        f"- verdict: a mean claim is reproduced when the published value lies inside our "
        f"{context['confidence']} % Student-t interval or within the claim's tolerance of our "
        f"mean (±{context['claims']['tolerance']} pp for a single-seed accuracy); counts must "
        f"match exactly; a pairwise bound is judged from each framework's error against the "
        f"float64 oracle (docs/paper.md).",
    ]
