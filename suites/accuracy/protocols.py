"""Training protocols as typed, versioned configs (see docs/accuracy.md).

A protocol fixes everything that moves a number: data and preprocessing, architecture,
optimiser, schedule, batch size, epochs, the validation hold-out and how the reported epoch is
picked. Its ``version`` is part of every trial's resolved config, so changing a protocol's
definition without bumping the version still changes the trial keys (the config changes), and
bumping it documents the change.

Profiles: ``quick`` runs on real MNIST with a fixed training subset and a few epochs (2 seeds:
the 2-core CI-sized machine); ``paper`` runs the full protocol (5 seeds).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from impls.spec import UNITS, MLPSpec, training

#: Seed of the fixed permutation that picks the quick profile's training subset (the same
#: images for every trial seed, unit and framework; the trial seed then splits it).
SUBSET_SEED = 20260101

#: How a protocol may size its hidden layers (see ``hidden_for``).
VARIANTS = ("paper", "equal-width", "equal-params")
#: Input preprocessing a protocol may name (see ``suites.accuracy.train.mnist_arrays``).
NORMALIZATIONS = ("mean-std", "scale")


class ConfigError(ValueError):
    """Every problem of a protocol or a grid, found before anything runs, in one exception.

    Listing them all at once (not the first) spares a user one failed start per typo, which on a
    grid that takes hours to plan data for is the difference between one fix and five.
    """

    def __init__(self, what: str, problems: Sequence[str]) -> None:
        self.what, self.problems = what, list(problems)
        count = f"{len(self.problems)} problem{'s' if len(self.problems) != 1 else ''}"
        super().__init__(f"{what}: {count}, nothing was run:\n  - " + "\n  - ".join(self.problems))

    def __reduce__(self):
        return (type(self), (self.what, self.problems))


def count_problem(name: str, value: Any, minimum: int, optional: bool = False) -> list[str]:
    """[] if ``value`` is an int (not a bool) >= ``minimum`` (or None when ``optional``), else
    the one problem, saying what was received."""
    if value is None and optional:
        return []
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        return [f"{name} must be an integer >= {minimum}{' or None' if optional else ''}, "
                f"received {value!r}"]
    return []


def name_problems(kind: str, given: Sequence[str], known: Sequence[str]) -> list[str]:
    """[] if every name in ``given`` is in ``known``, else one problem naming all unknown ones."""
    unknown = [g for g in dict.fromkeys(given) if g not in known]
    if not unknown:
        return []
    return [f"unknown {kind}{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))}; "
            f"known: {', '.join(known)}"]


@dataclass(frozen=True)
class Profile:
    """How much of a protocol to run."""

    epochs: int
    seeds: int
    train_subset: int | None = None  # training images used (None: the whole training set)
    test_subset: int | None = None   # test images evaluated (None: all 10,000)
    validation: int | None = None    # hold-out size override (None: the protocol's)

    def problems(self, name: str) -> list[str]:
        """What is wrong with this profile (``name`` prefixes each problem); [] when nothing.
        Checked by the protocol that holds it, so all its problems and the protocol's come in
        one ConfigError."""
        return [f"{name} profile: {p}" for p in (
            *count_problem("epochs", self.epochs, 1), *count_problem("seeds", self.seeds, 1),
            *count_problem("train_subset", self.train_subset, 1, optional=True),
            *count_problem("test_subset", self.test_subset, 1, optional=True),
            *count_problem("validation", self.validation, 0, optional=True))]


@dataclass(frozen=True)
class Protocol:
    """One training protocol on MNIST with an MLP whose hidden unit is a parameter."""

    name: str
    version: int
    description: str
    hidden: tuple[int, ...]
    units: tuple[str, ...]
    variants: tuple[str, ...]
    optimizer: Mapping[str, Any]
    schedule: Mapping[str, Any]
    batch_size: int
    normalize: str                   # "mean-std" (APTx: (x/255 - 0.1307)/0.3081) or "scale" (x/255)
    validation: int                  # training images held out to pick the epoch honestly (0: none)
    quick: Profile
    paper: Profile
    report_epoch: int | None = None  # the epoch a paper reports (APTx: 11)
    eval_batch_size: int = 1000
    clip_norm: float | None = None
    unit_config: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    baseline_unit: str = "relu"

    def __post_init__(self) -> None:
        problems = protocol_problems(self)
        if problems:
            raise ConfigError(f"protocol {self.name!r}", problems)

    def profile(self, name: str) -> Profile:
        if name not in PROFILES:
            raise ValueError(f"unknown profile {name!r}; known profiles: {', '.join(PROFILES)}")
        return getattr(self, name)


PROFILES = ("quick", "paper")

def _optimizer_problems(optimizer: Mapping[str, Any]) -> list[str]:
    options = dict(optimizer)
    name = options.pop("name", None)
    if name not in training.OPTIMIZERS:
        return [f"unknown optimizer {name!r}; known: {', '.join(training.OPTIMIZERS)}"]
    lr = options.get("lr")
    if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not math.isfinite(lr) or lr <= 0:
        return [f"optimizer lr must be a finite number > 0, received {lr!r}"]
    try:
        training.OPTIMIZERS[name](**options)
    except (TypeError, ValueError) as error:
        return [f"optimizer {name!r}: {error}"]
    return []


def _schedule_problems(schedule: Mapping[str, Any]) -> list[str]:
    options = dict(schedule)
    name = options.pop("name", None)
    if name not in training.SCHEDULES:
        return [f"unknown schedule {name!r}; known: {', '.join(training.SCHEDULES)}"]
    try:
        training.SCHEDULES[name](**options)
    except (TypeError, ValueError) as error:
        return [f"schedule {name!r}: {error}"]
    return []


def protocol_problems(protocol: Protocol) -> list[str]:
    """Everything wrong with a protocol's definition, its two profiles included; [] when nothing."""
    p = protocol
    problems = [*count_problem("version", p.version, 1)]
    if not p.hidden or any(isinstance(w, bool) or not isinstance(w, int) or w < 1 for w in p.hidden):
        problems.append(f"hidden must be one or more integer widths >= 1, received {p.hidden!r}")
    problems += ["units must name at least one unit"] if not p.units else []
    problems += name_problems("unit", [*p.units, p.baseline_unit, *p.unit_config], UNITS)
    problems += ["variants must name at least one variant"] if not p.variants else []
    problems += name_problems("variant", p.variants, VARIANTS)
    problems += _optimizer_problems(p.optimizer) + _schedule_problems(p.schedule)
    problems += count_problem("batch_size", p.batch_size, 1)
    problems += count_problem("eval_batch_size", p.eval_batch_size, 1)
    problems += count_problem("validation", p.validation, 0)
    problems += count_problem("report_epoch", p.report_epoch, 1, optional=True)
    problems += name_problems("normalisation", [p.normalize], NORMALIZATIONS)
    clip = p.clip_norm
    if clip is not None and (isinstance(clip, bool) or not isinstance(clip, (int, float))
                             or not math.isfinite(clip) or clip <= 0):
        problems.append(f"clip_norm must be a finite number > 0 or None, received {clip!r}")
    for name in PROFILES:
        profile = getattr(p, name)
        problems += (profile.problems(name) if isinstance(profile, Profile)
                     else [f"{name} profile must be a Profile, received {profile!r}"])
    return problems


