"""The layer benchmark: one unit in one framework and mode, timed and memory-profiled alone.

Every case is a runner trial (``suites/run.py``) whose function starts a **fresh Python
process** for the measurement, so no allocator cache, JIT state or thread pool of an earlier
case leaks into its time or memory. In that process the case builds its network through the
public API (``impls.build_model``) or, for the reference rows, the original package's module;
creates framework-native inputs once; warms up (compiling in compiled mode: the compile time
is reported too); then times forward and forward + backward ``repeats`` times each and reports
the median and the inter-quartile range. Peak memory is the rise of the resident set's high-
water mark over its level after warm-up, during one forward + backward
(``suites/performance/memory.py`` explains the probe).

Cases (``plan``): the units that replace a Linear + activation layer, 784 inputs -> ``width``
outputs (256 in the main table), at ``batch`` rows (1024 in the main table):

* ``aptx_layer`` (every ``impl``: the fused kernel, the chunked recompute; ``naive`` only where
  asked, it needs gigabytes), ``yat_dense``, and Linear followed by ``actmix``, ``lselu``, the
  APTx activation, ``relu`` (the baseline every ratio is taken to), in NumPy, torch, JAX and
  TF, eager and compiled;
* the original packages in the same run (``ORIGINALS``): ``aptx_neuron.aptx_layer``,
  ``nmn.torch.YatNMN``, ``aptx_activation.APTx`` after a ``torch.nn.Linear``, and
  mpneuralnetwork's NumPy ``Dense`` + ``ReLU``;
* scaling: the same cases over other batches and widths (``plan(batches=..., widths=...)``);
* the machine's ceilings, measured in the same run (``suites/performance/ceilings.py``), from
  which the APTx roofline is built: B*O*I tanh evaluations forward and as many again backward.

Rows: ``metric`` in forward_s, forward_backward_s (value = median), with ``detail`` holding
the IQR, repeats and compile time; peak_memory_bytes; the paired ratios; other_load_cores
(the machine state: how many cores other processes kept busy while the case was timed); the
``batch``, ``width`` and ``device`` of the case in their own columns.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

SUITE = "performance"
PROTOCOL = "layer"

#: The shape of every case (design §10 and the fast-units issue).
BATCH, IN_FEATURES, OUT_FEATURES = 1024, 784, 256

Network = tuple[tuple[str, dict[str, Any]], ...]


def network(unit: str, width: int = OUT_FEATURES, in_features: int = IN_FEATURES) -> Network:
    """The layers of ``unit``'s case network (activations follow a Linear, as they replace ReLU)."""
    linear = ("linear", {"in_features": in_features, "out_features": width})
    networks: dict[str, Network] = {
        "linear_relu": (linear, ("relu", {})),
        "aptx_layer": (("aptx_layer", {"in_features": in_features, "out_features": width}),),
        "yat_dense": (("yat_dense", {"in_features": in_features, "out_features": width}),),
        "linear_actmix": (linear, ("actmix", {"features": width})),
        "linear_lselu": (linear, ("lselu", {})),
        "linear_aptx_activation": (linear, ("aptx_activation", {})),
    }
    if unit in networks:
        return networks[unit]
    block = _unit_of_case(unit)
    if block is None:
        raise ValueError(f"unknown benchmark unit {unit!r}; known: {', '.join(networks)}, or "
                         "case_name(u) of any dense unit or activation u")
    from impls.spec import hidden_layers

    # Any other unit (a plug-in's too) forms the hidden layer the MLP protocols give it.
    return tuple((ls.block, dict(ls.config)) for ls in hidden_layers(block, in_features, width))


_CASE_PREFIXES = {"activation": "linear_", "squasher": "yat_", "dense": ""}


