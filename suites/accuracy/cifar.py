"""The ``cifar10`` protocol: a small CNN whose neuron is a parameter, trained on real CIFAR-10.

Four conv blocks (3x3 conv, same padding -> unit -> 2x2 max-pool; ``impls.spec.CNNSpec``), a
dense hidden layer and a linear head. The unit is the conv activation (ReLU, GELU, PReLU,
Swish, ActMix, LearnableSELU, the APTx activation) or, for ``yat_conv2d``, replaces conv +
activation (nmn 0.3.5 semantics) with Yat dense layers in the head, as ``CNNSpec`` defines.
Inputs are the loader's per-channel standardised NCHW images; every training batch is
augmented (pad 4 with black pixels, random 32x32 crop, horizontal flip) by NumPy from the trial
seed, epoch and step, so every framework sees the same images. Adam with a cosine schedule,
batch 128. The last epoch is reported (no checkpoint selection: nothing is chosen on the test
set); ``quick`` trains on a fixed 10,000-image subset.

Two variants: ``equal-width`` (every unit at the widths above) and ``equal-params`` for the
units whose own parameters change the count (PReLU's slopes, ActMix's logits, ...): the dense
hidden layer is resized so the network's count is closest to ReLU's. The dense width is the
finest integer knob (one unit is ~270 parameters; one conv channel is ~600-1,200), so a unit
whose difference is below half a dense unit gets no equal-params trial: it would repeat its
equal-width one.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

PROTOCOL = "cifar10"
#: Small on purpose: on two CPU cores a torch epoch of 10,000 images takes about 8 s at these
#: widths (about 30 s at 32-64-128-128), which is what lets the quick profile of every unit fit.
CHANNELS = (16, 32, 64, 64)
DENSE = (64,)
UNIT_CONFIGS: Mapping[str, Mapping[str, Any]] = {
    "relu": {}, "gelu": {}, "prelu": {}, "swish": {"learnable": True}, "actmix": {},
    "lselu": {}, "aptx_activation": {"trainable": True}, "yat_conv2d": {},
}
UNITS = tuple(UNIT_CONFIGS)
SUBSET_SEED = 20260101


@dataclass(frozen=True)
class CifarProfile:
    epochs: int
    seeds: int
    train_subset: int | None
    test_subset: int | None


PROFILES: Mapping[str, CifarProfile] = {
    "quick": CifarProfile(epochs=2, seeds=2, train_subset=10_000, test_subset=2_000),
    "paper": CifarProfile(epochs=30, seeds=3, train_subset=None, test_subset=None),
}
DEFAULT_MODES = {"numpy": "eager", "torch": "eager", "jax": "compiled", "tf": "compiled"}


VARIANTS = ("equal-width", "equal-params")
BASELINE = "relu"


def architecture(unit: str, unit_config: Mapping[str, Any], dense: Sequence[int] = DENSE):
    from impls.spec import CNNSpec

    return CNNSpec(3, 32, CHANNELS, tuple(dense), 10, unit, dict(unit_config))


def dense_for(unit: str, variant: str) -> tuple[int, ...]:
    """The dense hidden width of a unit in a variant (``equal-params``: closest count to ReLU's,
    ties to the wider layer)."""
    if variant == "equal-width":
        return DENSE
    if variant != "equal-params":
        raise ValueError(f"unknown cifar10 variant {variant!r}; known: {', '.join(VARIANTS)}")
    target = architecture(BASELINE, UNIT_CONFIGS[BASELINE]).n_params
    widths = range(max(1, DENSE[0] // 2), 2 * DENSE[0] + 1)
    best = min(widths, key=lambda w: (abs(architecture(unit, UNIT_CONFIGS[unit], (w,)).n_params - target), -w))
    return (best,)


@functools.lru_cache(maxsize=1)
def _cifar10() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, Any]:
    """The verified, standardised arrays and the black pixel, once per worker process."""
    from suites.data import load_cifar10

    ds = load_cifar10(download=False)
    return ds.x_train, ds.y_train, ds.x_test, ds.y_test, ds.preprocessing["black_pixel"]


def run_trial(config: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Train one seed of one unit in one framework (see the module docstring); tidy rows."""
    import impls
    from impls.spec import seeds
    from suites.accuracy import protocols
    from suites.accuracy.train import device_name, evaluate
    from suites.data import random_crop_flip
    from suites.data.splits import permutation
    from suites.run import Diverged

    framework, mode, dtype = config["framework"], config["mode"], config["dtype"]
    x_train, y_train, x_test, y_test, fill = _cifar10()
    if config["train_subset"]:
        keep = np.sort(permutation(len(x_train), SUBSET_SEED)[:config["train_subset"]])
        x_train, y_train = x_train[keep], y_train[keep]
    if config["test_subset"]:
        x_test, y_test = x_test[:config["test_subset"]], y_test[:config["test_subset"]]
    arch = architecture(config["unit"], config["unit_config"], config["dense"])
    model = impls.build_model(arch, framework, seed=seeds.stream(config["seed"], "init"), dtype=dtype)
    rule = protocols.make_rule(config["optimizer"])
    schedule = protocols.make_schedule(config["schedule"])
    state = impls.init_train_state(model, "cross_entropy", rule, mode=mode)
    order_rng = seeds.generator(config["seed"], "data_order")
    augment_words = seeds.words(config["seed"], "augmentation", 2)

    base = {"protocol": PROTOCOL, "unit": config["unit"], "framework": framework, "mode": mode,
            "device": device_name(framework), "dtype": dtype, "dataset": "cifar10", "fold": -1,
            "seed": config["seed"], "n_params": arch.n_params, "variant": config["variant"],
            "profile": config["profile"], "selection": "",
            "kernel": impls.kernel_name(config["unit"], framework, mode, **config["unit_config"])}
    rows: list[dict[str, Any]] = []

    def add(epoch: int, split: str, metric: str, value: float, **extra: Any) -> None:
        rows.append({**base, "epoch": epoch, "split": split, "metric": metric, "value": float(value),
                     **extra})

    def batches(order: np.ndarray, epoch: int):
        for step, start in enumerate(range(0, len(order), config["batch_size"])):
            idx = order[start:start + config["batch_size"]]
            yield random_crop_flip(x_train[idx], [*augment_words, epoch, step], fill=fill), y_train[idx]

    accuracy = math.nan
    for epoch in range(1, config["epochs"] + 1):
        lr = schedule.lr(rule.lr, epoch - 1)
        impls.set_learning_rate(state, lr)
        start = time.perf_counter()
        losses = impls.train_steps(state, batches(order_rng.permutation(len(x_train)), epoch))
        seconds = time.perf_counter() - start
        if not all(math.isfinite(v) for v in losses):
            raise Diverged(epoch, rows, f"training loss became non-finite in epoch {epoch}")
        add(epoch, "train", "loss", float(np.mean(losses)))
        add(epoch, "", "epoch_seconds", seconds)
        accuracy, loss = evaluate(model, x_test, y_test, config["eval_batch_size"], mode)
        add(epoch, "test", "accuracy", accuracy)
        add(epoch, "test", "loss", loss)
    add(config["epochs"], "test", "accuracy", accuracy, selection="final")
    return rows


