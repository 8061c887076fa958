"""Checksums, missing files, downloads (without network), safe archive extraction."""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import shutil
import tarfile
from pathlib import Path

import pytest

from suites.data import (
    ChecksumError,
    DownloadError,
    MissingDataError,
    UnsafeArchiveError,
    fetch_file,
    formats,
    get_spec,
    integrity,
    load_ccpp,
    load_cifar10,
    load_magic,
    load_mnist,
    loaders,
)
from suites.data import download as download_module
from suites.data.archives import safe_extract_tar
from suites.data.errors import CorruptDataError
from suites.data.registry import Archive, Checksum, FileSpec

MAGIC_SHA = "e9314b7ebd4b4b59a3b3d65f7316663963777b16a46786877651dbbaa640b36a"


def _spec_for(
    path: Path, url: str, *, dataset: str = "synthetic", rel: str = "syn/file.bin", **kw
) -> FileSpec:
    data = path.read_bytes()
    return FileSpec(
        dataset=dataset,
        relpath=rel,
        url=url,
        accepted=(Checksum(size=len(data), sha256=hashlib.sha256(data).hexdigest()),),
        **kw,
    )


def _no_part_files(root: Path) -> bool:
    return not any(p.name.endswith(".part") for p in root.rglob("*"))


# --------------------------------------------------------------------------- checksum errors


def test_corrupted_file_raises_checksum_error_and_is_never_parsed(
    tmp_path, data_root, monkeypatch, fresh_cache
):
    (tmp_path / "magic").mkdir()
    data = bytearray((data_root / "magic" / "magic04.data").read_bytes())
    data[100] ^= 0x01  # same size, one bit flipped
    target = tmp_path / "magic" / "magic04.data"
    target.write_bytes(bytes(data))

    def must_not_parse(*a, **k):
        raise AssertionError("a file with a wrong checksum was parsed")

    monkeypatch.setattr(loaders, "parse_magic", must_not_parse)
    with pytest.raises(ChecksumError) as info:
        load_magic(tmp_path, download=False)
    err = info.value
    actual = hashlib.sha256(bytes(data)).hexdigest()
    msg = str(err)
    assert "magic/magic04.data" in msg and str(target) in msg
    assert MAGIC_SHA in msg and actual in msg
    assert err.expected_sha256 == (MAGIC_SHA,) and err.actual_sha256 == actual
    assert "NOT parsed" in msg


def test_wrong_size_file_is_a_checksum_error(tmp_path, fresh_cache):
    (tmp_path / "magic").mkdir()
    (tmp_path / "magic" / "magic04.data").write_bytes(b"1,2,g\n")
    with pytest.raises(ChecksumError) as info:
        load_magic(tmp_path, download=False)
    assert info.value.actual_size == 6
    assert info.value.actual_sha256 == hashlib.sha256(b"1,2,g\n").hexdigest()
    assert MAGIC_SHA in str(info.value)


def test_pickle_with_wrong_checksum_is_never_unpickled(tmp_path, monkeypatch, fresh_cache):
    batches = tmp_path / "cifar-10" / "cifar-10-batches-py"
    batches.mkdir(parents=True)
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    (batches / "data_batch_1").write_bytes(pickle.dumps({b"data": Evil()}, protocol=2))

    def must_not_unpickle(*a, **k):
        raise AssertionError("an unverified pickle was opened")

    monkeypatch.setattr(formats, "unpickle_restricted", must_not_unpickle)
    monkeypatch.setattr(pickle, "loads", must_not_unpickle)
    with pytest.raises(ChecksumError) as info:
        load_cifar10(tmp_path, download=False)
    assert "cifar-10/cifar-10-batches-py/data_batch_1" in str(info.value)
    # both accepted versions are named: the reconstruction's sha256 and the original's md5
    assert "940577f4e1e14c43b3d4fce0c5f337a3c7a476ee715bf0b9e5b4e438621bb5e4" in str(info.value)
    assert "c99cafc152244af753f735de768cd75f" in str(info.value)
    assert not marker.exists()


