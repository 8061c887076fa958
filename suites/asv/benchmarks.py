"""Speed, memory and quick accuracy of the units, for ASV's history over commits.

* ``Layer.time_forward`` / ``time_forward_backward`` / ``peakmem_forward_backward``: the layer
  benchmark's own networks and framework-native calls (``suites.performance.layer.build_calls``:
  784 -> 256 layer, float32, eager), at a smaller batch than ``neuronbench perf`` (256, not
  1,024) so that a commit's run stays short; ASV tracks change over commits, the absolute and
  paired numbers of a machine come from ``neuronbench perf``.
* ``QuickAccuracy.track_error``: the test error (lower is better) of one short MNIST training
  per unit and framework (the ``mnist-units`` equal-width MLP through the accuracy trial, 2,000
  training images, one epoch, seed 0); all of them train once, in ``setup_cache``.

Frameworks: ``$NEURONBENCH_ASV_FRAMEWORKS`` (default ``numpy,torch``; every one listed must
import, none is skipped).
"""

from __future__ import annotations

import os

FRAMEWORKS = tuple(os.environ.get("NEURONBENCH_ASV_FRAMEWORKS", "numpy,torch").split(","))
LAYER_UNITS = ("linear_relu", "aptx_layer", "yat_dense", "linear_actmix", "linear_lselu")
ACCURACY_UNITS = ("relu", "gelu", "swish", "aptx_activation", "lselu", "actmix", "yat_dense")
BATCH = 256


class Layer:
    """One benchmark network of ``suites.performance.layer`` in one framework (eager)."""

    params = (LAYER_UNITS, FRAMEWORKS)
    param_names = ("unit", "framework")
    number = 1
    repeat = (3, 10, 10.0)
    warmup_time = 0.2
    timeout = 600

    def setup(self, unit: str, framework: str) -> None:
        from suites.performance import layer

        config = {"unit": unit, "framework": framework, "mode": "eager", "impl": "fused",
                  "source": "ours", "batch": BATCH, "dtype": "float32"}
        self.forward, self.forward_backward = layer.build_calls(config)
        self.forward_backward()     # first-call costs (allocator, kernel JIT) stay out

    def time_forward(self, unit: str, framework: str) -> None:
        self.forward()

    def time_forward_backward(self, unit: str, framework: str) -> None:
        self.forward_backward()

    def peakmem_forward_backward(self, unit: str, framework: str) -> None:
        self.forward_backward()


def quick_error(unit: str, framework: str) -> float:
    """Test error after one epoch on 2,000 MNIST images (mnist-units, equal width, seed 0)."""
    from suites.accuracy import grid, protocols, train

    config = grid.resolve(protocols.get_protocol("mnist-units"), "quick", unit, framework,
                          "equal-width", 0)
    config.update(epochs=1, train_subset=2000, validation=500, test_subset=2000)
    rows = train.run_trial(config)
    final = [r["value"] for r in rows if r["split"] == "test" and r["selection"] == "final"]
    return 1.0 - final[0]


class QuickAccuracy:
    params = (ACCURACY_UNITS, FRAMEWORKS)
    param_names = ("unit", "framework")
    timeout = 1200

    def setup_cache(self) -> dict[str, float]:
        return {f"{u}/{f}": quick_error(u, f) for u in ACCURACY_UNITS for f in FRAMEWORKS}

    def track_error(self, errors: dict[str, float], unit: str, framework: str) -> float:
        return errors[f"{unit}/{framework}"]

    track_error.unit = "test error (fraction)"
