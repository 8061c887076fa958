"""Plan the battery of one unit: which checks run, in which frameworks, as runner trials.

``plan`` decides, from the unit's spec, the frameworks it provides (a requested framework the
unit does not provide is recorded as absent, never run with another framework's class), then
lists the trials of each part. Each trial's ``code`` also names the plug-in's own package, so
editing the plug-in reruns exactly the trials that ran its code.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

SUITE = "evaluate"
#: The accuracy protocol of the battery: every unit in the APTx paper's MLP shape, at equal
#: width and at the ReLU network's parameter count (suites/accuracy/protocols.py).
ACCURACY_PROTOCOL = "mnist-units"
#: The baselines trained beside the unit, in the same framework, seeds and protocol.
BASELINES: tuple[str, ...] = ("relu", "gelu")
#: The layer benchmark's baseline network (suites/performance/layer.py).
SPEED_BASELINE = "linear_relu"
PROFILES = ("quick", "paper")


@dataclass(frozen=True)
class ProfileSettings:
    """What each profile of the battery runs (the accuracy profile is the protocol's own)."""

    seeds: int                       # accuracy seeds per (unit, variant)
    perf_modes: tuple[str, ...]      # layer-benchmark modes (NumPy has eager only)
    perf_repeats: int
    perf_batch: int


SETTINGS: dict[str, ProfileSettings] = {
    # 3 seeds, not the protocol's quick 2: a t-interval from 2 seeds is 12.7 standard errors wide.
    # batch 1024 in both: at 256 rows the resident-set probe sees no memory rise at all.
    "quick": ProfileSettings(seeds=3, perf_modes=("eager",), perf_repeats=5, perf_batch=1024),
    "paper": ProfileSettings(seeds=5, perf_modes=("eager", "compiled"), perf_repeats=7,
                             perf_batch=1024),
}


@dataclass(frozen=True)
class Battery:
    """The resolved plan: what runs where, and what was left out and why."""

    unit: str
    profile: str
    origin: str
    frameworks: tuple[str, ...]           # requested and provided: every check runs in these
    absent: tuple[str, ...]               # requested, not provided by the unit
    accuracy_framework: str
    accuracy_units: tuple[str, ...]
    trials: tuple[Any, ...] = field(repr=False)

    def keys(self) -> list[str]:
        from suites.run import trial_key

        return [trial_key(t) for t in self.trials]


def unit_packages(unit: str) -> tuple[str, ...]:
    """Top-level packages holding a plug-in unit's oracle and classes (none for a built-in:
    its code is already part of every trial's impls/ fingerprint)."""
    from impls.spec import get_block

    block = get_block(unit)
    if block.origin == "neuronbench":
        return ()
    refs = [block.oracle, *block.classes.values()]
    names = []
    for ref in refs:
        module = ref.partition(":")[0] if isinstance(ref, str) else getattr(ref, "__module__", "")
        if module:
            names.append(module.split(".")[0])
    return tuple(dict.fromkeys(names))


def check_unit(unit: str) -> None:
    """Refuse a name that is not a benchmark unit, listing what is (and refused plug-ins)."""
    from impls.spec import get_block

    block = get_block(unit)
    if block.role != "unit":
        raise ValueError(f"{unit!r} is a building block, not a unit; evaluate a unit")
    if block.kind == "conv":
        raise ValueError(f"unit {unit!r} is a convolution: the battery's MLP protocols and layer "
                         "benchmark need a dense unit or an activation")


def plan(unit: str, profile: str = "quick", frameworks: Sequence[str] | None = None) -> Battery:
    """Every trial of the battery for ``unit``; a framework requested but not installed raises
    FrameworkUnavailableError, one the unit does not provide is listed in ``absent``."""
    import impls
    from impls.spec import get_block

    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; known profiles: {', '.join(PROFILES)}")
    check_unit(unit)
    block = get_block(unit)
    requested = tuple(frameworks) if frameworks else block.frameworks
    absent = tuple(f for f in requested if f not in block.frameworks)
    provided = tuple(f for f in requested if f in block.frameworks)
    if not provided:
        raise ValueError(f"unit {unit!r} provides none of the requested frameworks "
                         f"({', '.join(requested)}); it provides: {', '.join(block.frameworks)}")
    for framework in provided:
        impls.load_backend(framework)      # missing: FrameworkUnavailableError, before any trial
    accuracy_framework = "torch" if "torch" in provided else provided[0]
    extra = unit_packages(unit)
    trials = [*_gradcheck(unit, extra), *_parity(unit, provided, extra),
              *_accuracy(unit, profile, accuracy_framework, extra),
              *_speed(unit, profile, provided, extra)]
    return Battery(unit, profile, block.origin, provided, absent, accuracy_framework,
                   (unit, *BASELINES), tuple(trials))


def _with_code(trial: Any, extra: tuple[str, ...]) -> Any:
    return replace(trial, code=(*trial.code, *extra)) if extra else trial


def _gradcheck(unit: str, extra: tuple[str, ...]) -> list[Any]:
    from suites.run import Trial, backend_code
    from suites.settings import DISTRIBUTIONS

    return [Trial(SUITE, "suites.evaluate.gradcheck:run_trial", {"unit": unit},
                  (*backend_code("numpy"), "suites.evaluate.gradcheck", *extra),
                  DISTRIBUTIONS["numpy"], f"{unit} oracle vs finite differences")]


def _parity(unit: str, frameworks: Sequence[str], extra: tuple[str, ...]) -> list[Any]:
    from suites.equivalence import trials as equivalence

    return [_with_code(t, extra)
            for t in equivalence.plan_trials(frameworks, [unit], checkpoint=False)]


def _accuracy(unit: str, profile: str, framework: str, extra: tuple[str, ...]) -> list[Any]:
    from suites.accuracy import grid

    units = list(dict.fromkeys((unit, *BASELINES)))
    trials = grid.plan(ACCURACY_PROTOCOL, profile, units=units, frameworks=[framework],
                       seeds=SETTINGS[profile].seeds)
    return [_with_code(t, extra) if t.config["unit"] == unit else t for t in trials]


def speed_case(unit: str) -> str:
    """The layer-benchmark case of ``unit``: its own network (suites.performance.layer.network)."""
    from suites.performance import layer

    return layer.case_name(unit)


def _speed(unit: str, profile: str, frameworks: Sequence[str], extra: tuple[str, ...]) -> list[Any]:
    from suites.performance import layer

    settings = SETTINGS[profile]
    case = speed_case(unit)
    cases = list(dict.fromkeys((SPEED_BASELINE, case)))
    trials = layer.plan(list(frameworks), units=cases, impls_=("fused",), modes=settings.perf_modes,
                        batch=settings.perf_batch, repeats=settings.perf_repeats, originals=False)
    # The ceilings trial measures the machine's tanh rate for the APTx roofline only.
    trials = [t for t in trials if t.fn == "suites.performance.layer:measure"]
    return [_with_code(t, extra) if t.config["unit"] == case else t for t in trials]