def test_verification_cache_notices_a_changed_file(tmp_path, fresh_cache):
    src = tmp_path / "src.bin"
    src.write_bytes(b"hello world")
    spec = _spec_for(src, "file:///unused")
    assert integrity.verify_file(spec, src).data == b"hello world"
    assert integrity.verify_file(spec, src).data == b"hello world"  # cached digest
    src.write_bytes(b"HELLO WORLD")  # same size, new content, new mtime/ctime
    with pytest.raises(ChecksumError):
        integrity.verify_file(spec, src)


def test_md5_only_versions_are_checked(tmp_path, fresh_cache):
    f = tmp_path / "x"
    f.write_bytes(b"abc")
    good = FileSpec("s", "s/x", "u", (Checksum(size=3, md5=hashlib.md5(b"abc").hexdigest()),))
    assert integrity.verify_file(good, f).checksum.algorithm == "md5"
    bad = FileSpec("s", "s/x", "u", (Checksum(size=3, md5="0" * 32),))
    with pytest.raises(ChecksumError, match=hashlib.md5(b"abc").hexdigest()):
        integrity.verify_file(bad, f)


# ----------------------------------------------------------------------------- missing files


def test_missing_root_offline_names_dataset_file_path_and_url(tmp_path):
    empty = tmp_path / "empty"
    with pytest.raises(MissingDataError) as info:
        load_mnist(empty, download=False)
    err = info.value
    msg = str(err)
    assert err.dataset == "mnist" and err.file == "mnist/train-images-idx3-ubyte.gz"
    assert "dataset 'mnist'" in msg
    assert "mnist/train-images-idx3-ubyte.gz" in msg
    assert str(empty / "mnist" / "train-images-idx3-ubyte.gz") in msg
    assert "https://ossci-datasets.s3.amazonaws.com/mnist/train-images-idx3-ubyte.gz" in msg
    assert not empty.exists()  # nothing created


def test_offline_environment_variable_forbids_downloads(tmp_path, monkeypatch):
    monkeypatch.setenv("NEURONBENCH_OFFLINE", "1")
    with pytest.raises(MissingDataError, match="NEURONBENCH_OFFLINE=1") as info:
        load_magic(tmp_path, download=True)  # offline wins over an explicit True
    assert (
        info.value.url
        == "https://archive.ics.uci.edu/ml/machine-learning-databases/magic/magic04.data"
    )


def test_missing_archive_member_names_both_paths_and_the_archive_url(tmp_path):
    with pytest.raises(MissingDataError) as info:
        load_cifar10(tmp_path, download=False)
    msg = str(info.value)
    assert str(tmp_path / "cifar-10" / "cifar-10-batches-py" / "data_batch_1") in msg
    assert str(tmp_path / "cifar-10" / "cifar-10-python.tar.gz") in msg
    assert "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz" in msg
    with pytest.raises(MissingDataError, match=r"CCPP\.zip"):
        load_ccpp(tmp_path, download=False)


# --------------------------------------------------------------------------------- downloads


def _serve(monkeypatch, mapping: dict[str, Path], requested: list[str]):
    def opener(url, timeout):
        requested.append(url)
        if url not in mapping:
            raise OSError(f"no route to {url}")
        return _Response(mapping[url].read_bytes())

    monkeypatch.setattr(download_module, "open_url", opener)


class _Response(io.BytesIO):
    def __init__(self, data: bytes):
        super().__init__(data)
        self.headers = {"Content-Length": str(len(data))}


def test_download_from_the_canonical_url_is_verified_and_atomic(
    tmp_path, data_root, monkeypatch, fresh_cache
):
    requested: list[str] = []
    url = get_spec("magic").files[0].url
    _serve(monkeypatch, {url: data_root / "magic" / "magic04.data"}, requested)
    t = load_magic(tmp_path)  # downloads allowed by default
    assert requested == [url]
    assert t.n_rows == 19020
    assert (tmp_path / "magic" / "magic04.data").stat().st_size == 1477391
    assert _no_part_files(tmp_path)
    requested.clear()
    load_magic(tmp_path)  # now present: no second download
    assert requested == []


