"""Forward, gradients, losses and the train step for PyTorch, following impls/spec/training.py.

The optimiser rules are written out here rather than taken from ``torch.optim`` so that the
definition is visibly the project's one (spec/training.py); torch's own Adam uses the same
epsilon placement, which a test checks.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import torch
import torch.nn.functional as F

from impls.spec.training import SGD, Adam
from impls.torch.device import in_mode
from impls.torch.models import Model
from impls.torch.params import trainable_parameters
from impls.torch.units import Block


def _tensor_like(module: torch.nn.Module, array: np.ndarray) -> torch.Tensor:
    """A NumPy array as a tensor in the module's compute dtype, on the module's device."""
    reference = next(iter(module.parameters()), None)
    device = reference.device if reference is not None else torch.device("cpu")
    return torch.as_tensor(np.asarray(array), dtype=module.compute_dtype, device=device)


def forward(layer: Block, x: np.ndarray, mode: str = "eager") -> np.ndarray:
    with torch.no_grad():
        return in_mode(layer, mode)(_tensor_like(layer, x)).cpu().numpy()


def vjp(layer: Block, x: np.ndarray, upstream: np.ndarray, mode: str = "eager"
        ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    xt = _tensor_like(layer, x).requires_grad_(True)
    params = trainable_parameters(layer)
    y = in_mode(layer, mode)(xt)
    grads = torch.autograd.grad(y, [xt, *params.values()], _tensor_like(layer, upstream))
    return grads[0].cpu().numpy(), {k: g.cpu().numpy() for k, g in zip(params, grads[1:], strict=True)}


def model_forward(model: Model, x: np.ndarray, mode: str = "eager") -> np.ndarray:
    with torch.no_grad():
        return in_mode(model, mode)(_tensor_like(model, x)).cpu().numpy()


def loss_value(name: str, outputs: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """The spec's losses: mean softmax cross-entropy on logits, or mean squared error."""
    if name == "cross_entropy":
        return F.cross_entropy(outputs, target.long())
    if name == "mse":
        return F.mse_loss(outputs, target.reshape(outputs.shape).to(outputs.dtype))
    raise ValueError(f"unknown loss {name!r}; known losses: cross_entropy, mse")


class _Optimizer:
    """The spec's SGD/Adam applied to the trainable parameters of a model, in place."""

    def __init__(self, rule: SGD | Adam, params: list[torch.Tensor]) -> None:
        self.rule, self.params, self.t = rule, params, 0
        self.m = [torch.zeros_like(p) for p in params]
        self.v = [torch.zeros_like(p) for p in params]

    @torch.no_grad()
    def step(self) -> None:
        self.t += 1
        rule = self.rule
        for p, m, v in zip(self.params, self.m, self.v, strict=True):
            g = p.grad
            if isinstance(rule, SGD):
                p.sub_(rule.lr * g)
                continue
            m.mul_(rule.b1).add_(g, alpha=1 - rule.b1)
            v.mul_(rule.b2).addcmul_(g, g, value=1 - rule.b2)
            m_hat = m / (1 - rule.b1**self.t)
            v_hat = v / (1 - rule.b2**self.t)
            p.sub_(rule.lr * m_hat / (v_hat.sqrt() + rule.eps))


def train_steps(model: Model, batches: Iterable[tuple[np.ndarray, np.ndarray]], loss: str,
                optimizer: SGD | Adam, mode: str = "eager") -> list[float]:
    """One update per batch with the spec's rule; returns the loss before each update."""
    params = [p for p in model.parameters() if p.requires_grad]
    opt = _Optimizer(optimizer, params)
    run = in_mode(model, mode)
    losses: list[float] = []
    for x, target in batches:
        for p in params:
            p.grad = None
        value = loss_value(loss, run(_tensor_like(model, x)), torch.as_tensor(np.asarray(target)))
        value.backward()
        opt.step()
        losses.append(float(value.detach()))
    return losses
