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

Cases (``plan``): the units that replace a Linear + activation layer at 784 -> 256, batch 1024:

* ``aptx_layer`` (every ``impl``: the fused kernel, the chunked recompute; ``naive`` only where
  asked, it needs gigabytes), ``yat_dense``, and Linear followed by ``actmix``, ``lselu``,
  ``relu`` (the baseline every ratio is taken to), in NumPy, torch, JAX and TF, eager and
  compiled;
* the original packages in the same run: ``aptx_neuron.aptx_layer`` and ``nmn.torch.YatNMN``;
* the machine's ceilings, measured in the same run (``suites/performance/ceilings.py``), from
  which the APTx roofline is built: B*O*I tanh evaluations forward and as many again backward.

Rows: ``metric`` in forward_s, forward_backward_s (value = median), with ``detail`` holding
the IQR, repeats and compile time; peak_memory_bytes; and per ceiling its rate.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Mapping, Sequence
from typing import Any

SUITE = "performance"
PROTOCOL = "layer"

#: The shape of every case (design §10 and the fast-units issue).
BATCH, IN_FEATURES, OUT_FEATURES = 1024, 784, 256

#: unit -> the layers of its case network (activations follow a Linear, as they replace ReLU).
NETWORKS: Mapping[str, tuple[tuple[str, dict[str, Any]], ...]] = {
    "linear_relu": (("linear", {"in_features": IN_FEATURES, "out_features": OUT_FEATURES}),
                    ("relu", {})),
    "aptx_layer": (("aptx_layer", {"in_features": IN_FEATURES, "out_features": OUT_FEATURES}),),
    "yat_dense": (("yat_dense", {"in_features": IN_FEATURES, "out_features": OUT_FEATURES}),),
    "linear_actmix": (("linear", {"in_features": IN_FEATURES, "out_features": OUT_FEATURES}),
                      ("actmix", {"features": OUT_FEATURES})),
    "linear_lselu": (("linear", {"in_features": IN_FEATURES, "out_features": OUT_FEATURES}),
                     ("lselu", {})),
}

#: The original packages measured in the same run (torch modules), by unit.
ORIGINALS: Mapping[str, str] = {
    "aptx_layer": "aptx_neuron.aptx_layer",
    "yat_dense": "nmn.torch.YatNMN",
}

_PROBE = textwrap.dedent('''
    import json, re, statistics, sys, time
    config = json.loads(sys.argv[1])
    from suites.performance.layer import build_calls, pairing
    t0 = time.perf_counter()
    forward, forward_backward = build_calls(config)
    forward(); forward_backward()                       # warm-up: compiles in compiled mode
    compile_s = time.perf_counter() - t0
    for _ in range(config["warmup"]):
        forward(); forward_backward()

    def status(key):
        with open("/proc/self/status") as fh:
            return int(re.search(key + r":\\s+(\\d+) kB", fh.read()).group(1)) * 1024

    baseline = status("VmRSS")
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")
    forward_backward()
    peak = status("VmHWM") - baseline
    out = {"compile_s": compile_s, "peak_memory_bytes": max(0, peak)}

    def summary(values):
        q = statistics.quantiles(values, n=4) if len(values) > 1 else [values[0]] * 3
        return {"median": statistics.median(values), "q1": q[0], "q3": q[2], "n": len(values)}

    def timed(fn):
        start = time.perf_counter(); fn(); return time.perf_counter() - start

    for name, fn in (("forward_s", forward), ("forward_backward_s", forward_backward)):
        out[name] = summary([timed(fn) for _ in range(config["repeats"])])
    # Paired references, timed alternately with the case in this process (see pairing()).
    for name, reference, scale in pairing(config):
        reference(); reference()
        out[name] = summary([timed(forward_backward) / (scale * timed(reference))
                             for _ in range(config["repeats"])])
    print("NEURONBENCH_LAYER " + json.dumps(out))
''')

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
    if config["unit"] == "aptx_layer":
        from suites.performance.tanh_probe import sweep_call

        sweep, count = sweep_call(config["batch"] * OUT_FEATURES * IN_FEATURES)
        scale = 2.0 * config["batch"] * OUT_FEATURES * IN_FEATURES / count  # roofline / t_sweep
        pairs.append(("forward_backward_vs_roofline", sweep, scale))
    return pairs


