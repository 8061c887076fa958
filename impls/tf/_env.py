"""Process settings that must be in place before TensorFlow and Keras are imported.

Imported first by :mod:`impls.tf` (the package ``__init__``), so every module of the backend
sees a quiet TensorFlow and a Keras running on the TensorFlow backend. Keras picks its backend
once per process, at import: if something imported it with another backend before us, the
TensorFlow twins cannot work, and we say so instead of failing later with odd tensor types.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sys
import tempfile
from collections.abc import Iterator

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


#: TensorFlow's start-up notices that say nothing on a CPU-only machine. They are printed by
#: its C++ runtime before TF_CPP_MIN_LOG_LEVEL is read ("before absl::InitializeLog"), so no
#: setting silences them; :func:`_native_stderr_without` drops exactly these lines.
_STARTUP_NOISE = (
    r"All log messages before absl::InitializeLog\(\) is called are written to STDERR",
    r"oneDNN custom operations are on",
    r"Could not find cuda drivers on your machine, GPU will not be used",
)
#: Printed when the CUDA runtime finds no driver: noise without a GPU, an error with one.
_NO_DRIVER = (r"failed call to cuInit", r"cuda_platform\.cc.*cuInit")


def _has_gpu_driver() -> bool:
    return os.path.exists("/dev/nvidiactl") or os.path.exists("/proc/driver/nvidia/version")


@contextlib.contextmanager
def _native_stderr_without(patterns: tuple[str, ...]) -> Iterator[None]:
    """Capture what native code writes to file descriptor 2 and pass on every line except those
    matching ``patterns``. Python exceptions are unaffected (they propagate, not print)."""
    stderr_fd = 2  # native code writes to the descriptor, whatever sys.stderr is
    sys.stderr.flush()
    try:
        saved = os.dup(stderr_fd)
    except OSError:  # no descriptor 2 at all: nothing to filter
        yield
        return
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), stderr_fd)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, stderr_fd)
            os.close(saved)
            capture.seek(0)
            noise = re.compile("|".join(patterns))
            kept = [line for line in capture.read().splitlines(keepends=True)
                    if not noise.search(line.decode(errors="replace"))]
            if kept:
                os.write(stderr_fd, b"".join(kept))


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
    if "tensorflow" in sys.modules:
        return
    block_jax = "jax" not in sys.modules  # already imported: nothing left to keep out
    if block_jax:
        sys.modules["jax"] = None  # type: ignore[assignment]
    noise = _STARTUP_NOISE if _has_gpu_driver() else _STARTUP_NOISE + _NO_DRIVER
    try:
        with _native_stderr_without(noise):
            import tensorflow as tf

            tf.config.list_physical_devices()  # initialises the platforms (the cuInit notice)
    finally:
        if block_jax and sys.modules.get("jax", 0) is None:
            del sys.modules["jax"]


check_keras_backend()
import_tensorflow()
logging.getLogger("tensorflow").addFilter(_QuietRetracing())
