"""The train-step benchmark: one optimiser step of a whole model, timed in a fresh process.

The layer benchmark (``layer.py``) times one unit alone; what a training epoch repeats is
forward through the whole network, the loss, the backward pass and the optimiser update. This
benchmark times that step for the networks the accuracy suite trains (``MODELS``), resolved by
the accuracy suite's own planners (``grid.resolve``, ``cifar.plan``) and built with
``impls.build_model`` / ``impls.init_train_state``, so "the MLP" here is the network, rule and
batch whose accuracy is reported there. The inputs are random arrays of the dataset's shape:
the step's cost does not depend on the pixel values, and no dataset has to be present.

Every case is a runner trial whose function starts a **fresh Python process** (as in
``layer.py``: no allocator cache, JIT state or thread pool of an earlier case leaks into its
time or memory). In it the case builds the model and its training state, converts one batch
to framework tensors once, takes one step (in compiled mode this compiles: its time is
``compile_s``), ``warmup`` more, then times ``repeats`` steps (median, quartiles).

What is timed (``native_step``) is the backend's own step on tensors made before the clock
starts. ``impls`` has no public per-step function that takes native tensors, and this suite may
not add one, so for JAX and TF the step is taken from the backend's private factory, the same
function and cache key ``train_steps`` uses (a rename there fails ``test_train_step.py``):

* NumPy: ``impls.numpy.train.train_steps(state, [(x, y)])`` (NumPy arrays are native);
* torch: ``impls.torch.train.train_steps(state, [(xt, yt)])`` on CPU tensors made once; its
  ``torch.as_tensor`` wraps them without a copy, and the call ends by reading the loss to the
  host (``.tolist()``), a synchronisation;
* JAX: ``impls.jax.train._make_step`` (jitted and cached by ``impls.jax.device.compiled`` under
  ``train_steps``' key in compiled mode) on jax arrays made once, parameters and moments
  threaded from step to step, waited for with ``jax.block_until_ready``. ``train_steps``'
  ``nnx.split`` / ``nnx.update``, once per call (per epoch in training), is outside;
* TF: ``impls.tf.train._step_function`` through ``impls.tf.device.in_mode`` (the cached
  ``tf.function(jit_compile=True)`` twin in compiled mode) on tensors made once.

The public call as the accuracy suite makes it, ``impls.train_steps(state, [(x, y)])`` with
NumPy arrays, is timed too (``train_step_api_s``): on top of the step it validates inputs and
labels, converts NumPy to the framework and does the per-call work, so the difference of the
two medians is that overhead, per step of a one-batch call.

Peak memory is the rise of the resident set's high-water mark over its level after warm-up,
during one step (``suites/performance/memory.py`` explains the probe). The ratio to ReLU is
timed in alternating pairs inside the case's process, for the reason ``layer.pairing`` gives.

Rows (``rows_from``): protocol ``train_step``, the model's name in ``variant``, metric in
train_step_s and train_step_api_s (value = median; detail: quartiles, n, batch, compile_s,
build_s, threads), peak_memory_bytes, train_step_vs_linear_relu (every unit but ReLU; the
baseline is the same model with ``relu`` as the unit, i.e. Linear/conv + ReLU layers),
other_load_cores; ``n_params`` and ``batch`` in their own columns. CPU only.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from suites.performance.probing import OtherLoad, peak_rss_growth, summary, timed

SUITE = "performance"
PROTOCOL = "train_step"
#: The unit every ratio is taken to (the accuracy protocols' baseline).
BASELINE_UNIT = "relu"
#: Result metrics, in row order.
TIMED_METRICS = ("train_step_s", "train_step_api_s")
PAIRED_METRIC = "train_step_vs_linear_relu"
MODES = ("eager", "compiled")

Step = Callable[[], Any]


@dataclass(frozen=True)
class ModelCase:
    """A network of the accuracy suite, named by the protocol and width variant it comes from."""

    description: str
    kind: str                       # "mlp" (accuracy.protocols) or "cnn" (accuracy.cifar)
    protocol: str                   # the accuracy protocol whose network, rule and batch are taken
    variant: str                    # its width variant
    input_shape: tuple[int, ...]    # one sample (the CNN's is NCHW, as the CIFAR-10 loader gives)
    classes: int = 10


MODELS: Mapping[str, ModelCase] = {
    "mlp": ModelCase(
        "the APTx paper MLP shape 784-128-64-32-10 (mnist-units, equal width; with aptx_layer "
        "it is mnist-aptx's network), Adam 4e-3, batch 64", "mlp", "mnist-units", "equal-width",
        (784,)),
    "mlp-equal-params": ModelCase(
        "mnist-units at ReLU's parameter count (hidden widths scaled per unit), Adam 4e-3, "
        "batch 64", "mlp", "mnist-units", "equal-params", (784,)),
    "mlp-nmn": ModelCase(
        "the NMN example MLP 784-256-128-10 (mnist-nmn), AdamW 3e-4, batch 128", "mlp",
        "mnist-nmn", "paper", (784,)),
    "cnn": ModelCase(
        "the cifar10 CNN: four 3x3 conv blocks (16-32-64-64) with max-pool, dense 64, 10 "
        "classes, 3x32x32 inputs, Adam 1e-3, batch 128", "cnn", "cifar10", "equal-width",
        (3, 32, 32)),
}


def model_case(model: str) -> ModelCase:
    """The ``MODELS`` entry of ``model``, or a ValueError naming the known ones."""
    if model not in MODELS:
        raise ValueError(f"unknown train-step model {model!r}; known: {', '.join(MODELS)}")
    return MODELS[model]


def model_units(model: str) -> tuple[str, ...]:
    """The units ``model``'s protocol trains, ReLU (the baseline of every ratio) first."""
    case = model_case(model)
    if case.kind == "cnn":
        from suites.accuracy import cifar

        units = cifar.UNITS
    else:
        from suites.accuracy import protocols

        units = protocols.get_protocol(case.protocol).units
    return (BASELINE_UNIT, *(u for u in units if u != BASELINE_UNIT))


