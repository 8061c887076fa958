"""The report stage: read the results store, write tables, figures and the rows behind them.

It reads only the store (``suites.results.load_results`` / ``load_manifests``), never trains or
measures anything, and writes only under ``out_dir`` (``reports/`` by default, design §7: no other
command writes there). Its output is a pure function of the rows and manifests, so rebuilding from
unchanged results gives byte-identical files and a diff of ``reports/`` shows only real changes.

Layout written::

    <out>/tables/     accuracy tables (md, csv, tex), framework agreement, Wilcoxon/Holm
    <out>/figures/    learning curves and accuracy dot plots (png at 150 dpi, pdf)
    <out>/results/    accuracy_rows.csv (every row a table or figure uses), manifests.json (the
                      runs those rows came from), index.json (every file written, with sha256)
    <out>/equivalence/  the parity matrix, when suites.equivalence.report.write_report takes rows
    <out>/tables/performance/, <out>/results/performance/
                      the layer benchmark's table and the rows and manifests behind it

Files this build did not write are removed from the top level of tables/, figures/ and
results/ and from the sub-folders of every profile (and suite) the store holds rows of, so a
unit or protocol that left the results does not linger in the committed report. The folders of
a profile the store holds no rows of are left as they are (a quick rebuild from a fresh store
keeps the committed paper profile), and so is the paper stage's claims table.

A build writes every file into a staging folder inside the report folder
(``<out>/.building-<pid>-<hex>``) and only when all of them are written moves each into place
with ``os.replace`` (then writes nothing else but the prune): an exception or a kill while the
tables and figures are drawn leaves the previous report exactly as it was, never half old and
half new. A staging folder left by a killed build is removed by the next build.
"""

from __future__ import annotations

import fnmatch
import hashlib
import inspect
import json
import logging
import os
import secrets
import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from suites.report import figures, tables
from suites.report import tabular as report_tabular

log = logging.getLogger("neuronbench.report")

#: Sub-folders of the report directory owned by this stage (pruned of stale files).
OWNED_DIRS = ("tables", "figures", "results")
#: Suites whose outputs can be rebuilt alone (``build_report(only=...)``): the folders they own.
#: A partial build rewrites and prunes only these, so ``nox -s perf`` on a checkout whose
#: results store holds no accuracy rows leaves the committed accuracy reports alone.
PARTIAL_DIRS: dict[str, tuple[str, ...]] = {
    "performance": ("tables/performance", "figures/performance", "results/performance"),
}

#: Name prefix of the folder a build writes into before its files replace the report's (inside
#: the report folder, so the final os.replace never crosses a file system).
STAGING_PREFIX = ".building-"

#: The vision protocol, whose rows are written apart from the MNIST ones.
CIFAR_PROTOCOL = "cifar10"

#: Deterministic order of the rows written to results/ (the store's own order, where present).
ROW_ORDER = ("suite", "protocol", "variant", "unit", "framework", "mode", "device", "dtype",
             "dataset", "selection", "split", "metric", "fold", "seed", "epoch", "trial_key")


def _load_rows(results_dir: Path) -> pd.DataFrame:
    """Rows from the store's records; falls back to the consolidated rows file if the store module
    is unavailable (e.g. a report rebuilt from an archived results folder)."""
    try:
        from suites.results import load_results
    except ImportError:
        for name, reader in (("rows.parquet", pd.read_parquet), ("rows.csv", pd.read_csv)):
            if (results_dir / name).is_file():
                return reader(results_dir / name)
        raise
    return load_results(results_dir)


def _load_manifests(results_dir: Path) -> list[dict[str, Any]]:
    try:
        from suites.results import load_manifests
    except ImportError:
        folder = results_dir / "runs"
        return [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))] if folder.is_dir() else []
    return list(load_manifests(results_dir))


def manifests_by_run(manifests: Mapping[str, Mapping] | Iterable[Mapping] | None) -> dict[str, dict]:
    """Manifests keyed by run id, from a mapping or a list of manifests with a "run_id" key."""
    if manifests is None:
        return {}
    if isinstance(manifests, Mapping):
        return {str(k): dict(v) for k, v in manifests.items()}
    return {str(m["run_id"]): dict(m) for m in manifests if "run_id" in m}