def case_name(unit: str) -> str:
    """The benchmark case of a unit: ``linear_<unit>`` for an activation (it replaces the ReLU
    after a Linear), ``yat_<unit>`` for a squasher, the unit itself for a dense layer."""
    from impls.spec import get_block

    kind = get_block(unit).kind
    if kind not in _CASE_PREFIXES:
        raise ValueError(f"unit {unit!r} is a {kind} block; the layer benchmark times dense "
                         "layers and activations")
    return _CASE_PREFIXES[kind] + unit


def _unit_of_case(name: str) -> str | None:
    """The unit a case name stands for (the inverse of ``case_name``), or None."""
    from impls.spec import UNITS, get_block

    for unit in UNITS:
        kind = get_block(unit).kind
        if kind in _CASE_PREFIXES and _CASE_PREFIXES[kind] + unit == name:
            return unit
    return None


CASE_UNITS = ("linear_relu", "aptx_layer", "yat_dense", "linear_actmix", "linear_lselu",
              "linear_aptx_activation")
#: unit -> its network at the main table's shape (784 -> 256).
NETWORKS: Mapping[str, Network] = {unit: network(unit) for unit in CASE_UNITS}


@dataclass(frozen=True)
class Original:
    """An original package's layer measured beside ours (a reference row of the same case)."""

    name: str                  # the kernel column of its rows
    framework: str
    #: bytes of working memory per batch row and output feature (None: small); the plan leaves
    #: out shapes whose estimate exceeds ``ORIGINAL_MEMORY_BUDGET`` and says so.
    bytes_per_row_output: float | None = None


#: The original packages measured in the same run, by unit. aptx_neuron materialises the
#: [B, O, I] float32 tensor five times (design §10: +3.9 GB at 1024 x 256).
ORIGINALS: Mapping[str, Original] = {
    "aptx_layer": Original("aptx_neuron.aptx_layer", "torch", 5 * 4 * IN_FEATURES),
    "yat_dense": Original("nmn.torch.YatNMN", "torch"),
    "linear_aptx_activation": Original("torch.nn.Linear+aptx_activation.APTx", "torch"),
    "linear_relu": Original("mpneuralnetwork.Dense+ReLU", "numpy"),
}
#: The most memory an original's case may need (the machine has 24 GiB, the suite's guide 8).
ORIGINAL_MEMORY_BUDGET = 8 * 2**30


def original_fits(unit: str, batch: int, width: int) -> bool:
    """Whether the original package's case at this shape stays within the memory budget."""
    per = ORIGINALS[unit].bytes_per_row_output
    return per is None or per * batch * width <= ORIGINAL_MEMORY_BUDGET


def probe(config: Mapping[str, Any]) -> dict[str, Any]:
    """Build, warm up, profile and time one case (runs in the fresh process ``measure`` starts)."""
    import time

    from suites.performance import devices
    from suites.performance.probing import OtherLoad, peak_rss_growth, summary, timed

    # The load window spans the whole case (build, warm-up, timing): /proc/stat counts in
    # 10 ms ticks, too coarse for the timed calls of a small case alone.
    load = OtherLoad()
    device = config.get("device", "cpu")
    start = time.perf_counter()
    forward, forward_backward = build_calls(config)
    forward()
    forward_backward()                                 # warm-up: compiles in compiled mode
    out: dict[str, Any] = {"compile_s": time.perf_counter() - start}
    for _ in range(config["warmup"]):
        forward()
        forward_backward()
    if device == "cpu":
        out["peak_memory_bytes"] = peak_rss_growth(forward_backward)
    else:                                              # device memory: the allocator's counter
        framework = "torch" if config["source"] == "original" else config["framework"]
        before = devices.in_use(framework, device)
        devices.peak_reset(framework, device)
        forward_backward()
        out["peak_memory_bytes"] = max(0, devices.peak_read(framework, device, before))
    for name, call in (("forward_s", forward), ("forward_backward_s", forward_backward)):
        out[name] = summary([timed(call) for _ in range(config["repeats"])])
    # Paired references, timed alternately with the case in this process (see pairing()).
    for name, reference, scale in pairing(config):
        reference()
        reference()
        out[name] = summary([timed(forward_backward) / (scale * timed(reference))
                             for _ in range(config["repeats"])])
    return {**out, **load.read()}


