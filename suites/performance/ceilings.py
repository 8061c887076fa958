"""The machine's ceilings, measured in the run that uses them (never quoted from elsewhere).

* ``tanh_per_s``: float32 tanh evaluations per second on every thread, of the fused kernel's
  vectorised tanh over cache-resident data (the best tanh this project has on a CPU: NumPy's
  own float32 tanh is SIMD only with AVX-512, and is measured beside it as ``numpy_tanh_per_s``);
* ``numpy_exp_per_s``: NumPy float32 exp over the same large array (the transcendental that
  GELU, SiLU, SELU-like units and softmax mixtures are bound by);
* ``matmul_flop_per_s``: NumPy float32 1024^3 matrix product (BLAS, every thread);
* ``copy_bytes_per_s``: NumPy copy of a 256 MiB array (read + write bytes per second).

The APTx roofline follows (design §10): the layer is bound by tanh, B*O*I evaluations forward
and as many again backward (the backward pass recomputes tanh instead of storing it), so
forward >= B*O*I / tanh_per_s and forward + backward >= 2 B*O*I / tanh_per_s.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Mapping
from typing import Any

_PROBE = textwrap.dedent('''
    import json, time
    import numpy as np
    from suites.performance.tanh_probe import tanh_per_s

    def best(fn, reps=5):
        fn(); times = []
        for _ in range(reps):
            t0 = time.perf_counter(); fn(); times.append(time.perf_counter() - t0)
        return min(times)

    result = {"tanh_per_s": tanh_per_s()}
    big = np.random.default_rng(1).standard_normal(1 << 22).astype(np.float32)
    result["numpy_tanh_per_s"] = big.size / best(lambda: np.tanh(big))
    result["numpy_exp_per_s"] = big.size / best(lambda: np.exp(big))
    m = np.random.default_rng(2).standard_normal((1024, 1024)).astype(np.float32)
    result["matmul_flop_per_s"] = 2 * 1024 ** 3 / best(lambda: m @ m)
    src = np.ones(1 << 26, np.float32); dst = np.empty_like(src)
    result["copy_bytes_per_s"] = 2 * src.nbytes / best(lambda: np.copyto(dst, src))
    print("NEURONBENCH_CEILINGS " + json.dumps(result))
''')

METRICS = ("tanh_per_s", "numpy_tanh_per_s", "numpy_exp_per_s", "matmul_flop_per_s",
           "copy_bytes_per_s")


def measure(config: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The trial function: every ceiling, in a fresh process with ``threads`` threads."""
    env = {**os.environ}
    for key in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS"):
        env[key] = str(config["threads"])
    done = subprocess.run([sys.executable, "-c", _PROBE], env=env, capture_output=True, text=True,
                          timeout=600, check=False)
    found = [ln for ln in done.stdout.splitlines() if ln.startswith("NEURONBENCH_CEILINGS ")]
    if not found:
        raise RuntimeError(f"ceilings probe failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
    values = json.loads(found[-1].split(" ", 1)[1])
    base = {"protocol": "ceiling", "unit": "ceiling", "framework": "numpy", "mode": "eager",
            "device": "cpu", "dtype": "float32", "dataset": None, "split": None, "fold": None,
            "seed": None, "epoch": None, "n_params": None, "variant": "machine",
            "kernel": "numba", "detail": f"threads={config['threads']}"}
    return [{**base, "metric": name, "value": float(values[name])} for name in METRICS]


def trial(threads: int):
    from suites import settings
    from suites.run import Trial

    return Trial(suite="performance", fn="suites.performance.ceilings:measure",
                 config={"threads": threads, "what": "ceilings"},
                 code=("impls.kernels", "suites.performance"),
                 frameworks=settings.DISTRIBUTIONS["numpy"], label=f"ceilings ({threads} threads)")


def aptx_roofline_s(tanh_per_s: float, batch: int, n_out: int, n_in: int) -> tuple[float, float]:
    """(forward, forward + backward) lower bounds in seconds for the APTx layer."""
    evaluations = batch * n_out * n_in
    return evaluations / tanh_per_s, 2 * evaluations / tanh_per_s