def build_calls(config: Mapping[str, Any]):
    """(forward, forward_backward) of the case ``config`` (runs inside the probe process)."""
    import numpy as np

    from suites.performance.native import native_calls, torch_module_calls

    rng = np.random.default_rng(0)
    x = rng.standard_normal((config["batch"], IN_FEATURES)).astype(config["dtype"])
    upstream = rng.standard_normal((config["batch"], OUT_FEATURES)).astype(config["dtype"])
    if config["source"] == "original":
        return torch_module_calls(_original_module(config["unit"]), x, upstream, config["mode"])
    import impls
    from impls.spec import LayerSpec

    layers = []
    for block, options in NETWORKS[config["unit"]]:
        options = dict(options)
        if block == "aptx_layer":
            options["impl"] = config["impl"]
        layers.append(LayerSpec(block, impls.spec.resolve_config(block, options)))
    model = impls.build_model(layers, config["framework"], seed=0, dtype=config["dtype"])
    return native_calls(config["framework"], model, x, upstream, config["mode"])


def _original_module(unit: str):
    import importlib

    import torch

    torch.manual_seed(0)
    if unit == "aptx_layer":
        return importlib.import_module("aptx_neuron").aptx_layer(IN_FEATURES, OUT_FEATURES)
    if unit == "yat_dense":
        return importlib.import_module("nmn.torch").YatNMN(IN_FEATURES, OUT_FEATURES)
    raise ValueError(f"no original package for {unit!r}")


def measure(config: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The trial function: run the probe for ``config`` in a fresh process, return its rows."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    threads = str(config["threads"])
    for key in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS"):
        env[key] = threads
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    done = subprocess.run([sys.executable, "-c", _PROBE, json.dumps(dict(config))], env=env,
                          capture_output=True, text=True, timeout=config["timeout_s"], check=False)
    result = None
    for line in done.stdout.splitlines():
        if line.startswith("NEURONBENCH_LAYER "):
            result = json.loads(line.split(" ", 1)[1])
    if result is None:
        raise RuntimeError(f"layer probe failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
    return rows_from(config, result)


def rows_from(config: Mapping[str, Any], result: Mapping[str, Any]) -> list[dict[str, Any]]:
    base = {"protocol": PROTOCOL, "unit": config["unit"], "framework": config["framework"],
            "mode": config["mode"], "device": "cpu", "dtype": config["dtype"], "dataset": None,
            "split": None, "fold": None, "seed": None, "epoch": None, "n_params": None,
            "variant": config["source"], "kernel": config["kernel"]}
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
    return rows


def plan(frameworks: Sequence[str], *, units: Sequence[str] | None = None,
         impls_: Sequence[str] = ("fused", "recompute"), modes: Sequence[str] = ("eager", "compiled"),
         batch: int = BATCH, repeats: int = 7, warmup: int = 1, threads: int | None = None,
         originals: bool = True, timeout_s: float = 1800.0) -> list:
    """The trials of one benchmark run (ceilings first, then every case)."""
    import impls
    from suites import settings
    from suites.performance import ceilings
    from suites.run import Trial, backend_code

    threads = threads or len(os.sched_getaffinity(0))
    units = list(units or NETWORKS)
    unknown = [u for u in units if u not in NETWORKS]
    if unknown:
        raise ValueError(f"unknown benchmark unit(s) {', '.join(unknown)}; known: {', '.join(NETWORKS)}")
    common = {"batch": batch, "repeats": repeats, "warmup": warmup, "threads": threads,
              "dtype": "float32", "timeout_s": timeout_s}
    trials = [ceilings.trial(threads)]
    code = ("suites.performance",)
    for framework in frameworks:
        modes_here = ("eager",) if framework == "numpy" else tuple(modes)
        for unit in units:
            variants = impls_ if unit == "aptx_layer" else ("fused",)
            for impl in variants:
                for mode in modes_here:
                    kernel = (impls.kernel_name("aptx_layer", framework, mode, impl=impl)
                              if unit == "aptx_layer" else "default")
                    config = {**common, "unit": unit, "framework": framework, "mode": mode,
                              "impl": impl, "source": "ours", "kernel": kernel}
                    label = f"layer {unit}{'/' + impl if unit == 'aptx_layer' else ''} {framework} {mode}"
                    trials.append(Trial(suite=SUITE, fn="suites.performance.layer:measure", config=config,
                                        code=(*backend_code(framework), *code),
                                        frameworks=settings.DISTRIBUTIONS[framework], label=label))
    if originals and "torch" in frameworks:
        for unit, name in ORIGINALS.items():
            if unit not in units:
                continue
            config = {**common, "unit": unit, "framework": "torch", "mode": "eager", "impl": "original",
                      "source": "original", "kernel": name}
            trials.append(Trial(suite=SUITE, fn="suites.performance.layer:measure", config=config,
                                code=code, frameworks=("torch", "aptx-neuron", "nmn"),
                                label=f"layer {unit} original ({name})"))
    return trials
