"""Plan an accuracy grid: protocol x profile x units x frameworks x variants x seeds -> trials.

Each trial's config is fully resolved here (architecture widths, optimiser, schedule, epochs,
subsets, mode, dtype), so the trial key changes whenever anything that moves a number changes,
and a results row can be traced back to exactly what ran.

Every option of a grid is checked before a single trial is planned, and all the problems are
reported together in one ``ConfigError`` (unknown protocols, profile, units, variants,
frameworks, a mode a framework lacks, a dtype, seed and epoch counts): ``grid_problems`` lists
them, ``check_grid`` raises, ``plan`` and ``plan_all`` call it first.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from suites.accuracy import protocols
from suites.accuracy.protocols import ConfigError, Protocol, count_problem, name_problems

#: Default execution mode per framework: compiled where compiling is cheap and fast (XLA),
#: eager where it is not (torch.compile of a whole MLP costs minutes on 2 cores; NumPy has none).
DEFAULT_MODES: dict[str, str] = {"numpy": "eager", "torch": "eager", "jax": "compiled", "tf": "compiled"}

#: Source a trial runs besides impls/ (``suites.run.backend_code`` adds the shared impls modules
#: and the trial's own backend; the code fingerprint hashes all of it).
SUITE_CODE: tuple[str, ...] = ("suites.accuracy", "suites.data")


def framework_modes(framework: str) -> tuple[str, ...]:
    """The execution modes ``framework`` has (NumPy: eager only), without importing it."""
    from impls.common import EAGER_ONLY, MODES

    return EAGER_ONLY if framework == "numpy" else MODES


def grid_problems(protocol_names: Sequence[str], profile: str, *, units: Sequence[str] | None = None,
                  frameworks: Sequence[str] | None = (), seeds: int | None = None,
                  variants: Sequence[str] | None = None, mode: str | None = None,
                  dtype: str = "float32", first_seed: int = 0, epochs: int | None = None) -> list[str]:
    """Every problem of the grid these options describe (the arguments of :func:`plan`, over
    several protocols); [] when there is none. Nothing is imported but the spec's names.
    ``frameworks=None``: checked elsewhere (the CLI resolves them through suites.settings)."""
    from impls.registry import FRAMEWORKS
    from impls.spec import DTYPES, UNITS

    problems = name_problems("protocol", protocol_names, tuple(protocols.PROTOCOLS))
    problems += ["no protocol given"] if not protocol_names else []
    problems += name_problems("profile", [profile], protocols.PROFILES)
    problems += name_problems("unit", units or (), UNITS)
    problems += ["--units names no unit"] if units is not None and not units else []
    known = [protocols.PROTOCOLS[n] for n in dict.fromkeys(protocol_names) if n in protocols.PROTOCOLS]
    for protocol in known if variants else ():
        problems += [f"{protocol.name}: {p}" for p in name_problems("variant", variants, protocol.variants)]
    if frameworks is not None:
        problems += name_problems("framework", frameworks, FRAMEWORKS)
        problems += ["no framework given"] if not frameworks else []
    frameworks = frameworks or ()
    if mode is not None:
        problems += name_problems("mode", [mode], ("eager", "compiled"))
        lacking = [f for f in frameworks if f in FRAMEWORKS and mode in ("eager", "compiled")
                   and mode not in framework_modes(f)]
        problems += [f"mode {mode!r} is not available in {', '.join(lacking)} (eager only); "
                     "leave --mode out to use each framework's default"] if lacking else []
    problems += name_problems("dtype", [dtype], DTYPES)
    problems += count_problem("seeds", seeds, 1, optional=True)
    problems += count_problem("first seed", first_seed, 0)
    problems += count_problem("epochs", epochs, 1, optional=True)
    return problems


def check_grid(protocol_names: Sequence[str], profile: str, **options: Any) -> None:
    """Raise one ConfigError listing every problem of the grid (see :func:`grid_problems`)."""
    problems = grid_problems(protocol_names, profile, **options)
    if problems:
        raise ConfigError(f"accuracy grid {', '.join(protocol_names) or '(none)'} ({profile})", problems)


def resolve(protocol: Protocol, profile: str, unit: str, framework: str, variant: str, seed: int,
            mode: str | None = None, dtype: str = "float32", epochs: int | None = None) -> dict[str, Any]:
    """The complete, JSON-serialisable config of one trial (``epochs`` overrides the profile's)."""
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
        "epochs": prof.epochs if epochs is None else epochs,
        "normalize": protocol.normalize,
        "validation": protocol.validation if prof.validation is None else prof.validation,
        "train_subset": prof.train_subset,
        "test_subset": prof.test_subset,
        "subset_seed": protocols.SUBSET_SEED,
        "report_epoch": protocol.report_epoch,
    }


def plan_all(protocol_names: Sequence[str], profile: str, **options: Any) -> list[Any]:
    """The trials of several protocols' grids, every problem of all of them checked first."""
    check_grid(protocol_names, profile, **options)
    return [trial for name in protocol_names for trial in plan(name, profile, **options)]


def plan(protocol_name: str, profile: str, *, units: Sequence[str] | None = None,
         frameworks: Sequence[str], seeds: int | None = None, variants: Sequence[str] | None = None,
         mode: str | None = None, dtype: str = "float32", first_seed: int = 0,
         epochs: int | None = None) -> list[Any]:
    """The trials of one accuracy grid (runner ``Trial`` objects), in a stable order; raises one
    ConfigError with every problem of the options before planning anything."""
    from suites.run import Trial, backend_code
    from suites.settings import DISTRIBUTIONS

    check_grid([protocol_name], profile, units=units, frameworks=frameworks, seeds=seeds,
               variants=variants, mode=mode, dtype=dtype, first_seed=first_seed, epochs=epochs)
    protocol = protocols.get_protocol(protocol_name)
    prof = protocol.profile(profile)
    units = list(dict.fromkeys(units)) if units else list(protocol.units)
    variants = list(dict.fromkeys(variants)) if variants else list(protocol.variants)
    n_seeds = prof.seeds if seeds is None else seeds
    trials = []
    for unit in units:
        for variant in variants:
            for framework in frameworks:
                for seed in range(first_seed, first_seed + n_seeds):
                    config = resolve(protocol, profile, unit, framework, variant, seed, mode, dtype, epochs)
                    trials.append(Trial(
                        suite="accuracy",
                        fn="suites.accuracy.train:run_trial",
                        config=config,
                        code=(*backend_code(framework), *SUITE_CODE),
                        frameworks=("scipy", *DISTRIBUTIONS[framework]),
                        label=f"{protocol.name} {unit} {variant} {framework} seed {seed}",
                    ))
    return trials
