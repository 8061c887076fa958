"""The accuracy trial: one seed of one unit in one framework, trained for real, rows out.

``run_trial(config)`` is a pure function of its resolved config (see ``grid.resolve``): it
loads MNIST through the verified loaders, splits it with the trial's ``split`` seed stream,
builds the model from the ``init`` stream, draws every epoch's batch order from the
``data_order`` stream (so all four frameworks see identical weights and batches), trains
through the public training API (``impls.init_train_state`` / ``impls.train_steps``) with the
protocol's schedule set between epochs, and evaluates the validation and test sets after every
epoch. A loss that turns NaN/inf stops the trial as diverged (``suites.run.Diverged``) with the
rows of the epochs before it.

The data root comes from the environment (``NEURONBENCH_DATA``, set by the CLI from
``--data-dir``), not from the config: where the files lie must not change a trial's key, their
checksums (pinned in the data registry, part of the code fingerprint) do.
"""

from __future__ import annotations

import functools
import math
import os
import sys
import time
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
from scipy import special

#: What a trial's rows say about the selection of the reported epoch.
SELECTIONS = ("best_test", "best_val", "final")

#: Set (by ``neuronbench accuracy`` when its output is a log, not a terminal) to print one line
#: per finished epoch: a 20-epoch trial otherwise shows nothing for most of an hour.
ENV_EPOCH_LOG = "NEURONBENCH_EPOCH_LOG"


def _log_epoch(config: Mapping[str, Any], epoch: int, train_loss: float, val: float | None,
               test: float, seconds: float) -> None:
    if os.environ.get(ENV_EPOCH_LOG) != "1":
        return
    val_text = "" if val is None else f" val {100 * val:.2f}%"
    print(f"    {config['protocol']} {config['unit']} {config['variant']} {config['framework']} "
          f"seed {config['seed']}: epoch {epoch}/{config['epochs']} loss {train_loss:.4f}{val_text} "
          f"test {100 * test:.2f}% ({seconds:.1f} s)", file=sys.stderr, flush=True)