def _sorted_rows(df: pd.DataFrame) -> pd.DataFrame:
    keys = [c for c in ROW_ORDER if c in df.columns]
    return df.sort_values(keys, kind="mergesort", na_position="first").reset_index(drop=True)


def rows_behind_report(accuracy: pd.DataFrame) -> pd.DataFrame:
    """The accuracy rows the tables and figures use: summary rows (any selection), per-epoch test
    accuracy (the curves) and per-epoch training time (the s/epoch column)."""
    selection = accuracy["selection"].fillna("") if "selection" in accuracy.columns else ""
    used = ((selection != "")
            | ((accuracy["split"] == "test") & (accuracy["metric"] == "accuracy"))
            | (accuracy["metric"] == "epoch_seconds"))
    return _sorted_rows(accuracy[used])


def portable_paths(value: Any) -> Any:
    """``value`` with every absolute path made machine-neutral, for files committed to reports/.

    Run manifests record where a run wrote (``results_dir``) and how it was called (``argv``)
    with absolute paths, which name the machine, not the result. Inside a virtual environment
    the path is kept from ``.nox``/``.venv`` on (``.nox/reproduce/bin/neuronbench``); any other
    absolute path keeps its last component (``results``). The raw manifests in the results
    store keep the full paths.
    """
    if isinstance(value, dict):
        return {k: portable_paths(v) for k, v in value.items()}
    if isinstance(value, list):
        return [portable_paths(v) for v in value]
    if isinstance(value, str) and value.startswith("/") and "\n" not in value and " " not in value:
        parts = Path(value).parts
        for marker in (".nox", ".venv"):
            if marker in parts:
                return str(Path(*parts[parts.index(marker):]))
        return parts[-1] if len(parts) > 1 else value
    return value