def plan(*, units: Sequence[str] | None = None, frameworks: Sequence[str], profile: str = "quick",
         seeds: int | None = None, dtype: str = "float32", variants: Sequence[str] = VARIANTS) -> list:
    """One runner trial per unit, variant, framework and seed (an equal-params trial only where
    it differs from the equal-width one)."""
    from suites.accuracy.grid import SUITE_CODE
    from suites.run import Trial, backend_code
    from suites.settings import DISTRIBUTIONS

    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; known: {', '.join(PROFILES)}")
    prof = PROFILES[profile]
    units = list(units or UNITS)
    unknown = [u for u in units if u not in UNIT_CONFIGS]
    if unknown:
        raise ValueError(f"cifar10 has no unit {', '.join(unknown)}; its units: {', '.join(UNITS)}")
    bad = [v for v in variants if v not in VARIANTS]
    if bad:
        raise ValueError(f"unknown cifar10 variant(s) {', '.join(bad)}; known: {', '.join(VARIANTS)}")
    trials = []
    for unit, variant in [(u, v) for v in variants for u in units]:
        dense = dense_for(unit, variant)
        if variant != "equal-width" and dense == DENSE:
            continue
        for framework in frameworks:
            for seed in range(prof.seeds if seeds is None else seeds):
                config = {"protocol": PROTOCOL, "profile": profile, "unit": unit,
                          "unit_config": dict(UNIT_CONFIGS[unit]), "variant": variant,
                          "framework": framework, "mode": DEFAULT_MODES[framework], "dtype": dtype,
                          "seed": seed, "channels": list(CHANNELS), "dense": list(dense),
                          "n_params": architecture(unit, UNIT_CONFIGS[unit], dense).n_params,
                          "optimizer": {"name": "adam", "lr": 1e-3},
                          "schedule": {"name": "cosine", "t_max": prof.epochs, "eta_min": 1e-5},
                          "batch_size": 128, "eval_batch_size": 500, "epochs": prof.epochs,
                          "train_subset": prof.train_subset, "test_subset": prof.test_subset}
                trials.append(Trial(suite="accuracy", fn="suites.accuracy.cifar:run_trial",
                                    config=config, code=(*backend_code(framework), *SUITE_CODE),
                                    frameworks=DISTRIBUTIONS[framework],
                                    label=f"{PROTOCOL} {unit} {variant} {framework} seed {seed}"))
    return trials
