"""Process settings that must be in place before TensorFlow and Keras are imported.

Imported first by :mod:`impls.tf` (the package ``__init__``), so every module of the backend
sees a quiet TensorFlow and a Keras running on the TensorFlow backend. Keras picks its backend
once per process, at import: if something imported it with another backend before us, the
TensorFlow twins cannot work, and we say so instead of failing later with odd tensor types.
"""

from __future__ import annotations

import logging
import os
import sys

from impls.llvm_order import load_triton_first

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


class _QuietRetracing(logging.Filter):
    """Drop TensorFlow's "triggered tf.function retracing" warning.

    neuronbench compiles one function per layer and per model (cached on the object, see
    :func:`impls.tf.device.in_mode`), so a test session traces many *different* functions
    once each; TensorFlow's global counter then reports that as excessive retracing.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return "triggered tf.function retracing" not in record.getMessage()


def import_tensorflow() -> None:
    """Import TensorFlow without letting it pull in JAX.

    ``import tensorflow`` imports ``jax`` whenever it is installed (tf.lite's converter keeps
    an optional ``jax.jit`` handle, guarded by ``except ImportError``), which would make the
    'tf' framework load a second framework. While TensorFlow is first imported, ``jax`` is
    marked unimportable (``sys.modules['jax'] = None``, the documented way to block an
    import); afterwards the marker is removed, so a later ``import jax`` works as usual. Only
    tf.lite's JAX conversion, which neuronbench never uses, loses its handle.
    """
    load_triton_first()  # impls/llvm_order.py: triton's LLVM must load before TensorFlow's
    if "tensorflow" in sys.modules or "jax" in sys.modules:
        return
    sys.modules["jax"] = None  # type: ignore[assignment]
    try:
        import tensorflow  # noqa: F401
    finally:
        if sys.modules.get("jax", 0) is None:
            del sys.modules["jax"]


check_keras_backend()
import_tensorflow()
logging.getLogger("tensorflow").addFilter(_QuietRetracing())
