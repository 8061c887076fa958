"""Load Triton's LLVM before TensorFlow's, so both frameworks can live in one process.

TensorFlow and Triton each ship their own copy of LLVM. TensorFlow loads its native library
with its symbols global; a Triton loaded *after* it binds LLVM's command-line option registry
to TensorFlow's copy, finds its options registered twice and aborts the whole process
("LLVM ERROR: inconsistency in registered CommandLine options"). Loaded the other way round,
each copy keeps its own registry and both work. torch imports triton as soon as
``torch._dynamo`` is imported (any ``torch.compile``) whenever triton is installed, which it
is with every CUDA build of torch: without this order, a run that touches the 'tf'
framework and then compiles a torch model dies without a Python traceback.

So :mod:`impls.tf` calls :func:`load_triton_first` before it imports TensorFlow, and the torch
twins call :func:`check_dynamo_import_safe` before anything imports ``torch._dynamo``
(``torch.compile``, and the first call of a torch custom op such as the fused APTx kernel): when
TensorFlow came first by some other route, that raises a clear error instead of the abort.
"""

from __future__ import annotations

import importlib.util
import sys

#: Triton's native extension, the module that holds its LLVM.
TRITON_NATIVE = "triton._C.libtriton"


def _triton_installed() -> bool:
    return importlib.util.find_spec("triton") is not None


def load_triton_first() -> None:
    """Load Triton's LLVM now if triton is installed and TensorFlow is not yet imported."""
    if "tensorflow" in sys.modules or TRITON_NATIVE in sys.modules or not _triton_installed():
        return
    importlib.import_module(TRITON_NATIVE)


def check_dynamo_import_safe() -> None:
    """Raise RuntimeError where importing ``torch._dynamo`` would abort the process."""
    if "torch._dynamo" in sys.modules or TRITON_NATIVE in sys.modules:
        return
    if "tensorflow" in sys.modules and _triton_installed():
        raise RuntimeError(
            "torch would abort this process on importing triton (torch.compile and custom ops "
            "import torch._dynamo, which imports triton): TensorFlow was imported before triton, and "
            "their two LLVM copies cannot then both load (LLVM ERROR: inconsistency in registered "
            "CommandLine options). Import impls.tf (which loads triton first) instead of "
            "tensorflow directly, or `import triton` before `import tensorflow`.")