def test_download_of_the_ccpp_archive(tmp_path, data_root, monkeypatch, fresh_cache):
    requested: list[str] = []
    url = get_spec("ccpp").files[0].archive.url
    _serve(monkeypatch, {url: data_root / "ccpp" / "CCPP.zip"}, requested)
    t = load_ccpp(tmp_path)
    assert requested == [url] and t.n_rows == 9568
    assert sorted(p.name for p in (tmp_path / "ccpp").iterdir()) == ["CCPP.zip"]


def test_mirror_used_when_the_first_url_fails(tmp_path, data_root, monkeypatch, fresh_cache):
    spec = get_spec("mnist").files[3]  # t10k labels, 4.5 kB
    requested: list[str] = []
    _serve(monkeypatch, {spec.mirrors[0]: data_root / spec.relpath}, requested)
    v = fetch_file(spec, tmp_path)
    assert requested == [spec.url, spec.mirrors[0]]
    assert v.digest.sha256 == spec.accepted[0].sha256


def test_download_with_a_file_url(tmp_path, fresh_cache):
    src = tmp_path / "src" / "payload.bin"
    src.parent.mkdir()
    src.write_bytes(os.urandom(3 * (1 << 20) + 17))
    spec = _spec_for(src, src.as_uri())
    root = tmp_path / "root"
    v = fetch_file(spec, root, download=True, progress=False)
    assert (root / "syn" / "file.bin").read_bytes() == src.read_bytes()
    assert v.data == src.read_bytes()
    assert _no_part_files(root)


def test_download_with_a_wrong_checksum_leaves_nothing(tmp_path, fresh_cache):
    src = tmp_path / "payload.bin"
    src.write_bytes(b"tampered payload")
    spec = FileSpec(
        "synthetic", "syn/file.bin", src.as_uri(), (Checksum(size=16, sha256="0" * 64),)
    )
    root = tmp_path / "root"
    with pytest.raises(ChecksumError) as info:
        fetch_file(spec, root, download=True)
    assert info.value.actual_sha256 == hashlib.sha256(b"tampered payload").hexdigest()
    assert "downloaded from file:" in str(info.value)
    assert not (root / "syn" / "file.bin").exists()
    assert _no_part_files(root)
    # larger than any accepted size: the download is cut off
    big = FileSpec("synthetic", "syn/file.bin", src.as_uri(), (Checksum(size=4, sha256="0" * 64),))
    with pytest.raises(ChecksumError, match="exceeded"):
        fetch_file(big, root, download=True)
    assert _no_part_files(root)


def test_download_failure_is_a_download_error(tmp_path):
    spec = FileSpec(
        "synthetic",
        "syn/file.bin",
        (tmp_path / "does-not-exist").as_uri(),
        (Checksum(size=1, sha256="0" * 64),),
    )
    with pytest.raises(DownloadError, match="could not download") as info:
        fetch_file(spec, tmp_path / "root")
    assert str(tmp_path / "root" / "syn" / "file.bin") in str(info.value)
    assert _no_part_files(tmp_path)


# ------------------------------------------------------------------------------ tar archives


