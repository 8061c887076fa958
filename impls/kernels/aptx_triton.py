"""The fused APTx layer kernel for GPUs, in Triton: z = B x formed in registers, nothing stored.

y[b,o] = sum_i (A[o,i] + tanh(B[o,i] x[b,i])) G[o,i] x[b,i]          (delta added by the layer)

The GPU twin of :mod:`impls.kernels.aptx_cpu` (same maths, same input checks, same gradients;
read its docstring for the numerics). Why it is built this way:

* **No [batch, out, in] tensor in global memory.** Each program forms a [BB, BO, BI] block of
  z = B x in registers and reduces it on the spot; the backward pass recomputes tanh instead of
  saving it, so the memory of the forward+backward pair is x, the parameters and the outputs.
* **Three kernels, no atomics.** The forward owns a [BB, BO] tile of y and loops over in-tiles.
  The backward is split by what it reduces over: ``dx`` owns a [BB, BI] tile of dx and loops
  over out-tiles; ``param_grad`` owns a [BO, BI] tile of all three parameter gradients and
  loops over batch tiles (the three sums share one tanh and one sech^2). Every output element
  is written by exactly one program, so the results are deterministic run to run.
* **Everything element-wise, no ``tl.dot``.** The A-term is a matmul in principle, but Triton's
  float32 dot defaults to TF32 (10-bit mantissa, far outside the 1e-5 parity tolerance), and the
  layer is bound by tanh anyway; the whole sum is one element-wise expression, accumulated in
  the input dtype (float32 or float64; float64 runs in the interpreter and on the GPU).
* **tanh and sech^2 from one exp.** e = exp(-2|z|); tanh|z| = (1 - e)/(1 + e) with the sign
  restored, and sech^2 z = 4 e/(1 + e)^2, never 1 - t^2 (which cancels where t rounds to +-1,
  and dB multiplies it by x^2). Below |z| = 0.3, where 1 - e cancels in relative terms, tanh is
  an odd Taylor polynomial (6 terms float32, 11 float64). No ``libdevice`` call: the kernels
  also run in Triton's interpreter (``TRITON_INTERPRET=1``, CPU tensors), which is how they are
  tested on machines without a GPU. On a GPU, ``tl.exp`` in float32 is the hardware exp2 of
  z log2(e), so sech^2's relative error grows like |z| ulp; the elements where that is large
  carry weights s x^2 that vanish, and it stays far inside the gradient tolerance.
* **Tiles.** [16, 16, 16] blocks (4096 values, 32 per thread at 4 warps) in float32 and
  [16, 16, 8] in float64 (twice the registers per value). They were chosen for register
  pressure, not tuned on hardware: :data:`TILES` is the one place to change them.

``triton`` is imported only by :mod:`impls.kernels._aptx_triton`, on the first kernel call:
``import impls`` and ``import impls.torch`` never import it.
"""

from __future__ import annotations

import contextlib
import importlib.util
from types import ModuleType

import torch

from impls.kernels.aptx_cpu import KernelUnavailableError

#: The kernel name recorded in result rows (``kernel`` column) when this kernel ran.
KERNEL_NAME = "fused-triton"

#: (batch, out, in) tile per dtype: powers of two (Triton's block shapes), see the docstring.
TILES: dict[torch.dtype, tuple[int, int, int]] = {
    torch.float32: (16, 16, 16),
    torch.float64: (16, 16, 8),
}

#: Warps per program: 128 threads share one [BB, BO, BI] block.
NUM_WARPS = 4

#: Offsets are int32 inside the kernels.
MAX_ELEMENTS = 2**31 - 1

#: Whether triton is installed, looked up once without importing it (``import impls.torch``
#: stays fast): a plain global, which torch.compile reads as a constant, where a call into the
#: import machinery inside a compiled layer would break its graph.
_INSTALLED = importlib.util.find_spec("triton") is not None


def available() -> bool:
    """Whether triton is installed (an install that fails to import raises on first use)."""
    return _INSTALLED


def _kernels() -> ModuleType:
    """The ``@triton.jit`` module; importing it is when TRITON_INTERPRET is read."""
    try:
        from impls.kernels import _aptx_triton
    except ImportError as error:
        raise KernelUnavailableError(
            "the Triton APTx kernel (impl='fused' on CUDA) needs triton: pip install triton; "
            "impl='recompute' runs without it") from error
    return _aptx_triton


def interpreted() -> bool:
    """Whether the kernels run in Triton's interpreter (TRITON_INTERPRET=1 when first used)."""
    return _kernels().interpreted()


def _check_device(tensors: dict[str, torch.Tensor]) -> torch.device:
    """The one device of ``tensors`` (key "input" first), refused where the kernels cannot run:
    compiled kernels read GPU memory, so only the interpreter takes CPU tensors."""
    devices = {name: t.device for name, t in tensors.items()}
    device = devices["input"]
    if any(d != device for d in devices.values()):
        where = ", ".join(f"{name} on {d}" for name, d in devices.items())
        raise ValueError(f"APTx tensors must be on one device; got {where}")
    if device.type != "cuda" and not interpreted():
        raise ValueError(f"the Triton APTx kernel runs on CUDA tensors, not {device.type}; "
                         "set TRITON_INTERPRET=1 before its first use to run it in Triton's "
                         "interpreter on CPU tensors, or use impls.kernels.aptx_cpu")
    return device


