"""Bad data roots and unreadable dataset folders give a clear message, never a traceback."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from suites.cli import main
from suites.data import verify
from suites.data.root import DataRootError, data_root_and_source

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "datasets"


def test_an_empty_data_dir_is_refused_not_replaced_by_the_cache() -> None:
    with pytest.raises(DataRootError, match="--data-dir is empty"):
        data_root_and_source("")


def test_a_data_root_that_is_a_file_says_so(tmp_path, monkeypatch, capsys) -> None:
    a_file = tmp_path / "datasets.txt"
    a_file.write_text("not a folder")
    monkeypatch.setenv("NEURONBENCH_DATA", str(a_file))
    with pytest.raises(DataRootError, match="is not a directory"):
        data_root_and_source(None)
    assert main(["data", "verify", "--no-download"]) == 2
    assert "is not a directory" in capsys.readouterr().out


def test_rich_markup_in_the_data_path_is_printed_verbatim(tmp_path, capsys) -> None:
    if not (SHARED / "magic").is_dir():
        pytest.fail(f"the shared MAGIC files are expected at {SHARED / 'magic'}")
    root = tmp_path / "data[red]root"
    shutil.copytree(SHARED / "magic", root / "magic")
    assert main(["data", "verify", "--data-dir", str(root), "--no-download", "magic"]) == 0
    assert "data[red]root" in capsys.readouterr().out.replace("\n", "")


def test_one_unreadable_dataset_fails_its_row_and_the_others_are_verified(tmp_path, monkeypatch) -> None:
    real = verify.verify_dataset

    def unreadable_adult(name, *args, **kwargs):
        if name == "adult":
            raise PermissionError(13, "Permission denied", str(tmp_path / "adult"))
        return real(name, *args, **kwargs)

    monkeypatch.setattr(verify, "verify_dataset", unreadable_adult)
    reports = verify.verify_all(["adult", "magic"], SHARED, download=False, progress=False)
    by_name = {r.name: r for r in reports}
    assert not by_name["adult"].ok and "Permission denied" in by_name["adult"].errors[0]
    assert by_name["magic"].ok
