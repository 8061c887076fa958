"""The results store: one record file per finished trial, run manifests, tidy rows.

Layout of a results directory (design §7)::

    results/
      .lock                  held (flock) by the run writing here; holds its pid
      trials/<key>.json      one record per trial, written atomically by suites/run.py
      trials/superseded/     records replaced by a rerun of the same trial under other code
      runs/<run_id>.json     one manifest per run (provenance, resolved config, counts)
      rows.parquet, rows.csv consolidated rows (write_results), derived, never the source
      trials.csv             the trials table (write_results)

Records are the source of truth: ``load_results`` reads them directly, so the store is usable
after a run was killed. A record is ``{"payload": {...}, "sha256": ...}`` where the hash covers
the canonical JSON of the payload, so a torn or edited file is detected and recomputed instead
of silently read.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import math
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

TRIALS_DIR = "trials"
SUPERSEDED_DIR = "superseded"
RUNS_DIR = "runs"
LOCK_NAME = ".lock"

#: Columns every row has, with their type (None allowed where the column does not apply,
#: e.g. no dataset for an equivalence check; the key itself must be present).
REQUIRED: dict[str, type] = {
    "run_id": str, "suite": str, "protocol": str, "unit": str, "framework": str, "mode": str,
    "device": str, "dtype": str, "dataset": str, "split": str, "fold": int, "seed": int,
    "epoch": int, "metric": str, "value": float, "n_params": int, "trial_key": str,
}
#: Columns a row may have.
OPTIONAL: dict[str, type] = {
    "status": str, "variant": str, "kernel": str, "selection": str, "tolerance": float,
    "passed": bool, "detail": str, "profile": str,
    # the shape of a performance case (rows per sample and output features)
    "batch": int, "width": int,
}
SCHEMA: dict[str, type] = {**REQUIRED, **OPTIONAL}
#: Columns that identify who/when, not what was measured: differ between identical reruns.
RUN_COLUMNS = ("run_id",)
#: Deterministic row order of the consolidated tables.
SORT_COLUMNS = ("suite", "protocol", "unit", "framework", "mode", "device", "dtype", "dataset",
                "split", "fold", "seed", "trial_key", "_row")
TRIAL_COLUMNS = ("key", "suite", "label", "status", "error", "diverged_epoch", "wall_s", "fn",
                 "run_id", "started", "finished")


class SchemaError(ValueError):
    """A row does not fit the tidy schema; the message names the column."""


class ResultsLocked(RuntimeError):
    """Another run holds the results directory."""


# -- schema --------------------------------------------------------------------------------


def _type_ok(value: Any, kind: type) -> bool:
    if value is None:
        return True
    if kind is bool:
        return isinstance(value, bool)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, kind)


def validate_row(row: Mapping[str, Any], where: str = "row") -> None:
    """Raise SchemaError naming unknown, missing or mistyped columns."""
    unknown = sorted(set(row) - set(SCHEMA))
    if unknown:
        raise SchemaError(f"{where}: unknown column(s) {', '.join(unknown)}; known: {', '.join(SCHEMA)}")
    missing = [c for c in REQUIRED if c not in row]
    if missing:
        raise SchemaError(f"{where}: missing column(s) {', '.join(missing)}")
    for column, value in row.items():
        kind = SCHEMA[column]
        if not _type_ok(value, kind):
            raise SchemaError(f"{where}: column {column!r} must be {kind.__name__} or None, "
                              f"got {type(value).__name__} {value!r}")


def validate_rows(rows: Iterable[Mapping[str, Any]]) -> None:
    for index, row in enumerate(rows):
        validate_row(row, f"row {index}")


# -- records -------------------------------------------------------------------------------


def canonical_json(data: Any) -> str:
    """Sorted keys, no whitespace: the bytes that hashes are taken of. NaN/inf are kept
    (JSON extension tokens) because a failed check's error is legitimately infinite."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), allow_nan=True)


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


#: errno values that mean the file system is out of room (a full disk or a spent quota).
NO_SPACE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})


class StoreWriteError(OSError):
    """A file of the results store could not be written; the message names the path and says
    "disk full" when the disk (or quota) ran out, so a user knows what to free and where.

    Nothing partial is left behind: the temporary file is removed and the target keeps its
    previous content (or stays absent), so a rerun recomputes exactly what was not stored.
    """

    def __init__(self, path: Path, error: OSError) -> None:
        self.path = Path(path)
        self.disk_full = error.errno in NO_SPACE_ERRNOS
        reason = ("disk full (no space left on device)" if self.disk_full
                  else error.strerror or str(error))
        super().__init__(error.errno, reason, str(path))
        self.message = (f"cannot write {path}: {reason}; nothing partial was kept, and the trials "
                        "recorded before it are safe: free space and rerun to compute the rest")

    def __str__(self) -> str:
        return self.message

    def __reduce__(self):
        return (_rebuild_write_error, (str(self.path), self.errno, self.strerror))


def _rebuild_write_error(path: str, number: int | None, reason: str | None) -> StoreWriteError:
    return StoreWriteError(Path(path), OSError(number, reason))


