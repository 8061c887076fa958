"""CLI misuse is refused before any work starts, with a message naming the problem (issue:
reliability). Each case runs the real parser and handler; none of them reaches a trial."""

from __future__ import annotations

import pytest

from suites.cli import main


def _refused(argv: list[str], capsys) -> str:
    with pytest.raises(SystemExit) as raised:
        main(argv)
    assert raised.value.code not in (0, None)
    captured = capsys.readouterr()
    return f"{raised.value.code} {captured.err} {captured.out}"


@pytest.mark.parametrize("command", ["equivalence", "accuracy", "perf", "reproduce"])
def test_option_prefixes_are_not_accepted(command, capsys, tmp_path) -> None:
    """``--framework numpy`` must not silently mean ``--frameworks numpy``."""
    message = _refused([command, "--framework", "numpy", "--results-dir", str(tmp_path)], capsys)
    assert "--framework" in message


@pytest.mark.parametrize("args, expected", [
    (["--dtypes", "float16"], "--dtypes 'float16' unknown"),
    (["--units", "relu,bogus"], "--units 'bogus' unknown"),
    (["--units", ","], "--units is empty"),
    (["--modes", "fast"], "--modes 'fast' unknown"),
    (["--checkpoint-oracle-rows", "0"], "must be at least 1"),
])
def test_equivalence_refuses_bad_lists_before_running(args, expected, capsys, tmp_path) -> None:
    message = _refused(["equivalence", "--frameworks", "numpy", "--results-dir",
                        str(tmp_path / "r"), *args], capsys)
    assert expected in message
    assert not (tmp_path / "r" / "trials").exists()      # nothing ran


def test_equivalence_names_a_missing_checkpoint_first(capsys, tmp_path) -> None:
    message = _refused(["equivalence", "--frameworks", "numpy", "--results-dir", str(tmp_path / "r"),
                        "--reference-dir", str(tmp_path / "nowhere")], capsys)
    assert "APTx checkpoint not found" in message and "--no-checkpoint" in message
    assert not (tmp_path / "r" / "trials").exists()


def test_equivalence_names_missing_mnist_with_path_and_url(capsys, tmp_path) -> None:
    message = _refused(["equivalence", "--frameworks", "numpy", "--results-dir", str(tmp_path / "r"),
                        "--data-dir", str(tmp_path / "nodata"), "--no-download"], capsys)
    assert str(tmp_path / "nodata") in message and "https://" in message
    assert not (tmp_path / "r" / "trials").exists()


def test_a_framework_that_is_not_installed_is_refused_up_front(monkeypatch, capsys, tmp_path) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "torch" else real(name, *a))
    message = _refused(["equivalence", "--frameworks", "numpy,torch", "--results-dir",
                        str(tmp_path / "r"), "--no-checkpoint"], capsys)
    assert "torch" in message and "pip install neuronbench[torch]" in message
    assert not (tmp_path / "r" / "trials").exists()