def _checked(x: torch.Tensor, A: torch.Tensor, B: torch.Tensor, G: torch.Tensor
             ) -> list[torch.Tensor]:
    """Contiguous x, A, B, G after the same checks (and messages) as the CPU kernel's."""
    dtype = x.dtype
    if dtype not in TILES:
        raise TypeError(f"the Triton APTx kernel takes float32 or float64 tensors, not {dtype}")
    for name, m in (("alpha", A), ("beta", B), ("gamma", G)):
        if m.dtype != dtype or m.ndim != 2 or m.shape != A.shape:
            raise ValueError(f"APTx {name} must be a {dtype} [out, in] matrix shaped like alpha "
                             f"{tuple(A.shape)}; got {m.dtype} {tuple(m.shape)}")
    if x.ndim != 2 or x.shape[1] != A.shape[1]:
        raise ValueError(f"APTx input must be [batch, {A.shape[1]}]; got {tuple(x.shape)}")
    _check_device({"input": x, "alpha": A, "beta": B, "gamma": G})
    _check_size(x.shape[0], *A.shape)
    return [t.detach().contiguous() for t in (x, A, B, G)]


def _check_size(batch: int, n_out: int, n_in: int) -> None:
    """Refuse a matrix whose offsets would overflow the kernels' int32 index arithmetic."""
    if max(batch * n_in, batch * n_out, n_out * n_in) > MAX_ELEMENTS:
        raise ValueError(f"the Triton APTx kernel indexes with int32: batch {batch}, out {n_out}, "
                         f"in {n_in} has a matrix over {MAX_ELEMENTS} elements")


def _on(device: torch.device) -> contextlib.AbstractContextManager:
    """Launch on the tensors' GPU (Triton launches on the current device)."""
    return torch.cuda.device(device) if device.type == "cuda" else contextlib.nullcontext()


def _launch_args(dtype: torch.dtype) -> dict[str, int | bool]:
    BB, BO, BI = TILES[dtype]
    return {"BB": BB, "BO": BO, "BI": BI, "IS_F64": dtype == torch.float64,
            "num_warps": NUM_WARPS}


def forward(x: torch.Tensor, A: torch.Tensor, B: torch.Tensor, G: torch.Tensor) -> torch.Tensor:
    """y = sum_i (A + tanh(B x)) G x, [batch, out], in the dtype of ``x`` (no delta)."""
    x, A, B, G = _checked(x, A, B, G)
    (batch, n_in), n_out = x.shape, A.shape[0]
    if 0 in (batch, n_out, n_in):                   # an empty sum is 0; nothing to launch
        return x.new_zeros((batch, n_out))
    y = x.new_empty((batch, n_out))                 # every element is written by one program
    args = _launch_args(x.dtype)
    grid = (-(-batch // args["BB"]), -(-n_out // args["BO"]))
    with _on(x.device):
        _kernels().forward_kernel[grid](x, A, B, G, y, batch, n_out, n_in, **args)
    return y


def backward(x: torch.Tensor, A: torch.Tensor, B: torch.Tensor, G: torch.Tensor, g: torch.Tensor,
             *, need_dx: bool = True
             ) -> tuple[torch.Tensor | None, torch.Tensor, torch.Tensor, torch.Tensor]:
    """(dx, dA, dB, dG) of sum(g * y), tanh and sech^2 recomputed in both kernels.

    ``need_dx=False`` skips the dx kernel (a first layer's input needs no gradient) and returns
    None for dx.
    """
    x, A, B, G = _checked(x, A, B, G)
    (batch, n_in), n_out = x.shape, A.shape[0]
    if tuple(g.shape) != (batch, n_out):
        raise ValueError(f"APTx upstream gradient must be [{batch}, {n_out}]; got {tuple(g.shape)}")
    _check_device({"input": x, "upstream gradient": g})
    g = g.detach().to(x.dtype).contiguous()
    if 0 in (batch, n_out, n_in):                   # no rows: zero parameter gradients
        return (x.new_zeros(x.shape) if need_dx else None), *(A.new_zeros(A.shape) for _ in "ABG")
    dx = x.new_empty(x.shape) if need_dx else None  # every element is written by one program
    dA, dB, dG = (A.new_empty(A.shape) for _ in range(3))
    args = _launch_args(x.dtype)
    kernels = _kernels()
    with _on(x.device):
        if dx is not None:
            grid = (-(-batch // args["BB"]), -(-n_in // args["BI"]))
            kernels.dx_kernel[grid](x, A, B, G, g, dx, batch, n_out, n_in, **args)
        grid = (-(-n_out // args["BO"]), -(-n_in // args["BI"]))
        kernels.param_grad_kernel[grid](x, A, B, G, g, dA, dB, dG, batch, n_out, n_in, **args)
    return dx, dA, dB, dG


def tanh_and_sech2(z: torch.Tensor, block: int = 1024) -> tuple[torch.Tensor, torch.Tensor]:
    """The kernels' tanh(z) and sech^2(z), element-wise (what the accuracy tests measure)."""
    if z.dtype not in TILES:
        raise TypeError(f"the Triton APTx kernel takes float32 or float64 tensors, not {z.dtype}")
    _check_device({"input": z})
    z = z.detach().contiguous().reshape(-1)
    t, s = torch.empty_like(z), torch.empty_like(z)
    if z.numel():
        with _on(z.device):
            _kernels().tanh_sech2_kernel[(-(-z.numel() // block),)](
                z, t, s, z.numel(), BLOCK=block, IS_F64=z.dtype == torch.float64)
    return t, s
