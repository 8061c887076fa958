"""Fixtures of the data-layer tests.

The real datasets are found through ``NEURONBENCH_DATA`` (relative values are relative to the
current directory, as in the library), else at ``<repo>/../shared/datasets``. If neither exists the
tests that need them FAIL: they are the evidence that the loaders read the published data.

No test may touch the network: an autouse fixture replaces the downloader's URL opener with one
that serves ``file://`` URLs only; tests that exercise downloads install their own opener.
"""

from __future__ import annotations

import os
import urllib.request
from pathlib import Path

import pytest

from suites.data import download as download_module
from suites.data import integrity

REPO = Path(__file__).resolve().parents[2]


def real_data_root() -> Path:
    env = os.environ.get("NEURONBENCH_DATA", "").strip()
    root = Path(env) if env else REPO / ".." / "shared" / "datasets"
    return Path(os.path.abspath(root))


@pytest.fixture(scope="session")
def data_root() -> Path:
    root = real_data_root()
    if not (root / "manifest.json").is_file():
        pytest.fail(
            f"the real datasets were not found at {root}: set NEURONBENCH_DATA to the shared "
            "datasets folder (CI: NEURONBENCH_DATA=../shared/datasets)"
        )
    return root


def _file_only_opener(url: str, timeout: float):
    if not url.startswith("file:"):
        raise AssertionError(f"test tried to reach the network: {url}")
    return urllib.request.urlopen(url, timeout=timeout)


@pytest.fixture(autouse=True)
def _no_network(monkeypatch):
    monkeypatch.setattr(download_module, "open_url", _file_only_opener)
    monkeypatch.delenv("NEURONBENCH_OFFLINE", raising=False)


@pytest.fixture
def fresh_cache():
    """Forget remembered digests so the test sees a first-time verification."""
    integrity.clear_cache()
    yield
    integrity.clear_cache()


@pytest.fixture(scope="session")
def mnist(data_root):
    from suites.data import load_mnist

    return load_mnist(data_root, download=False)


@pytest.fixture(scope="session")
def cifar(data_root):
    from suites.data import load_cifar10

    return load_cifar10(data_root, download=False)


@pytest.fixture(scope="session")
def adult(data_root):
    from suites.data import load_adult

    return load_adult(data_root, download=False)


@pytest.fixture(scope="session")
def magic(data_root):
    from suites.data import load_magic

    return load_magic(data_root, download=False)


@pytest.fixture(scope="session")
def ccpp(data_root):
    from suites.data import load_ccpp

    return load_ccpp(data_root, download=False)
