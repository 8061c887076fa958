"""``neuronbench accuracy`` end to end on real MNIST (one cheap cell), then ``neuronbench report``:
rows in the store, a rerun that skips, the report's table and figure, and the preconditions
that are checked before any trial starts."""

from __future__ import annotations

import pytest

from suites.cli import main
from suites.results import load_results, load_trials

CHEAP = ["accuracy", "--protocol", "mnist-units", "--profile", "quick", "--units", "relu",
         "--variants", "equal-width", "--frameworks", "numpy", "--seeds", "2", "--executor", "inline"]


def test_accuracy_then_report(tmp_path, capsys) -> None:
    results, reports = tmp_path / "results", tmp_path / "reports"
    assert main([*CHEAP, "--results-dir", str(results)]) == 0
    trials = load_trials(results)
    assert list(trials["status"]) == ["ok", "ok"]
    rows = load_results(results)
    picked = rows[(rows["selection"] == "best_val")]
    assert sorted(picked["seed"]) == [0, 1] and picked["value"].between(0.5, 1.0).all()
    assert set(rows["profile"]) == {"quick"} and set(rows["framework"]) == {"numpy"}

    capsys.readouterr()
    assert main([*CHEAP, "--results-dir", str(results)]) == 0  # nothing left to run
    assert "0 ok, 0 failed, 0 diverged, 2 skipped" in capsys.readouterr().out
    assert len(load_trials(results)) == 2

    assert main(["report", "--results-dir", str(results), "--out", str(reports)]) == 0
    table = (reports / "tables" / "quick" / "mnist_accuracy_best_val.md").read_text()
    assert "relu" in table and "(n=2)" in table
    assert (reports / "figures" / "quick" / "curves_mnist-units_equal-width_test_accuracy.png").is_file()


def test_missing_data_is_reported_before_any_trial(tmp_path, capsys) -> None:
    empty = tmp_path / "no-data"
    empty.mkdir()
    code = main([*CHEAP, "--results-dir", str(tmp_path / "r"), "--data-dir", str(empty), "--no-download"])
    assert code == 2
    out = capsys.readouterr().out
    assert str(empty) in out and "mnist" in out
    assert not (tmp_path / "r" / "trials").exists()


@pytest.mark.parametrize(("flag", "value", "message"), [
    ("--protocol", "mnist-typo", "unknown protocol"),
    ("--units", ",", "--units is empty"),
    ("--variants", "wide", "unknown variant"),
])
def test_bad_arguments_are_refused_up_front(tmp_path, flag, value, message) -> None:
    argv = [*CHEAP, "--results-dir", str(tmp_path / "r")]
    argv[argv.index(flag) + 1] = value
    with pytest.raises(SystemExit, match=message):
        main(argv)
    assert not (tmp_path / "r" / "trials").exists()


def test_prefix_abbreviations_are_not_accepted(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["accuracy", "--framework", "numpy"])