#: Units of the MNIST comparison (every trainable neuron and the static baselines).
MNIST_UNITS = ("relu", "gelu", "prelu", "swish", "aptx_activation", "lselu", "actmix", "yat_dense",
               "aptx_layer")

#: Learnable variants where a unit has a switch (the point of the comparison is trainability).
LEARNABLE_CONFIG: dict[str, dict[str, Any]] = {
    "swish": {"learnable": True},
    "aptx_activation": {"trainable": True},
}

PROTOCOLS: dict[str, Protocol] = {
    "mnist-aptx": Protocol(
        name="mnist-aptx",
        version=1,
        description=("APTx paper protocol (spec §1.5): 784-128-64-32 APTx layers + Linear 32->10, "
                     "Adam 4e-3, StepLR(5, 0.25), batch 64, 20 epochs, mean/std normalisation; "
                     "5,000 training images held out to pick the epoch honestly"),
        hidden=(128, 64, 32),
        units=("aptx_layer",),
        variants=("paper",),
        optimizer={"name": "adam", "lr": 4e-3},
        schedule={"name": "step", "step_size": 5, "gamma": 0.25},
        batch_size=64,
        normalize="mean-std",
        validation=5000,
        quick=Profile(epochs=3, seeds=2, train_subset=3000, test_subset=5000, validation=1000),
        paper=Profile(epochs=20, seeds=5),
        report_epoch=11,
    ),
    "mnist-units": Protocol(
        name="mnist-units",
        version=1,
        description=("every unit in the APTx paper's MLP shape (784-128-64-32-10), at equal width "
                     "and at the parameter count of the ReLU network; APTx training rule"),
        hidden=(128, 64, 32),
        units=MNIST_UNITS,
        variants=("equal-width", "equal-params"),
        optimizer={"name": "adam", "lr": 4e-3},
        schedule={"name": "step", "step_size": 5, "gamma": 0.25},
        batch_size=64,
        normalize="mean-std",
        validation=5000,
        quick=Profile(epochs=2, seeds=2, train_subset=4000, test_subset=5000, validation=1000),
        paper=Profile(epochs=20, seeds=5),
        unit_config=LEARNABLE_CONFIG,
    ),
    "mnist-nmn": Protocol(
        name="mnist-nmn",
        version=1,
        description=("NMN cross-framework example (spec §5.9): YatNMN 256 -> YatNMN 128 -> Linear 10 "
                     "(235,148 parameters), AdamW 3e-4 (weight decay 0.01, torch's default), "
                     "batch 128, 3 epochs, inputs /255, no hold-out (the final epoch is reported)"),
        hidden=(256, 128),
        units=("yat_dense",),
        variants=("paper",),
        optimizer={"name": "adamw", "lr": 3e-4, "weight_decay": 1e-2},
        schedule={"name": "constant"},
        batch_size=128,
        normalize="scale",
        validation=0,
        quick=Profile(epochs=1, seeds=2, train_subset=10000),
        paper=Profile(epochs=3, seeds=5),
    ),
}


