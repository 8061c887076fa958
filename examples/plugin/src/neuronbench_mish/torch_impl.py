"""PyTorch class: only the forward; autograd gives the gradients (impls.torch contract)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from impls.torch.units import Block


class MishBeta(Block):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.tanh(F.softplus(self.param("beta") * x))
