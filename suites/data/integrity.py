"""Checksum verification: read a file once, hash it in 1 MiB blocks, compare with the pinned values.

:func:`verify_file` returns the verified bytes together with the digest, so the parser works on
exactly the bytes that were hashed (a pickle is never opened before its checksum matched). The
digests of files verified in this process are remembered in memory, keyed by
``(path, device, inode, size, mtime_ns, ctime_ns)``: a second load of an unchanged file skips the
hashing, any change to the file invalidates the entry. Nothing is cached on disk.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .errors import ChecksumError
from .registry import Checksum, FileSpec

CHUNK = 1 << 20  # 1 MiB

_cache: dict[tuple, Digest] = {}
_cache_lock = threading.Lock()


@dataclass(frozen=True)
class Digest:
    """Size and digests of some bytes (``md5`` is ``None`` when it was not needed)."""

    size: int
    sha256: str
    md5: str | None = None


@dataclass(frozen=True)
class VerifiedFile:
    """A file whose bytes matched a pinned checksum.

    ``data`` holds the verified bytes (``None`` when the caller did not ask for them), ``path`` is
    where they were read from and ``source`` says how (``"file"``, ``"downloaded"``, or
    ``"member X of ARCHIVE"``).
    """

    spec: FileSpec
    path: Path
    digest: Digest
    checksum: Checksum
    data: bytes | bytearray | None = None
    source: str = "file"

    @property
    def origin(self) -> str:
        return self.checksum.origin


def clear_cache() -> None:
    """Forget every digest remembered in this process."""
    with _cache_lock:
        _cache.clear()


def hash_bytes(data: bytes | bytearray | memoryview, *, md5: bool = True) -> Digest:
    """Digest of in-memory bytes."""
    view = memoryview(data)
    sha = hashlib.sha256()
    m = hashlib.md5(usedforsecurity=False) if md5 else None
    for start in range(0, len(view), CHUNK):
        block = view[start : start + CHUNK]
        sha.update(block)
        if m is not None:
            m.update(block)
    return Digest(len(view), sha.hexdigest(), m.hexdigest() if m is not None else None)


def hash_file(path: str | os.PathLike[str], *, md5: bool = True) -> Digest:
    """Stream a file through sha256 (and md5) in 1 MiB blocks without keeping it in memory."""
    sha = hashlib.sha256()
    m = hashlib.md5(usedforsecurity=False) if md5 else None
    size = 0
    with open(path, "rb") as f:
        while block := f.read(CHUNK):
            size += len(block)
            sha.update(block)
            if m is not None:
                m.update(block)
    return Digest(size, sha.hexdigest(), m.hexdigest() if m is not None else None)


def match_checksum(digest: Digest, accepted: Sequence[Checksum]) -> Checksum | None:
    """The accepted version these bytes are, or ``None``."""
    for c in accepted:
        if c.size != digest.size:
            continue
        if c.sha256 is not None:
            if c.sha256 == digest.sha256:
                return c
        elif digest.md5 is not None and c.md5 == digest.md5:
            return c
    return None


def _needs_md5(size: int, accepted: Sequence[Checksum]) -> bool:
    return any(c.size == size and c.sha256 is None for c in accepted)


def checksum_error(
    spec: FileSpec, path: Path, digest: Digest, *, source: str = ""
) -> ChecksumError:
    """Build the :class:`ChecksumError` for ``spec`` given the actual digest."""
    return ChecksumError(
        spec.dataset,
        spec.relpath,
        path,
        expected=[c.describe() for c in spec.accepted],
        expected_sha256=spec.sha256s,
        actual_sha256=digest.sha256,
        actual_md5=digest.md5 or "(not computed)",
        actual_size=digest.size,
        source=source,
    )


def verify_bytes(
    spec: FileSpec, data: bytes | bytearray, path: Path, *, source: str
) -> VerifiedFile:
    """Verify bytes that did not come from ``spec``'s own path (e.g. an archive member)."""
    digest = hash_bytes(data, md5=True)
    matched = match_checksum(digest, spec.accepted)
    if matched is None:
        raise checksum_error(spec, path, digest, source=source)
    return VerifiedFile(spec, path, digest, matched, data, source)


def verify_file(
    spec: FileSpec, path: str | os.PathLike[str], *, keep_bytes: bool = True
) -> VerifiedFile:
    """Check ``path`` against ``spec.accepted`` and return it verified (with its bytes if asked).

    Raises :class:`ChecksumError` (naming the file, the expected checksums and the actual sha256)
    when the size or the digest matches no accepted version.
    """
    path = Path(path)
    accepted_sizes = {c.size for c in spec.accepted}
    with open(path, "rb") as f:
        st = os.fstat(f.fileno())
        size = st.st_size
        if size not in accepted_sizes:
            # Wrong size: never read it whole into memory, just hash it for the error message.
            f.close()
            raise checksum_error(spec, path, hash_file(path, md5=True))
        key = (str(path.absolute()), st.st_dev, st.st_ino, size, st.st_mtime_ns, st.st_ctime_ns)
        want_md5 = _needs_md5(size, spec.accepted)
        with _cache_lock:
            cached = _cache.get(key)
        if cached is not None and (cached.md5 is not None or not want_md5):
            matched = match_checksum(cached, spec.accepted)
            if matched is None:
                raise checksum_error(spec, path, cached)
            data = _read_exactly(f, size, path) if keep_bytes else None
            return VerifiedFile(spec, path, cached, matched, data, "file")

        sha = hashlib.sha256()
        m = hashlib.md5(usedforsecurity=False) if want_md5 else None
        buf = bytearray(size) if keep_bytes else None
        view = memoryview(buf) if buf is not None else None
        scratch = None if keep_bytes else bytearray(CHUNK)
        pos = 0
        while pos < size:
            n = min(CHUNK, size - pos)
            if view is not None:
                block = view[pos : pos + n]
                got = f.readinto(block)
                block = block[:got]
            else:
                assert scratch is not None
                got = f.readinto(memoryview(scratch)[:n])
                block = memoryview(scratch)[:got]
            if not got:
                break
            sha.update(block)
            if m is not None:
                m.update(block)
            pos += got
        if pos != size:
            digest = Digest(pos, sha.hexdigest(), m.hexdigest() if m else None)
            raise checksum_error(spec, path, digest)
    digest = Digest(size, sha.hexdigest(), m.hexdigest() if m is not None else None)
    matched = match_checksum(digest, spec.accepted)
    if matched is None:
        if digest.md5 is None:
            digest = Digest(size, digest.sha256, hash_file(path, md5=True).md5)
        raise checksum_error(spec, path, digest)
    with _cache_lock:
        _cache[key] = digest
    return VerifiedFile(spec, path, digest, matched, buf, "file")


def _read_exactly(f, size: int, path: Path) -> bytearray:
    buf = bytearray(size)
    view = memoryview(buf)
    pos = 0
    while pos < size:
        got = f.readinto(view[pos : pos + CHUNK])
        if not got:
            raise OSError(f"{path}: file shrank while reading ({pos} of {size} bytes)")
        pos += got
    return buf


__all__ = [
    "CHUNK",
    "Digest",
    "VerifiedFile",
    "checksum_error",
    "clear_cache",
    "hash_bytes",
    "hash_file",
    "match_checksum",
    "verify_bytes",
    "verify_file",
]
