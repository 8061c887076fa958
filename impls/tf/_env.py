"""Process settings that must be in place before TensorFlow and Keras are imported.

Imported first by :mod:`impls.tf` (the package ``__init__``), so every module of the backend
sees a quiet TensorFlow and a Keras running on the TensorFlow backend. Keras picks its backend
once per process, at import: if something imported it with another backend before us, the
TensorFlow twins cannot work, and we say so instead of failing later with odd tensor types.
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")


def _keras_backend_in_use() -> str | None:
    keras = sys.modules.get("keras")
    if keras is None:
        return None
    try:
        return str(keras.backend.backend())
    except Exception:  # a half-initialised keras: let the real import report it
        return None


def check_keras_backend() -> None:
    """Raise ImportError when Keras runs (or is configured to run) on another backend."""
    backend = _keras_backend_in_use() or os.environ.get("KERAS_BACKEND", "tensorflow")
    if backend != "tensorflow":
        raise ImportError(
            f"impls.tf needs Keras on the TensorFlow backend, but Keras uses {backend!r} in this "
            "process (KERAS_BACKEND or an earlier `import keras`); start a new process with "
            "KERAS_BACKEND=tensorflow to use the 'tf' framework"
        )


check_keras_backend()
