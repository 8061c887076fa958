"""``neuronbench data verify`` / ``data info``, data root resolution, and import weight."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import pytest

from suites.data import registry
from suites.data.cli import add_subparser
from suites.data.root import (
    data_root_and_source,
    default_cache_dir,
    downloads_allowed,
    resolve_data_root,
)

REPO = Path(__file__).resolve().parents[2]


def run_cli(argv, capsys) -> tuple[int, str]:
    parser = argparse.ArgumentParser(prog="neuronbench")
    add_subparser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    code = args.handler(args)
    out = capsys.readouterr()
    return code, out.out + out.err


def test_verify_real_data_passes(data_root, capsys):
    code, out = run_cli(["data", "verify", "--data-dir", str(data_root), "--no-download"], capsys)
    assert code == 0, out
    assert "5/5 datasets verified" in out
    for spec in registry.DATASETS.values():
        for f in spec.files:
            for c in f.accepted:
                if c.origin == "reconstruction" or (c.sha256 and f.archive is None):
                    assert c.sha256 in out
                    assert str(c.size) in out
    assert registry.CCPP_ARCHIVE.checksum.sha256 in out
    assert "reconstruction" in out and "counts match" in out


def test_verify_empty_dir_offline_fails_for_every_dataset(tmp_path, capsys):
    from suites.cli import main

    empty = tmp_path / "EMPTY"
    empty.mkdir()
    code = main(["data", "verify", "--data-dir", str(empty), "--no-download"])
    out = capsys.readouterr().out
    assert code != 0
    assert "0/5 datasets verified" in out
    for spec in registry.DATASETS.values():
        assert f"[{spec.name}] FAILED" in out
        for f in spec.required_files:
            assert f"dataset {spec.name!r}: required file {f.relpath!r} is missing." in out
            assert str(empty / f.relpath) in out
            assert f.url in out
    assert list(empty.iterdir()) == []  # nothing downloaded or created


def test_verify_offline_env_and_subset(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("NEURONBENCH_OFFLINE", "1")
    monkeypatch.setenv("NEURONBENCH_DATA", str(tmp_path))
    code, out = run_cli(["data", "verify", "magic"], capsys)
    assert code == 1 and "0/1 datasets verified" in out and "NEURONBENCH_OFFLINE=1" in out
    code, out = run_cli(["data", "verify", "nope"], capsys)
    assert code == 2 and "known datasets" in out


def test_verify_reports_a_corrupted_file(tmp_path, data_root, capsys, fresh_cache):
    (tmp_path / "adult").mkdir()
    (tmp_path / "adult" / "adult.data").write_bytes(
        (data_root / "adult" / "adult.data").read_bytes()[:-10]
    )
    (tmp_path / "adult" / "adult.test").symlink_to(data_root / "adult" / "adult.test")
    code, out = run_cli(
        ["data", "verify", "adult", "--data-dir", str(tmp_path), "--no-download"], capsys
    )
    assert code == 1
    assert "CHECKSUM MISMATCH" in out
    assert registry.ADULT.files[0].accepted[0].sha256 in out
    assert "absent (optional)" in out  # adult.names


def test_verify_reports_wrong_content(tmp_path, capsys, monkeypatch, data_root):
    bad = dict(registry.MAGIC.expected)
    bad["rows"] = {"all": 19021}
    spec = registry.DatasetSpec(**{**registry.MAGIC.__dict__, "expected": bad})
    from suites.data.verify import verify_dataset

    report = verify_dataset(spec, data_root, download=False)
    assert not report.ok and "19021" in report.checks[0]


def test_info_commands(data_root, capsys):
    code, out = run_cli(["data", "info", "mnist", "--data-dir", str(data_root)], capsys)
    assert code == 0 and "(60000, 784)" in out and "class balance" in out and "5923" in out
    code, out = run_cli(["data", "info", "adult", "--data-dir", str(data_root)], capsys)
    assert code == 0 and "width 104" in out and "hours-per-week" in out
    code, out = run_cli(["data", "info", "ccpp", "--data-dir", str(data_root)], capsys)
    assert code == 0 and "min 420.26" in out and "max 495.76" in out
    code, out = run_cli(["data", "info", "imagenet"], capsys)
    assert code == 2 and "known datasets: mnist, cifar10, adult, magic, ccpp" in out


def test_info_missing_data_offline(tmp_path, capsys):
    code, out = run_cli(
        ["data", "info", "magic", "--data-dir", str(tmp_path), "--no-download"], capsys
    )
    assert code == 1 and "MissingDataError" in out and "magic04.data" in out


# ------------------------------------------------------------------------------- data root


def test_data_root_precedence(tmp_path, monkeypatch):
    monkeypatch.delenv("NEURONBENCH_DATA", raising=False)
    assert data_root_and_source(None) == (Path(os.path.abspath(default_cache_dir())), "user cache")
    monkeypatch.setenv("NEURONBENCH_DATA", str(tmp_path / "env"))
    assert data_root_and_source(None) == (tmp_path / "env", "NEURONBENCH_DATA")
    assert data_root_and_source(tmp_path / "arg") == (tmp_path / "arg", "--data-dir")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NEURONBENCH_DATA", "../shared/datasets")
    assert resolve_data_root() == tmp_path.parent / "shared" / "datasets"


def test_download_policy(monkeypatch):
    assert downloads_allowed() is True and downloads_allowed(False) is False
    monkeypatch.setenv("NEURONBENCH_OFFLINE", "1")
    assert downloads_allowed() is False and downloads_allowed(True) is False
    monkeypatch.setenv("NEURONBENCH_OFFLINE", "0")
    assert downloads_allowed() is True


# ---------------------------------------------------------------------------- import weight


def test_imports_are_light():
    code = (
        "import sys, suites.data.cli; assert 'numpy' not in sys.modules, 'cli imported numpy';"
        "import suites.data;"
        "heavy = [m for m in ('torch', 'jax', 'tensorflow', 'pandas', 'sklearn', 'openpyxl', 'rich', 'tqdm')"
        " if m in sys.modules]; assert not heavy, heavy"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("name", ["suites/data", "tests/data"])
def test_no_absolute_machine_paths_in_sources(name):
    for path in (REPO / name).rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        for prefix in ("work", "root", "home"):
            assert f"/{prefix}/" not in text.replace('f"/{prefix}/"', ""), path
