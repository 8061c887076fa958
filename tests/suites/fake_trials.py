"""Tiny trial functions for the runner tests, importable by subprocesses and Dask workers.

Each appends its config's ``tag`` to the file named by ``$FAKE_TRIALS_LOG`` (when set) before
doing anything, so a test can tell exactly which trials ran in which run, across processes, and
``tag pid`` to ``$FAKE_TRIALS_PIDS`` (when set), so a fault-injection test can SIGKILL the very
process running a trial. The paths are not in the config: two result directories must get the
same trial keys.
"""

from __future__ import annotations

import os
import time

from suites.run import Diverged, Trial

CODE = ("tests.suites.fake_trials",)


def _log(config: dict) -> None:
    log = os.environ.get("FAKE_TRIALS_LOG")
    if log:
        with open(log, "a") as fh:
            fh.write(f"{config.get('tag', '?')}\n")
    pids = os.environ.get("FAKE_TRIALS_PIDS")
    if pids:
        with open(pids, "a") as fh:
            fh.write(f"{config.get('tag', '?')} {os.getpid()}\n")


def row(config: dict, metric: str, value: float, epoch: int | None = None) -> dict:
    """A measurement row with every column a trial function supplies."""
    return {"protocol": "fake", "unit": config.get("unit", "relu"), "framework": "numpy",
            "mode": "eager", "device": "cpu", "dtype": "float64", "dataset": "toy", "split": "test",
            "fold": 0, "seed": int(config.get("seed", 0)), "epoch": epoch, "metric": metric,
            "value": float(value), "n_params": 7}


def square(config: dict) -> list[dict]:
    """x**2 and x**3, after sleeping ``sleep`` seconds (slow trials for the kill test)."""
    _log(config)
    time.sleep(float(config.get("sleep", 0)))
    x = float(config["x"])
    return [row(config, "square", x * x, epoch=1), row(config, "cube", x ** 3, epoch=1)]


def boom(config: dict) -> list[dict]:
    _log(config)
    raise RuntimeError(f"boom {config.get('x')}")


def diverge(config: dict) -> list[dict]:
    _log(config)
    rows = [row(config, "loss", 1.0, epoch=1), row(config, "loss", 5.0, epoch=2)]
    raise Diverged(3, rows, "loss is nan at epoch 3")


def crash(config: dict) -> list[dict]:
    """Kill the worker process outright (what a segfault in a framework looks like)."""
    _log(config)
    os._exit(17)


def unknown_column(config: dict) -> list[dict]:
    return [{**row(config, "square", 1.0), "colour": "blue"}]


def trial(fn: str = "square", label: str = "", code: tuple[str, ...] = CODE, **config) -> Trial:
    return Trial("fake", f"tests.suites.fake_trials:{fn}", config, code, ("numpy",),
                 label or f"{fn} {config.get('tag', config.get('x', ''))}")


def slow_grid() -> list[Trial]:
    """Six slow trials, for the SIGKILL test."""
    return [trial(x=x, tag=f"x{x}", sleep=0.4) for x in range(6)]


def quick_grid() -> list[Trial]:
    return [trial(x=1, tag="x1")]
