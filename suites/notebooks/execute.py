"""Execute notebooks/ against a report folder into ``<out>/<name>.ipynb`` and ``<out>/<name>.html``.

Three properties the stage needs, and how they are kept:

* **Reads only the report folder.** Each kernel starts with $NEURONBENCH_REPORTS set to the
  absolute report folder (``suites.notebooks.helpers.reports_dir`` reads it), in the notebooks
  folder as its working directory, like a notebook opened in Jupyter.
* **Byte-identical on re-execution** from unchanged reports, so ``git diff reports/`` shows only
  real changes: nbclient records no cell timings (``record_timing=False``), any ``execution``
  metadata left is stripped, figures are PNG without the 'Software' tag (the helpers configure the
  inline backend), and nbformat writes sorted JSON.
* **Never half-written.** A file is written to a temporary sibling and moved into place with
  ``os.replace``, and only after its notebook ran to the end: an interrupted or failed run leaves
  the previous outputs as they were.

nbformat, nbclient, nbconvert and ipykernel are the ``notebooks`` extra; they are imported when a
notebook is executed, so ``neuronbench --help`` works without them.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import re
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

from suites.notebooks import REPORTS_ENV

__all__ = ["INSTALL_HINT", "NotebookDependencyError", "NotebookError", "execute_notebooks",
           "find_notebooks"]

INSTALL_HINT = "pip install neuronbench[notebooks]"
#: The kernel draws inline PNGs even when the caller set MPLBACKEND (Agg in CI), which would
#: otherwise keep every figure out of the executed notebook.
INLINE_BACKEND = "module://matplotlib_inline.backend_inline"
#: Cell metadata that changes on every execution.
VOLATILE_CELL_METADATA = ("execution", "collapsed", "scrolled")
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


class NotebookDependencyError(ImportError):
    """The ``notebooks`` extra is not installed."""


class NotebookError(RuntimeError):
    """One or more notebooks failed; ``failures`` maps a notebook's file name to why.

    Raised after every selected notebook was tried, so one report names every failure;
    ``written`` holds the files the notebooks that did succeed wrote.
    """

    def __init__(self, failures: Mapping[str, str], written: Sequence[Path] = ()) -> None:
        self.failures = dict(failures)
        self.written = list(written)
        parts = [f"notebook {name} failed:\n{why}" for name, why in self.failures.items()]
        super().__init__("\n\n".join(parts))


def _require() -> tuple[ModuleType, ModuleType, ModuleType]:
    """nbformat, nbclient and nbconvert, or a NotebookDependencyError with the install command."""
    try:
        import nbclient
        import nbconvert
        import nbformat
    except ImportError as error:
        raise NotebookDependencyError(
            f"executing notebooks needs nbformat, nbclient, nbconvert and ipykernel "
            f"({error.name} is missing): {INSTALL_HINT}") from error
    if importlib.util.find_spec("ipykernel") is None:
        raise NotebookDependencyError(f"executing notebooks needs ipykernel: {INSTALL_HINT}")
    return nbformat, nbclient, nbconvert


def find_notebooks(notebooks_dir: Path | str, names: Sequence[str] | None = None) -> list[Path]:
    """The notebooks to run, sorted by name; ``names`` (with or without ``.ipynb``) picks some.

    An unknown name is an error that lists the notebooks there are, never a silent skip.
    """
    folder = Path(notebooks_dir)
    if not folder.is_dir():
        raise FileNotFoundError(f"no notebooks folder at {folder}")
    available = {path.stem: path for path in sorted(folder.glob("*.ipynb"))}
    if names is None:
        return list(available.values())
    wanted = [name.removesuffix(".ipynb") for name in names]
    unknown = [name for name in wanted if name not in available]
    if unknown:
        raise ValueError(f"no notebook named {', '.join(unknown)} in {folder} "
                         f"(there are: {', '.join(available) or 'none'})")
    return [available[name] for name in sorted(set(wanted))]


@contextlib.contextmanager
def _environment(values: Mapping[str, str]) -> Iterator[None]:
    """Set environment variables for the kernels started inside, restoring them afterwards."""
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _strip_volatile(nb: Any) -> None:
    """Remove what differs between two executions of the same notebook on the same inputs."""
    for cell in nb.cells:
        for key in VOLATILE_CELL_METADATA:
            cell.metadata.pop(key, None)
    nb.metadata.pop("papermill", None)
    nb.metadata.pop("widgets", None)


def _atomic_write(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` through a temporary sibling and ``os.replace``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="\n") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    return path


def _failure_message(error: BaseException) -> str:
    """nbclient's message (the failing cell's source and the traceback), without colour codes."""
    return _ANSI.sub("", str(error)).strip() or type(error).__name__


def _run_one(path: Path, out_dir: Path, timeout: float) -> list[Path]:
    """Execute one notebook and write its .ipynb and .html; nbclient errors propagate."""
    nbformat, nbclient, nbconvert = _require()
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        nb, timeout=timeout, record_timing=False, allow_errors=False,
        resources={"metadata": {"path": str(path.parent)}},
        # the kernel's own log (ipykernel 7 warns about TCP transport on every start) says
        # nothing about the notebook; its errors still reach the executed cells
        extra_arguments=["--IPKernelApp.log_level=ERROR"])
    client.execute()
    _strip_volatile(nb)
    nbformat.validate(nb)
    html, _ = nbconvert.HTMLExporter().from_notebook_node(
        nb, resources={"metadata": {"name": path.stem}})
    ipynb = nbformat.writes(nb)
    return [_atomic_write(out_dir / f"{path.stem}.ipynb", ipynb if ipynb.endswith("\n") else ipynb + "\n"),
            _atomic_write(out_dir / f"{path.stem}.html", html)]


def execute_notebooks(notebooks_dir: Path | str, reports_dir: Path | str, out_dir: Path | str,
                      timeout: float = 600, names: Sequence[str] | None = None) -> list[Path]:
    """Execute the notebooks of ``notebooks_dir`` against ``reports_dir``; return the paths written.

    ``timeout`` is per cell (seconds). Every selected notebook is tried; if any failed, a
    NotebookError names each failed notebook with its failing cell and exception (the others'
    outputs are written). Raises NotebookDependencyError without the ``notebooks`` extra and
    FileNotFoundError when a folder is missing.
    """
    from rich.console import Console

    _require()
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    reports = Path(reports_dir).resolve()
    if not reports.is_dir():
        raise FileNotFoundError(f"no report folder at {reports}")
    notebooks = find_notebooks(notebooks_dir, names)
    out = Path(out_dir)
    console = Console(stderr=True, highlight=False)
    kernel_env = {REPORTS_ENV: str(reports), "MPLBACKEND": INLINE_BACKEND,
                  # debugpy's "frozen modules" warning on every kernel start says nothing useful
                  "PYDEVD_DISABLE_FILE_VALIDATION": "1"}
    written: list[Path] = []
    failures: dict[str, str] = {}
    with _environment(kernel_env):
        for path in notebooks:
            start = time.perf_counter()
            try:
                written += _run_one(path.resolve(), out, timeout)
            except (CellExecutionError, CellTimeoutError, DeadKernelError) as error:
                failures[path.name] = _failure_message(error)
                state = "[red]failed[/red]"
            else:
                state = "[green]ok[/green]"
            console.print(f"notebooks: {path.name:<32} {state} {time.perf_counter() - start:6.1f} s")
    if failures:
        raise NotebookError(failures, written)
    return written
