"""The numbers the paper prints, computed from the committed rows and manifests only.

Each function returns one section's worth of template variables: strings already formatted
(``suites.paper.fmt``), counts as ints, and small tables as ``{"header", "rows", "md", "tex"}``
dicts, so the templates never compute or format a number themselves. A section whose rows are
absent returns ``None`` and the template says it was not run.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import pandas as pd

from suites.paper import fmt
from suites.paper.claims import latex_text, mean_half
from suites.paper.inputs import Inputs
from suites.report import stats, tables
from suites.report.palette import FRAMEWORK_LABELS, order_frameworks, order_units


class Tex(str):
    """A string that is already LaTeX (a table body): the tex renderer does not escape it."""

    __slots__ = ()


def latex_tabular(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A booktabs tabular, first column left and the rest centred, every cell escaped."""
    lines = [r"\begin{tabular}{l" + "c" * (len(header) - 1) + "}", r"\toprule",
             " & ".join(latex_text(h) for h in header) + r" \\", r"\midrule"]
    lines += [" & ".join(latex_text(c) for c in r) + r" \\" for r in rows]
    return "\n".join([*lines, r"\bottomrule", r"\end{tabular}"])


def make_table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> dict:
    """A small table in both output formats (cells are display strings)."""
    body = [[str(c) for c in r] for r in rows]
    return {"header": list(header), "rows": body, "n_rows": len(body),
            "md": tables.markdown_table(list(header), body),
            "tex": Tex(latex_tabular(header, body))}


def mean_ci(values: Iterable[float], digits: int = 2) -> str:
    """``mean ± half (n=k)`` of the values (see ``fmt.mean_ci``)."""
    return fmt.mean_ci(*mean_half(values), digits)


#: Display names of the data sets (rows use lower-case codes).
DATASET_LABELS = {"ccpp": "CCPP", "adult": "Adult", "magic": "MAGIC", "mnist": "MNIST",
                  "cifar10": "CIFAR-10"}


def _ds(dataset: str) -> str:
    return DATASET_LABELS.get(dataset, dataset)


#: Display names of the frameworks, XGBoost included (it is a "framework" of the tabular rows).
LABELS = {**FRAMEWORK_LABELS, "xgboost": "XGBoost"}


def _fw(framework: str) -> str:
    return LABELS.get(framework, framework)


def _join(items: Iterable[str]) -> str:
    items = list(items)
    return ", ".join(items) if items else fmt.DASH


def _provenance(manifest: Mapping) -> Mapping:
    info = manifest.get("provenance")
    return info if isinstance(info, Mapping) else {}


# ----------------------------------------------------------------------------------------------
# Provenance: runs, git shas, machines, versions

#: Packages whose versions the paper prints (in this order, when a manifest records them).
VERSION_PACKAGES = ("numpy", "scipy", "torch", "jax", "jaxlib", "flax", "optax", "tensorflow",
                    "keras", "xgboost", "numba")


def _what(manifest: Mapping) -> str:
    config = manifest.get("run_config") or {}
    protocols = config.get("protocols")
    if protocols:
        return ", ".join(str(p) for p in protocols)
    return str(config.get("command") or ", ".join(manifest.get("suites") or []) or fmt.DASH)


def _versions(manifest: Mapping) -> str:
    packages = _provenance(manifest).get("packages") or {}
    return ", ".join(f"{name} {packages[name]}" for name in VERSION_PACKAGES if packages.get(name))


def _run_profile(manifest: Mapping, rows: pd.DataFrame) -> str:
    config = manifest.get("run_config") or {}
    if config.get("profile"):
        return str(config["profile"])
    if config.get("quick") is True:
        return "quick"
    run_rows = rows[rows["run_id"].astype(str) == str(manifest.get("run_id"))]
    profiles = sorted({p for p in run_rows.get("profile", pd.Series(dtype=str)) if p})
    return _join(profiles)


