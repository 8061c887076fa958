"""The trial runner: plan a grid of pure trials, skip finished ones, run the rest anywhere.

A *trial* is a pure function ``fn(config: dict) -> list[dict]`` named by a dotted path
(``"package.module:function"``) so that a subprocess or a Dask worker can import it, plus a
JSON config. Its *key* hashes the suite, the function, the config and a *code fingerprint*
(the source of the packages the trial runs and the versions of the frameworks it uses), so a
result computed by other code is never reused: editing a listed source file changes the key
and the trial runs again. See docs/runner.md for the contract, the store layout and the
resume rules; in short:

* ``ok`` and ``diverged`` records are final and skipped on rerun; ``failed`` ones (and torn or
  corrupt records, detected by their sha256) run again;
* the parent process writes every record atomically the moment its trial finishes, so a
  SIGKILL loses at most the trials that were running;
* one run at a time per results directory (``flock`` on ``results_dir/.lock``);
* every trial runs under the determinism switch (``suites.settings.enable_determinism``) unless
  the caller turns it off, and its record says what was in force, beside the trial's seed;
* a Dask worker lost in the middle of a trial (``KilledWorker``) costs one retry of that trial,
  not a failed record; a record the disk has no room for stops the run with an error naming
  the file (``results.StoreWriteError``) and leaves nothing partial behind.
"""

from __future__ import annotations

import concurrent.futures as cf
import hashlib
import importlib
import importlib.machinery
import importlib.metadata
import importlib.util
import json
import multiprocessing
import os
import platform
import secrets
import sys
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import cache
from pathlib import Path
from typing import Any

from suites import results as store
from suites.results import ResultsLocked, SchemaError

__all__ = [
    "Diverged",
    "ResultsLocked",
    "RunSummary",
    "Trial",
    "code_fingerprint",
    "execute",
    "run_grid",
    "trial_key",
]

#: Statuses that are final results: a rerun skips them. ``failed`` is retried.
FINAL = ("ok", "diverged")
KEY_LENGTH = 20
EXECUTORS = ("processes", "inline", "dask")
#: Times the runner resubmits a trial whose Dask worker was lost (``KilledWorker``), on top of
#: the scheduler's own ``allowed-failures``: a worker killed from outside (OOM killer, a
#: pre-empted node) is not the trial's fault, while a trial that kills every worker it runs on
#: still ends as a failed record after one more try.
WORKER_LOSS_RETRIES = 1


# -- trials --------------------------------------------------------------------------------


class FrozenConfig(Mapping[str, Any]):
    """A read-only, hashable, picklable config, normalised through canonical JSON.

    Normalising (tuples become lists, keys sorted) makes two configs that serialise the same
    equal, so they get the same key; refusing what JSON cannot hold keeps keys reproducible.
    """

    __slots__ = ("_data", "_json")

    def __init__(self, data: Mapping[str, Any]) -> None:
        try:
            text = store.canonical_json(dict(data))
        except TypeError as error:
            raise TypeError(f"trial config must be JSON-serialisable: {error}") from None
        object.__setattr__(self, "_json", text)
        object.__setattr__(self, "_data", json.loads(text))

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __hash__(self) -> int:
        return hash(self._json)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, FrozenConfig):
            return self._json == other._json
        return isinstance(other, Mapping) and self._data == dict(other)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("FrozenConfig is read-only")

    def __reduce__(self):
        return (FrozenConfig, (self._data,))

    def __repr__(self) -> str:
        return f"FrozenConfig({self._json})"

    def to_dict(self) -> dict[str, Any]:
        """A deep, mutable copy (what a trial function receives)."""
        return json.loads(self._json)


@dataclass(frozen=True)
class Trial:
    """One unit of work: ``fn(config) -> rows``; see the module docstring."""

    suite: str
    fn: str
    config: Mapping[str, Any]
    code: tuple[str, ...]
    frameworks: tuple[str, ...] = ()
    label: str = ""

    def __post_init__(self) -> None:
        if ":" not in self.fn:
            raise ValueError(f"trial fn {self.fn!r} must be 'package.module:function'")
        object.__setattr__(self, "config", FrozenConfig(self.config))
        object.__setattr__(self, "code", tuple(self.code))
        object.__setattr__(self, "frameworks", tuple(self.frameworks))


