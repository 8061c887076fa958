"""Peak CPU memory of a piece of work, measured in a fresh subprocess.

CPU allocators keep no peak counter, so the probe reads the kernel's high-water mark of the
resident set: it records the resident size after the setup code, resets the high-water mark
(``/proc/self/clear_refs``), runs the measured code and reports how far the peak rose above the
baseline. A fresh interpreter per measurement keeps earlier allocations and allocator caches of
other cases out of the number.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

_PROBE = textwrap.dedent(
    """
    import json

    from suites.performance.probing import status_bytes as _status

    {setup}
    baseline = _status("VmRSS")
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")
    {run}
    print("NEURONBENCH_PEAK " + json.dumps({{"baseline": baseline, "peak": _status("VmHWM")}}))
    """
)


def peak_rss_increase(setup: str, run: str, *, threads: int = 2, timeout: float = 600.0) -> int:
    """Bytes by which the resident set peaked above its level after ``setup`` while ``run`` ran."""
    if not sys.platform.startswith("linux"):
        raise RuntimeError("peak RSS probing needs Linux (/proc/self/clear_refs)")
    code = _PROBE.format(setup=textwrap.dedent(setup).strip().replace("\n", "\n"),
                         run=textwrap.dedent(run).strip())
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                          timeout=timeout, check=False)
    for line in done.stdout.splitlines():
        if line.startswith("NEURONBENCH_PEAK "):
            values = json.loads(line.split(" ", 1)[1])
            return max(0, values["peak"] - values["baseline"])
    raise RuntimeError(f"memory probe failed (exit {done.returncode}):\n{done.stderr[-2000:]}")
