"""Provenance recorded with every result: git sha, dirty flag, versions, machine."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import subprocess
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("numpy", "scipy", "torch", "jax", "jaxlib", "flax", "optax", "tensorflow", "tensorflow-cpu", "keras")


def _git(*args: str) -> str:
    try:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def collect() -> dict[str, str]:
    versions = []
    for name in PACKAGES:
        try:
            versions.append(f"{name} {importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            continue
    return {
        "git sha": _git("rev-parse", "HEAD") + (" (dirty)" if _git("status", "--porcelain") else ""),
        "time (UTC)": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S"),
        "python": platform.python_version(),
        "machine": f"{' '.join(filter(None, (platform.machine(), platform.processor())))}, "
                   f"{os.cpu_count()} CPUs",
        "device": "CPU",
        "versions": ", ".join(versions),
    }
