"""Safe reading of distribution archives (CIFAR-10 tarball, CCPP zip).

Tar extraction never calls ``TarFile.extract``: every member is checked first (relative name, no
``..`` component, no absolute or drive path, final path inside the destination, regular file or
directory only: symbolic links, hard links, devices and FIFOs are refused) and regular files are
copied out through ``extractfile`` into temporary files that are renamed into place only after the
whole archive was read without finding an unsafe member. An unsafe member refuses the whole archive.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Collection
from pathlib import Path, PurePosixPath

from .errors import CorruptDataError, UnsafeArchiveError


def _check_member_name(name: str, archive: Path) -> PurePosixPath:
    if not name or "\x00" in name:
        raise UnsafeArchiveError(f"{archive}: member with an empty or NUL name refused")
    norm = name.replace("\\", "/")
    p = PurePosixPath(norm)
    if p.is_absolute() or norm.startswith("/") or (len(norm) > 1 and norm[1] == ":"):
        raise UnsafeArchiveError(f"{archive}: absolute member path {name!r} refused")
    if any(part == ".." for part in p.parts):
        raise UnsafeArchiveError(f"{archive}: member {name!r} escapes the folder ('..') refused")
    return p


def safe_extract_tar(
    archive: str | os.PathLike[str],
    dest_dir: str | os.PathLike[str],
    *,
    members: Collection[str] | None = None,
) -> list[Path]:
    """Extract the regular-file ``members`` (all when ``None``) of a tar(.gz) into ``dest_dir``.

    Returns the written paths. Raises :class:`UnsafeArchiveError` if *any* member of the archive
    is unsafe (see the module docstring), :class:`CorruptDataError` if the archive cannot be read or
    a requested member is absent. No file is left in ``dest_dir`` when an error is raised.
    """
    import tarfile

    archive = Path(archive)
    dest_dir = Path(dest_dir)
    dest_dir.mkdir(parents=True, exist_ok=True)
    root = dest_dir.resolve()
    wanted = None if members is None else {m.replace("\\", "/") for m in members}
    staged: list[tuple[Path, Path]] = []  # (temporary file, final path)
    try:
        try:
            with tarfile.open(archive, mode="r|*") as tar:
                for info in tar:
                    staged_one = _stage_member(info, archive, root, wanted)
                    if staged_one is not None:
                        staged.append(staged_one)
                        _copy_member(tar, info, archive, *staged_one)
        except (PermissionError, CorruptDataError):
            raise
        except (tarfile.TarError, EOFError, OSError) as error:
            raise CorruptDataError(f"{archive}: damaged tar archive: {error}") from error
        found = {final for _, final in staged}
        if wanted is not None:
            missing = sorted(m for m in wanted if (root / m).resolve() not in found)
            if missing:
                raise CorruptDataError(f"{archive}: members not found: {', '.join(missing)}")
        written = []
        for tmp, final in staged:
            os.replace(tmp, final)
            written.append(final)
        staged.clear()
        return written
    finally:
        for tmp, _ in staged:
            with contextlib.suppress(OSError):
                tmp.unlink()


def _stage_member(info, archive: Path, root: Path, wanted: set[str] | None):
    """Check one member; for a wanted regular file return ``(temporary path, final path)``."""
    rel = _check_member_name(info.name, archive)
    target = (root / rel).resolve()
    if target != root and root not in target.parents:
        raise UnsafeArchiveError(f"{archive}: member {info.name!r} would be written outside {root}")
    if info.issym() or info.islnk():
        raise UnsafeArchiveError(
            f"{archive}: link member {info.name!r} -> {info.linkname!r} refused"
        )
    if info.isdir():
        return None
    if not info.isreg():
        raise UnsafeArchiveError(
            f"{archive}: special member {info.name!r} (type {info.type!r}) refused"
        )
    if wanted is not None and rel.as_posix() not in wanted:
        return None
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    os.close(fd)
    return Path(tmp_name), target


def _copy_member(tar, info, archive: Path, tmp: Path, target: Path) -> None:
    source = tar.extractfile(info)
    if source is None:  # pragma: no cover - regular files always have data
        raise CorruptDataError(f"{archive}: cannot read member {info.name!r}")
    with open(tmp, "wb") as out:
        while block := source.read(1 << 20):
            out.write(block)
    size = tmp.stat().st_size
    if size != info.size:
        raise CorruptDataError(
            f"{archive}: member {info.name!r} is truncated ({size} of {info.size} bytes)"
        )


def read_zip_member(archive: str | os.PathLike[str], member: str, *, max_size: int) -> bytes:
    """Read one member of a zip archive into memory, refusing members larger than ``max_size``
    (declared or actual) and unsafe names."""
    import zipfile

    archive = Path(archive)
    _check_member_name(member, archive)
    try:
        with zipfile.ZipFile(archive) as zf:
            try:
                info = zf.getinfo(member)
            except KeyError:
                raise CorruptDataError(f"{archive}: member {member!r} not found") from None
            if info.file_size > max_size:
                raise CorruptDataError(
                    f"{archive}: member {member!r} declares {info.file_size} bytes, "
                    f"more than the expected {max_size}"
                )
            with zf.open(info) as f:
                data = f.read(max_size + 1)
    except zipfile.BadZipFile as error:
        raise CorruptDataError(f"{archive}: damaged zip archive: {error}") from error
    if len(data) > max_size:
        raise CorruptDataError(f"{archive}: member {member!r} is larger than {max_size} bytes")
    return data


__all__ = ["read_zip_member", "safe_extract_tar"]