#: Result metrics of the paired ratios (``pairing``), each a median over alternating pairs.
PAIRED_METRICS = ("forward_backward_vs_linear_relu", "forward_backward_vs_roofline")


def pairing(config: Mapping[str, Any]) -> list[tuple[str, Any, float]]:
    """(metric, reference call, scale) for the ratios measured alternately inside the probe.

    Timings on the shared two-core machine drift by up to 1.5x within minutes, so a ratio of
    two cases measured in different processes minutes apart moves by as much. Each of our
    cases therefore also times, call by call in alternation with its own forward + backward,

    * the Linear + ReLU network of the same framework and mode (``..._vs_linear_relu``);
    * for the APTx layer, a sweep of the kernel's tanh over B*O*I evaluations, so the ratio to
      the roofline 2 B*O*I / tanh_rate is t / (2 t_sweep) (``..._vs_roofline``),

    and reports the median of the per-pair ratios: drift slower than one pair cancels.
    """
    if config["source"] != "ours":
        return []
    pairs = []
    if config["unit"] != "linear_relu":
        _, baseline = build_calls({**config, "unit": "linear_relu"})
        pairs.append(("forward_backward_vs_linear_relu", baseline, 1.0))
    if config["unit"] == "aptx_layer" and config["dtype"] == "float32":
        # the roofline is the float32 tanh ceiling; a float64 layer has no roofline here
        from suites.performance.tanh_probe import sweep_call

        evaluations = config["batch"] * width_of(config) * IN_FEATURES
        sweep, count = sweep_call(evaluations)
        scale = 2.0 * evaluations / count  # roofline / t_sweep
        pairs.append(("forward_backward_vs_roofline", sweep, scale))
    return pairs


def width_of(config: Mapping[str, Any]) -> int:
    """The case's output width (configs written before widths were swept have none: 256)."""
    return int(config.get("width", OUT_FEATURES))


def build_calls(config: Mapping[str, Any]):
    """(forward, forward_backward) of the case ``config`` (runs inside the probe process)."""
    import numpy as np

    from suites.performance.native import native_calls, numpy_layers_calls, torch_module_calls

    width, device = width_of(config), config.get("device", "cpu")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((config["batch"], IN_FEATURES)).astype(config["dtype"])
    upstream = rng.standard_normal((config["batch"], width)).astype(config["dtype"])
    if config["source"] == "original":
        original = ORIGINALS[config["unit"]]
        if original.framework == "numpy":
            return numpy_layers_calls(_original_numpy_layers(config["unit"], width), x, upstream)
        return torch_module_calls(_original_module(config["unit"], width), x, upstream,
                                  config["mode"], device)
    import impls
    from impls.spec import LayerSpec

    layers = []
    for block, options in network(config["unit"], width):
        options = dict(options)
        if block == "aptx_layer":
            options["impl"] = config["impl"]
        layers.append(LayerSpec(block, impls.spec.resolve_config(block, options)))
    model = impls.build_model(layers, config["framework"], seed=0, dtype=config["dtype"])
    return native_calls(config["framework"], model, x, upstream, config["mode"], device)


def _original_module(unit: str, width: int = OUT_FEATURES):
    """The original package's torch layer for ``unit``, at its defaults (seeded)."""
    import importlib

    import torch

    torch.manual_seed(0)
    if unit == "aptx_layer":
        return importlib.import_module("aptx_neuron").aptx_layer(IN_FEATURES, width)
    if unit == "yat_dense":
        return importlib.import_module("nmn.torch").YatNMN(IN_FEATURES, width)
    if unit == "linear_aptx_activation":
        # APTx's defaults (alpha 1, beta 1, gamma 0.5, not trainable) are ours too.
        aptx = importlib.import_module("aptx_activation").APTx()
        return torch.nn.Sequential(torch.nn.Linear(IN_FEATURES, width), aptx)
    raise ValueError(f"no original torch package for {unit!r}")