def provenance(inputs: Inputs) -> dict:
    """Runs behind the rows: git sha, machine, Python and framework versions, from manifests."""
    runs, shas, versions = [], {}, {}
    for run_id, manifest in sorted(inputs.manifests.items()):
        info = _provenance(manifest)
        sha = tables.manifest_git_sha(manifest) or "not recorded"
        threads = info.get("threads") or {}
        runs.append([run_id, _what(manifest), _run_profile(manifest, inputs.rows),
                     fmt.short_sha(sha), str(info.get("cpu_model") or fmt.DASH),
                     fmt.plain(threads.get("os.cpu_count")) if threads.get("os.cpu_count")
                     else fmt.DASH, str(info.get("python") or fmt.DASH),
                     fmt.count((manifest.get("counts") or {}).get("ok"))])
        shas.setdefault(sha, []).append(run_id)
        versions.setdefault(_versions(manifest) or fmt.DASH, []).append(run_id)
    parity = inputs.parity_header
    if parity.get("git sha"):
        shas.setdefault(parity["git sha"], []).append(parity.get("runs", "equivalence"))
    cpus = sorted({r[4] for r in runs if r[4] != fmt.DASH})
    dirty = [r[0] for r in runs if "(dirty)" in r[3]]
    return {
        "runs": make_table(["run", "what", "profile", "git sha", "CPU", "cores", "Python",
                            "trials ok"], runs),
        "n_runs": len(runs),
        "shas": [{"sha": sha, "hex": sha.split()[0], "dirty": "(dirty)" in sha,
                  "short": fmt.short_sha(sha), "runs": _join(sorted(ids))}
                 for sha, ids in sorted(shas.items())],
        "short_shas": _join(fmt.short_sha(sha) for sha in sorted(shas)),
        "n_shas": len(shas),
        "versions": [{"versions": v, "runs": _join(sorted(ids)), "all": len(ids) == len(runs)}
                     for v, ids in sorted(versions.items())],
        "cpus": cpus,
        "cpus_label": _join(cpus),
        "dirty_runs": _join(dirty) if dirty else "",
        "n_dirty": len(dirty),
        "equivalence": {"sha": parity.get("git sha", "not recorded"),
                        "runs": parity.get("runs", fmt.DASH),
                        "machine": parity.get("machine", fmt.DASH),
                        "python": parity.get("python", fmt.DASH),
                        "versions": parity.get("versions", fmt.DASH)},
    }


# ----------------------------------------------------------------------------------------------
# Equivalence


def equivalence(inputs: Inputs) -> dict:
    """The parity matrix in numbers, and the published checkpoint in every framework."""
    eq = inputs.equivalence
    passed = eq["passed"].astype(str).str.lower().isin(("true", "1"))
    cases = eq[["unit", "framework", "dtype", "mode"]].drop_duplicates()
    per_fw = []
    for framework in order_frameworks(eq["framework"].unique()):
        part = eq[eq["framework"] == framework]
        ok = passed[part.index]
        worst = {d: part.loc[part["dtype"] == d, "rel_l2_err"].max() for d in ("float32", "float64")}
        per_fw.append([_fw(framework),
                       fmt.count(len(cases[cases["framework"] == framework])),
                       fmt.count(len(part)), fmt.count(int(ok.sum())),
                       fmt.sci(worst["float32"]), fmt.sci(worst["float64"])])
    ck = inputs.checkpoint
    ck_rows = [[_fw(r["framework"]), str(r["dtype"]), fmt.plain(r["correct"]), fmt.plain(r["total"]),
                fmt.sci(r["logits_rel_l2"])]
               for r in ck.assign(_o=ck["framework"].map(
                   {f: i for i, f in enumerate(order_frameworks(ck["framework"].unique()))}))
               .sort_values("_o").to_dict("records")]
    correct = sorted({int(v) for v in ck["correct"]})
    totals = sorted({int(v) for v in ck["total"]})
    return {
        "n_units": int(eq["unit"].nunique()),
        "units": order_units(eq["unit"].unique()),
        "units_label": _join(f"`{u}`" for u in order_units(eq["unit"].unique())),
        "units_plain": _join(order_units(eq["unit"].unique())),
        "n_frameworks": int(eq["framework"].nunique()),
        "frameworks": _join(_fw(f) for f in order_frameworks(eq["framework"].unique())),
        "dtypes": _join(sorted(eq["dtype"].unique())),
        "modes": _join(sorted(eq["mode"].unique())),
        "n_cases": fmt.count(len(cases)),
        "n_checks": fmt.count(len(eq)),
        "n_passed": fmt.count(int(passed.sum())),
        "n_failed": int((~passed).sum()),
        "per_framework": make_table(["framework", "cases", "checks", "passed",
                                     "worst rel. L2, float32", "worst rel. L2, float64"], per_fw),
        "checkpoint": make_table(["framework", "dtype", "correct", "of", "logits rel. L2"],
                                 ck_rows),
        "checkpoint_correct": _join(fmt.plain(c) for c in correct),
        "checkpoint_total": _join(fmt.plain(t) for t in totals),
        "checkpoint_same": len(correct) == 1,
        "checkpoint_n": len(ck),
        "worst_logits": fmt.sci(ck["logits_rel_l2"].max()) if len(ck) else fmt.DASH,
    }


