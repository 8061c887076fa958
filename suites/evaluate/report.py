"""The battery's one-page report: ``report.md``, two figures and ``summary.json``.

Everything is rebuilt from the results store (rows of the battery's trials only), so rerunning
the report after an interrupted evaluation, or on another machine from the same store, gives
the same page. Text comes from a Jinja2 template, figures from seaborn/matplotlib in the
project's style (suites/report/style.py, palette.py).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import jinja2

from suites.evaluate import verdicts
from suites.evaluate.plan import ACCURACY_PROTOCOL, BASELINES, SPEED_BASELINE, Battery, speed_case

TEMPLATE = """\
# `{{ unit }}`: the neuronbench battery ({{ profile }} profile)

Unit `{{ unit }}` from {{ origin }}: {{ summary_text }}.
Frameworks evaluated: {{ frameworks | join(", ") }}{% if absent %}; absent (the unit provides no
implementation): {{ absent | join(", ") }}{% endif %}.
Commit `{{ provenance.git_sha }}`{% if provenance.dirty %} (dirty){% endif %}, {{ provenance.machine }}.

| check | verdict |
|---|---|
| oracle gradients vs finite differences | **{{ gradcheck.verdict }}** ({{ gradcheck.checks }} checks, worst {{ fmt(gradcheck.worst) }}) |
{% for fw, p in parity.items() -%}
| parity {{ fw }} vs float64 oracle | **{{ p.verdict }}** |
{% endfor -%}
{% for variant, a in accuracy.variants.items() %}{% for base, c in a.vs.items() -%}
| MNIST accuracy, {{ variant }}, vs {{ base }} | **{{ c.verdict }}** ({{ pct(c.mean_diff) }} points, 95 % CI [{{ pct(c.ci_low) }}, {{ pct(c.ci_high) }}], {{ c.n }} seeds) |
{% endfor %}{% endfor -%}
{% for key, s in speed.items() -%}
| speed {{ key }} | **{{ s.verdict }}** |
{% endfor %}
{% if failures %}
**Failed trials** (no rows; rerun `neuronbench evaluate` to retry them):
{% for f in failures %}
- {{ f }}
{%- endfor %}
{% endif %}
## Gradient check

The oracle's analytic gradients (input and every trainable parameter) against central finite
differences in float64, on every case of the unit; error relative to the gradient's scale,
tolerance {{ fmt(gradcheck.tolerance) }}.{% if gradcheck.failed %} Failed: {{ gradcheck.failed | join("; ") }}.{% endif %}

## Parity with the oracle

Forward, every gradient and 10-step SGD and Adam trajectories of a small MLP, against the
float64 oracle (relative L2 error; the tolerances of `impls/spec/tolerances.py`).

| framework | dtype | mode | checks | worst relative error | tolerance | failed |
|---|---|---|---:|---:|---:|---|
{% for fw, p in parity.items() %}{% for c in p.cells -%}
| {{ fw }} | {{ c.dtype }} | {{ c.mode }} | {{ c.checks }} | {{ fmt(c.worst_rel_err) }} | {{ fmt(c.tolerance) }} | {{ c.failed | join(", ") or "none" }} |
{% endfor %}{% if not p.cells -%}
| {{ fw }} | | | 0 | | | {{ p.verdict }} |
{% endif %}{% endfor %}
## Accuracy

Protocol `{{ accuracy_protocol }}` ({{ profile }} profile, {{ accuracy_framework }}): the APTx
paper's MLP shape 784-128-64-32-10 with the unit as hidden layer, at equal width and at the ReLU
network's parameter count; test accuracy at the epoch picked on the validation hold-out; mean and
95 % t-interval over seeds. Differences to the baselines are paired by seed.

![accuracy](accuracy.png)

| variant | unit | parameters | accuracy % | 95 % CI | seeds |
|---|---|---:|---:|---|---:|
{% for variant, a in accuracy.variants.items() %}{% for name, u in a.units.items() -%}
| {{ variant }} | {{ name }} | {{ u.n_params }} | {{ pct(u.mean) }} | [{{ pct(u.ci_low) }}, {{ pct(u.ci_high) }}] | {{ u.n }} |
{% endfor %}{% endfor %}
{%- if accuracy.diverged_trials %}
{{ accuracy.diverged_trials }} trial(s) diverged and are left out of the means.
{% endif %}
{% if builtin %}
The built-in units under the same protocol and profile, from the committed report table
(`{{ builtin_source }}`, not rerun here, {{ accuracy_framework }}):

