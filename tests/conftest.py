"""Shared test settings.

* ``NEURONBENCH_FRAMEWORKS`` (comma list, default all four) selects the frameworks the
  framework tests run on; a selected framework that cannot be imported FAILS its tests.
* ``NEURONBENCH_CONFORMANCE=1`` (set in CI) makes a missing original package (aptx-neuron,
  nmn, mpneuralnetwork) a failure instead of a skip.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType

import pytest


def selected_frameworks() -> tuple[str, ...]:
    """The frameworks under test, resolved by the one rule every command uses."""
    from suites.settings import frameworks

    return frameworks()


def require_original(module: str) -> ModuleType:
    """Import an original package for a conformance test.

    Under NEURONBENCH_CONFORMANCE=1 a missing package is a test failure (CI must never report
    a conformance check as passed when it did not run); otherwise the test is skipped.
    """
    try:
        return importlib.import_module(module)
    except ImportError as error:
        if os.environ.get("NEURONBENCH_CONFORMANCE") == "1":
            pytest.fail(f"conformance package {module!r} is required (NEURONBENCH_CONFORMANCE=1): {error}")
        pytest.skip(f"{module} not installed; set NEURONBENCH_CONFORMANCE=1 to make this a failure")


def require_framework(framework: str) -> None:
    """Skip a framework that was not selected; fail (never skip) one that was but is missing."""
    if framework not in selected_frameworks():
        pytest.skip(f"{framework} not in NEURONBENCH_FRAMEWORKS")
    import impls

    impls.load_backend(framework)  # raises FrameworkUnavailableError


@pytest.fixture(autouse=True, scope="module")
def _release_framework_caches():
    """After each test module, drop the compiled-function caches of the frameworks it loaded.

    A pytest worker runs hundreds of modules in one process; JAX's jit cache, TensorFlow's
    graphs and Keras' global state, and torch.compile's Dynamo cache otherwise keep every
    function any earlier module compiled, and the worker's memory grows through the session.
    Only frameworks already imported are touched (nothing is imported here).
    """
    yield
    import gc
    import sys

    if "jax" in sys.modules:
        sys.modules["jax"].clear_caches()
    if "keras" in sys.modules and "tensorflow" in sys.modules:
        sys.modules["keras"].backend.clear_session()
    if "torch._dynamo" in sys.modules:
        sys.modules["torch._dynamo"].reset()
    gc.collect()