def get_protocol(name: str) -> Protocol:
    if name not in PROTOCOLS:
        raise ValueError(f"unknown protocol {name!r}; known protocols: {', '.join(PROTOCOLS)}")
    return PROTOCOLS[name]


def make_rule(optimizer: Mapping[str, Any]) -> training.Rule:
    """The impls.spec.training rule named by a protocol's optimizer mapping."""
    options = dict(optimizer)
    name = options.pop("name")
    if name not in training.OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}; known: {', '.join(training.OPTIMIZERS)}")
    return training.OPTIMIZERS[name](**options)


def make_schedule(schedule: Mapping[str, Any]) -> training.Schedule:
    options = dict(schedule)
    name = options.pop("name")
    if name not in training.SCHEDULES:
        raise ValueError(f"unknown schedule {name!r}; known: {', '.join(training.SCHEDULES)}")
    return training.SCHEDULES[name](**options)


def mlp(hidden: tuple[int, ...], unit: str, unit_config: Mapping[str, Any] | None = None) -> MLPSpec:
    return MLPSpec(784, tuple(hidden), 10, unit, dict(unit_config or {}))


def scaled_hidden(base: tuple[int, ...], scale: float) -> tuple[int, ...]:
    return tuple(max(1, round(w * scale)) for w in base)


def equal_params_hidden(unit: str, base: tuple[int, ...], target: int,
                        unit_config: Mapping[str, Any] | None = None) -> tuple[int, ...]:
    """Hidden widths of the base shape scaled by one factor so the MLP's parameter count is
    closest to ``target`` (bisection on the factor; the shape's proportions are kept)."""

    def count(scale: float) -> int:
        return mlp(scaled_hidden(base, scale), unit, unit_config).n_params

    lo, hi = 1e-3, 64.0
    for _ in range(60):
        mid = (lo * hi) ** 0.5
        if count(mid) < target:
            lo = mid
        else:
            hi = mid
    candidates = {scaled_hidden(base, s) for s in (lo, hi)}
    return min(candidates, key=lambda h: (abs(mlp(h, unit, unit_config).n_params - target), h))


def hidden_for(protocol: Protocol, unit: str, variant: str) -> tuple[int, ...]:
    """The hidden widths a unit gets in a variant of the protocol."""
    if variant in ("paper", "equal-width"):
        return protocol.hidden
    if variant == "equal-params":
        target = mlp(protocol.hidden, protocol.baseline_unit,
                     protocol.unit_config.get(protocol.baseline_unit)).n_params
        return equal_params_hidden(unit, protocol.hidden, target, protocol.unit_config.get(unit))
    raise ValueError(f"unknown variant {variant!r} for {protocol.name}; its variants: "
                     f"{', '.join(protocol.variants)}")