# ----------------------------------------------------------------------------------------------
# Protocols and coverage


#: Trial config keys the paper reads from the manifests.
CONFIG_KEYS = ("protocol", "profile", "epochs", "train_subset", "test_subset", "validation",
               "batch_size", "n_folds")


def _configs(inputs: Inputs) -> pd.DataFrame:
    """Trial configs from the manifests (one row per trial), for epochs and data sizes."""
    records = []
    for manifest in inputs.manifests.values():
        for trial in manifest.get("trials") or []:
            config = trial.get("config") or {}
            if config.get("protocol"):
                records.append({k: config.get(k) for k in
                                CONFIG_KEYS})
    return pd.DataFrame.from_records(records, columns=list(CONFIG_KEYS))


def _distinct(values: Iterable) -> str:
    clean = sorted({int(v) for v in values if not fmt.missing(v) and v is not None})
    return "/".join(fmt.count(v) for v in clean) if clean else "all"


def protocols(inputs: Inputs) -> dict:
    """What ran, per (protocol, profile): data, epochs, seeds, folds, frameworks, units, trials."""
    rows = stats.ok_rows(inputs.rows)
    configs = _configs(inputs)
    body, cells = [], []
    for (protocol, profile), part in rows.groupby(["protocol", "profile"], sort=True):
        conf = configs[(configs["protocol"] == protocol) & (configs["profile"] == profile)]
        seeds = sorted({int(s) for s in part["seed"].dropna()})
        folds = sorted({int(f) for f in part["fold"].dropna() if int(f) >= 0})
        # Seeds and folds per (unit, framework) cell: XGBoost runs every fold once, the networks
        # of the quick profile fewer folds with more seeds, so one count would mislead.
        per_cell = part.groupby(["unit", "framework"])
        seed_counts = _distinct(per_cell["seed"].nunique())
        fold_counts = _distinct(per_cell["fold"].agg(lambda f: f[f >= 0].nunique()))
        trials = tables.trial_ids(part).nunique()
        frameworks = [f for f in order_frameworks(part["framework"].unique())]
        units = order_units(part["unit"].unique())
        datasets = sorted({d for d in part["dataset"] if d})
        body.append([protocol, profile, _join(_ds(d) for d in datasets), _distinct(conf["epochs"]),
                     _distinct(conf["train_subset"]), seed_counts,
                     fold_counts if folds else fmt.DASH,
                     _join(_fw(f) for f in frameworks), fmt.count(len(units)), fmt.count(trials)])
        cells.append({"protocol": protocol, "profile": profile, "seeds": len(seeds),
                      "frameworks": frameworks, "units": units, "datasets": datasets})
    return {"table": make_table(["protocol", "profile", "data", "epochs", "training rows",
                                 "seeds", "folds", "frameworks", "units", "trials"], body),
            "cells": cells, "n": len(body)}


def coverage(inputs: Inputs, known_protocols: Sequence[str], known_profiles: Sequence[str],
             planned_seeds: Mapping[tuple[str, str], int]) -> dict:
    """Which (protocol, profile) pairs have no rows, and which ran with a single seed."""
    present = {(p, q) for p, q in inputs.rows[["protocol", "profile"]].drop_duplicates()
               .itertuples(index=False)}
    profiles = [inputs.requested_profile] if inputs.requested_profile else list(known_profiles)
    missing = [f"{p} ({q})" for p in known_protocols for q in profiles if (p, q) not in present]
    single = []
    rows = stats.ok_rows(inputs.rows)
    for (protocol, profile), part in rows.groupby(["protocol", "profile"], sort=True):
        seeds = part["seed"].dropna().nunique()
        planned = planned_seeds.get((protocol, profile))
        # A protocol planned with one seed (its folds are the replicates) is not short of seeds.
        if seeds == 1 and (planned is None or planned > 1):
            single.append({"cell": f"{protocol} ({profile})",
                           "planned": fmt.count(planned) if planned else ""})
    return {"missing": missing, "n_missing": len(missing), "single_seed": single,
            "partial": _partial(rows)}


