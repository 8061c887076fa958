"""Softmax with a backward pass that stays accurate in float32 when the softmax saturates.

The usual VJP ``y * (g - sum(y * g))`` subtracts two nearly equal numbers at the winning entry
once one probability is close to 1: at logits/T ~ 100 float32 keeps only a few digits of the
gradient. Shifting the upstream gradient by its value at the arg-max, h = g - g[argmax], is an
exact identity (softmax weights sum to one) that makes the winning term exactly zero, so every
remaining product is small and computed to full relative precision:

    dx = y * (h - sum(y * h)) / T
"""

from __future__ import annotations

import torch


class StableSoftmax(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor, scale: float, dim: int) -> torch.Tensor:
        y = torch.softmax(x / scale, dim=dim)
        ctx.save_for_backward(y)
        ctx.scale, ctx.dim = scale, dim
        return y

    @staticmethod
    def backward(ctx, g: torch.Tensor):
        (y,) = ctx.saved_tensors
        winner = torch.argmax(y, dim=ctx.dim, keepdim=True)
        h = g - torch.gather(g, ctx.dim, winner)
        dx = y * (h - (y * h).sum(dim=ctx.dim, keepdim=True)) / ctx.scale
        return dx, None, None
