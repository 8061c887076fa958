"""What every timing probe needs, defined once: medians with quartiles, the resident set's peak
during one call, and how busy the rest of the machine was.

The layer benchmark (``layer.py``) and the train-step benchmark (``train_step.py``) both measure
in a fresh process; these helpers run inside that process. Linux only (``/proc``).
"""

from __future__ import annotations

import json
import os
import re
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any


def timed(call: Callable[[], Any]) -> float:
    """Seconds one call takes (the call must return only when its work is done)."""
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def summary(values: Sequence[float]) -> dict[str, float]:
    """Median, first and third quartile and count of repeated measurements."""
    quartiles = statistics.quantiles(values, n=4) if len(values) > 1 else [values[0]] * 3
    return {"median": statistics.median(values), "q1": quartiles[0], "q3": quartiles[2],
            "n": len(values)}


def status_bytes(key: str) -> int:
    """A size from ``/proc/self/status`` (VmRSS, VmHWM) in bytes."""
    with open("/proc/self/status") as fh:
        found = re.search(key + r":\s+(\d+) kB", fh.read())
    if found is None:
        raise RuntimeError(f"/proc/self/status has no {key}")
    return int(found.group(1)) * 1024


def peak_rss_growth(call: Callable[[], Any]) -> int:
    """Bytes the resident set's high-water mark rose above its current level during one call
    (writing 5 to clear_refs resets VmHWM to the current resident size)."""
    baseline = status_bytes("VmRSS")
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")
    call()
    return max(0, status_bytes("VmHWM") - baseline)


def _busy_s() -> float:
    """CPU seconds the whole machine spent busy (not idle, not waiting for I/O) since boot."""
    with open("/proc/stat") as fh:
        ticks = [int(v) for v in fh.readline().split()[1:9]]
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")


def _own_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class OtherLoad:
    """Cores kept busy by other processes between construction and ``read()``: the machine's
    busy time from ``/proc/stat`` minus this process's own CPU time, over the wall time.
    ``/proc/stat`` counts in 10 ms ticks, so the window should span the whole case."""

    def __init__(self) -> None:
        self.start, self.busy, self.own = time.perf_counter(), _busy_s(), _own_s()

    def read(self) -> dict[str, float]:
        wall = time.perf_counter() - self.start
        other = (_busy_s() - self.busy) - (_own_s() - self.own)
        cores = min(float(os.cpu_count() or 1), max(0.0, other / wall)) if wall > 0 else 0.0
        return {"other_load_cores": cores, "loadavg_1m": os.getloadavg()[0]}


_MARKER = "NEURONBENCH_PROBE "


def run_in_fresh_process(module: str, config: Mapping[str, Any], what: str) -> dict[str, Any]:
    """``module.probe(config)`` in a fresh interpreter, its result returned.

    A fresh process per case keeps the allocator caches, JIT state and thread pools of earlier
    cases out of the numbers; the thread count is pinned for every library that reads one.
    """
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    for key in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS"):
        env[key] = str(config["threads"])
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    script = (f"import json, sys\nfrom {module} import probe\n"
              f"print({_MARKER!r} + json.dumps(probe(json.loads(sys.argv[1]))), flush=True)\n")
    done = subprocess.run([sys.executable, "-c", script, json.dumps(dict(config))], env=env,
                          capture_output=True, text=True, timeout=config["timeout_s"], check=False)
    for line in reversed(done.stdout.splitlines()):
        if line.startswith(_MARKER):
            return json.loads(line[len(_MARKER):])
    raise RuntimeError(f"{what} probe failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