def _partial(rows: pd.DataFrame) -> list[dict]:
    """What a paper-profile protocol lacks against its quick profile (data, frameworks, units)."""
    out = []
    for protocol in sorted(set(rows["protocol"])):
        quick = rows[(rows["protocol"] == protocol) & (rows["profile"] == "quick")]
        paper = rows[(rows["protocol"] == protocol) & (rows["profile"] == "paper")]
        if quick.empty or paper.empty:
            continue
        lacks = []
        for column, what, label in (("dataset", "data sets", _ds), ("framework", "frameworks", _fw),
                                    ("unit", "units", str)):
            gone = sorted(set(quick[column]) - set(paper[column]) - {""})
            if gone:
                lacks.append(f"{what} {_join(label(g) for g in gone)}")
        if lacks:
            out.append({"cell": f"{protocol} (paper)", "lacks": "; ".join(lacks)})
    return out


# ----------------------------------------------------------------------------------------------
# Accuracy results


def _selected(rows: pd.DataFrame, protocol: str, profile: str, selection: str,
              metric: str = "accuracy") -> pd.DataFrame:
    part = rows[(rows["protocol"] == protocol) & (rows["profile"] == profile)]
    return tables.accuracy_summary(part, selection, metric)


def _epochs_of(rows: pd.DataFrame, protocol: str, profile: str, selection: str) -> dict:
    part = rows[(rows["protocol"] == protocol) & (rows["profile"] == profile)
                & (rows["selection"] == selection) & (rows["metric"] == "accuracy")]
    return {f: _join(fmt.plain(e) for e in sorted({int(x) for x in g["epoch"].dropna()}))
            for f, g in part.groupby("framework")}


def _seconds(rows: pd.DataFrame, protocol: str, profile: str) -> dict:
    part = rows[(rows["protocol"] == protocol) & (rows["profile"] == profile)
                & (rows["metric"] == "epoch_seconds")]
    return {f: float(g["value"].median()) for f, g in part.groupby("framework")}


def _one_mean(cells: pd.DataFrame, framework: str) -> float:
    hit = cells[cells["framework"] == framework]
    return float(hit["mean"].iloc[0]) if len(hit) else math.nan


def aptx_paper(inputs: Inputs, published: float, epoch: int, profile: str = "paper") -> dict | None:
    """The APTx paper protocol per framework: epoch 11, both selections, final, time per epoch."""
    rows = stats.ok_rows(inputs.rows)
    protocol = "mnist-aptx"
    epoch11 = _selected(rows, protocol, profile, "epoch_11")
    if epoch11.empty:
        return None
    best_val, best_test = (_selected(rows, protocol, profile, s) for s in ("best_val", "best_test"))
    final = _selected(rows, protocol, profile, "final")
    val_epochs = _epochs_of(rows, protocol, profile, "best_val")
    test_epochs = _epochs_of(rows, protocol, profile, "best_test")
    seconds = _seconds(rows, protocol, profile)
    part = rows[(rows["protocol"] == protocol) & (rows["profile"] == profile)]
    configs = _configs(inputs)
    configs = configs[(configs["protocol"] == protocol) & (configs["profile"] == profile)]
    body, values = [], []
    for framework in order_frameworks(epoch11["framework"].unique()):
        cell = part[part["framework"] == framework]
        sha = _join(sorted({fmt.short_sha(tables.manifest_git_sha(inputs.manifests.get(r, {}))
                                          or "not recorded") for r in cell["run_id"].unique()}))
        value = _one_mean(epoch11, framework)
        values.append(value)
        body.append([_fw(framework), _join(sorted(set(cell["mode"]))),
                     _join(sorted({k for k in cell["kernel"] if k})), fmt.pct(value),
                     f"{fmt.pct(_one_mean(best_val, framework))} ({val_epochs.get(framework, '')})",
                     f"{fmt.pct(_one_mean(best_test, framework))} ({test_epochs.get(framework, '')})",
                     fmt.pct(_one_mean(final, framework)), fmt.num(seconds.get(framework), 1),
                     fmt.count(cell["seed"].nunique()), sha])
    diffs = [100 * v - published for v in values]
    return {
        "table": make_table(["framework", "mode", "kernel", "epoch " + fmt.plain(epoch) + " %",
                             "best on hold-out % (epoch)", "best on test % (epoch)", "final %",
                             "s / epoch (median)", "seeds", "git sha"], body),
        "n_frameworks": len(values),
        "low": fmt.pct(min(values)), "high": fmt.pct(max(values)),
        "published": fmt.num(published), "epoch": fmt.plain(epoch),
        "gap_low": fmt.num(min(abs(d) for d in diffs)), "gap_high": fmt.num(max(abs(d) for d in diffs)),
        "all_below": all(d < 0 for d in diffs),
        "seeds": fmt.count(part["seed"].nunique()),
        "holdout": _distinct(configs["validation"]),
    }