@functools.lru_cache(maxsize=2)
def mnist_arrays(normalize: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Full MNIST (flat, float32) preprocessed as the protocol says; cached per process."""
    from suites.data import load_mnist

    if normalize == "mean-std":
        ds = load_mnist(layout="flat", normalize=True)
        return ds.x_train, ds.y_train, ds.x_test, ds.y_test
    if normalize == "scale":
        ds = load_mnist(layout="flat", normalize=False)
        scale = np.float32(1.0 / 255.0)
        return (ds.x_train.astype(np.float32) * scale, ds.y_train,
                ds.x_test.astype(np.float32) * scale, ds.y_test)
    raise ValueError(f"unknown normalisation {normalize!r}; known: mean-std, scale")


def split_indices(n_train: int, config: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """(train, validation) row indices of the training set for this trial.

    The pool is the whole training set, or (quick profile) a fixed subset drawn once with the
    protocol's subset seed; the trial seed's ``split`` stream then holds ``validation`` images
    out of the pool. The pool is the same for every trial; the hold-out differs per seed.
    """
    from impls.spec import seeds
    from suites.data.splits import permutation

    subset = config["train_subset"]
    pool = (np.arange(n_train) if subset is None
            else np.sort(permutation(n_train, config["subset_seed"])[: subset + config["validation"]]))
    order = permutation(len(pool), seeds.words(config["seed"], "split"))
    val = np.sort(pool[order[: config["validation"]]])
    train = np.sort(pool[order[config["validation"]:]])
    return train, val


def held_test_indices(n_test: int, config: Mapping[str, Any]) -> np.ndarray:
    """All test images, or the first ``test_subset`` of them (a fixed, documented subset)."""
    subset = config["test_subset"]
    return np.arange(n_test if subset is None else min(subset, n_test))


def batches_of(x: np.ndarray, y: np.ndarray, order: np.ndarray, batch_size: int
               ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    for start in range(0, len(order), batch_size):
        idx = order[start:start + batch_size]
        yield x[idx], y[idx]


def evaluate(model: Any, x: np.ndarray, y: np.ndarray, batch_size: int, mode: str) -> tuple[float, float]:
    """(accuracy, mean cross-entropy) of a model on a labelled set, loss computed in float64."""
    import impls

    logits = impls.predict(model, x, batch_size=batch_size, mode=mode).astype(np.float64)
    log_p = special.log_softmax(logits, axis=1)
    loss = -float(np.mean(log_p[np.arange(len(y)), y]))
    return float(np.mean(np.argmax(logits, axis=1) == y)), loss


def device_name(framework: str) -> str:
    import importlib

    device = importlib.import_module(f"impls.{framework}.device")
    return str(device.default_device()).lower()


def _kernel(config: Mapping[str, Any]) -> str:
    """The implementation of the unit that ran (the APTx layer has several)."""
    import impls

    return impls.kernel_name(config["unit"], config["framework"], config["mode"], **config["unit_config"])


def run_trial(config: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Train one trial (see the module docstring); returns tidy rows (runner schema)."""
    import impls
    from impls.spec import seeds
    from suites.accuracy import protocols
    from suites.run import Diverged

    framework, mode, dtype = config["framework"], config["mode"], config["dtype"]
    x_all, y_all, x_test_all, y_test_all = mnist_arrays(config["normalize"])
    train_idx, val_idx = split_indices(len(x_all), config)
    x_train, y_train = x_all[train_idx], y_all[train_idx]
    x_val, y_val = x_all[val_idx], y_all[val_idx]
    keep = held_test_indices(len(x_test_all), config)
    x_test, y_test = x_test_all[keep], y_test_all[keep]

    architecture = protocols.mlp(tuple(config["hidden"]), config["unit"], config["unit_config"])
    model = impls.build_model(architecture, framework, seed=seeds.stream(config["seed"], "init"), dtype=dtype)
    rule = protocols.make_rule(config["optimizer"])
    schedule = protocols.make_schedule(config["schedule"])
    state = impls.init_train_state(model, "cross_entropy", rule, mode=mode, clip_norm=config["clip_norm"])
    order_rng = seeds.generator(config["seed"], "data_order")

    base = {"protocol": config["protocol"], "unit": config["unit"], "framework": framework, "mode": mode,
            "device": device_name(framework), "dtype": dtype, "dataset": "mnist", "fold": -1,
            "seed": config["seed"], "n_params": architecture.n_params, "variant": config["variant"],
            "kernel": _kernel(config), "profile": config["profile"], "selection": ""}
    rows: list[dict[str, Any]] = []

    def add(epoch: int, split: str, metric: str, value: float, **extra: Any) -> None:
        rows.append({**base, "epoch": epoch, "split": split, "metric": metric, "value": float(value), **extra})

    curves: dict[str, list[float]] = {"val": [], "test": []}
    for epoch in range(1, config["epochs"] + 1):
        lr = schedule.lr(rule.lr, epoch - 1)
        impls.set_learning_rate(state, lr)
        order = order_rng.permutation(len(x_train))
        start = time.perf_counter()
        losses = impls.train_steps(state, batches_of(x_train, y_train, order, config["batch_size"]))
        seconds = time.perf_counter() - start
        sizes = np.diff(np.append(np.arange(0, len(order), config["batch_size"]), len(order)))
        train_loss = float(np.dot(losses, sizes) / len(order))
        if not all(math.isfinite(v) for v in losses):
            raise Diverged(epoch, rows, f"training loss became {train_loss} in epoch {epoch}")
        add(epoch, "train", "loss", train_loss)
        add(epoch, "", "epoch_seconds", seconds)
        add(epoch, "", "lr", lr)
        if len(x_val):
            acc, loss = evaluate(model, x_val, y_val, config["eval_batch_size"], mode)
            curves["val"].append(acc)
            add(epoch, "val", "accuracy", acc)
            add(epoch, "val", "loss", loss)
        acc, loss = evaluate(model, x_test, y_test, config["eval_batch_size"], mode)
        curves["test"].append(acc)
        add(epoch, "test", "accuracy", acc)
        add(epoch, "test", "loss", loss)
        _log_epoch(config, epoch, train_loss, curves["val"][-1] if curves["val"] else None, acc, seconds)

    test = curves["test"]
    picks = {"best_test": int(np.argmax(test)), "final": len(test) - 1}
    if curves["val"]:
        picks["best_val"] = int(np.argmax(curves["val"]))
    report_epoch = config.get("report_epoch")
    if report_epoch is not None and report_epoch <= len(test):
        picks[f"epoch_{report_epoch}"] = report_epoch - 1
    for selection, index in picks.items():
        rows.append({**base, "epoch": index + 1, "split": "test", "metric": "accuracy",
                     "value": test[index], "selection": selection})
    return rows