class Diverged(Exception):
    """Raised by a trial function when its loss turns NaN/inf: a result, not an error.

    The rows measured before the divergence are kept and the epoch is recorded; a diverged
    trial is final (rerunning the same code and config diverges again).
    """

    def __init__(self, epoch: int, rows: list[dict], message: str = "") -> None:
        super().__init__(message or f"diverged at epoch {epoch}")
        self.epoch = int(epoch)
        self.rows = list(rows)
        self.message = message

    def __reduce__(self):
        return (Diverged, (self.epoch, self.rows, self.message))


# -- fingerprints and keys -----------------------------------------------------------------

_FILE_DIGESTS: dict[str, tuple[int, int, str]] = {}


def _find_spec(name: str) -> importlib.machinery.ModuleSpec | None:
    """Locate a module or package on sys.path without importing it (or its parents): a
    fingerprint must not import torch just to hash impls.torch's source."""
    parts = name.split(".")
    try:  # a top-level name imports nothing; meta-path finders (editable installs) are asked too
        spec = importlib.util.find_spec(parts[0])
    except (ImportError, ValueError):
        spec = None
    for part in parts[1:]:
        if spec is None or not spec.submodule_search_locations:
            return None
        spec = importlib.machinery.PathFinder.find_spec(part, list(spec.submodule_search_locations))
    return spec


def _source_files(name: str) -> list[tuple[str, Path]]:
    """(label, path) of every .py file of a package (recursively) or the file of a module."""
    spec = _find_spec(name)
    if spec is None:
        raise ValueError(f"trial code {name!r}: no such module or package on sys.path")
    if spec.submodule_search_locations:
        files = []
        for location in spec.submodule_search_locations:
            base = Path(location)
            files += [(f"{name}/{p.relative_to(base).as_posix()}", p) for p in base.rglob("*.py")
                      if "__pycache__" not in p.parts]
        return files
    if not spec.origin or not Path(spec.origin).is_file():
        raise ValueError(f"trial code {name!r}: has no source file")
    return [(f"{name}:{Path(spec.origin).name}", Path(spec.origin))]


def _file_digest(path: Path) -> str:
    """sha256 of a file, cached by (mtime, size) so a grid of thousands hashes each file once
    yet an edit made while the process lives is still seen."""
    stat = path.stat()
    cached = _FILE_DIGESTS.get(str(path))
    if cached and cached[:2] == (stat.st_mtime_ns, stat.st_size):
        return cached[2]
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    _FILE_DIGESTS[str(path)] = (stat.st_mtime_ns, stat.st_size, digest)
    return digest


@cache
def _version(distribution: str) -> str:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "absent"


def code_fingerprint(code: Iterable[str], frameworks: Iterable[str] = ()) -> str:
    """sha256 over the source of every listed package/module (sorted by path) and the versions
    of the listed distributions. Unknown code names raise: a typo must not hash nothing."""
    h = hashlib.sha256()
    files = sorted({label: path for name in set(code) for label, path in _source_files(name)}.items())
    for label, path in files:
        h.update(f"{label}\0{_file_digest(path)}\n".encode())
    for distribution in sorted(set(frameworks)):
        h.update(f"{distribution}=={_version(distribution)}\n".encode())
    return h.hexdigest()


def backend_code(framework: str) -> tuple[str, ...]:
    """The source a trial on ``framework`` runs inside impls/: everything that is not another
    framework's backend (spec and oracle, public API, registry, common helpers, training) plus
    that framework's backend. Found by listing, so a module added to impls/ is covered too, and
    an edit to the TF backend never invalidates a NumPy result."""
    from impls.registry import FRAMEWORKS, check_framework

    check_framework(framework)
    root = Path(__file__).resolve().parents[1] / "impls"
    names = [p.stem for p in root.glob("*.py")]
    names += [p.name for p in root.iterdir()
              if p.is_dir() and (p / "__init__.py").is_file() and p.name not in FRAMEWORKS]
    return (*sorted(f"impls.{n}" for n in names), f"impls.{framework}")