def _original_numpy_layers(unit: str, width: int = OUT_FEATURES) -> list[Any]:
    """mpneuralnetwork's NumPy layers for ``unit`` (float32, its own initialisation)."""
    if unit != "linear_relu":
        raise ValueError(f"no original NumPy package for {unit!r}")
    import numpy as np
    from mpneuralnetwork.activations import ReLU
    from mpneuralnetwork.layers import Dense

    np.random.seed(0)                  # mpneuralnetwork initialises from NumPy's global state
    # "he" is what its "auto" picks for a Dense before ReLU (auto waits for a Model to decide).
    return [Dense(width, input_size=IN_FEATURES, initialization="he"), ReLU()]


def measure(config: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The trial function: ``probe`` for ``config`` in a fresh process, its rows."""
    from suites.performance.probing import run_in_fresh_process

    result = run_in_fresh_process("suites.performance.layer", config, "layer")
    return rows_from(config, result)


def rows_from(config: Mapping[str, Any], result: Mapping[str, Any]) -> list[dict[str, Any]]:
    base = {"protocol": PROTOCOL, "unit": config["unit"], "framework": config["framework"],
            "mode": config["mode"], "device": config.get("device", "cpu"), "dtype": config["dtype"],
            "dataset": None, "split": None, "fold": None, "seed": None, "epoch": None,
            "n_params": None, "variant": config["source"], "kernel": config["kernel"],
            "batch": config["batch"], "width": width_of(config)}
    rows = []
    for metric in ("forward_s", "forward_backward_s"):
        stats = result[metric]
        detail = (f"q1={stats['q1']!r} q3={stats['q3']!r} n={stats['n']} "
                  f"batch={config['batch']} compile_s={result['compile_s']!r} threads={config['threads']}")
        rows.append({**base, "metric": metric, "value": float(stats["median"]), "detail": detail})
    rows.append({**base, "metric": "peak_memory_bytes", "value": float(result["peak_memory_bytes"]),
                 "detail": f"batch={config['batch']}"})
    for metric in PAIRED_METRICS:
        if metric in result:
            stats = result[metric]
            rows.append({**base, "metric": metric, "value": float(stats["median"]),
                         "detail": f"q1={stats['q1']!r} q3={stats['q3']!r} n={stats['n']} "
                                   f"batch={config['batch']} paired"})
    if "other_load_cores" in result:
        rows.append({**base, "metric": "other_load_cores", "value": float(result["other_load_cores"]),
                     "detail": f"loadavg_1m={result['loadavg_1m']!r} threads={config['threads']}"})
    return rows


def plan(frameworks: Sequence[str], *, units: Sequence[str] | None = None,
         impls_: Sequence[str] = ("fused", "recompute"), modes: Sequence[str] = ("eager", "compiled"),
         batch: int = BATCH, width: int = OUT_FEATURES, repeats: int = 7, warmup: int = 1,
         threads: int | None = None, originals: bool = True, timeout_s: float = 1800.0,
         device: str = "cpu", scaling_batches: Sequence[int] = (), scaling_widths: Sequence[int] = (),
         scaling_frameworks: Sequence[str] | None = None, notes: list[str] | None = None,
         dtypes: Sequence[str] = ("float32",)) -> list:
    """The trials of one benchmark run: the ceilings, every case at (``batch``, ``width``) in
    every one of ``dtypes``, then the scaling cases (eager, float32, the default APTx kernel) of
    ``scaling_frameworks`` over the other ``scaling_batches`` at ``width`` and the other
    ``scaling_widths`` at ``batch``. The original packages (float32, as they ship) run at every
    shape their memory estimate allows; a shape left out is said in ``notes``."""
    import impls
    from suites import settings
    from suites.performance import ceilings
    from suites.run import Trial, backend_code

    threads = threads or len(os.sched_getaffinity(0))
    units = list(units or CASE_UNITS)
    unknown = [u for u in units if u not in NETWORKS and _unit_of_case(u) is None]
    if unknown:
        raise ValueError(f"unknown benchmark unit(s) {', '.join(unknown)}; known: {', '.join(NETWORKS)}")
    scaling_frameworks = list(frameworks if scaling_frameworks is None else scaling_frameworks)
    stray = [f for f in scaling_frameworks if f not in frameworks]
    if stray:
        raise ValueError(f"scaling framework(s) {', '.join(stray)} are not among the frameworks run")
    bad = [d for d in dtypes if d not in ("float32", "float64")]
    if bad or not dtypes:
        raise ValueError(f"dtype(s) {', '.join(bad) or '(none)'} not benchmarked; known: float32, float64")
    common = {"repeats": repeats, "warmup": warmup, "threads": threads, "dtype": "float32",
              "timeout_s": timeout_s, "device": device}
    code = ("suites.performance",)
    trials = [ceilings.trial(threads)]
    notes = [] if notes is None else notes

    def ours(framework: str, unit: str, impl: str, mode: str, b: int, w: int,
             dtype: str = "float32") -> Trial:
        kernel = (impls.kernel_name("aptx_layer", framework, mode, impl=impl)
                  if unit == "aptx_layer" else "default")
        config = {**common, "batch": b, "width": w, "unit": unit, "framework": framework,
                  "mode": mode, "impl": impl, "source": "ours", "kernel": kernel, "dtype": dtype}
        return Trial(suite=SUITE, fn="suites.performance.layer:measure", config=config,
                     code=(*backend_code(framework), *code),
                     frameworks=settings.DISTRIBUTIONS[framework],
                     label=f"layer {unit}{'/' + impl if unit == 'aptx_layer' else ''} {framework} "
                           f"{mode} {_shape(b, w)}{'' if dtype == 'float32' else ' ' + dtype}")

    def original(unit: str, b: int, w: int) -> Trial | None:
        ref = ORIGINALS[unit]
        if ref.framework not in frameworks or (device != "cpu" and ref.framework == "numpy"):
            return None
        if not original_fits(unit, b, w):
            notes.append(f"{ref.name} left out at {_shape(b, w)}: it would need about "
                         f"{ref.bytes_per_row_output * b * w / 2**30:.0f} GiB "
                         f"(budget {ORIGINAL_MEMORY_BUDGET / 2**30:.0f} GiB)")
            return None
        config = {**common, "batch": b, "width": w, "unit": unit, "framework": ref.framework,
                  "mode": "eager", "impl": "original", "source": "original", "kernel": ref.name}
        return Trial(suite=SUITE, fn="suites.performance.layer:measure", config=config,
                     code=code, frameworks=(ref.framework, "aptx-neuron", "aptx-activation", "nmn",
                                            "mpneuralnetwork"),
                     label=f"layer {unit} original ({ref.name}) {_shape(b, w)}")

    for framework in frameworks:
        modes_here = ("eager",) if framework == "numpy" else tuple(modes)
        for unit in units:
            for impl in (impls_ if unit == "aptx_layer" else ("fused",)):
                trials += [ours(framework, unit, impl, mode, batch, width, dtype)
                           for dtype in dtypes for mode in modes_here]
    shapes = [(b, width) for b in scaling_batches if b != batch]
    shapes += [(batch, w) for w in scaling_widths if w != width]
    for b, w in [(batch, width), *shapes] if originals else []:
        trials += [t for unit in units if unit in ORIGINALS if (t := original(unit, b, w))]
    for b, w in shapes:
        for framework in scaling_frameworks:
            trials += [ours(framework, unit, "fused", "eager", b, w) for unit in units]
    return trials


def _shape(batch: int, width: int) -> str:
    return f"{batch}x{IN_FEATURES}->{width}"
