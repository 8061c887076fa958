"""Read the committed report rows and manifests that the claims table and the paper are built from.

The paper stage works on a fresh clone without re-running anything, so it reads only what the
report stage committed under ``reports/``: the accuracy rows of every profile
(``results/<profile>/accuracy_rows.csv``, ``uci-actmix_rows.csv``, ``cifar10_rows.csv``) with
their manifests, the equivalence rows and the APTx checkpoint evaluation, the performance rows,
and archived reports (``reports/<name>/results/accuracy_rows.csv``: runs kept apart because their
store did not hold the other rows) whose rows join their own profile.

Required inputs missing raise ``MissingInputError`` naming the file, so a broken checkout fails
with a sentence rather than a KeyError deep in a template.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

#: Folders under ``results/`` that are not accuracy profiles.
NON_PROFILE_RESULTS = ("performance",)
#: Accuracy row files of one profile folder, and the manifests beside each.
ROW_FILES: tuple[tuple[str, str], ...] = (
    ("accuracy_rows.csv", "manifests.json"),
    ("uci-actmix_rows.csv", "uci-actmix_manifests.json"),
    ("cifar10_rows.csv", "cifar10_manifests.json"),
)
EQUIVALENCE_ROWS = "equivalence/rows.csv"
CHECKPOINT_ROWS = "equivalence/checkpoint.csv"
PARITY_PAGE = "equivalence/parity.md"
PERFORMANCE_ROWS = "results/performance/layer_rows.csv"
PERFORMANCE_MANIFESTS = "results/performance/manifests.json"
#: Columns that identify one row; an archived report merged into a store later repeats them.
ROW_KEY = ("run_id", "trial_key", "protocol", "dataset", "unit", "framework", "variant", "split",
           "metric", "selection", "epoch", "fold", "seed")
#: Text columns read as "" when empty, so filters compare strings with strings.
TEXT_COLUMNS = ("variant", "selection", "split", "dataset", "status", "kernel", "profile",
                "detail", "mode")


class MissingInputError(FileNotFoundError):
    """A file the paper needs is not under the reports folder (the message says which)."""


@dataclass(frozen=True)
class Inputs:
    """Everything the paper reads, already merged and filtered to one profile if asked."""

    reports_dir: Path
    rows: pd.DataFrame
    manifests: dict[str, dict]
    equivalence: pd.DataFrame
    checkpoint: pd.DataFrame
    performance: pd.DataFrame | None
    parity_header: dict[str, str]
    sources: tuple[str, ...]
    profiles: tuple[str, ...]
    requested_profile: str | None = None
    archived: tuple[str, ...] = field(default=())


def _relative(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix()


def _read_rows(path: Path) -> pd.DataFrame:
    frame = pd.read_csv(path, low_memory=False)
    for column in TEXT_COLUMNS:
        if column in frame.columns:
            values = frame[column].astype(object)
            frame[column] = values.where(values.notna(), "").astype(str)
        else:
            frame[column] = ""
    return frame


def _read_manifests(path: Path) -> dict[str, dict]:
    if not path.is_file():
        return {}
    data = json.loads(path.read_text(encoding="utf-8"))
    return {str(k): v for k, v in data.items()} if isinstance(data, dict) else {}


def _require(path: Path, root: Path, what: str) -> Path:
    if not path.is_file():
        raise MissingInputError(f"the paper needs {what}: {_relative(path, root)} is missing under "
                                f"{root.as_posix()} (run `neuronbench report`, or check out reports/)")
    return path


def parse_parity_header(path: Path) -> dict[str, str]:
    """The ``- key: value`` lines at the top of parity.md (git sha, runs, machine, versions).

    The equivalence rows carry no manifest of their own; the report stage printed the run's
    provenance at the top of parity.md, which is where the paper takes it from.
    """
    header: dict[str, str] = {}
    if not path.is_file():
        return header
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("- ") and ":" in line:
            key, value = line[2:].split(":", 1)
            header.setdefault(key.strip(), value.strip())
        elif line.startswith("|"):
            break
    return header


def _profile_dirs(root: Path) -> list[Path]:
    results = root / "results"
    if not results.is_dir():
        return []
    return sorted(p for p in results.iterdir() if p.is_dir() and p.name not in NON_PROFILE_RESULTS)


def _archived_dirs(root: Path) -> list[Path]:
    """Archived reports: ``reports/<name>/results/accuracy_rows.csv`` beside the main one."""
    return sorted(p.parent.parent for p in root.glob("*/results/accuracy_rows.csv"))


def load_inputs(reports_dir: Path | str, profile: str | None = None) -> Inputs:
    """Load every input under ``reports_dir``; keep only ``profile``'s accuracy rows if given.

    Accuracy rows are required (at least one file), and so are the equivalence rows and the
    checkpoint evaluation; performance rows and archived reports are optional.
    """
    root = Path(reports_dir)
    if not root.is_dir():
        raise MissingInputError(f"no reports folder at {root.as_posix()}")
    frames: list[pd.DataFrame] = []
    manifests: dict[str, dict] = {}
    sources: list[str] = []
    archived = _archived_dirs(root)
    folders = [*_profile_dirs(root), *(d / "results" for d in archived)]
    for folder in folders:
        for rows_name, manifest_name in ROW_FILES:
            path = folder / rows_name
            if path.is_file():
                frames.append(_read_rows(path))
                sources.append(_relative(path, root))
                manifests.update(_read_manifests(folder / manifest_name))
                if (folder / manifest_name).is_file():
                    sources.append(_relative(folder / manifest_name, root))
    if not frames:
        raise MissingInputError(f"the paper needs accuracy rows: no results/<profile>/accuracy_rows.csv "
                                f"under {root.as_posix()}")
    rows = pd.concat(frames, ignore_index=True, sort=False)
    key = [c for c in ROW_KEY if c in rows.columns]
    rows = rows.drop_duplicates(subset=key, keep="first").reset_index(drop=True)
    if profile is not None:
        rows = rows[rows["profile"] == profile].reset_index(drop=True)
        if rows.empty:
            raise MissingInputError(f"no accuracy rows of profile {profile!r} under "
                                    f"{root.as_posix()}/results")
    profiles = tuple(sorted({p for p in rows["profile"].unique() if p}))

    equivalence = pd.read_csv(_require(root / EQUIVALENCE_ROWS, root, "the equivalence rows"))
    checkpoint = pd.read_csv(_require(root / CHECKPOINT_ROWS, root, "the checkpoint evaluation"))
    sources += [EQUIVALENCE_ROWS, CHECKPOINT_ROWS]
    parity = parse_parity_header(root / PARITY_PAGE)
    if parity:
        sources.append(PARITY_PAGE)

    performance = None
    if (root / PERFORMANCE_ROWS).is_file():
        performance = _read_rows(root / PERFORMANCE_ROWS)
        sources.append(PERFORMANCE_ROWS)
        manifests.update(_read_manifests(root / PERFORMANCE_MANIFESTS))
        if (root / PERFORMANCE_MANIFESTS).is_file():
            sources.append(PERFORMANCE_MANIFESTS)

    used = set(rows["run_id"].astype(str)) | (
        set(performance["run_id"].astype(str)) if performance is not None else set())
    manifests = {k: manifests[k] for k in sorted(manifests) if k in used}
    return Inputs(reports_dir=root, rows=rows, manifests=manifests, equivalence=equivalence,
                  checkpoint=checkpoint, performance=performance, parity_header=parity,
                  sources=tuple(sorted(set(sources))), profiles=profiles,
                  requested_profile=profile,
                  archived=tuple(_relative(d, root) for d in archived))