def _short_hash(data: Mapping[str, Any]) -> str:
    return hashlib.sha256(store.canonical_json(dict(data)).encode()).hexdigest()[:KEY_LENGTH]


def trial_identity(trial: Trial) -> str:
    """What the trial measures, whatever the code: reruns under new code supersede its record."""
    return _short_hash({"suite": trial.suite, "fn": trial.fn, "config": dict(trial.config)})


def trial_key(trial: Trial, fingerprint: str | None = None) -> str:
    """sha256 of canonical JSON {suite, fn, config, fingerprint}, first 20 hex digits."""
    fingerprint = fingerprint or code_fingerprint(trial.code, trial.frameworks)
    return _short_hash({"suite": trial.suite, "fn": trial.fn, "config": dict(trial.config),
                        "fingerprint": fingerprint})


# -- executing one trial (in any process) --------------------------------------------------


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def _plain(value: Any) -> Any:
    """NumPy scalars to Python ones (np.int64 is not an int; the schema wants an int)."""
    if hasattr(value, "item") and getattr(value, "shape", None) == ():
        return value.item()
    return value


def resolve(fn: str) -> Callable[[dict], list[dict]]:
    module, _, name = fn.partition(":")
    return getattr(importlib.import_module(module), name)


def execute(fn: str, config: Mapping[str, Any], frameworks: Sequence[str] = (),
            deterministic: bool = True) -> dict[str, Any]:
    """Run one trial function and report what happened; never raises for a trial's error.

    Runs in the worker; it does not touch the results directory (a Dask worker may be on
    another machine): the parent writes the record. With ``deterministic`` the determinism
    switch of the trial's ``frameworks`` (distributions) is turned on first, in this process,
    before the trial imports anything, and what it put in force is reported with the outcome.
    """
    from suites import settings

    started, t0 = _now(), time.perf_counter()
    outcome: dict[str, Any] = {"status": "ok", "rows": [], "error": None, "diverged_epoch": None,
                               "determinism": {"enabled": False}}
    try:
        if deterministic:
            outcome["determinism"] = {"enabled": True, **settings.enable_determinism(frameworks)}
        rows = resolve(fn)(json.loads(store.canonical_json(dict(config))))
        outcome["rows"] = list(rows)
    except Diverged as diverged:
        outcome.update(status="diverged", rows=list(diverged.rows), diverged_epoch=diverged.epoch,
                       error=str(diverged))
    except Exception:
        outcome.update(status="failed", rows=[], error=traceback.format_exc())
    outcome["rows"] = [{str(k): _plain(v) for k, v in row.items()} for row in outcome["rows"]]
    outcome.update(started=started, finished=_now(), wall_s=round(time.perf_counter() - t0, 6),
                   host=platform.node(), pid=os.getpid())
    return outcome


def _crashed(error: BaseException) -> dict[str, Any]:
    """Outcome of a trial whose worker died or whose future failed outside the trial."""
    text = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    return {"status": "failed", "rows": [], "error": f"worker failure: {text}", "diverged_epoch": None,
            "started": None, "finished": _now(), "wall_s": None, "host": None, "pid": None,
            "determinism": None}


# -- the grid ------------------------------------------------------------------------------


@dataclass
class RunSummary:
    """Counts of one run_grid call; ``failures`` holds (key, label, last error line)."""

    run_id: str
    results_dir: Path
    keys: tuple[str, ...] = ()
    ok: int = 0
    failed: int = 0
    diverged: int = 0
    skipped: int = 0
    failures: list[tuple[str, str, str]] = field(default_factory=list)
    wall_s: float = 0.0

    @property
    def total(self) -> int:
        return len(self.keys)

    @property
    def ran(self) -> int:
        return self.ok + self.failed + self.diverged

    def __str__(self) -> str:
        return (f"{self.total} trials: {self.ok} ok, {self.failed} failed, {self.diverged} diverged, "
                f"{self.skipped} skipped (finished earlier) in {self.wall_s:.1f} s; "
                f"results in {self.results_dir}")


