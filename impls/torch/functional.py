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

Non-finite inputs follow the oracle (docs/reliability.md): a NaN input has a NaN gradient.
Autograd's relu, PReLU-by-``where`` and gelu do not (relu passes the upstream through at NaN,
a ``where`` selects a finite slope, and the vectorised float32 gelu returns NaN at +inf), so
:func:`relu`, :func:`prelu` and :func:`gelu` here do.
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


class _ReLU(torch.autograd.Function):
    @staticmethod
    def forward(ctx, z: torch.Tensor) -> torch.Tensor:
        y = torch.relu(z)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g: torch.Tensor) -> torch.Tensor:
        (y,) = ctx.saved_tensors
        # y is max(z, 0) or NaN: torch's own relu backward (the upstream where y > 0, else 0;
        # it passes the upstream through at NaN) plus min(y, 0), which is 0 except NaN at NaN.
        # torch.sign reads 0 at NaN, and torch.where or a boolean mask cost 5-20x relu's
        # backward on CPU (measured at 1024 x 256: where 605 us, this 53 us, relu's own 27 us).
        return torch.ops.aten.threshold_backward(g, y, 0).add_(y.clamp(max=0.0))


class _PReLU(torch.autograd.Function):
    """x if x > 0 else a x, ``a`` already shaped to broadcast against x."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(x, a)
        return torch.where(x > 0, x, a * x)

    @staticmethod
    def backward(ctx, g: torch.Tensor):
        x, a = ctx.saved_tensors
        positive = x > 0
        # A NaN input is on neither side: its gradient is x itself, NaN (autograd's where gave a).
        dx = torch.where(positive, g, torch.where(x <= 0, a * g, x))
        da = torch.where(positive, 0.0, g * x).sum_to_size(a.shape)
        return dx, da


class _GELU(torch.autograd.Function):
    """Exact gelu x Phi(x): torch's own kernels, but +inf maps to +inf.

    The vectorised float32 CPU kernel returns NaN at +inf (a scalar tail element gets inf),
    where the oracle and every other framework give inf. The backward is torch's own.
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(x)
        return torch.nn.functional.gelu(x).masked_fill_(torch.isposinf(x), float("inf"))

    @staticmethod
    def backward(ctx, g: torch.Tensor) -> torch.Tensor:
        (x,) = ctx.saved_tensors
        return torch.ops.aten.gelu_backward(g, x, approximate="none")


def relu(z: torch.Tensor) -> torch.Tensor:
    """torch.relu whose gradient is NaN at a NaN input (autograd's passes the upstream through)."""
    return _ReLU.apply(z)


def prelu(x: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    """PReLU with the slope ``a`` broadcast against ``x``; NaN gradient at a NaN input."""
    return _PReLU.apply(x, a)


def gelu(x: torch.Tensor) -> torch.Tensor:
    """Exact gelu, +inf at +inf in every mode (see :class:`_GELU`)."""
    return _GELU.apply(x)


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
        if y.shape[ctx.axis] == 0:          # softmax over an empty axis: nothing to normalise
            return torch.zeros_like(g), None, None
        winner = torch.argmax(y, dim=ctx.axis, keepdim=True)
        h = g - torch.gather(g, ctx.axis, winner)
        dx = y * (h - (y * h).sum(dim=ctx.axis, keepdim=True)) / ctx.temperature
        return dx, None, None


class _Softermax(torch.autograd.Function):
    """u / (epsilon + sum(u)) along ``axis`` with the oracle's saturation-proof backward
    (impls.spec.oracle.softermax_vjp): (h - sum(h y) + g_m epsilon / total) / total,
    h = g - g_m at the arg-max. Autograd's g / total - sum(g u) / total^2 cancels when one y is
    close to 1 (an axis of one element gave 100 % error in float32)."""

    @staticmethod
    def forward(ctx, u: torch.Tensor, epsilon: float, axis: int) -> torch.Tensor:
        total = epsilon + u.sum(dim=axis, keepdim=True)
        y = u / total
        ctx.save_for_backward(y, total)
        ctx.epsilon, ctx.axis = epsilon, axis
        return y

    @staticmethod
    def backward(ctx, g: torch.Tensor):
        y, total = ctx.saved_tensors
        if y.shape[ctx.axis] == 0:
            return torch.zeros_like(g), None, None
        g_m = torch.gather(g, ctx.axis, torch.argmax(y, dim=ctx.axis, keepdim=True))
        h = g - g_m
        du = (h - (h * y).sum(dim=ctx.axis, keepdim=True) + g_m * (ctx.epsilon / total)) / total
        return du, None, None


class _Squash(torch.autograd.Function):
    """(u - shift) / (1 + u) with derivative (1 + shift) / (1 + u)^2: shift 0 is the softer
    sigmoid, shift 1 the soft tanh, of u = x^n.

    Autograd differentiates the quotient as 1 / (1 + u) - u / (1 + u)^2, which cancels for large
    u (float32 relative error ~ eps u: 1.3e-4 at u = 1488). NaN where the value is NaN (u = inf:
    inf / inf), like the oracle; the formula alone reads 0 there.
    """

    @staticmethod
    def forward(ctx, u: torch.Tensor, shift: float) -> torch.Tensor:
        y = (u - shift) / (1.0 + u) if shift else u / (1.0 + u)
        ctx.save_for_backward(u, y)
        ctx.shift = shift
        return y

    @staticmethod
    def backward(ctx, g: torch.Tensor):
        u, y = ctx.saved_tensors
        d = 1.0 + u
        grad = (1.0 + ctx.shift) * g / (d * d) if ctx.shift else g / (d * d)
        return torch.where(torch.isnan(y), y, grad), None


def softermax(u: torch.Tensor, epsilon: float, axis: int) -> torch.Tensor:
    """u / (epsilon + sum(u)) along ``axis`` (see :class:`_Softermax`)."""
    return _Softermax.apply(u, epsilon, axis)


def squash(u: torch.Tensor, shift: float) -> torch.Tensor:
    """(u - shift) / (1 + u) with an accurate derivative (see :class:`_Squash`)."""
    return _Squash.apply(u, shift)


def stable_softmax(x: torch.Tensor, temperature: float, axis: int) -> torch.Tensor:
    """softmax(x / temperature) along ``axis`` with the saturation-proof backward above.

    ``temperature`` is a Python float and receives no gradient (ActMix divides its logits by
    the temperature tensor first and passes 1.0).
    """
    return _StableSoftmax.apply(x, temperature, axis)
