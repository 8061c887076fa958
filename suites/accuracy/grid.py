"""Plan an accuracy grid: protocol x profile x units x frameworks x variants x seeds -> trials.

Each trial's config is fully resolved here (architecture widths, optimiser, schedule, epochs,
subsets, mode, dtype), so the trial key changes whenever anything that moves a number changes,
and a results row can be traced back to exactly what ran.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from suites.accuracy import protocols
from suites.accuracy.protocols import Protocol

#: Default execution mode per framework: compiled where compiling is cheap and fast (XLA),
#: eager where it is not (torch.compile of a whole MLP costs minutes on 2 cores; NumPy has none).
DEFAULT_MODES: dict[str, str] = {"numpy": "eager", "torch": "eager", "jax": "compiled", "tf": "compiled"}

#: Source a trial runs besides impls/ (``suites.run.backend_code`` adds the shared impls modules
#: and the trial's own backend; the code fingerprint hashes all of it).
SUITE_CODE: tuple[str, ...] = ("suites.accuracy", "suites.data")


def resolve(protocol: Protocol, profile: str, unit: str, framework: str, variant: str, seed: int,
            mode: str | None = None, dtype: str = "float32") -> dict[str, Any]:
    """The complete, JSON-serialisable config of one trial."""
    prof = protocol.profile(profile)
    unit_config = dict(protocol.unit_config.get(unit, {}))
    hidden = protocols.hidden_for(protocol, unit, variant)
    return {
        "protocol": protocol.name,
        "protocol_version": protocol.version,
        "profile": profile,
        "unit": unit,
        "unit_config": unit_config,
        "framework": framework,
        "mode": mode or DEFAULT_MODES[framework],
        "dtype": dtype,
        "variant": variant,
        "seed": seed,
        "hidden": list(hidden),
        "n_params": protocols.mlp(hidden, unit, unit_config).n_params,
        "optimizer": dict(protocol.optimizer),
        "schedule": dict(protocol.schedule),
        "clip_norm": protocol.clip_norm,
        "batch_size": protocol.batch_size,
        "eval_batch_size": protocol.eval_batch_size,
        "epochs": prof.epochs,
        "normalize": protocol.normalize,
        "validation": protocol.validation if prof.validation is None else prof.validation,
        "train_subset": prof.train_subset,
        "test_subset": prof.test_subset,
        "subset_seed": protocols.SUBSET_SEED,
        "report_epoch": protocol.report_epoch,
    }


def plan(protocol_name: str, profile: str, *, units: Sequence[str] | None = None,
         frameworks: Sequence[str], seeds: int | None = None, variants: Sequence[str] | None = None,
         mode: str | None = None, dtype: str = "float32", first_seed: int = 0) -> list[Any]:
    """The trials of one accuracy grid (runner ``Trial`` objects), in a stable order."""
    from impls.spec import UNITS, check_dtype
    from suites.run import Trial, backend_code
    from suites.settings import DISTRIBUTIONS

    protocol = protocols.get_protocol(protocol_name)
    prof = protocol.profile(profile)
    units = list(units) if units else list(protocol.units)
    unknown = [u for u in units if u not in UNITS]
    if unknown:
        raise ValueError(f"unknown unit(s) {', '.join(unknown)}; known units: {', '.join(UNITS)}")
    variants = list(variants) if variants else list(protocol.variants)
    bad = [v for v in variants if v not in protocol.variants]
    if bad:
        raise ValueError(f"unknown variant(s) {', '.join(bad)} for {protocol.name}; "
                         f"its variants: {', '.join(protocol.variants)}")
    check_dtype(dtype)
    n_seeds = prof.seeds if seeds is None else seeds
    if n_seeds < 1:
        raise ValueError(f"--seeds must be at least 1, received {n_seeds}")
    trials = []
    for unit in units:
        for variant in variants:
            for framework in frameworks:
                for seed in range(first_seed, first_seed + n_seeds):
                    config = resolve(protocol, profile, unit, framework, variant, seed, mode, dtype)
                    trials.append(Trial(
                        suite="accuracy",
                        fn="suites.accuracy.train:run_trial",
                        config=config,
                        code=(*backend_code(framework), *SUITE_CODE),
                        frameworks=("scipy", *DISTRIBUTIONS[framework]),
                        label=f"{protocol.name} {unit} {variant} {framework} seed {seed}",
                    ))
    return trials