@dataclass
class _Planned:
    trial: Trial
    key: str
    identity: str
    fingerprint: str

    @property
    def label(self) -> str:
        return self.trial.label or self.key


class _Progress:
    """Rich bar plus a line per running trial on a terminal; one plain line per finished trial
    otherwise (CI logs must stay readable and grep-able)."""

    def __init__(self, mode: Any, total: int) -> None:
        if mode is None or mode == "auto":
            mode = "rich" if sys.stderr.isatty() else "plain"
        if mode is False or mode == "off":
            mode = "off"
        self.mode, self.total, self.done = mode, total, 0
        self._bar = None
        if mode == "rich" and total:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                SpinnerColumn,
                TextColumn,
                TimeElapsedColumn,
            )

            self._bar = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                                 MofNCompleteColumn(), TimeElapsedColumn(),
                                 console=Console(stderr=True), transient=False)
            self._bar.start()
            self._grid = self._bar.add_task("grid", total=total)
            self._running: dict[str, Any] = {}

    def start(self, planned: _Planned) -> None:
        if self._bar is not None and planned.key not in self._running:  # a retry keeps its line
            self._running[planned.key] = self._bar.add_task(f"  {planned.trial.suite} {planned.label}",
                                                             total=None)

    def finish(self, planned: _Planned, payload: Mapping[str, Any]) -> None:
        self.done += 1
        wall = payload.get("wall_s")
        line = (f"[{self.done}/{self.total}] {planned.trial.suite} {planned.label}: {payload['status']}"
                + (f" in {wall:.1f} s" if wall is not None else ""))
        if payload["status"] == "diverged":
            line += f" (epoch {payload['diverged_epoch']})"
        if self._bar is not None:
            task = self._running.pop(planned.key, None)
            if task is not None:
                self._bar.remove_task(task)
            self._bar.advance(self._grid)
            if payload["status"] != "ok":
                self._bar.console.print(line, highlight=False)
        elif self.mode == "plain":
            print(line, file=sys.stderr, flush=True)

    def note(self, line: str) -> None:
        """A line that is not a finished trial (a retry), shown unless progress is off."""
        if self._bar is not None:
            self._bar.console.print(line, highlight=False)
        elif self.mode == "plain":
            print(line, file=sys.stderr, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()


def _plan(trials: Iterable[Trial]) -> list[_Planned]:
    importlib.invalidate_caches()  # see packages created since the interpreter started
    fingerprints: dict[tuple[tuple[str, ...], tuple[str, ...]], str] = {}
    planned: dict[str, _Planned] = {}
    for trial in trials:
        code_key = (tuple(sorted(set(trial.code))), tuple(sorted(set(trial.frameworks))))
        if code_key not in fingerprints:
            fingerprints[code_key] = code_fingerprint(*code_key)
        fingerprint = fingerprints[code_key]
        key = trial_key(trial, fingerprint)
        planned.setdefault(key, _Planned(trial, key, trial_identity(trial), fingerprint))
    return list(planned.values())


class _Recorder:
    """Turns worker outcomes into validated records on disk and keeps the counts."""

    def __init__(self, results_dir: Path, run_id: str, summary: RunSummary, progress: _Progress,
                 identities: dict[str, set[str]] | None = None) -> None:
        self.results_dir, self.run_id, self.summary, self.progress = results_dir, run_id, summary, progress
        #: keys of earlier records per trial identity (store.identity_index), read once per run
        self.identities = identities

    def __call__(self, planned: _Planned, outcome: dict[str, Any]) -> None:
        trial = planned.trial
        status, rows, error = outcome["status"], outcome["rows"], outcome["error"]
        if status == "failed":
            rows = []  # a failed trial measured nothing usable
        rows = [{**row, "run_id": self.run_id, "suite": trial.suite, "trial_key": planned.key,
                 "status": status} for row in rows]
        try:
            store.validate_rows(rows)
            store.canonical_json(rows)
        except (SchemaError, TypeError, ValueError) as problem:
            status, rows = "failed", []
            error = f"rows returned by {trial.fn} do not fit the results schema: {problem}"
        payload = {
            "key": planned.key, "identity": planned.identity, "suite": trial.suite, "fn": trial.fn,
            "label": trial.label, "config": dict(trial.config), "code": list(trial.code),
            "frameworks": list(trial.frameworks), "fingerprint": planned.fingerprint,
            "status": status, "rows": rows, "error": error,
            "diverged_epoch": outcome["diverged_epoch"] if status == "diverged" else None,
            "started": outcome["started"], "finished": outcome["finished"], "wall_s": outcome["wall_s"],
            "host": outcome["host"], "pid": outcome["pid"], "run_id": self.run_id,
            "seed": trial.config.get("seed"), "determinism": outcome.get("determinism"),
            "attempts": outcome.get("attempts", 1),
        }
        store.write_record(self.results_dir, payload)
        candidates = None if self.identities is None else self.identities.get(planned.identity, set())
        store.retire_superseded(self.results_dir, payload, candidates=candidates)
        setattr(self.summary, status, getattr(self.summary, status) + 1)
        if status == "failed":
            last = (error or "").strip().splitlines()[-1:] or [""]
            self.summary.failures.append((planned.key, planned.label, last[0]))
        self.progress.finish(planned, payload)


def _window(queue: deque[_Planned], capacity: int, submit: Callable[[_Planned], Any],
            wait_first: Callable[[list[Any]], Iterable[Any]], take: Callable[[Any], dict[str, Any]],
            record: _Recorder, broken: type[BaseException] | None = None,
            lost: tuple[type[BaseException], ...] = (), retries: int = 0) -> list[_Planned]:
    """Keep ``capacity`` trials in flight, record each as it finishes.

    Bounding what is submitted (rather than submitting the whole grid) makes "running" in the
    progress display true and, when a worker crash breaks a process pool, leaves the unstarted
    trials in ``queue``. Returns the trials that were in flight when the pool broke.

    A future that fails with one of ``lost`` (its worker died under it) puts the trial back at
    the head of the queue, up to ``retries`` times; the record then says how many attempts it
    took.
    """
    running: dict[Any, _Planned] = {}
    retried: dict[int, int] = {}  # id(planned) -> resubmissions so far
    while queue or running:
        while queue and len(running) < capacity:
            planned = queue.popleft()
            try:
                future = submit(planned)
            except Exception as error:
                # The pool can break between a wait and the next submit (a worker died while a
                # finished trial was being recorded): this trial never started, so it goes back
                # to the queue, and the ones in flight are the suspects.
                if broken is not None and isinstance(error, broken):
                    queue.appendleft(planned)
                    return list(running.values())
                raise
            running[future] = planned
            record.progress.start(planned)
        for future in wait_first(list(running)):
            planned = running.pop(future)
            try:
                outcome = take(future)
            except Exception as error:
                if broken is not None and isinstance(error, broken):
                    return [planned, *running.values()]
                if lost and isinstance(error, lost) and retried.get(id(planned), 0) < retries:
                    retried[id(planned)] = retried.get(id(planned), 0) + 1
                    record.progress.note(f"{planned.trial.suite} {planned.label}: worker lost "
                                         f"({type(error).__name__}); retrying, attempt "
                                         f"{retried[id(planned)] + 1} of {retries + 1}")
                    queue.appendleft(planned)
                    continue
                outcome = _crashed(error)
            record(planned, {**outcome, "attempts": retried.get(id(planned), 0) + 1})
    return []


def _cf_wait(futures: list[cf.Future]) -> set[cf.Future]:
    return cf.wait(futures, return_when=cf.FIRST_COMPLETED).done


def _submit_to(pool: Any, deterministic: bool) -> Callable[[_Planned], Any]:
    return lambda planned: pool.submit(execute, planned.trial.fn, planned.trial.config.to_dict(),
                                       planned.trial.frameworks, deterministic)


def _run_processes(queue: deque[_Planned], jobs: int, record: _Recorder, deterministic: bool) -> None:
    """A spawn-context process pool; a worker crash (BrokenProcessPool) fails only its trial.

    After a break the trials that were in flight are rerun one per fresh single-worker pool to
    find the one that kills its worker (with one in flight it is known); the rest go on.
    """
    from concurrent.futures.process import BrokenProcessPool

    context = multiprocessing.get_context("spawn")
    while queue:
        with cf.ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
            try:
                suspects = _window(queue, jobs, _submit_to(pool, deterministic), _cf_wait,
                                   cf.Future.result, record, broken=BrokenProcessPool)
            except BaseException:
                pool.shutdown(wait=False, cancel_futures=True)
                raise
        if len(suspects) == 1:
            record(suspects[0], _crashed(BrokenProcessPool("the worker process died while running this trial")))
            continue
        for planned in suspects:
            with cf.ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
                _window(deque([planned]), 1, _submit_to(pool, deterministic), _cf_wait,
                        cf.Future.result, record)


def _run_dask(queue: deque[_Planned], record: _Recorder, scheduler: str | None,
              dask_workers: int | None, deterministic: bool) -> None:
    """Submit to a Dask cluster: an existing one (``scheduler``) or a LocalCluster.

    A trial whose worker dies under it comes back as ``KilledWorker`` once the scheduler's own
    ``allowed-failures`` are spent (0 on some clusters); the runner then resubmits it
    (``WORKER_LOSS_RETRIES``) under a new task key, since Dask keeps the failed key's error.
    """
    from itertools import count

    from distributed import Client, KilledWorker, LocalCluster
    from distributed import wait as dask_wait

    cluster = None
    if scheduler:
        client = Client(scheduler)
    else:
        cluster = LocalCluster(n_workers=dask_workers or 1, threads_per_worker=1, processes=True,
                               host="127.0.0.1", dashboard_address=None)
        client = Client(cluster)
    try:
        capacity = max(1, sum(client.nthreads().values()))
        token, submissions = secrets.token_hex(4), count()

        def submit(planned: _Planned) -> Any:
            return client.submit(execute, planned.trial.fn, planned.trial.config.to_dict(),
                                 planned.trial.frameworks, deterministic,
                                 key=f"trial-{planned.key}-{token}-{next(submissions)}", pure=False)

        def wait_first(futures: list[Any]) -> Iterable[Any]:
            return dask_wait(futures, return_when="FIRST_COMPLETED").done

        _window(queue, capacity, submit, wait_first, lambda f: f.result(), record,
                lost=(KilledWorker,), retries=WORKER_LOSS_RETRIES)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _new_run_id() -> str:
    """UTC time to the microsecond, then random: ids sort in start order (the report picks the
    newest trial of a cell by run id) and never collide."""
    return f"{datetime.now(timezone.utc):%Y%m%dT%H%M%S.%fZ}-{secrets.token_hex(3)}"


def run_grid(trials: Iterable[Trial], results_dir: str | os.PathLike[str], *,
             executor: str = "processes", jobs: int | None = None, scheduler: str | None = None,
             dask_workers: int | None = None, progress: Any = None,
             run_config: Mapping[str, Any] | None = None, deterministic: bool = True) -> RunSummary:
    """Run every trial not finished in ``results_dir``; returns the counts.

    ``jobs`` (local processes) defaults to 1: trials that time things must not share the CPU;
    callers whose trials do not time anything may pass more. ``progress``: None/"auto",
    "rich", "plain" or "off"/False. ``deterministic`` turns on each trial's determinism switch
    where it runs (``suites.settings.enable_determinism``; the inline executor switches this
    process); a caller whose trials only start subprocesses may pass False to spare importing
    the frameworks here. Raises ResultsLocked if another run holds the directory, and
    StoreWriteError if a record cannot be written (a full disk): the records written before it
    stay valid, and a rerun computes the rest.
    """
    if executor not in EXECUTORS:
        raise ValueError(f"unknown executor {executor!r}; choose one of {', '.join(EXECUTORS)}")
    from suites import provenance, settings

    results_dir = Path(results_dir)
    run_id = _new_run_id()
    t0 = time.perf_counter()
    with store.lock(results_dir):
        planned = _plan(trials)
        summary = RunSummary(run_id, results_dir, tuple(p.key for p in planned))
        todo: deque[_Planned] = deque()
        for item in planned:
            existing = store.read_record(store.record_path(results_dir, item.key))
            if existing is not None and existing["status"] in FINAL:
                summary.skipped += 1
            else:
                todo.append(item)
        manifest: dict[str, Any] = {
            "run_id": run_id, "started": _now(), "finished": None, "state": "running",
            "results_dir": str(results_dir), "executor": executor, "jobs": jobs,
            "scheduler": scheduler, "dask_workers": dask_workers, "argv": list(sys.argv),
            "run_config": dict(run_config or {}),
            "suites": sorted({p.trial.suite for p in planned}),
            "trials": [{"key": p.key, "suite": p.trial.suite, "label": p.trial.label, "fn": p.trial.fn,
                        "config": dict(p.trial.config), "fingerprint": p.fingerprint,
                        "seed": p.trial.config.get("seed")} for p in planned],
            "seeds": sorted({p.trial.config["seed"] for p in planned
                             if isinstance(p.trial.config.get("seed"), int)}),
            "determinism": settings.determinism_policy(deterministic),
            "provenance": provenance.manifest_info(),
        }
        store.write_manifest(results_dir, manifest)
        bar = _Progress(progress, len(todo))
        if bar.mode == "plain" and summary.skipped:
            print(f"{summary.skipped} of {len(planned)} trials finished earlier in {results_dir}; "
                  f"running {len(todo)}", file=sys.stderr, flush=True)
        identities = store.identity_index(results_dir, {item.identity for item in todo}) if todo else {}
        record = _Recorder(results_dir, run_id, summary, bar, identities)
        failure: BaseException | None = None
        try:
            if executor == "inline":
                with settings.determinism_scope():  # this process is the caller's: undo after
                    while todo:
                        item = todo.popleft()
                        bar.start(item)
                        record(item, execute(item.trial.fn, item.trial.config.to_dict(),
                                             item.trial.frameworks, deterministic))
            elif executor == "processes":
                _run_processes(todo, max(1, jobs or 1), record, deterministic)
            else:
                _run_dask(todo, record, scheduler, dask_workers, deterministic)
            manifest["state"] = "finished"
        except BaseException as error:
            failure = error
            manifest["state"] = f"interrupted: {type(error).__name__}"
            raise
        finally:
            bar.close()
            summary.wall_s = time.perf_counter() - t0
            manifest.update(finished=_now(), counts={"ok": summary.ok, "failed": summary.failed,
                                                     "diverged": summary.diverged,
                                                     "skipped": summary.skipped})
            _close_manifest(results_dir, manifest, failure)
    return summary


def _close_manifest(results_dir: Path, manifest: dict[str, Any], failure: BaseException | None) -> None:
    """Write the final manifest; when the run is already failing (a full disk, most often, which
    makes this write fail too) a failed write is reported on stderr and the first error, the
    one that names the record that could not be stored, is the one raised."""
    try:
        store.write_manifest(results_dir, manifest)
    except OSError as error:
        if failure is None:
            raise
        print(f"warning: the manifest of run {manifest['run_id']} was not updated: {error}",
              file=sys.stderr, flush=True)


def _main(argv: Sequence[str] | None = None) -> int:
    """``python -m suites.run RESULTS_DIR MODULE:GRID_FUNCTION [--executor ...]``: run the grid
    a function returns (used by the kill/lock tests to drive a runner in a real process)."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m suites.run")
    parser.add_argument("results_dir", type=Path)
    parser.add_argument("grid", help="module:function returning a list of Trial")
    parser.add_argument("--executor", default="inline", choices=EXECUTORS)
    parser.add_argument("--jobs", type=int, default=None)
    parser.add_argument("--progress", default="plain")
    args = parser.parse_args(argv)
    trials = resolve(args.grid)()
    try:
        summary = run_grid(trials, args.results_dir, executor=args.executor, jobs=args.jobs,
                           progress=args.progress)
    except ResultsLocked as error:
        print(f"error: {error}", file=sys.stderr)
        return 3
    except store.StoreWriteError as error:
        print(f"error: {error}", file=sys.stderr)
        return 4
    print(summary)
    return 0 if summary.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(_main())
