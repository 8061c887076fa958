"""Memory-lean APTx layer maths for PyTorch.

The package's layer broadcasts x to [batch, out, in] and lets autograd keep several such
tensors for the backward pass (spec §1.4: about 3.9 GB at batch 1024, 784 -> 256). Here the
forward pass keeps only x and the three [out, in] parameter matrices; the backward pass
recomputes tanh(B x) chunk by chunk over the batch. On a CPU the layer is bound by tanh
throughput (design §10), so the recomputation costs one extra tanh sweep and saves nearly all
of the memory.

Gradients (spec §1.1), with t = tanh(B[o,i] x[b,i]) and s = sech^2(B x):
    dA[o,i] = G[o,i] sum_b g[b,o] x[b,i]                 (a matmul)
    dG[o,i] = A[o,i] sum_b g x + sum_b g t x
    dB[o,i] = G[o,i] sum_b g x^2 s
    dx[b,i] = sum_o g G (A + t + B x s)
"""

from __future__ import annotations

import torch

from impls.kernels import aptx_cpu
from impls.kernels import aptx_triton as triton_kernel  # the name aptx_triton is the function
from impls.llvm_order import check_dynamo_import_safe
from impls.torch.functional import sech2

#: Elements of one [chunk, out, in] temporary (4 MiB in float32).
CHUNK_ELEMENTS = 1 << 20


