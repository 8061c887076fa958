"""``neuronbench data verify`` and ``data info`` logic, without any printing.

:func:`verify_dataset` checks every file of a dataset (size and pinned digest; optional files and
archives when present), then parses the required files and compares rows, classes and class counts
with the values pinned in the registry. It never raises for a data problem: each problem becomes a
failed :class:`FileReport` / :class:`DatasetReport` with the error message.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .errors import ChecksumError, DataError, MissingDataError
from .fetch import _archive_as_file, fetch_file
from .integrity import VerifiedFile, verify_file
from .registry import DatasetSpec, get_spec
from .root import resolve_data_root


@dataclass
class FileReport:
    dataset: str
    file: str  # relative to the data root
    status: str  # "ok", "missing", "checksum mismatch", "error", "absent (optional)"
    size: int | None = None
    sha256: str | None = None
    version: str = ""  # "original", "reconstruction", "archive"...
    message: str = ""

    @property
    def ok(self) -> bool:
        return self.status in ("ok", "absent (optional)")


@dataclass
class DatasetReport:
    name: str
    root: str
    files: list[FileReport] = field(default_factory=list)
    rows: str = ""
    classes: str = ""
    checks: list[str] = field(default_factory=list)  # content problems
    errors: list[str] = field(default_factory=list)  # messages of failed files / parsing

    @property
    def ok(self) -> bool:
        return all(f.ok for f in self.files) and not self.checks and not self.errors


def _file_report(spec_name: str, relpath: str, fn) -> tuple[FileReport, VerifiedFile | None]:
    try:
        v: VerifiedFile = fn()
    except MissingDataError as e:
        return FileReport(spec_name, relpath, "missing", message=str(e)), None
    except ChecksumError as e:
        return (
            FileReport(
                spec_name,
                relpath,
                "checksum mismatch",
                e.actual_size,
                e.actual_sha256,
                message=str(e),
            ),
            None,
        )
    except (DataError, OSError) as e:
        return FileReport(spec_name, relpath, "error", message=f"{type(e).__name__}: {e}"), None
    version = v.origin if v.source == "file" else f"{v.origin}, {v.source}"
    return FileReport(spec_name, relpath, "ok", v.digest.size, v.digest.sha256, version), v


def verify_dataset(
    name: str | DatasetSpec,
    data_dir: str | os.PathLike[str] | None = None,
    *,
    download: bool | None = None,
    progress: bool = True,
) -> DatasetReport:
    """Check one dataset under the data root; see the module docstring."""
    spec = name if isinstance(name, DatasetSpec) else get_spec(name)
    root = resolve_data_root(data_dir)
    report = DatasetReport(spec.name, str(root))
    verified: dict[str, VerifiedFile] = {}
    for f in spec.files:
        path = root / f.relpath
        if not f.required and not path.is_file():
            report.files.append(FileReport(spec.name, f.relpath, "absent (optional)"))
            continue
        fr, v = _file_report(
            spec.name,
            f.relpath,
            lambda f=f: fetch_file(f, root, download=download, progress=progress),
        )
        report.files.append(fr)
        if v is not None and f.required:
            verified[f.name] = v
        if fr.message:
            report.errors.append(fr.message)
    for archive in spec.archives:
        path = root / archive.relpath
        if path.is_file():
            aspec = _archive_as_file(spec.files[0], archive)
            fr, _ = _file_report(
                spec.name,
                archive.relpath,
                lambda a=aspec, p=path: verify_file(a, p, keep_bytes=False),
            )
            fr.version = "archive" if fr.ok else fr.version
            report.files.append(fr)
            if fr.message:
                report.errors.append(fr.message)
    if len(verified) == len(spec.required_files):
        try:
            _check_content(spec, verified, report)
        except DataError as e:
            report.errors.append(f"{type(e).__name__}: {e}")
    return report


def _counts(y: np.ndarray, k: int) -> tuple[int, ...]:
    return tuple(int(c) for c in np.bincount(y, minlength=k))


def _check_content(
    spec: DatasetSpec, files: dict[str, VerifiedFile], report: DatasetReport
) -> None:
    from . import loaders

    exp: dict[str, Any] = dict(spec.expected)
    got_rows: dict[str, int] = {}
    got_counts: dict[str, tuple[int, ...]] = {}
    if spec.name == "mnist":
        a = loaders.mnist_arrays(files)
        for s in ("train", "test"):
            got_rows[s] = int(a[f"y_{s}"].size)
            got_counts[s] = _counts(a[f"y_{s}"], 10)
        report.classes = "10"
    elif spec.name == "cifar10":
        a = loaders.cifar10_arrays(files)
        for s in ("train", "test"):
            got_rows[s] = int(a[f"y_{s}"].size)
            got_counts[s] = _counts(a[f"y_{s}"], 10)
        if tuple(a["class_names"]) != tuple(exp["class_names"]):
            report.checks.append(f"class names {a['class_names']} != {exp['class_names']}")
        report.classes = "10"
    elif spec.name == "adult":
        train, test = loaders.adult_parts(files)
        for s, part in (("adult.data", train), ("adult.test", test)):
            got_rows[s] = int(part.y.size)
            got_counts[s] = _counts(part.y, 2)
            if int(part.missing.sum()) != exp["rows_with_missing"][s]:
                report.checks.append(
                    f"{s}: {int(part.missing.sum())} rows with '?', expected "
                    f"{exp['rows_with_missing'][s]}"
                )
        keep = ~train.missing
        width = train.numeric.shape[1] + sum(
            np.unique(train.categorical[keep, j]).size for j in range(train.categorical.shape[1])
        )
        if width != exp["onehot_width"]:
            report.checks.append(f"one-hot width {width}, expected {exp['onehot_width']}")
        report.classes = "2"
    elif spec.name == "magic":
        from .formats import parse_magic

        _, y = parse_magic(files["magic04.data"].data or b"", name="magic04.data")
        got_rows["all"] = int(y.size)
        got_counts["all"] = _counts(y, 2)
        report.classes = "2"
    elif spec.name == "ccpp":
        from .formats import parse_ccpp_xlsx

        _, y = parse_ccpp_xlsx(files["Folds5x2_pp.xlsx"].data or b"", name="Folds5x2_pp.xlsx")
        got_rows["all"] = int(y.size)
        lo, hi = exp["target_range"]
        if (round(float(y.min()), 2), round(float(y.max()), 2)) != (lo, hi):
            report.checks.append(f"PE range {y.min()}-{y.max()}, expected {lo}-{hi}")
        report.classes = f"none (PE {y.min():.2f}-{y.max():.2f})"
    report.rows = ", ".join(f"{k} {v}" for k, v in got_rows.items())
    if got_rows != dict(exp["rows"]):
        report.checks.append(f"rows {got_rows}, expected {dict(exp['rows'])}")
    for s, counts in got_counts.items():
        want = tuple(exp.get("class_counts", {}).get(s, ()))
        if want and counts != want:
            report.checks.append(f"{s}: class counts {counts}, expected {want}")
    if got_counts:
        bad = any("class counts" in c for c in report.checks)
        report.classes += " (counts differ)" if bad else " (counts match)"


def verify_all(
    names: list[str] | None = None,
    data_dir: str | os.PathLike[str] | None = None,
    *,
    download: bool | None = None,
    progress: bool = True,
) -> list[DatasetReport]:
    from .registry import DATASET_NAMES

    reports = []
    for n in names or list(DATASET_NAMES):
        try:
            reports.append(verify_dataset(n, data_dir, download=download, progress=progress))
        except (OSError, DataError) as error:
            # One unreadable folder (permissions, a file where a folder belongs) fails that
            # dataset's row; the others are still verified and reported.
            folder = resolve_data_root(data_dir) / get_spec(n).name
            report = DatasetReport(get_spec(n).name, str(resolve_data_root(data_dir)))
            report.files.append(FileReport(report.name, report.name, "error",
                                           message=f"{type(error).__name__}: {error}"))
            report.errors.append(f"cannot read {folder}: {type(error).__name__}: {error}")
            reports.append(report)
    return reports


__all__ = ["DatasetReport", "FileReport", "verify_all", "verify_dataset"]
