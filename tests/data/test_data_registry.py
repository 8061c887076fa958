"""The checksums pinned in code agree with the shared data folder's manifest."""

from __future__ import annotations

import json
from pathlib import PurePosixPath

import pytest

from suites.data import DATASET_NAMES, DATASETS, canonical_name, get_spec, load
from suites.data.loaders import LOADERS
from suites.data.registry import CIFAR10_ARCHIVE, Checksum


@pytest.fixture(scope="module")
def manifest(data_root):
    return json.loads((data_root / "manifest.json").read_text(encoding="utf-8"))


def _registry_files():
    out = {}
    for spec in DATASETS.values():
        for f in spec.files:
            out[f.relpath] = f
    return out


def _registry_archives():
    return {a.relpath: a for spec in DATASETS.values() for a in spec.archives}


def test_every_manifest_file_is_pinned_with_the_same_size_sha256_and_url(manifest):
    files = _registry_files()
    archives = _registry_archives()
    seen = set()
    for ds in manifest["datasets"]:
        name = canonical_name(ds["name"])
        for entry in ds["files"]:
            rel = entry["file"]
            seen.add(rel)
            if rel in archives:
                a = archives[rel]
                assert a.checksum.size == entry["bytes"]
                assert a.checksum.sha256 == entry["sha256"]
                assert a.url == entry["url"]
                continue
            assert rel in files, f"{rel} is in manifest.json but not pinned in the registry"
            f = files[rel]
            assert f.dataset == name
            pinned = [c for c in f.accepted if c.sha256 == entry["sha256"]]
            assert len(pinned) == 1, f"{rel}: sha256 of the shared copy not accepted"
            assert pinned[0].size == entry["bytes"]
            if f.archive is None:
                assert f.url == entry["url"]
            else:  # "ARCHIVE_URL (member NAME)"
                assert entry["url"].startswith(f.archive.url)
                assert f.member in entry["url"]
            ref_md5 = entry.get("reference_md5")
            if ref_md5 is not None and ref_md5 != entry["md5"]:
                # the shared copy is a reconstruction: the original must be accepted by md5+size
                originals = [c for c in f.accepted if c.md5 == ref_md5]
                assert originals, f"{rel}: published md5 {ref_md5} not accepted"
                assert originals[0].size == entry["reference_bytes"]
                assert originals[0].origin == "original"
                assert pinned[0].origin == "reconstruction"
            elif ref_md5 is not None and pinned[0].md5 is not None:
                assert pinned[0].md5 == ref_md5
    assert seen == set(files) | (set(archives) - {CIFAR10_ARCHIVE.relpath})


def test_cifar_archive_pinned_from_spec_section_6(manifest):
    ref = next(d for d in manifest["datasets"] if d["name"] == "cifar-10")["reference_archive"]
    assert CIFAR10_ARCHIVE.checksum == Checksum(size=ref["bytes"], md5=ref["md5"])
    assert CIFAR10_ARCHIVE.checksum == Checksum(
        size=170498071, md5="c58f30108f718f92721af3b95e74349a"
    )
    assert CIFAR10_ARCHIVE.url == "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"


def test_expected_contents_agree_with_manifest(manifest):
    by_name = {canonical_name(d["name"]): d for d in manifest["datasets"]}
    mnist = by_name["mnist"]
    assert dict(get_spec("mnist").expected["rows"]) == mnist["rows"]
    for split in ("train", "test"):
        assert (
            list(get_spec("mnist").expected["class_counts"][split]) == mnist["class_counts"][split]
        )
    cifar = by_name["cifar10"]
    assert dict(get_spec("cifar10").expected["rows"]) == cifar["rows"]
    assert list(get_spec("cifar10").expected["class_names"]) == cifar["class_names"]
    adult = by_name["adult"]
    assert dict(get_spec("adult").expected["rows"]) == adult["rows"]
    assert dict(get_spec("adult").expected["rows_with_missing"]) == adult["rows_with_missing_value"]
    assert get_spec("magic").expected["rows"]["all"] == by_name["magic"]["rows"]
    assert get_spec("ccpp").expected["rows"]["all"] == by_name["ccpp"]["rows"]


def test_archive_members_land_on_the_registered_paths():
    for spec in DATASETS.values():
        for f in spec.files:
            if f.archive is not None and f.archive.kind == "tar.gz":
                folder = PurePosixPath(f.archive.relpath).parent
                assert str(folder / f.member) == f.relpath


def test_every_digest_is_well_formed():
    for spec in DATASETS.values():
        for f in spec.files:
            assert f.relpath.startswith(spec.directory + "/")
            for c in f.accepted:
                assert c.sha256 is None or len(c.sha256) == 64
                assert c.md5 is None or len(c.md5) == 32
                assert c.size > 0


def test_names_aliases_and_unknown():
    assert DATASET_NAMES == ("mnist", "cifar10", "adult", "magic", "ccpp")
    assert tuple(LOADERS) == DATASET_NAMES
    assert canonical_name("CIFAR-10") == "cifar10"
    assert canonical_name("cifar_10") == "cifar10"
    with pytest.raises(
        ValueError, match=r"unknown dataset 'imagenet'; known datasets: mnist, cifar10"
    ):
        get_spec("imagenet")
    with pytest.raises(ValueError, match="known datasets"):
        load("nope")


def test_a_checksum_needs_a_digest():
    with pytest.raises(ValueError):
        Checksum(size=1)