def _pooled_table(rows: pd.DataFrame, protocol: str, profile: str, selection: str,
                  metric: str = "accuracy", scale: float = 100.0, digits: int = 2) -> dict | None:
    """Per (variant, unit): mean ± CI over every framework's trials, and the framework spread."""
    part = rows[(rows["protocol"] == protocol) & (rows["profile"] == profile)]
    selected = stats.selected_rows(part, selection, metric)
    if selected.empty:
        return None
    per_fw = tables.accuracy_summary(part, selection, metric)
    body = []
    for variant in sorted(selected["variant"].unique()):
        for unit in order_units(selected.loc[selected["variant"] == variant, "unit"].unique()):
            cell = selected[(selected["variant"] == variant) & (selected["unit"] == unit)]
            # Frameworks are twins run from the same seeds, not extra seeds: average them per
            # seed first, so n and the interval count seeds only.
            per_trial = cell.assign(_t=tables.trial_ids(cell)).groupby(
                ["_t", "framework", "seed"], as_index=False)["value"].mean()
            values = scale * per_trial.groupby("seed")["value"].mean()
            means = scale * per_fw[(per_fw["variant"] == variant) & (per_fw["unit"] == unit)]["mean"]
            params = sorted({int(p) for p in cell["n_params"].dropna()})
            body.append([variant or fmt.DASH, unit, "/".join(fmt.count(p) for p in params) or fmt.DASH,
                         mean_ci(values, digits),
                         fmt.count(cell["framework"].nunique()),
                         fmt.num(float(means.max() - means.min()), digits) if len(means) else fmt.DASH])
    return make_table(["variant", "unit", "params", "mean ± CI (n seeds)", "frameworks",
                       "framework spread (pp)"], body)


def mnist_units(inputs: Inputs, profile: str) -> dict | None:
    """Every unit in the APTx MLP shape, epoch chosen on the hold-out, frameworks pooled."""
    table = _pooled_table(stats.ok_rows(inputs.rows), "mnist-units", profile, "best_val")
    return None if table is None else {"table": table, "profile": profile}


def nmn(inputs: Inputs, profile: str) -> dict | None:
    """The NMN cross-framework MNIST example, final epoch, per framework."""
    rows = stats.ok_rows(inputs.rows)
    cells = _selected(rows, "mnist-nmn", profile, "final")
    if cells.empty:
        return None
    body = [[_fw(r["framework"]), tables.accuracy_cell(r)] for r in cells.to_dict("records")]
    spread = 100 * (cells["mean"].max() - cells["mean"].min())
    configs = _configs(inputs)
    configs = configs[(configs["protocol"] == "mnist-nmn") & (configs["profile"] == profile)]
    return {"table": make_table(["framework", "final test accuracy %"], body),
            "spread": fmt.num(spread), "profile": profile,
            "epochs": _distinct(configs["epochs"]),
            "train_images": _distinct(configs["train_subset"])}


def cifar(inputs: Inputs, profile: str) -> dict | None:
    """The CIFAR CNN of every unit, final epoch, frameworks pooled."""
    table = _pooled_table(stats.ok_rows(inputs.rows), "cifar10", profile, "final")
    return None if table is None else {"table": table, "profile": profile}


