"""Regenerate the committed golden files from the float64 oracle.

    python scripts/generate_golden.py          # writes tests/golden/oracle.npz and index.json

For every case of impls.spec.cases.CASES (at each input scale) the file stores the input, the
parameters, an upstream gradient, the oracle's output and its gradients. Tests compare both the
oracle (so an unintended change to it shows up as a diff of the golden data) and every framework
against these arrays. Regenerate only after a deliberate change to the oracle or the cases.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from impls import spec  # noqa: E402
from impls.spec.cases import CASES, SCALES  # noqa: E402

GOLDEN_DIR = ROOT / "tests" / "golden"


def golden_entries():
    """Yield (key, case, scale, arrays) for every case and scale, deterministically."""
    for index, case in enumerate(CASES):
        for scale in SCALES:
            key = f"{index:03d}-{case.unit}-s{scale:g}"
            x = case.inputs(seed=100 + index, scale=scale)
            params = case.params(seed=200 + index, jitter=0.1)
            if case.unit == "aptx_layer" and not case.config.get("alpha_trainable", True):
                params["alpha"] = np.ones_like(params["alpha"])
            y = spec.reference(case.unit, params, x, **case.config)
            upstream = np.random.default_rng(300 + index).standard_normal(y.shape)
            dx, grads = spec.reference_grad(case.unit, params, x, upstream, **case.config)
            arrays = {"x": x, "upstream": upstream, "y": y, "dx": dx}
            arrays.update({f"param.{k}": v for k, v in params.items()})
            arrays.update({f"grad.{k}": v for k, v in grads.items()})
            yield key, case, scale, arrays


def main() -> None:
    GOLDEN_DIR.mkdir(parents=True, exist_ok=True)
    flat: dict[str, np.ndarray] = {}
    index = []
    for key, case, scale, arrays in golden_entries():
        index.append({"key": key, "unit": case.unit, "config": {k: list(v) if isinstance(v, tuple) else v
                                                                 for k, v in case.config.items()},
                      "scale": scale, "arrays": sorted(arrays)})
        flat.update({f"{key}/{name}": value for name, value in arrays.items()})
    np.savez_compressed(GOLDEN_DIR / "oracle.npz", **flat)
    (GOLDEN_DIR / "index.json").write_text(json.dumps(index, indent=1) + "\n")
    print(f"wrote {len(index)} golden cases to {GOLDEN_DIR.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
