"""tanh, sigmoid and softmax whose backward passes keep full relative precision in float32.

Autograd differentiates tanh as 1 - t^2 and the logistic as s (1 - s). Both subtract two nearly
equal numbers once the function saturates: in float32, at z = 10, 1 - tanh(z)^2 keeps about one
significant digit and at z = 17 it is exactly 0, although sech^2(17) = 6.9e-15 is still a fine
float32 number. A learnable-slope unit (APTx beta, swish beta) sums x^2 times that derivative
over the batch, so the lost digits show up as a wrong parameter gradient (swish beta: 7e-2
relative error at |x| ~ 100, against 1e-4 in the NumPy, JAX and TF backends). The derivatives
here come from e = exp(-2|z|) (tanh) or from the logistic of -z (sigmoid), which never cancel;
the forward values are the library's own.

The softmax (:func:`stable_softmax`) has the same problem at its arg-max once it saturates;
see its docstring. Same names as impls/{numpy,jax,tf}/functional.py.
"""

from __future__ import annotations

import torch


def sech2(z: torch.Tensor) -> torch.Tensor:
    """sech^2(z) = 4 e / (1 + e)^2 with e = exp(-2|z|): relative precision for every z."""
    e = torch.exp(-2.0 * z.abs())
    return 4.0 * e / ((1.0 + e) * (1.0 + e))


class _Tanh(torch.autograd.Function):
    @staticmethod
    def forward(ctx, z: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(z)
        return torch.tanh(z)

    @staticmethod
    def backward(ctx, g: torch.Tensor) -> torch.Tensor:
        (z,) = ctx.saved_tensors
        return g * sech2(z)


class _Sigmoid(torch.autograd.Function):
    @staticmethod
    def forward(ctx, z: torch.Tensor) -> torch.Tensor:
        s = torch.sigmoid(z)
        ctx.save_for_backward(z, s)
        return s

    @staticmethod
    def backward(ctx, g: torch.Tensor) -> torch.Tensor:
        z, s = ctx.saved_tensors
        return g * s * torch.sigmoid(-z)


def tanh(z: torch.Tensor) -> torch.Tensor:
    """torch.tanh with the cancellation-free derivative sech^2(z)."""
    return _Tanh.apply(z)


def sigmoid(z: torch.Tensor) -> torch.Tensor:
    """torch.sigmoid with the cancellation-free derivative s(z) s(-z)."""
    return _Sigmoid.apply(z)


def silu(z: torch.Tensor) -> torch.Tensor:
    """z sigmoid(z), differentiated through the accurate sigmoid."""
    return z * sigmoid(z)


def tanh_and_sech2(z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(tanh z, sech^2 z): the pair the other twins compute together, under the same name."""
    return tanh(z), sech2(z)


class _StableSoftmax(torch.autograd.Function):
    """softmax(x / T) whose backward shifts the upstream gradient by its arg-max value.

    The usual VJP ``y * (g - sum(y * g))`` subtracts two nearly equal numbers at the winning
    entry once one probability is close to 1: at logits/T ~ 100 float32 keeps only a few digits
    of the gradient. Shifting the upstream gradient by its value at the arg-max,
    h = g - g[argmax], is an exact identity (softmax weights sum to one) that makes the winning
    term exactly zero, so every remaining product is small and computed to full relative
    precision:

        dx = y * (h - sum(y * h)) / T
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor, temperature: float, axis: int) -> torch.Tensor:
        y = torch.softmax(x / temperature, dim=axis)
        ctx.save_for_backward(y)
        ctx.temperature, ctx.axis = temperature, axis
        return y

    @staticmethod
    def backward(ctx, g: torch.Tensor):
        (y,) = ctx.saved_tensors
        winner = torch.argmax(y, dim=ctx.axis, keepdim=True)
        h = g - torch.gather(g, ctx.axis, winner)
        dx = y * (h - (y * h).sum(dim=ctx.axis, keepdim=True)) / ctx.temperature
        return dx, None, None


def stable_softmax(x: torch.Tensor, temperature: float, axis: int) -> torch.Tensor:
    """softmax(x / temperature) along ``axis`` with the saturation-proof backward above.

    ``temperature`` is a Python float and receives no gradient (ActMix divides its logits by
    the temperature tensor first and passes 1.0).
    """
    return _StableSoftmax.apply(x, temperature, axis)