def _write_json(path: Path, data: Any) -> Path:
    return tables.write_text(path, json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")


def _equivalence_provenance(module: Any, rows: pd.DataFrame,
                            manifests: Mapping[str, Mapping]) -> dict[str, str]:
    """The parity report's header from the manifests of the runs behind ``rows``, never from now.

    Uses the equivalence module's own ``provenance_from_manifests`` when the manifests cover the
    runs (it falls back to the current machine and clock otherwise, which would make the report
    differ on every rebuild); else the run ids and whatever git sha the manifests record.
    """
    run_ids = sorted({str(r) for r in rows["run_id"].dropna().unique()})
    known = [dict(manifests[r]) for r in run_ids if r in manifests]
    from_manifests = getattr(module, "provenance_from_manifests", None)
    if known and from_manifests is not None:
        return from_manifests(known, set(run_ids))
    lines = tables.provenance_lines(rows, manifests)
    return {"runs": ", ".join(run_ids), "git sha": lines[1].removeprefix("- git sha: ")}


def _equivalence(rows: pd.DataFrame, out_dir: Path,
                 manifests: Mapping[str, Mapping]) -> list[Path]:
    """Hand equivalence rows to suites.equivalence.report.write_report(rows, out_dir[, provenance]).

    Skipped, with a logged notice, when that function is missing or does not take the rows yet;
    a ValueError from it (e.g. no parity rows among them) is logged, not fatal, so the accuracy
    report is still written.
    """
    if rows.empty:
        return []
    try:
        from suites.equivalence import report as equivalence_report
    except ImportError:
        log.info("equivalence: %d rows, but suites.equivalence.report is not available; skipped",
                 len(rows))
        return []
    write_report = getattr(equivalence_report, "write_report", None)
    if write_report is None:
        log.info("equivalence: %d rows, but suites.equivalence.report has no write_report; "
                 "skipped", len(rows))
        return []
    parameters = inspect.signature(write_report).parameters
    kwargs: dict[str, Any] = {}
    if "provenance" in parameters:
        kwargs["provenance"] = _equivalence_provenance(equivalence_report, rows, manifests)
    try:
        inspect.signature(write_report).bind(rows, out_dir, **kwargs)
    except TypeError:
        log.info("equivalence: %d rows, but write_report does not take (rows DataFrame, out_dir) "
                 "yet; skipped", len(rows))
        return []
    try:
        written = write_report(rows, out_dir, **kwargs)
    except ValueError as error:
        log.warning("equivalence report not written: %s", error)
        return []
    log.info("equivalence report from %d rows", len(rows))
    return [Path(p) for p in written] if written else []


#: Files under the owned folders that later stages write (relative to the report folder,
#: fnmatch patterns): the paper stage's claims table. Never pruned here, so ``neuronbench
#: report`` alone does not delete what ``neuronbench paper`` wrote.
OTHER_STAGES_FILES = ("tables/claims.*",)


def _prune(out_dir: Path, written: set[Path], folders: tuple[str, ...] = OWNED_DIRS) -> None:
    """Remove files of the owned sub-folders that this build did not write (stale outputs)."""
    for sub in folders:
        folder = out_dir / sub
        if not folder.is_dir():
            continue
        for path in sorted(folder.rglob("*")):
            relative = path.relative_to(out_dir).as_posix()
            if any(fnmatch.fnmatch(relative, pattern) for pattern in OTHER_STAGES_FILES):
                continue
            if not _in_folders(relative, folders):
                continue
            if path.is_file() and path.resolve() not in written:
                log.info("removing stale %s", path)
                path.unlink()


def _profiles_in(rows: pd.DataFrame) -> set[str]:
    """The profile folders the accuracy rows fill (rows without a profile: "default")."""
    accuracy = rows[rows["suite"] == "accuracy"] if len(rows) else rows
    if accuracy.empty:
        return set()
    if "profile" not in accuracy.columns:
        return {"default"}
    return set(accuracy["profile"].astype("string").fillna("").replace("", "default").unique())


def _rebuilt_folders(rows: pd.DataFrame) -> tuple[str, ...]:
    """What a full build owns and prunes: the top level of tables/, figures/ and results/, and
    the sub-folders of the profiles (and suites) the store holds rows of. A profile the store
    has no rows of keeps its committed outputs: rebuilding the quick profile from a fresh store
    must not delete the paper profile's tables, which took hours to produce."""
    folders = [f"{d}/{name}" for d in OWNED_DIRS for name in sorted(_profiles_in(rows))]
    if len(rows) and (rows["suite"] == "performance").any():
        folders += PARTIAL_DIRS["performance"]
    return (*OWNED_DIRS, *folders)


def _in_folders(relative: str, folders: tuple[str, ...]) -> bool:
    """Whether a report path (posix, relative to the report folder) is owned by ``folders``:
    inside one of its sub-folders, or directly in one of its top-level folders."""
    parts = relative.split("/")
    for folder in folders:
        depth = folder.count("/") + 1
        if folder in OWNED_DIRS:
            if len(parts) == 2 and parts[0] == folder:
                return True
        elif parts[:depth] == folder.split("/") and len(parts) > depth:
            return True
    return False


def build_report(results_dir: Path | str | pd.DataFrame, out_dir: Path | str = "reports",
                 profile: str | None = None,
                 manifests: Mapping[str, Mapping] | Iterable[Mapping] | None = None,
                 baseline: str = "relu", only: str | None = None) -> list[Path]:
    """Build every table and figure from the results store; returns the paths written.

    ``only`` (a key of ``PARTIAL_DIRS``) rebuilds that suite's outputs alone: the rest of
    ``out_dir`` is neither rewritten nor pruned, and ``results/index.json`` keeps its other
    entries.

    ``results_dir`` is a results directory or, for tests, the rows themselves as a DataFrame (then
    ``manifests`` may be given directly). ``profile`` keeps only rows of that profile (rows without
    one are kept). ``baseline`` is the unit the paired tests compare against.
    """
    out_dir = Path(out_dir)
    if only is not None and only not in PARTIAL_DIRS:
        raise ValueError(f"a report of {only!r} alone is not supported; known: {', '.join(PARTIAL_DIRS)}")
    if isinstance(results_dir, pd.DataFrame):
        rows = results_dir.copy()
    else:
        rows = _load_rows(Path(results_dir))
        if manifests is None:
            manifests = _load_manifests(Path(results_dir))
    by_run = manifests_by_run(manifests)
    log.info("read %d rows from %d runs", len(rows), rows["run_id"].nunique() if len(rows) else 0)
    if profile and "profile" in rows.columns:
        row_profile = rows["profile"].astype("string").fillna("")
        keep = ((row_profile == "") | (row_profile == profile)).astype(bool)
        log.info("profile %s: %d of %d rows", profile, int(keep.sum()), len(rows))
        rows = rows[keep]

    folders = _rebuilt_folders(rows) if only is None else PARTIAL_DIRS[only]
    out_dir.mkdir(parents=True, exist_ok=True)
    _remove_abandoned_builds(out_dir)
    staging = out_dir / f"{STAGING_PREFIX}{os.getpid()}-{secrets.token_hex(3)}"
    try:
        written = _write_outputs(rows, staging, by_run, baseline, only)
        written.append(_write_index(written, staging, out_dir, folders))
        paths = _commit(written, staging, out_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    _prune(out_dir, {p.resolve() for p in paths}, folders)
    log.info("wrote %d files under %s", len(paths), out_dir)
    return paths


def _write_outputs(rows: pd.DataFrame, out_dir: Path, by_run: Mapping[str, Mapping], baseline: str,
                   only: str | None) -> list[Path]:
    """Every table, figure and rows file of the build, written under ``out_dir`` (the staging
    folder); returns the paths in the order they were written."""
    paths: list[Path] = []
    if only is None:
        paths += _accuracy_outputs(rows, out_dir, by_run, baseline)
        paths += _equivalence(rows[rows["suite"] == "equivalence"], out_dir / "equivalence", by_run)
    paths += _performance(rows[rows["suite"] == "performance"], out_dir, by_run)
    return paths


def _write_index(written: list[Path], staging: Path, out_dir: Path, folders: tuple[str, ...]) -> Path:
    """results/index.json (every file of the report with its sha256) into the staging folder:
    this build's files, plus the entries of the current report's index that this build does not
    own and whose files still exist."""
    index = {str(p.relative_to(staging)): hashlib.sha256(p.read_bytes()).hexdigest()
             for p in written if p.is_relative_to(staging)}
    if (out_dir / "results" / "index.json").is_file():
        old = json.loads((out_dir / "results" / "index.json").read_text()).get("files", {})
        kept = {k: v for k, v in old.items()
                if not _in_folders(k, folders) and (out_dir / k).is_file()}
        index = dict(sorted({**kept, **index}.items()))
    return _write_json(staging / "results" / "index.json", {"files": index})


def _commit(written: list[Path], staging: Path, out_dir: Path) -> list[Path]:
    """Move every staged file to its place in ``out_dir`` (os.replace: each file is swapped
    whole); returns the final paths in the order written. Renames only, so the window in which
    a kill could leave old and new files side by side is a few milliseconds, not the minutes
    the figures take to draw."""
    final: list[Path] = []
    for path in written:
        if not path.is_relative_to(staging):
            final.append(path)
            continue
        target = out_dir / path.relative_to(staging)
        if path.exists():  # a file returned twice was moved the first time
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(path, target)
        final.append(target)
    return final


def _remove_abandoned_builds(out_dir: Path) -> None:
    """Remove staging folders whose build is gone (killed before it could clean up); a build
    still running in another process keeps its folder."""
    for folder in out_dir.glob(f"{STAGING_PREFIX}*"):
        pid_text = folder.name.removeprefix(STAGING_PREFIX).split("-", 1)[0]
        if folder.is_dir() and not _process_alive(int(pid_text) if pid_text.isdigit() else None):
            log.info("removing %s, left by an interrupted build", folder)
            shutil.rmtree(folder, ignore_errors=True)


def _process_alive(pid: int | None) -> bool:
    if pid is None or pid == os.getpid():
        return False  # unparseable, or ours: this process is not building into it now
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists, owned by someone else
    return True


def _accuracy_outputs(rows: pd.DataFrame, out_dir: Path, by_run: Mapping[str, Mapping],
                      baseline: str) -> list[Path]:
    """Tables, figures and rows of the accuracy protocols (MNIST, uci-actmix, cifar10)."""
    paths: list[Path] = []
    accuracy = rows[rows["suite"] == "accuracy"]
    # The tabular protocol has tables of its own (folds, several metrics per task).
    tabular_rows = accuracy[accuracy["protocol"] == report_tabular.PROTOCOL]
    accuracy = accuracy[accuracy["protocol"] != report_tabular.PROTOCOL]
    if accuracy.empty:
        log.info("no accuracy rows: no accuracy tables or figures")
    # One set of outputs per profile (tables/<profile>/, figures/<profile>/, results/<profile>/):
    # a quick run and a paper run of one protocol measure different things and are never pooled.
    profiles = (accuracy["profile"].astype("string").fillna("").replace("", "default")
                if "profile" in accuracy.columns else pd.Series("default", index=accuracy.index))
    for name in sorted(profiles.unique()):
        part = accuracy[profiles == name]
        log.info("profile %s: tables from %d accuracy rows", name, len(part))
        paths += tables.write_tables(part, out_dir / "tables" / name, by_run, baseline=baseline)
        log.info("profile %s: figures", name)
        paths += figures.write_figures(part, out_dir / "figures" / name)
        behind = rows_behind_report(part)
        # The CIFAR-10 rows get files of their own (as uci-actmix does), the MNIST ones the rest.
        for stem, manifest_name, mask in (
                ("accuracy_rows", "manifests", behind["protocol"] != CIFAR_PROTOCOL),
                ("cifar10_rows", "cifar10_manifests", behind["protocol"] == CIFAR_PROTOCOL)):
            chosen = behind[mask]
            if chosen.empty and stem != "accuracy_rows":
                continue
            paths.append(tables.write_text(out_dir / "results" / name / f"{stem}.csv",
                                           chosen.to_csv(index=False, lineterminator="\n")))
            run_ids = sorted({str(r) for r in chosen["run_id"].dropna().unique()})
            missing = [r for r in run_ids if r not in by_run]
            if missing:
                log.warning("no manifest for runs: %s", ", ".join(missing))
            paths.append(_write_json(out_dir / "results" / name / f"{manifest_name}.json",
                                     portable_paths({r: by_run[r] for r in run_ids if r in by_run})))
    if not tabular_rows.empty:
        profile_of = tabular_rows["profile"].astype("string").fillna("").replace("", "default")
        for name in sorted(profile_of.unique()):
            part = tabular_rows[profile_of == name]
            paths += report_tabular.write_uci_tables(part, out_dir / "tables" / name, by_run)
            paths += report_tabular.write_rank_outputs(part, out_dir / "tables" / name,
                                                       out_dir / "figures" / name, baseline=baseline)
            run_ids = sorted({str(r) for r in part["run_id"].dropna().unique()})
            paths.append(tables.write_text(out_dir / "results" / name / "uci-actmix_rows.csv",
                                           _sorted_rows(report_tabular.rows_behind(part))
                                           .to_csv(index=False, lineterminator="\n")))
            paths.append(_write_json(out_dir / "results" / name / "uci-actmix_manifests.json",
                                     portable_paths({r: by_run[r] for r in run_ids if r in by_run})))
    return paths


def _performance(performance: pd.DataFrame, out_dir: Path, by_run: Mapping[str, Mapping]) -> list[Path]:
    """Tables, figures and rows of the performance suite (none without its rows)."""
    if performance.empty:
        return []
    from suites.performance.figures import scaling_figures
    from suites.performance.table import scaling_table, write_layer_table, write_train_step_table

    paths = write_layer_table(performance, out_dir)
    paths += write_train_step_table(performance, out_dir)
    paths += scaling_figures(scaling_table(performance), out_dir / "figures" / "performance")
    run_ids = sorted({str(r) for r in performance["run_id"].dropna().unique()})
    paths.append(tables.write_text(out_dir / "results" / "performance" / "layer_rows.csv",
                                   _sorted_rows(performance).to_csv(index=False, lineterminator="\n")))
    paths.append(_write_json(out_dir / "results" / "performance" / "manifests.json",
                             portable_paths({r: by_run[r] for r in run_ids if r in by_run})))
    return paths
