"""Exceptions of the data layer.

Every failure to produce verified data raises a :class:`DataError` subclass whose message carries
the facts needed to fix it: the dataset, the file, the path that was searched and where to get the
file (missing data), the expected and actual checksums (checksum mismatch), or what is wrong with the
bytes (corrupt data).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path


class DataError(Exception):
    """Base class of every error raised by :mod:`suites.data`."""


class MissingDataError(DataError):
    """A required file is absent and could not (or may not) be downloaded.

    Attributes: ``dataset``, ``file`` (path relative to the data root), ``searched`` (the absolute
    paths that were looked at), ``url`` (where to fetch it) and ``reason`` (why it was not
    downloaded).
    """

    def __init__(
        self,
        dataset: str,
        file: str,
        searched: Sequence[Path],
        url: str,
        *,
        reason: str = "downloads are disabled (--no-download or NEURONBENCH_OFFLINE=1)",
        place_at: Path | None = None,
        url_note: str = "",
    ) -> None:
        self.dataset = dataset
        self.file = file
        self.searched = tuple(Path(p) for p in searched)
        self.url = url
        self.reason = reason
        self.place_at = Path(place_at) if place_at is not None else self.searched[0]
        lines = [f"dataset {dataset!r}: required file {file!r} is missing."]
        lines += [f"  searched: {p}" for p in self.searched]
        lines.append(f"  not downloaded: {reason}.")
        lines.append(f"  fetch it from: {url}{url_note}")
        lines.append(
            f"  and save it as {self.place_at} (or point --data-dir / NEURONBENCH_DATA at a folder "
            "that holds it)."
        )
        super().__init__("\n".join(lines))


class DownloadError(DataError):
    """A download was attempted and failed (network error, HTTP error, short read)."""


class ChecksumError(DataError):
    """A file's bytes do not match any pinned checksum; the file was not parsed.

    Attributes: ``dataset``, ``file``, ``path``, ``expected`` (human-readable list of the accepted
    checksums), ``expected_sha256`` (tuple of accepted sha256 digests), ``actual_sha256``,
    ``actual_md5`` and ``actual_size``.
    """

    def __init__(
        self,
        dataset: str,
        file: str,
        path: Path | str,
        *,
        expected: Sequence[str],
        expected_sha256: Sequence[str],
        actual_sha256: str,
        actual_md5: str,
        actual_size: int,
        source: str = "",
    ) -> None:
        self.dataset = dataset
        self.file = file
        self.path = Path(path)
        self.expected = tuple(expected)
        self.expected_sha256 = tuple(expected_sha256)
        self.actual_sha256 = actual_sha256
        self.actual_md5 = actual_md5
        self.actual_size = actual_size
        where = f" ({source})" if source else ""
        lines = [f"dataset {dataset!r}: checksum mismatch for {file!r} at {path}{where}."]
        lines += [f"  expected: {e}" for e in self.expected]
        lines.append(f"  actual:   sha256 {actual_sha256}, md5 {actual_md5}, {actual_size} bytes")
        lines.append(
            "  The file was NOT parsed. Delete it (it will be downloaded again unless downloads "
            "are disabled) or replace it with the published file."
        )
        super().__init__("\n".join(lines))


class CorruptDataError(DataError):
    """A file passed (or was not subject to) the checksum but its content is unusable.

    Raised by the parsers for truncated gzip streams, bad IDX magic numbers, unexpected pickle
    structure, malformed rows, and by archive handling for unsafe members.
    """


class UnsafeArchiveError(CorruptDataError):
    """An archive member would escape the extraction folder or is a link/device: refused."""


__all__ = [
    "ChecksumError",
    "CorruptDataError",
    "DataError",
    "DownloadError",
    "MissingDataError",
    "UnsafeArchiveError",
]