def _write_data(fh: Any, data: bytes) -> None:
    """The store's one low-level write: every store file's bytes go through here (a test
    replaces it to inject a full disk part-way through a file)."""
    fh.write(data)


def write_atomic(path: Path, text: str) -> None:
    """tmp file + fsync + os.replace: a reader sees the old file or the new one, never half.

    A failed write (a full disk, most often) removes the temporary file and raises
    StoreWriteError naming ``path``: a half-written tmp file must not fill the disk further,
    and the target is never touched before its new bytes are safely on disk.
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tmp.open("wb") as fh:
            _write_data(fh, text.encode("utf-8"))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as error:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise StoreWriteError(path, error) from error
    _fsync_dir(path.parent)


def trials_dir(results_dir: Path) -> Path:
    return Path(results_dir) / TRIALS_DIR


def record_path(results_dir: Path, key: str) -> Path:
    return trials_dir(results_dir) / f"{key}.json"


def write_record(results_dir: Path, payload: Mapping[str, Any]) -> Path:
    """Write one trial record (payload plus its sha256) atomically."""
    body = canonical_json(payload)
    digest = hashlib.sha256(body.encode()).hexdigest()
    path = record_path(results_dir, payload["key"])
    write_atomic(path, '{"payload":' + body + ',"sha256":"' + digest + '"}\n')
    return path


def read_record(path: Path) -> dict[str, Any] | None:
    """The payload of a record file, or None if it is missing, torn or does not match its hash."""
    try:
        data = json.loads(Path(path).read_text())
        payload = data["payload"]
        if hashlib.sha256(canonical_json(payload).encode()).hexdigest() != data["sha256"]:
            return None
        if payload.get("key") != Path(path).stem:
            return None
        return payload
    except (OSError, ValueError, KeyError, TypeError):
        return None


def iter_records(results_dir: Path) -> Iterator[dict[str, Any]]:
    """Every valid record, in file-name order (invalid ones are skipped: they get recomputed)."""
    folder = trials_dir(results_dir)
    if not folder.is_dir():
        return
    for path in sorted(folder.glob("*.json")):
        payload = read_record(path)
        if payload is not None:
            yield payload


def _latest_per_identity(records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """One record per (suite, fn, config): the most recently finished. Guards against a run
    killed between writing a new record and retiring the one it supersedes."""
    chosen: dict[str, dict[str, Any]] = {}
    for record in records:
        identity = record.get("identity") or record["key"]
        if identity not in chosen or record.get("finished", "") > chosen[identity].get("finished", ""):
            chosen[identity] = record
    return sorted(chosen.values(), key=lambda r: r["key"])


def load_records(results_dir: Path, *, suite: str | None = None,
                 keys: Iterable[str] | None = None) -> list[dict[str, Any]]:
    wanted = set(keys) if keys is not None else None
    records = [r for r in iter_records(results_dir)
               if (suite is None or r.get("suite") == suite) and (wanted is None or r["key"] in wanted)]
    return _latest_per_identity(records)


def identity_index(results_dir: Path, identities: Iterable[str] | None = None) -> dict[str, set[str]]:
    """Keys of the valid records per trial identity (only ``identities``, when given): read once
    by the runner, so retiring superseded records costs nothing per trial."""
    wanted = set(identities) if identities is not None else None
    index: dict[str, set[str]] = {}
    for record in iter_records(results_dir):
        identity = record.get("identity")
        if identity and (wanted is None or identity in wanted):
            index.setdefault(identity, set()).add(record["key"])
    return index


def retire_superseded(results_dir: Path, record: Mapping[str, Any],
                      candidates: Iterable[str] | None = None) -> list[Path]:
    """Move records of the same trial identity but another key (other code) out of the way.

    ``candidates``: the keys that may share the identity (from :func:`identity_index`); without
    it every record is read, which makes a run quadratic in the size of the store.
    """
    moved: list[Path] = []
    identity = record.get("identity")
    if not identity:
        return moved
    target = trials_dir(results_dir) / SUPERSEDED_DIR
    if candidates is None:
        others: Iterable[dict[str, Any]] = iter_records(results_dir)
    else:
        others = (r for r in (read_record(record_path(results_dir, k)) for k in sorted(candidates))
                  if r is not None)
    for other in others:
        if other.get("identity") == identity and other["key"] != record["key"]:
            target.mkdir(parents=True, exist_ok=True)
            src = record_path(results_dir, other["key"])
            os.replace(src, target / src.name)
            moved.append(target / src.name)
    return moved


def delete_suite(results_dir: Path, suite: str) -> int:
    """Remove every record of one suite (``--fresh``); returns how many. Caller holds the lock."""
    count = 0
    for record in list(iter_records(results_dir)):
        if record.get("suite") == suite:
            record_path(results_dir, record["key"]).unlink(missing_ok=True)
            count += 1
    return count


# -- lock ----------------------------------------------------------------------------------


@contextlib.contextmanager
def lock(results_dir: Path) -> Iterator[Path]:
    """Hold ``results_dir/.lock`` (non-blocking flock) or raise ResultsLocked naming the holder.

    flock is released by the kernel when the holder dies, so a SIGKILLed run never leaves a
    stale lock behind; the pid in the file is only for the message.
    """
    results_dir = Path(results_dir)
    results_dir.mkdir(parents=True, exist_ok=True)
    path = results_dir / LOCK_NAME
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            if error.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
            raise ResultsLocked(f"results directory {results_dir} is in use by another run "
                                f"(pid {holder}); wait for it to finish or choose another "
                                "--results-dir") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield path
    finally:
        os.close(fd)  # closing the descriptor releases the flock


# -- manifests -----------------------------------------------------------------------------


def write_manifest(results_dir: Path, manifest: Mapping[str, Any]) -> Path:
    path = Path(results_dir) / RUNS_DIR / f"{manifest['run_id']}.json"
    write_atomic(path, json.dumps(manifest, indent=2, sort_keys=True, default=str) + "\n")
    return path


def load_manifests(results_dir: Path) -> list[dict[str, Any]]:
    """Every run manifest, oldest first (a torn one is skipped)."""
    folder = Path(results_dir) / RUNS_DIR
    manifests = []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else ():
        try:
            manifests.append(json.loads(path.read_text()))
        except (OSError, ValueError):
            continue
    return sorted(manifests, key=lambda m: (m.get("started") or "", m.get("run_id", "")))


# -- tables --------------------------------------------------------------------------------


def _pandas_dtype(kind: type) -> str:
    return {str: "string", int: "Int64", float: "float64", bool: "boolean"}[kind]


def rows_frame(rows: Sequence[Mapping[str, Any]]):
    """Typed, deterministically sorted DataFrame of rows (every required column present)."""
    import pandas as pd

    present = [c for c in SCHEMA if c in REQUIRED or any(c in r for r in rows)]
    data = {c: [r.get(c) for r in rows] for c in present}
    data["_row"] = [r.get("_row", i) for i, r in enumerate(rows)]
    frame = pd.DataFrame(data)
    for column in present:
        kind = SCHEMA[column]
        if kind is float:
            frame[column] = pd.to_numeric(frame[column].astype(object).where(frame[column].notna(), math.nan),
                                          errors="raise").astype("float64")
        else:
            frame[column] = frame[column].astype(_pandas_dtype(kind))
    frame = frame.sort_values(list(SORT_COLUMNS), kind="mergesort", na_position="first")
    return frame.drop(columns="_row").reset_index(drop=True)


def load_results(results_dir: Path, *, suite: str | None = None, keys: Iterable[str] | None = None,
                 statuses: Sequence[str] = ("ok", "diverged")):
    """Rows of every finished trial (ok and diverged; failed trials have none) from the records."""
    rows = []
    for record in load_records(results_dir, suite=suite, keys=keys):
        if record["status"] in statuses:
            rows.extend({**row, "_row": i} for i, row in enumerate(record["rows"]))
    return rows_frame(rows)


def load_trials(results_dir: Path, *, suite: str | None = None, keys: Iterable[str] | None = None):
    """One line per trial: key, suite, label, status, error, diverged_epoch, wall_s, ..."""
    import pandas as pd

    records = load_records(results_dir, suite=suite, keys=keys)
    frame = pd.DataFrame([{c: r.get(c) for c in TRIAL_COLUMNS} for r in records],
                         columns=list(TRIAL_COLUMNS))
    frame["diverged_epoch"] = frame["diverged_epoch"].astype("Int64")
    return frame.sort_values(["suite", "key"], kind="mergesort").reset_index(drop=True)


def write_results(results_dir: Path) -> list[Path]:
    """Consolidate every record into rows.parquet, rows.csv and trials.csv (atomically)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    results_dir = Path(results_dir)
    frame = load_results(results_dir)
    arrow_types = {str: pa.string(), int: pa.int64(), float: pa.float64(), bool: pa.bool_()}
    schema = pa.schema([(c, arrow_types[SCHEMA[c]]) for c in frame.columns])
    table = pa.Table.from_pandas(frame, schema=schema, preserve_index=False)
    parquet = results_dir / "rows.parquet"
    tmp = results_dir / f".rows.parquet.{os.getpid()}.tmp"
    try:
        pq.write_table(table, tmp)
        os.replace(tmp, parquet)
    except OSError as error:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise StoreWriteError(parquet, error) from error
    csv_path = results_dir / "rows.csv"
    write_atomic(csv_path, frame.to_csv(index=False))
    trials_path = results_dir / "trials.csv"
    write_atomic(trials_path, load_trials(results_dir).to_csv(index=False))
    return [parquet, csv_path, trials_path]


__all__ = [
    "OPTIONAL",
    "REQUIRED",
    "SCHEMA",
    "ResultsLocked",
    "SchemaError",
    "StoreWriteError",
    "delete_suite",
    "load_manifests",
    "load_records",
    "load_results",
    "load_trials",
    "lock",
    "read_record",
    "retire_superseded",
    "rows_frame",
    "validate_row",
    "validate_rows",
    "write_manifest",
    "write_record",
    "write_results",
]