def resolve(model: str, unit: str) -> tuple[dict[str, Any], int]:
    """(network, the protocol's training batch) of ``model`` with ``unit``.

    ``network`` is JSON: ``architecture`` (what ``architecture()`` builds), ``optimizer``,
    ``clip_norm`` and ``n_params``, taken from the accuracy suite's own planner, so that a
    change to a protocol changes this benchmark's network and trial keys with it.
    """
    case = model_case(model)
    if unit not in model_units(model):
        raise ValueError(f"model {model!r} has no unit {unit!r}; its units: "
                         f"{', '.join(model_units(model))}")
    if case.kind == "cnn":
        from suites.accuracy import cifar

        trial = cifar.plan(units=[unit], frameworks=["numpy"], seeds=1, variants=(case.variant,))
        config = trial[0].config
        layout = {"dense": list(config["dense"])}
        clip_norm = None
    else:
        from suites.accuracy import grid, protocols

        protocol = protocols.get_protocol(case.protocol)
        config = grid.resolve(protocol, "quick", unit, "numpy", case.variant, 0, mode="eager")
        layout = {"hidden": list(config["hidden"])}
        clip_norm = config["clip_norm"]
    network = {"architecture": {"kind": case.kind, "unit": unit, **layout,
                                "unit_config": dict(config["unit_config"])},
               "optimizer": dict(config["optimizer"]), "clip_norm": clip_norm,
               "n_params": int(config["n_params"])}
    return network, int(config["batch_size"])


def architecture(spec: Mapping[str, Any]) -> Any:
    """The MLPSpec or CNNSpec of a resolved ``architecture``, through the accuracy builders."""
    if spec["kind"] == "cnn":
        from suites.accuracy import cifar

        return cifar.architecture(spec["unit"], spec["unit_config"], tuple(spec["dense"]))
    from suites.accuracy import protocols

    return protocols.mlp(tuple(spec["hidden"]), spec["unit"], spec["unit_config"])


# -- inside the probe process ----------------------------------------------------------------


def native_step(state: Any, x: Any, y: Any) -> Step:
    """A zero-argument call that takes one optimiser step of ``state`` on the batch (x, y),
    whose tensors are made here, once; it returns when the step's work is done (see the
    module docstring for what each framework's call contains)."""
    builders = {"numpy": _numpy_step, "torch": _torch_step, "jax": _jax_step, "tf": _tf_step}
    return builders[state.framework](state, x, y)


def _numpy_step(state: Any, x: Any, y: Any) -> Step:
    from impls.numpy import train as backend

    batch = [(x, y)]
    return lambda: backend.train_steps(state, batch)


def _torch_step(state: Any, x: Any, y: Any) -> Step:
    import torch

    from impls.torch import train as backend

    batch = [(torch.from_numpy(x), torch.from_numpy(y))]
    return lambda: backend.train_steps(state, batch)