| variant | unit | accuracy % | 95 % CI | seeds |
|---|---|---:|---|---:|
{% for r in builtin -%}
| {{ r.variant }} | {{ r.unit }} | {{ pct(r.mean) }} | [{{ pct(r.ci_low) }}, {{ pct(r.ci_high) }}] | {{ r.n }} |
{% endfor %}{% endif %}
## Speed and memory

The layer benchmark (`suites/performance/layer.py`): 784 inputs -> 256 outputs, forward +
backward, each case in a fresh process; the ratio to Linear + ReLU is the median of per-call
pairs timed alternately in the same process; memory is the peak rise during one forward +
backward against Linear + ReLU's in the same framework and mode.

![speed](speed.png)

| framework / mode | batch | forward + backward | Linear + ReLU | ratio | peak memory | Linear + ReLU | memory ratio | other load (cores) |
|---|---:|---:|---:|---:|---:|---:|---:|---:|
{% for key, s in speed.items() -%}
| {{ key }} | {{ s.batch }} | {{ ms(s.forward_backward_s) }} | {{ ms(s.baseline_forward_backward_s) }} | {{ fmt(s.ratio_vs_linear_relu) }} | {{ mib(s.peak_memory_bytes) }} | {{ mib(s.baseline_peak_memory_bytes) }} | {{ fmt(s.memory_ratio) }} | {{ fmt(s.other_load_cores) }} |
{% endfor %}
Absolute times depend on the machine and its load; the paired ratio is the number to compare.
Peak memory is the rise of the resident set over its level after warm-up: where a network
reuses every buffer of the warm-up it is 0, and a ratio to 0 is n/a (compare the two columns).
"""


def _fmt(value: Any) -> str:
    return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.3g}"


def _pct(value: Any) -> str:
    return "n/a" if value is None or math.isnan(value) else f"{100 * value:.2f}"


def _ms(value: Any) -> str:
    return "n/a" if value is None or math.isnan(value) else f"{1000 * value:.2f} ms"


def _mib(value: Any) -> str:
    return "n/a" if value is None or math.isnan(value) else f"{value / 2**20:.1f} MiB"


def summarise(battery: Battery, results_dir: Path) -> dict[str, Any]:
    """Every verdict and number of the report, from the store."""
    from impls.spec import get_block
    from suites import settings
    from suites.results import load_results, load_trials

    keys = battery.keys()
    rows = load_results(results_dir, keys=keys)
    trials = load_trials(results_dir, keys=keys)
    missing = sorted(set(keys) - set(trials["key"]))
    failures = [f"{t.label}: {t.error}" for t in trials.itertuples() if t.status == "failed"]
    failures += [f"trial {k} has no record" for k in missing]
    builtin_path = settings.REPO_ROOT / "reports" / "tables" / battery.profile / "mnist_accuracy_best_val.csv"
    info = _run_provenance(results_dir, set(rows["run_id"].dropna()) if "run_id" in rows else set())
    return {
        "unit": battery.unit, "profile": battery.profile, "origin": battery.origin,
        "summary_text": get_block(battery.unit).summary,
        "frameworks": list(battery.frameworks), "absent": list(battery.absent),
        "provenance": {"git_sha": str(info.get("git_sha") or "unknown")[:12],
                       "dirty": bool(info.get("git_dirty")),
                       "machine": f"{info.get('cpu_model')}, "
                                  f"{info.get('threads', {}).get('affinity')} CPU threads, "
                                  f"Python {info.get('python')}"},
        "gradcheck": verdicts.gradcheck(rows),
        "parity": verdicts.parity(rows, list(battery.frameworks), list(battery.absent)),
        "accuracy_protocol": ACCURACY_PROTOCOL, "accuracy_framework": battery.accuracy_framework,
        "accuracy": verdicts.accuracy(rows, battery.unit, BASELINES),
        "builtin": verdicts.builtin_reference(builtin_path, ACCURACY_PROTOCOL,
                                              battery.accuracy_framework),
        "builtin_source": str(builtin_path.relative_to(settings.REPO_ROOT)),
        "speed": verdicts.speed(rows, speed_case(battery.unit), SPEED_BASELINE),
        "failures": failures,
    }


def _run_provenance(results_dir: Path, run_ids: set[str]) -> dict[str, Any]:
    """Provenance of the runs that measured the rows (the first, when a rerun finished the
    rest): the commit and machine that ran them, not those that rebuilt the page."""
    from suites.provenance import manifest_info
    from suites.results import load_manifests

    runs = [m for m in load_manifests(results_dir) if m.get("run_id") in run_ids]
    return dict(runs[0].get("provenance") or {}) if runs else manifest_info()


def _accuracy_figure(summary: dict[str, Any], stem: Path) -> None:
    import matplotlib.pyplot as plt

    from suites.report import palette, style

    variants = summary["accuracy"]["variants"]
    with style.context():
        fig, axes = plt.subplots(1, max(1, len(variants)), figsize=(style.PAGE_WIDTH, 2.4),
                                 sharey=True, squeeze=False, layout="constrained")
        for ax, (variant, cell) in zip(axes[0], variants.items(), strict=False):
            units = palette.order_units(cell["units"])
            for i, name in enumerate(units):
                u = cell["units"][name]
                low = u["ci_low"] if not math.isnan(u["ci_low"]) else u["mean"]
                high = u["ci_high"] if not math.isnan(u["ci_high"]) else u["mean"]
                ax.errorbar(i, 100 * u["mean"], yerr=[[100 * (u["mean"] - low)], [100 * (high - u["mean"])]],
                            fmt="o", color=palette.unit_color(name), capsize=3)
            ax.set_xticks(range(len(units)), units)
            ax.set_title(variant)
            ax.set_xlim(-0.6, len(units) - 0.4)
        axes[0][0].set_ylabel("test accuracy % (95 % CI)")
        style.save_figure(fig, stem)


def _speed_figure(summary: dict[str, Any], stem: Path) -> None:
    import matplotlib.pyplot as plt

    from suites.report import style

    cells = list(summary["speed"].values())
    with style.context():
        fig, ax = plt.subplots(figsize=(style.COLUMN_WIDTH, 2.2), layout="constrained")
        labels = [f"{c['framework']}\n{c['mode']}" for c in cells]
        ratios = [c["ratio_vs_linear_relu"] for c in cells]
        ax.bar(range(len(cells)), ratios, color="#0072B2")
        ax.axhline(1.0, color="black", linewidth=0.8)
        ax.axhline(verdicts.SPEED_BOUND, color="#D55E00", linestyle="--", linewidth=0.8,
                   label=f"{verdicts.SPEED_BOUND:g}x bound")
        ax.set_xticks(range(len(cells)), labels)
        ax.set_ylabel("forward + backward\n/ Linear + ReLU")
        ax.legend(loc="upper right")
        style.save_figure(fig, stem, width=style.COLUMN_WIDTH)


def _write_evidence(battery: Battery, results_dir: Path, out_dir: Path) -> None:
    """The rows behind the page (``rows.csv``, the battery's trials only) and the manifests of
    the runs that produced them (``manifests.json``), so the report folder stands on its own."""
    from suites.report.stage import portable_paths
    from suites.results import load_manifests, load_results, write_atomic

    keys = set(battery.keys())
    rows = load_results(results_dir, keys=keys).drop(columns=["_row"], errors="ignore")
    write_atomic(out_dir / "rows.csv", rows.to_csv(index=False))
    runs = sorted(set(rows["run_id"].dropna())) if "run_id" in rows else []
    # Committed beside the report: absolute paths name the machine, not the result.
    manifests = [portable_paths(m) for m in load_manifests(results_dir) if m.get("run_id") in runs]
    write_atomic(out_dir / "manifests.json",
                 json.dumps(manifests, indent=1, sort_keys=True, default=str) + "\n")


def write(battery: Battery, results_dir: Path, out_dir: Path) -> Path:
    """Write report.md, accuracy.png/.pdf, speed.png/.pdf, summary.json, and the rows and
    manifests behind them into ``out_dir``."""
    from suites.results import write_atomic

    summary = summarise(battery, results_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    _write_evidence(battery, results_dir, out_dir)
    _accuracy_figure(summary, out_dir / "accuracy")
    _speed_figure(summary, out_dir / "speed")
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, trim_blocks=False,
                             keep_trailing_newline=True, autoescape=False)
    env.globals.update(fmt=_fmt, pct=_pct, ms=_ms, mib=_mib)
    text = env.from_string(TEMPLATE).render(**summary)
    write_atomic(out_dir / "summary.json", json.dumps(summary, indent=2, sort_keys=True,
                                                      default=str, allow_nan=True) + "\n")
    path = out_dir / "report.md"
    write_atomic(path, text)
    return path
