"""Downloading a missing file: streamed, checksum-verified, written atomically.

The bytes go to a temporary file in the destination folder while being hashed; only when the size
and the digest match a pinned checksum is the temporary file renamed onto the destination
(``os.replace``, atomic on POSIX and Windows). A failed or mismatching download leaves nothing
behind. Network access goes through :func:`open_url`, which tests replace.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from .errors import ChecksumError, DownloadError
from .integrity import CHUNK, Digest, match_checksum
from .registry import Checksum

USER_AGENT = "neuronbench-data/0.1 (+https://github.com/neuronbench)"


def open_url(url: str, timeout: float):
    """Open ``url`` for reading (``urllib``; supports ``https://``, ``http://`` and ``file://``)."""
    import urllib.request

    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    return urllib.request.urlopen(request, timeout=timeout)


def download(
    urls: str | Sequence[str],
    dest: str | os.PathLike[str],
    accepted: Sequence[Checksum],
    *,
    dataset: str,
    file: str,
    progress: bool = True,
    timeout: float = 60.0,
) -> Checksum:
    """Fetch the first URL that works into ``dest``; return the matched :class:`Checksum`.

    Raises :class:`DownloadError` when no URL could be read and :class:`ChecksumError` when the
    downloaded bytes match no accepted checksum (nothing is written to ``dest`` in either case).
    """
    url_list = [urls] if isinstance(urls, str) else list(urls)
    dest = Path(dest)
    failures: list[str] = []
    for url in url_list:
        try:
            return _download_one(
                url,
                dest,
                accepted,
                dataset=dataset,
                file=file,
                progress=progress,
                timeout=timeout,
            )
        except DownloadError as error:
            failures.append(str(error))
    raise DownloadError(
        f"dataset {dataset!r}: could not download {file!r} to {dest}:\n  "
        + "\n  ".join(failures)
        + "\n  Fetch it by hand and save it at that path, or pass --data-dir to a folder that "
        "holds it."
    )


def _download_one(
    url: str,
    dest: Path,
    accepted: Sequence[Checksum],
    *,
    dataset: str,
    file: str,
    progress: bool,
    timeout: float,
) -> Checksum:
    limit = max(c.size for c in accepted)
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    except OSError as error:
        raise DownloadError(f"{url}: cannot write into {dest.parent}: {error}") from error
    tmp = Path(tmp_name)
    sha = hashlib.sha256()
    md5 = hashlib.md5(usedforsecurity=False)
    size = 0
    renamed = False
    try:
        with os.fdopen(fd, "wb") as out:
            try:
                response = open_url(url, timeout)
            except (OSError, ValueError) as error:
                raise DownloadError(f"{url}: {error}") from error
            with response, _progress_bar(response, file, progress) as bar:
                while True:
                    try:
                        block = response.read(CHUNK)
                    except OSError as error:
                        raise DownloadError(
                            f"{url}: read failed after {size} bytes: {error}"
                        ) from error
                    if not block:
                        break
                    size += len(block)
                    if size > limit:
                        raise ChecksumError(
                            dataset,
                            file,
                            dest,
                            expected=[c.describe() for c in accepted],
                            expected_sha256=[c.sha256 for c in accepted if c.sha256],
                            actual_sha256="(not computed: download exceeded the expected size)",
                            actual_md5="(not computed)",
                            actual_size=size,
                            source=f"downloaded from {url}",
                        )
                    sha.update(block)
                    md5.update(block)
                    out.write(block)
                    if bar is not None:
                        bar.update(len(block))
            out.flush()
            os.fsync(out.fileno())
        digest = Digest(size, sha.hexdigest(), md5.hexdigest())
        matched = match_checksum(digest, accepted)
        if matched is None:
            raise ChecksumError(
                dataset,
                file,
                dest,
                expected=[c.describe() for c in accepted],
                expected_sha256=[c.sha256 for c in accepted if c.sha256],
                actual_sha256=digest.sha256,
                actual_md5=str(digest.md5),
                actual_size=size,
                source=f"downloaded from {url}",
            )
        os.replace(tmp, dest)
        renamed = True
        return matched
    finally:
        if not renamed:
            with contextlib.suppress(OSError):
                tmp.unlink()


class _RichBar:
    """The one method download() calls on a bar, over a rich progress task."""

    def __init__(self, progress, task) -> None:
        self._progress, self._task = progress, task

    def update(self, n: int) -> None:
        self._progress.advance(self._task, n)


@contextlib.contextmanager
def _progress_bar(response, file: str, enabled: bool):
    """A rich byte counter on a terminal; nothing when stderr is redirected (CI logs)."""
    if not enabled or not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import DownloadColumn, Progress, TransferSpeedColumn

    total = None
    with contextlib.suppress(AttributeError, TypeError, ValueError):
        length = response.headers.get("Content-Length")
        total = int(length) if length else None
    with Progress(*Progress.get_default_columns(), DownloadColumn(), TransferSpeedColumn(),
                  console=Console(stderr=True), transient=True) as progress:
        yield _RichBar(progress, progress.add_task(file, total=total))


__all__ = ["USER_AGENT", "download", "open_url"]