def _jax_step(state: Any, x: Any, y: Any) -> Step:
    import jax
    import jax.numpy as jnp
    from flax import nnx

    from impls.jax import train as backend
    from impls.jax.device import compiled

    model = state.model
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)
    rule = backend._rule_key(state.rule)
    key = ("train", state.loss, rule, state.clip_norm, False)   # train_steps' key, unpenalised

    def make() -> Callable[..., Any]:
        return backend._make_step(graphdef, state.loss, rule, state.clip_norm, False)

    step = make() if state.mode == "eager" else compiled(model, key, make)
    xj, yj = backend._array(model, x), jnp.asarray(y)
    lr = jnp.asarray(state.lr, dtype=model.dtype)
    weight = jnp.asarray(0.0, dtype=model.dtype)
    carry = {"params": params, "opt": state.optimizer_state}

    def call() -> Any:
        params, opt, value = jax.block_until_ready(
            step(carry["params"], rest, carry["opt"], xj, yj, lr, weight))
        carry["params"], carry["opt"] = params, opt
        return value

    return call


def _tf_step(state: Any, x: Any, y: Any) -> Step:
    import numpy as np
    import tensorflow as tf

    from impls.tf import train as backend
    from impls.tf.device import in_mode

    run = in_mode(state.optimizer_state, ("train", False), backend._step_function(state, False),
                  state.mode)
    xt, lr, weight = (backend._tensor(state.model, v) for v in (x, state.lr, 0.0))
    yt = tf.convert_to_tensor(np.asarray(y, dtype=np.int64))
    return lambda: run(xt, yt, lr, weight)


@dataclass(frozen=True)
class Case:
    """One network ready to train: its state, the native step and the public-API step."""

    state: Any
    step: Step
    api_step: Step


def build_case(config: Mapping[str, Any], network: Mapping[str, Any]) -> Case:
    """The native and the public-API step of ``network`` in the case's framework, mode, batch.

    Both steps train the same model and state (JAX's native step threads its own copy of the
    parameters and moments, as ``train_steps`` does within a call); the batch is random
    (seeded): float inputs of the model's input shape and integer labels.
    """
    import numpy as np

    import impls
    from suites.accuracy import protocols

    model = impls.build_model(architecture(network["architecture"]), config["framework"], seed=0,
                              dtype=config["dtype"])
    rule = protocols.make_rule(network["optimizer"])
    state = impls.init_train_state(model, "cross_entropy", rule, mode=config["mode"],
                                   clip_norm=network["clip_norm"])
    rng = np.random.default_rng(0)
    x = rng.standard_normal((config["batch"], *config["input_shape"])).astype(config["dtype"])
    y = rng.integers(0, config["classes"], config["batch"]).astype(np.int64)
    return Case(state, native_step(state, x, y), lambda: impls.train_steps(state, [(x, y)]))


def probe(config: Mapping[str, Any]) -> dict[str, Any]:
    """Build, warm up, profile and time one case (runs in the fresh process ``measure`` starts)."""
    load = OtherLoad()
    start = time.perf_counter()
    case = build_case(config, config["network"])
    step, api_step = case.step, case.api_step
    out: dict[str, Any] = {"build_s": time.perf_counter() - start, "compile_s": timed(step)}
    api_step()                          # the public path's own first call (conversions, checks)
    for _ in range(config["warmup"]):
        step()
        api_step()
    out["peak_memory_bytes"] = peak_rss_growth(step)
    out["train_step_s"] = summary([timed(step) for _ in range(config["repeats"])])
    out["train_step_api_s"] = summary([timed(api_step) for _ in range(config["repeats"])])
    if config["baseline"] is not None:
        # Paired with the ReLU model, call by call, so drift slower than a pair cancels.
        reference = build_case(config, config["baseline"]).step
        for _ in range(1 + config["warmup"]):
            reference()
        out[PAIRED_METRIC] = summary([timed(step) / timed(reference)
                                      for _ in range(config["repeats"])])
    return {**out, **load.read()}


# -- in the runner -----------------------------------------------------------------------------


