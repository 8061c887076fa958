"""Where the data lives and whether it may be downloaded.

Data root, first match wins:

1. the ``data_dir`` argument (``--data-dir`` on the command line);
2. the ``NEURONBENCH_DATA`` environment variable (a relative value is taken relative to the
   current working directory, e.g. ``NEURONBENCH_DATA=../shared/datasets`` run from the repo);
3. a per-user cache folder, ``platformdirs.user_cache_path("neuronbench") / "datasets"``.

Downloads: allowed unless ``download=False`` (``--no-download``) or ``NEURONBENCH_OFFLINE`` is set
to a true value (``1``, ``true``, ``yes``, ``on``). Offline wins over an explicit ``download=True``.
"""

from __future__ import annotations

import os
from pathlib import Path

ENV_DATA = "NEURONBENCH_DATA"
ENV_OFFLINE = "NEURONBENCH_OFFLINE"
_TRUE = {"1", "true", "yes", "on"}


def default_cache_dir() -> Path:
    """The per-user cache folder used when neither ``--data-dir`` nor ``NEURONBENCH_DATA`` is set."""
    import platformdirs

    return Path(platformdirs.user_cache_path("neuronbench")) / "datasets"


def resolve_data_root(data_dir: str | os.PathLike[str] | None = None) -> Path:
    """Return the absolute data root (it need not exist yet). See the module docstring."""
    return data_root_and_source(data_dir)[0]


def data_root_and_source(data_dir: str | os.PathLike[str] | None = None) -> tuple[Path, str]:
    """Return ``(root, source)`` where source is ``"--data-dir"``, ``"NEURONBENCH_DATA"`` or
    ``"user cache"``."""
    if data_dir is not None:
        if str(data_dir).strip() == "":
            raise DataRootError("--data-dir is empty; give a folder, or leave the option out to use "
                                f"${ENV_DATA} or the per-user cache")
        return _checked(Path(os.path.abspath(Path(data_dir).expanduser())), "--data-dir")
    env = os.environ.get(ENV_DATA, "").strip()
    if env:
        return _checked(Path(os.path.abspath(Path(env).expanduser())), ENV_DATA)
    return Path(os.path.abspath(default_cache_dir())), "user cache"


class DataRootError(ValueError):
    """The data root given is unusable (empty, or an existing file rather than a folder)."""


def _checked(root: Path, source: str) -> tuple[Path, str]:
    """A root that exists must be a folder: a file there would otherwise surface later as a
    confusing "missing file" for every dataset."""
    if root.exists() and not root.is_dir():
        raise DataRootError(f"the data root {root} (from {source}) is not a directory")
    return root, source


def offline() -> bool:
    """True when ``NEURONBENCH_OFFLINE`` is set to a true value."""
    return os.environ.get(ENV_OFFLINE, "").strip().lower() in _TRUE


def downloads_allowed(download: bool | None = None) -> bool:
    """Whether a missing file may be fetched: ``download`` if given, else allowed; never offline."""
    if offline():
        return False
    return True if download is None else bool(download)


def no_download_reason(download: bool | None = None) -> str:
    """Why downloads are disabled (for error messages)."""
    if offline():
        return f"downloads are disabled ({ENV_OFFLINE}={os.environ.get(ENV_OFFLINE)})"
    return "downloads are disabled (--no-download / download=False)"


__all__ = [
    "ENV_DATA",
    "ENV_OFFLINE",
    "DataRootError",
    "data_root_and_source",
    "default_cache_dir",
    "downloads_allowed",
    "no_download_reason",
    "offline",
    "resolve_data_root",
]