def _tar(path: Path, members: list[tuple[tarfile.TarInfo, bytes | None]]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def _file(name: str, data: bytes) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    return info, data


def _link(name: str, target: str, kind: bytes) -> tuple[tarfile.TarInfo, None]:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    return info, None


def test_safe_extract_tar_extracts_regular_files(tmp_path):
    archive = _tar(tmp_path / "a.tar.gz", [_file("d/one", b"1"), _file("d/two", b"22")])
    dest = tmp_path / "out"
    written = safe_extract_tar(archive, dest, members=["d/two"])
    assert written == [(dest / "d" / "two").resolve()]
    assert (dest / "d" / "two").read_bytes() == b"22" and not (dest / "d" / "one").exists()
    with pytest.raises(CorruptDataError, match="members not found: d/three"):
        safe_extract_tar(archive, dest, members=["d/three"])


@pytest.mark.parametrize(
    "bad",
    [
        _file("../evil.txt", b"x"),
        _file("d/../../evil.txt", b"x"),
        _file("/neuronbench-tar-test/evil-absolute.txt", b"x"),
        _link("d/link", "../../evil.txt", tarfile.SYMTYPE),
        _link("d/hard", "/etc/passwd", tarfile.LNKTYPE),
    ],
    ids=["dotdot", "nested-dotdot", "absolute", "symlink", "hardlink"],
)
def test_tar_path_traversal_and_links_are_refused(tmp_path, bad):
    archive = _tar(tmp_path / "a.tar.gz", [_file("d/good", b"fine"), bad])
    dest = tmp_path / "deep" / "out"
    with pytest.raises(UnsafeArchiveError, match=r"refused|outside"):
        safe_extract_tar(archive, dest)
    assert not (tmp_path / "deep" / "evil.txt").exists()
    assert not (tmp_path / "evil.txt").exists()
    assert not Path("/neuronbench-tar-test/evil-absolute.txt").exists()
    assert not (dest / "d" / "good").exists()  # the whole archive is refused
    assert _no_part_files(tmp_path)


def test_tar_refuses_device_members(tmp_path):
    info = tarfile.TarInfo("d/fifo")
    info.type = tarfile.FIFOTYPE
    archive = _tar(tmp_path / "a.tar.gz", [(info, None)])
    with pytest.raises(UnsafeArchiveError, match="special member"):
        safe_extract_tar(archive, tmp_path / "out")


def test_tar_refuses_writing_through_an_existing_symlink(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    dest = tmp_path / "out"
    dest.mkdir()
    (dest / "d").symlink_to(outside, target_is_directory=True)
    archive = _tar(tmp_path / "a.tar.gz", [_file("d/x", b"x")])
    with pytest.raises(UnsafeArchiveError, match="outside"):
        safe_extract_tar(archive, dest)
    assert not (outside / "x").exists()


def test_damaged_tar(tmp_path):
    archive = _tar(tmp_path / "a.tar.gz", [_file("d/x", b"x" * 100000)])
    data = archive.read_bytes()
    (tmp_path / "cut.tar.gz").write_bytes(data[: len(data) // 2])
    with pytest.raises(CorruptDataError):
        safe_extract_tar(tmp_path / "cut.tar.gz", tmp_path / "out")
    assert _no_part_files(tmp_path)


def test_fetch_extracts_a_member_of_a_verified_tar_archive(tmp_path, fresh_cache):
    payload = b"batch bytes" * 1000
    src = tmp_path / "src"
    src.mkdir()
    archive = _tar(
        src / "bundle.tar.gz", [_file("inner/batch", payload), _file("inner/readme", b"r")]
    )
    adata = archive.read_bytes()
    arch = Archive(
        "syn/bundle.tar.gz",
        archive.as_uri(),
        "tar.gz",
        Checksum(size=len(adata), md5=hashlib.md5(adata).hexdigest()),
    )
    spec = FileSpec(
        "synthetic",
        "syn/inner/batch",
        arch.url,
        (Checksum(size=len(payload), sha256=hashlib.sha256(payload).hexdigest()),),
        archive=arch,
        member="inner/batch",
    )
    root = tmp_path / "root"
    with pytest.raises(MissingDataError, match=r"bundle\.tar\.gz"):
        fetch_file(spec, root, download=False)
    v = fetch_file(spec, root, progress=False)  # downloads the archive, then extracts
    assert v.data == payload and "extracted from" in v.source
    assert (root / "syn" / "bundle.tar.gz").is_file()
    assert not (root / "syn" / "inner" / "readme").exists()
    # a tampered archive is rejected before any extraction
    shutil.rmtree(root / "syn" / "inner")
    (root / "syn" / "bundle.tar.gz").write_bytes(adata[:-1] + bytes([adata[-1] ^ 1]))
    with pytest.raises(ChecksumError, match=hashlib.md5(adata).hexdigest()):
        fetch_file(spec, root)
    assert not (root / "syn" / "inner").exists()