#: Primary metric of each tabular dataset (R2 for the regression, accuracy otherwise).
PRIMARY_METRIC = {"ccpp": "r2", "adult": "accuracy", "magic": "accuracy"}


def _fold_values(rows: pd.DataFrame, variant: str, unit: str, dataset: str,
                 metric: str) -> pd.Series:
    part = rows[(rows["variant"] == variant) & (rows["unit"] == unit)
                & (rows["dataset"] == dataset) & (rows["metric"] == metric)
                & (rows["split"] == "test")]
    return part.groupby(["framework", "seed", "fold"])["value"].mean()


def tabular_leak(inputs: Inputs, profile: str = "paper") -> dict | None:
    """Leak-free against the original (leaky) protocol, per network, paired by fold and seed."""
    rows = stats.ok_rows(inputs.rows)
    rows = rows[(rows["protocol"] == "uci-actmix") & (rows["profile"] == profile)]
    leaky = sorted({v for v in rows["variant"] if v.startswith("replicate-actmix")})
    if not leaky:
        return None
    body, diffs = [], []
    for variant in leaky:
        clean = variant.replace("replicate-actmix", "leak-free", 1)
        for unit in order_units(rows.loc[rows["variant"] == variant, "unit"].unique()):
            for dataset in sorted(rows.loc[rows["variant"] == variant, "dataset"].unique()):
                metric = PRIMARY_METRIC.get(dataset, "accuracy")
                a, b = (_fold_values(rows, v, unit, dataset, metric)
                        .groupby(level=["seed", "fold"]).mean() for v in (clean, variant))
                paired = pd.concat([a.rename("clean"), b.rename("leaky")], axis=1).dropna()
                if paired.empty:
                    continue
                d = 100 * (paired["leaky"] - paired["clean"])
                diffs.append(float(d.mean()))
                config = variant.split("/", 1)[1] if "/" in variant else ""
                body.append([_ds(dataset), unit, config or fmt.DASH,
                             mean_ci(100 * paired["clean"]), mean_ci(100 * paired["leaky"]),
                             fmt.signed(float(d.mean())),
                             f"{int((d > 0).sum())} / {len(d)}"])
    if not body:
        return None
    return {"table": make_table(["dataset", "unit", "configuration", "leak-free %",
                                 "original (leaky) %", "leaky − leak-free (pp)",
                                 "leaky higher in"], body),
            "low": fmt.num(min(diffs)), "high": fmt.num(max(diffs)),
            "all_positive": all(d > 0 for d in diffs), "profile": profile,
            "datasets": _join(sorted({r[0] for r in body}))}


def tabular_overview(inputs: Inputs, profile: str) -> dict | None:
    """Each dataset's primary metric per network and XGBoost, leak-free, frameworks pooled."""
    rows = stats.ok_rows(inputs.rows)
    rows = rows[(rows["protocol"] == "uci-actmix") & (rows["profile"] == profile)
                & rows["variant"].str.startswith("leak-free")]
    datasets = [d for d in PRIMARY_METRIC if d in set(rows["dataset"])]
    if not datasets:
        return None
    rank = {u: i for i, u in enumerate(order_units(rows["unit"].unique()))}
    keys = sorted({(u, v) for u, v in rows[["unit", "variant"]].drop_duplicates()
                   .itertuples(index=False)},
                  key=lambda k: (k[0] == "xgboost", rank[k[0]], k[1]))
    body = []
    for unit, variant in keys:
        line = [unit, variant.split("/", 1)[1] if "/" in variant else fmt.DASH]
        for dataset in datasets:
            metric = PRIMARY_METRIC[dataset]
            values = _fold_values(rows, variant, unit, dataset, metric)
            if values.empty:
                line.append(fmt.DASH)
                continue
            # One value per (seed, fold) block: the frameworks are averaged, not counted.
            line.append(mean_ci(values.groupby(level=["seed", "fold"]).mean(), 3))
        body.append(line)
    header = ["unit", "configuration",
              *[f"{_ds(d)} {PRIMARY_METRIC[d].replace('r2', 'R2')}" for d in datasets]]
    return {"table": make_table(header, body), "profile": profile,
            "datasets": _join(_ds(d) for d in datasets)}


# ----------------------------------------------------------------------------------------------
# Performance