def batch_chunks(batch: int, out_features: int, in_features: int) -> list[slice]:
    """Batch slices whose [rows, out, in] temporaries hold at most CHUNK_ELEMENTS values."""
    rows = max(1, CHUNK_ELEMENTS // max(1, out_features * in_features))
    return [slice(start, min(start + rows, batch)) for start in range(0, batch, rows)]


class _APTxRecompute(torch.autograd.Function):
    """The autograd Function behind :func:`aptx_recompute` (torch's way to own a backward)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, A: torch.Tensor, B: torch.Tensor, G: torch.Tensor) -> torch.Tensor:
        out = x @ (A * G).T
        for rows in batch_chunks(x.shape[0], *A.shape):
            xs = x[rows].unsqueeze(1)
            t = torch.tanh(B * xs)
            out[rows] += torch.einsum("boi,oi->bo", t.mul_(xs), G)
        ctx.save_for_backward(x, A, B, G)
        return out

    @staticmethod
    def backward(ctx, g: torch.Tensor):
        x, A, B, G = ctx.saved_tensors
        need_x, need_a, need_b, need_g = ctx.needs_input_grad
        gx = g.T @ x                                           # [O, I]
        dx = g @ (A * G) if need_x else None
        dB = torch.zeros_like(B) if need_b else None
        dG_tanh = torch.zeros_like(G) if need_g else None
        for rows in batch_chunks(x.shape[0], *A.shape):
            xs = x[rows].unsqueeze(1)                           # [b, 1, I]
            gs = g[rows]                                        # [b, O]
            t = torch.tanh(B * xs)                              # [b, O, I]
            if need_g:
                dG_tanh += torch.einsum("bo,boi->oi", gs, t * xs)
            s = sech2(B * xs)         # not 1 - t^2: that cancels in float32 (functional.py)
            if need_b:
                dB += torch.einsum("bo,boi->oi", gs, s * (xs * xs))
            if need_x:
                t.add_(s.mul_(B * xs))                          # t + B x s
                dx[rows] += torch.einsum("bo,boi->bi", gs, t.mul_(G))
        dA = G * gx if need_a else None
        dG = A * gx + dG_tanh if need_g else None
        if need_b:
            dB.mul_(G)
        return dx, dA, dB, dG


def aptx_recompute(x: torch.Tensor, A: torch.Tensor, B: torch.Tensor, G: torch.Tensor) -> torch.Tensor:
    """y[b,o] = sum_i (A + tanh(B x)) G x without storing any [batch, out, in] tensor.

    A function, like the jax/tf/numpy twins' ``aptx_recompute``: callers never see that torch
    needs an ``autograd.Function`` class for a custom backward.
    """
    return _APTxRecompute.apply(x, A, B, G)


def aptx_naive(x: torch.Tensor, A: torch.Tensor, B: torch.Tensor, G: torch.Tensor) -> torch.Tensor:
    """The package's broadcast formulation (materialises [batch, out, in]); for comparisons only."""
    xs = x.unsqueeze(1)
    return ((A + torch.tanh(B * xs)) * G * xs).sum(dim=2)


# --- the fused CPU kernel (impls/kernels/aptx_cpu.py) as a torch custom op -------------------
# A custom op is opaque to torch.compile: the graph holds one call, never an unrolled loop, so
# compiled mode compiles in seconds at any batch size. CUDA tensors get the Triton kernel
# (below) where triton is installed; other devices keep the recompute formulation.

@torch.library.custom_op("neuronbench::aptx_fused", mutates_args=(), device_types="cpu")
def _aptx_fused(x: torch.Tensor, A: torch.Tensor, B: torch.Tensor, G: torch.Tensor) -> torch.Tensor:
    return torch.from_numpy(aptx_cpu.forward(*(_host(t) for t in (x, A, B, G))))


@_aptx_fused.register_fake
def _(x: torch.Tensor, A: torch.Tensor, B: torch.Tensor, G: torch.Tensor) -> torch.Tensor:
    return x.new_empty((x.shape[0], A.shape[0]))


@torch.library.custom_op("neuronbench::aptx_fused_backward", mutates_args=(), device_types="cpu")
def _aptx_fused_backward(x: torch.Tensor, A: torch.Tensor, B: torch.Tensor, G: torch.Tensor,
                         g: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    grads = aptx_cpu.backward(*(_host(t) for t in (x, A, B, G, g)))
    return tuple(torch.from_numpy(d) for d in grads)


@_aptx_fused_backward.register_fake
def _(x, A, B, G, g):
    return torch.empty_like(x), torch.empty_like(A), torch.empty_like(B), torch.empty_like(G)


def _host(t: torch.Tensor):
    """A contiguous NumPy view of a CPU tensor (no copy when it is already contiguous)."""
    return t.detach().contiguous().numpy()


def _fused_setup(ctx, inputs, output) -> None:
    ctx.save_for_backward(*inputs)


def _fused_backward(ctx, g: torch.Tensor):
    return torch.ops.neuronbench.aptx_fused_backward(*ctx.saved_tensors, g.contiguous())


_aptx_fused.register_autograd(_fused_backward, setup_context=_fused_setup)


# --- the fused GPU kernel (impls/kernels/aptx_triton.py) as a torch custom op ----------------
# Registered for every device, not only "cuda": the op itself is device-neutral glue, and on CPU
# tensors it runs the kernels in Triton's interpreter (TRITON_INTERPRET=1), which is how the
# tests exercise this exact glue without a GPU. Which device gets which kernel is decided once,
# in _fused_backend; triton itself is imported on the first call, never here.

@torch.library.custom_op("neuronbench::aptx_triton", mutates_args=())
def _aptx_triton(x: torch.Tensor, A: torch.Tensor, B: torch.Tensor, G: torch.Tensor) -> torch.Tensor:
    return triton_kernel.forward(x, A, B, G)


@_aptx_triton.register_fake
def _(x: torch.Tensor, A: torch.Tensor, B: torch.Tensor, G: torch.Tensor) -> torch.Tensor:
    return x.new_empty((x.shape[0], A.shape[0]))


@torch.library.custom_op("neuronbench::aptx_triton_backward", mutates_args=())
def _aptx_triton_backward(x: torch.Tensor, A: torch.Tensor, B: torch.Tensor, G: torch.Tensor,
                          g: torch.Tensor, need_dx: bool
                          ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    dx, dA, dB, dG = triton_kernel.backward(x, A, B, G, g, need_dx=need_dx)
    # An op returns tensors, never None: without need_dx the dx kernel is skipped and this
    # placeholder (never read: _triton_backward returns None for dx) takes its place.
    return (dx if dx is not None else torch.empty_like(x)), dA, dB, dG


@_aptx_triton_backward.register_fake
def _(x, A, B, G, g, need_dx):
    return torch.empty_like(x), torch.empty_like(A), torch.empty_like(B), torch.empty_like(G)


def _triton_backward(ctx, g: torch.Tensor):
    need_dx = ctx.needs_input_grad[0]
    dx, dA, dB, dG = torch.ops.neuronbench.aptx_triton_backward(*ctx.saved_tensors, g.contiguous(), need_dx)
    return (dx if need_dx else None), dA, dB, dG


_aptx_triton.register_autograd(_triton_backward, setup_context=_fused_setup)


def aptx_triton(x: torch.Tensor, A: torch.Tensor, B: torch.Tensor, G: torch.Tensor) -> torch.Tensor:
    """The Triton kernel through its custom op and autograd formula, on any device.

    What :func:`aptx_fused` runs on CUDA tensors. Called directly, it also takes CPU tensors
    when the kernels run in Triton's interpreter (TRITON_INTERPRET=1), which is how the tests
    cover the CUDA path on machines without a GPU; otherwise CPU tensors raise a ValueError.
    """
    return _aptx_triton(x, A, B, G)


#: _fused_backend -> (function, kernel name)
_FUSED = {
    "numba": (_aptx_fused, aptx_cpu.KERNEL_NAME),
    "triton": (aptx_triton, triton_kernel.KERNEL_NAME),
    "recompute": (aptx_recompute, "recompute"),
}


def _fused_backend(device: torch.device | str) -> str:
    """Which kernel impl='fused' runs on ``device``: the one rule aptx_fused and kernel_name share."""
    kind = torch.device(device).type
    if kind == "cpu":
        return "numba"
    if kind == "cuda" and triton_kernel.available():
        return "triton"
    return "recompute"


def aptx_fused(x: torch.Tensor, A: torch.Tensor, B: torch.Tensor, G: torch.Tensor) -> torch.Tensor:
    """The fused kernel: numba on CPU tensors, Triton on CUDA ones, else :func:`aptx_recompute`."""
    check_dynamo_import_safe()  # a custom op's first call imports torch._dynamo, hence triton
    return _FUSED[_fused_backend(x.device)][0](x, A, B, G)


def kernel_name(impl: str, mode: str = "eager", device: torch.device | str = "cpu") -> str:
    """What ``impl`` runs on ``device`` in either mode (the ``kernel`` column of result rows)."""
    if impl == "fused":
        return _FUSED[_fused_backend(device)][1]
    return impl
