"""Finding, downloading and verifying the files of a dataset under a data root.

For each :class:`~suites.data.registry.FileSpec`:

1. ``ROOT/<relpath>`` exists -> verify it (size + pinned digest) and return its bytes;
2. else, if the file is published inside an archive and ``ROOT/<archive relpath>`` exists (or may
   be downloaded), verify the archive first, then take the member: zip members are read into
   memory and verified against the file's own pinned checksum; tar members are extracted safely
   next to the archive and then verified like a file of step 1;
3. else, if downloads are allowed, download the file (or its archive) from the canonical URL;
4. else raise :class:`~suites.data.errors.MissingDataError` naming the dataset, the file, every
   path searched and the URL.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from .archives import read_zip_member, safe_extract_tar
from .download import download as _download
from .errors import DataError, MissingDataError
from .integrity import VerifiedFile, verify_bytes, verify_file
from .registry import DATASETS, Archive, DatasetSpec, FileSpec, get_spec
from .root import downloads_allowed, no_download_reason, resolve_data_root


def _archive_as_file(spec: FileSpec, archive: Archive) -> FileSpec:
    return FileSpec(
        dataset=spec.dataset,
        relpath=archive.relpath,
        url=archive.url,
        accepted=(archive.checksum,),
    )


def fetch_file(
    spec: FileSpec,
    root: str | os.PathLike[str] | None = None,
    *,
    download: bool | None = None,
    keep_bytes: bool = True,
    progress: bool = True,
) -> VerifiedFile:
    """Return ``spec``'s verified file under ``root`` (resolved as in :mod:`suites.data.root`),
    downloading it (or its archive) first when it is missing and downloads are allowed."""
    root = resolve_data_root(root)
    allowed = downloads_allowed(download)
    path = root / spec.relpath
    if path.is_file():
        return verify_file(spec, path, keep_bytes=keep_bytes)

    if spec.archive is None:
        if not allowed:
            raise MissingDataError(
                spec.dataset, spec.relpath, [path], spec.url, reason=no_download_reason(download)
            )
        _download(
            (spec.url, *spec.mirrors),
            path,
            spec.accepted,
            dataset=spec.dataset,
            file=spec.relpath,
            progress=progress,
        )
        return verify_file(spec, path, keep_bytes=keep_bytes)

    archive = spec.archive
    archive_path = root / archive.relpath
    archive_spec = _archive_as_file(spec, archive)
    if not archive_path.is_file():
        if not allowed:
            raise MissingDataError(
                spec.dataset,
                spec.relpath,
                [path, archive_path],
                archive.url,
                reason=no_download_reason(download),
                place_at=archive_path,
                url_note=f" (archive {archive.name}, member {spec.member})",
            )
        _download(
            archive.url,
            archive_path,
            (archive.checksum,),
            dataset=spec.dataset,
            file=archive.relpath,
            progress=progress,
        )
    verify_file(archive_spec, archive_path, keep_bytes=False)
    assert spec.member is not None
    if archive.kind == "zip":
        data = read_zip_member(
            archive_path, spec.member, max_size=max(c.size for c in spec.accepted)
        )
        verified = verify_bytes(
            spec, data, archive_path, source=f"member {spec.member} of {archive_path}"
        )
        return verified if keep_bytes else _without_bytes(verified)
    # tar.gz: extract, in one pass, every member of this dataset that the archive holds and that
    # is still missing (registry invariant: ROOT/<relpath> == archive folder/<member>).
    siblings = get_spec(spec.dataset).files if spec.dataset in DATASETS else (spec,)
    base = archive_path.parent
    wanted = [
        f.member
        for f in siblings
        if f.archive == archive and f.member is not None and not (root / f.relpath).is_file()
    ]
    try:
        safe_extract_tar(archive_path, base, members=wanted)
    except PermissionError as error:
        raise DataError(
            f"dataset {spec.dataset!r}: cannot extract {archive_path} into {base} ({error}); "
            "use a writable --data-dir"
        ) from error
    verified = verify_file(spec, path, keep_bytes=keep_bytes)
    return VerifiedFile(
        verified.spec,
        verified.path,
        verified.digest,
        verified.checksum,
        verified.data,
        f"extracted from {archive_path}",
    )


def _without_bytes(v: VerifiedFile) -> VerifiedFile:
    return VerifiedFile(v.spec, v.path, v.digest, v.checksum, None, v.source)


def fetch_dataset(
    name: str | DatasetSpec,
    root: str | os.PathLike[str] | None = None,
    *,
    download: bool | None = None,
    files: Iterable[FileSpec] | None = None,
    keep_bytes: bool = True,
    progress: bool = True,
) -> dict[str, VerifiedFile]:
    """Fetch and verify the required files of a dataset; returns ``{file name: VerifiedFile}``.

    The first missing or mismatching file raises (see :func:`fetch_file`)."""
    spec = name if isinstance(name, DatasetSpec) else get_spec(name)
    chosen = spec.required_files if files is None else tuple(files)
    root_path = resolve_data_root(root)
    return {
        f.name: fetch_file(
            f, root_path, download=download, keep_bytes=keep_bytes, progress=progress
        )
        for f in chosen
    }


def expected_path(spec: FileSpec, root: str | os.PathLike[str] | None = None) -> Path:
    """Where ``spec`` is looked for under the (resolved) data root."""
    return resolve_data_root(root) / spec.relpath


__all__ = ["expected_path", "fetch_dataset", "fetch_file"]