def performance(inputs: Inputs, units: Sequence[str] = ("aptx_layer", "yat_dense")) -> dict | None:
    """The layer benchmark at its main shape for the trainable neurons, ours and the originals."""
    perf = inputs.performance
    if perf is None or perf.empty:
        return None
    layer = perf[perf["protocol"] == "layer"]
    timed = layer[layer["metric"] == "forward_backward_s"]
    if timed.empty:
        return None
    config = {}
    for manifest in inputs.manifests.values():
        if (manifest.get("run_config") or {}).get("command") == "perf":
            config = manifest["run_config"]
    batch = config.get("batch") or int(timed["batch"].mode().iloc[0])
    width = config.get("width") or int(timed["width"].mode().iloc[0])
    main = layer[(layer["batch"] == batch) & (layer["width"] == width)]
    body, facts = [], {}
    for unit in units:
        part = main[main["unit"] == unit]
        original = part[(part["variant"] == "original") & (part["metric"] == "forward_backward_s")]
        original_s = float(original["value"].min()) if len(original) else math.nan
        original_mem = part[(part["variant"] == "original") & (part["metric"] == "peak_memory_bytes")]
        original_b = float(original_mem["value"].max()) if len(original_mem) else math.nan
        groups = part.groupby(["variant", "framework", "mode", "kernel"], sort=False)
        rank = {f: i for i, f in enumerate(order_frameworks(part["framework"].unique()))}
        ordered = sorted(groups.groups, key=lambda k: (k[0] != "original", rank[k[1]], k[2], k[3]))
        for key in ordered:
            g = part.loc[groups.groups[key]]
            metric = dict(zip(g["metric"], g["value"], strict=False))
            seconds = metric.get("forward_backward_s", math.nan)
            label = _fw(key[1]) + (" (original)" if key[0] == "original" else "")
            body.append([unit, label, key[2], key[3], fmt.num(1e3 * seconds, 1),
                         fmt.num(metric.get("peak_memory_bytes", math.nan) / 2**20, 2),
                         fmt.num(metric.get("forward_backward_vs_linear_relu", math.nan), 2),
                         fmt.num(metric.get("forward_backward_vs_roofline", math.nan), 2),
                         fmt.num(seconds / original_s, 3) if key[0] != "original" else fmt.DASH])
            if key[0] == "ours" and unit == "aptx_layer":
                facts.setdefault("aptx", []).append((seconds, key[1], key[2],
                                                     metric.get("peak_memory_bytes", math.nan)))
        if unit == "aptx_layer":
            facts["aptx_original_s"], facts["aptx_original_b"] = original_s, original_b
    if not body:
        return None
    out = {"table": make_table(["unit", "framework", "mode", "kernel", "forward + backward ms",
                                "peak MiB", "x Linear+ReLU", "x roofline", "time / original"],
                               body),
           "batch": fmt.count(batch), "width": fmt.count(width),
           "run": _join(sorted(set(perf["run_id"].astype(str)))), "aptx": None}
    if facts.get("aptx") and not math.isnan(facts.get("aptx_original_s", math.nan)):
        best = min(facts["aptx"])
        out["aptx"] = {"best_ms": fmt.num(1e3 * best[0], 1), "best_framework": _fw(best[1]),
                       "best_mode": best[2],
                       "original_ms": fmt.count(round(1e3 * facts["aptx_original_s"])),
                       "original_mib": fmt.count(round(facts["aptx_original_b"] / 2**20)),
                       "speedup": fmt.num(facts["aptx_original_s"] / best[0], 0)}
    return out


# ----------------------------------------------------------------------------------------------
# Figures and table files


def files_under(root: Path, folder: str, suffix: str, relative_to: Path,
                prefix: str = "") -> list[dict]:
    """Every ``*suffix`` file under ``root/folder``, sorted, with a path relative to the paper.

    ``name`` is the path under the folder, after ``prefix`` (an archived report's name).
    """
    base = root / folder
    if not base.is_dir():
        return []
    out = []
    for path in sorted(base.rglob(f"*{suffix}")):
        rel = Path(os.path.relpath(path, relative_to)).as_posix()
        name = prefix + path.relative_to(base).as_posix()
        out.append({"path": rel, "raw": Tex(rel), "name": name,
                    "stem": path.stem, "group": path.parent.relative_to(base).as_posix()})
    return out