def measure(config: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The trial function: ``probe`` for ``config`` in a fresh process, its rows."""
    from suites.performance.probing import run_in_fresh_process

    result = run_in_fresh_process("suites.performance.train_step", config, "train-step")
    return rows_from(config, result)


def rows_from(config: Mapping[str, Any], result: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Tidy rows (runner schema) of one case's probe result."""
    batch, threads = config["batch"], config["threads"]
    base = {"protocol": PROTOCOL, "unit": config["unit"], "framework": config["framework"],
            "mode": config["mode"], "device": "cpu", "dtype": config["dtype"], "dataset": None,
            "split": None, "fold": None, "seed": None, "epoch": None,
            "n_params": int(config["network"]["n_params"]), "variant": config["model"],
            "kernel": config["kernel"], "batch": batch}
    rows = []
    for metric in TIMED_METRICS:
        stats = result[metric]
        detail = (f"q1={stats['q1']!r} q3={stats['q3']!r} n={stats['n']} batch={batch} "
                  f"compile_s={result['compile_s']!r} build_s={result['build_s']!r} "
                  f"threads={threads}")
        rows.append({**base, "metric": metric, "value": float(stats["median"]), "detail": detail})
    rows.append({**base, "metric": "peak_memory_bytes",
                 "value": float(result["peak_memory_bytes"]), "detail": f"batch={batch}"})
    if PAIRED_METRIC in result:
        stats = result[PAIRED_METRIC]
        rows.append({**base, "metric": PAIRED_METRIC, "value": float(stats["median"]),
                     "detail": f"q1={stats['q1']!r} q3={stats['q3']!r} n={stats['n']} "
                               f"batch={batch} paired"})
    rows.append({**base, "metric": "other_load_cores", "value": float(result["other_load_cores"]),
                 "detail": f"loadavg_1m={result['loadavg_1m']!r} threads={threads}"})
    return rows


def _check_names(given: Sequence[str], known: Sequence[str], what: str) -> None:
    unknown = [name for name in given if name not in known]
    if unknown:
        raise ValueError(f"unknown train-step {what} {', '.join(unknown)}; "
                         f"known: {', '.join(known)}")


def plan(frameworks: Sequence[str], *, models: Sequence[str] | None = None,
         units: Sequence[str] | None = None, modes: Sequence[str] = MODES,
         batch: int | None = None, repeats: int = 7, warmup: int = 1, threads: int | None = None,
         timeout_s: float = 1800.0, notes: list[str] | None = None) -> list[Any]:
    """The trials of one train-step run: every model x framework x unit x mode (NumPy: eager).

    ``units`` defaults to each model's protocol units; a unit one model lacks is left out of
    that model and said in ``notes``, a unit no requested model has is an error. ``batch``
    defaults to each model's training batch in its protocol.
    """
    import impls
    from impls.registry import check_framework
    from suites import settings
    from suites.run import Trial, backend_code

    for framework in frameworks:
        check_framework(framework)
    models = list(models or MODELS)
    _check_names(models, list(MODELS), "model(s)")
    _check_names(modes, MODES, "mode(s)")
    if units is not None:
        every = dict.fromkeys(u for m in models for u in model_units(m))
        _check_names(units, list(every), "unit(s) for models " + ", ".join(models) + ":")
    if (batch is not None and batch < 1) or repeats < 1 or warmup < 0:
        raise ValueError("batch and repeats must be at least 1, warmup at least 0")
    threads = threads or len(os.sched_getaffinity(0))
    notes = [] if notes is None else notes
    common = {"repeats": repeats, "warmup": warmup, "threads": threads, "dtype": "float32",
              "timeout_s": timeout_s}
    trials = []
    for model in models:
        case, own = MODELS[model], model_units(model)
        wanted = own if units is None else [u for u in units if u in own]
        notes += [f"train_step: {model} has no unit {u}; left out"
                  for u in units or () if u not in own]
        baseline, own_batch = resolve(model, BASELINE_UNIT)
        networks = {unit: resolve(model, unit)[0] for unit in wanted}
        for framework in frameworks:
            for unit, network in networks.items():
                for mode in ("eager",) if framework == "numpy" else modes:
                    kernel = impls.kernel_name(unit, framework, mode,
                                               **network["architecture"]["unit_config"])
                    config = {**common, "model": model, "unit": unit, "framework": framework,
                              "mode": mode, "batch": batch or own_batch, "kernel": kernel,
                              "input_shape": list(case.input_shape), "classes": case.classes,
                              "network": network,
                              "baseline": None if unit == BASELINE_UNIT else baseline}
                    trials.append(Trial(
                        suite=SUITE, fn="suites.performance.train_step:measure", config=config,
                        code=(*backend_code(framework), "suites.performance.train_step",
                              "suites.accuracy"),
                        frameworks=settings.DISTRIBUTIONS[framework],
                        label=f"train_step {model} {unit} {framework} {mode} "
                              f"batch {config['batch']}"))
    return trials
