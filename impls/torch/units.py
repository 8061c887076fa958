"""Every neuronbench block as a ``torch.nn.Module`` (class names shared with every framework).

Each module is built from a :class:`~impls.spec.LayerSpec` and canonical float64 parameters:
trainable ones become ``nn.Parameter``, the others buffers (they follow ``.to(device)`` and
never receive gradients). The maths mirrors ``impls/spec/oracle.py`` line for line where that
costs nothing, and departs from it only for memory or speed (APTx recomputation).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from impls.common import dtype_table
from impls.spec import LayerSpec, blocks
from impls.torch import functional as AF
from impls.torch.aptx import aptx_fused, aptx_naive, aptx_recompute

DTYPES: Mapping[str, torch.dtype] = dtype_table(float32=torch.float32, float64=torch.float64)


class Block(nn.Module):
    """Base class: registers the canonical parameters and keeps the spec the layer came from."""

    def __init__(self, layer_spec: LayerSpec, params: Mapping[str, np.ndarray], dtype: str) -> None:
        super().__init__()
        self.layer_spec = layer_spec
        self.config = dict(layer_spec.config)
        self.compute_dtype = DTYPES[dtype]
        trainable = set(blocks.get_block(layer_spec.block).trainable(layer_spec.config))
        self.param_names = tuple(params)
        for name, value in params.items():
            tensor = torch.as_tensor(np.asarray(value), dtype=DTYPES[dtype]).clone()
            if name in trainable:
                self.register_parameter(name, nn.Parameter(tensor))
            else:
                self.register_buffer(name, tensor)

    def variable(self, name: str) -> torch.Tensor:
        """The native variable (``nn.Parameter`` or buffer) holding canonical parameter ``name``.

        By name, not attribute, because ``lambda`` is not a valid attribute spelling.
        """
        return getattr(self, name)

    def param(self, name: str) -> torch.Tensor:
        """Value of canonical parameter ``name`` for the maths (in torch: the variable itself,
        which autograd tracks; the name is shared with the twins, whose reads differ)."""
        return self.variable(name)

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v!r}" for k, v in self.config.items())


def _feature_view(param: torch.Tensor, x: torch.Tensor, axis: int) -> torch.Tensor:
    """Reshape a per-feature vector to broadcast along ``axis`` of ``x``."""
    shape = [1] * x.ndim
    shape[axis] = -1
    return param.view(shape)


class APTxActivation(Block):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a, b, g = self.param("alpha"), self.param("beta"), self.param("gamma")
        return (a + AF.tanh(b * x)) * g * x


class APTxLayer(Block):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        args = (x, self.param("alpha"), self.param("beta"), self.param("gamma"))
        impl = {"fused": aptx_fused, "recompute": aptx_recompute, "naive": aptx_naive}[self.config["impl"]]
        y = impl(*args)
        return y + self.param("delta") if self.config["use_delta"] else y

class ActMix(Block):
    """Softmax(logits / T) mixture of basis functions per feature; T is state, set by trainers."""

    def __init__(self, layer_spec: LayerSpec, params: Mapping[str, np.ndarray], dtype: str) -> None:
        super().__init__(layer_spec, params, dtype)
        self.register_buffer("temperature", torch.tensor(float(self.config["temperature"]), dtype=DTYPES[dtype]))

    def basis(self, name: str, z: torch.Tensor) -> torch.Tensor:
        if name == "sin":
            return torch.sin(self.config["omega_0"] * z)
        if name == "relu":
            return AF.relu(z)
        if name == "identity":
            return z
        return {"tanh": AF.tanh, "sigmoid": AF.sigmoid, "silu": AF.silu}[name](z)

    def coefficients(self) -> torch.Tensor:
        # stable_softmax: at T = 0.01 the mixture saturates and autograd's softmax backward
        # loses the winning logit's gradient to cancellation (see impls/torch/functional.py).
        return AF.stable_softmax(self.param("logits") / self.temperature, 1.0, -1)

    def entropy(self) -> torch.Tensor:
        log_c = torch.log_softmax(self.param("logits") / self.temperature, dim=-1)
        return -(log_c.exp() * log_c).sum(dim=-1).mean()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = x.movedim(self.config["axis"], -1)
        phi = torch.stack([self.basis(b, z) for b in self.config["basis"]], dim=-1)
        return (phi * self.coefficients()).sum(dim=-1).movedim(-1, self.config["axis"])


class LearnableSELU(Block):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        lam, al, be, ga, om = (self.param(k) for k in ("lambda", "alpha", "beta", "gamma", "omega"))
        positive = x > 0
        # safe: the unselected branch sees min(x, 0), so exp never overflows (spec §4.3). A
        # where, not a clamp: clamp's gradient is 0 at NaN, the where's passes it to exp (NaN).
        xn = torch.where(positive, 0.0, x) if self.config["safe"] else x
        negative = lam * (al * (torch.exp(be * xn) - 1.0) + ga * torch.sin(om * xn))
        return torch.where(positive, lam * x, negative)


class ReLU(Block):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return AF.relu(x)


class PReLU(Block):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return AF.prelu(x, _feature_view(self.param("alpha"), x, self.config["axis"]))


class Swish(Block):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        beta = self.param("beta") if self.config["learnable"] else self.config["beta"]
        return x * AF.sigmoid(beta * x)


class GELU(Block):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.gelu(x, approximate="tanh") if self.config["approximate"] else AF.gelu(x)


class Tanh(Block):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return AF.tanh(x)


class Sigmoid(Block):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return AF.sigmoid(x)


class Softmax(Block):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale = self.config["temperature"] + self.config["epsilon"]
        return AF.stable_softmax(x, scale, self.config["axis"])


def _yat_alpha(layer: Block) -> torch.Tensor | float | None:
    mode = blocks.yat_alpha_mode(layer.config["alpha"])
    return layer.param("alpha") if mode == "learnable" else mode


def _yat_ratio(dot: torch.Tensor, x_sq: torch.Tensor, w_sq: torch.Tensor, numerator: torch.Tensor,
               eps: float) -> torch.Tensor:
    """numerator^2 / (max(|x|^2 + |w|^2 - 2 dot, 0) + eps)."""
    dist = torch.clamp(x_sq + w_sq - 2.0 * dot, min=0.0) + eps
    return numerator * numerator / dist


class YatDense(Block):
    """nmn 0.3.5 YatNMN semantics (or the DL2.0-era ones with semantics='dl2-paper')."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        W, c = self.param("weight"), self.config
        if c["spherical"]:
            x = x / (x.norm(dim=1, keepdim=True) + 1e-8)
            W = W / (W.norm(dim=1, keepdim=True) + 1e-8)
            x_sq = torch.ones(x.shape[0], 1, dtype=x.dtype, device=x.device)
            w_sq = torch.ones(W.shape[0], dtype=x.dtype, device=x.device)
        else:
            x_sq = (x * x).sum(dim=1, keepdim=True)
            w_sq = (W * W).sum(dim=1)
        dot = x @ W.T
        bias = self.param("bias") if c["bias"] else None
        alpha = _yat_alpha(self)
        if c["semantics"] == "dl2-paper":
            y = _yat_ratio(dot, x_sq, w_sq, dot, c["epsilon"])
            if alpha is not None:
                o = W.shape[0]
                y = y * (math.sqrt(o) / math.log1p(o)) ** alpha
            return y + bias if bias is not None else y
        y = _yat_ratio(dot, x_sq, w_sq, dot + bias if bias is not None else dot, c["epsilon"])
        return y * alpha if alpha is not None else y


class YatConv2D(Block):
    """nmn 0.3.5 YatConv2D semantics on NCHW input."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        W, c = self.param("weight"), self.config
        dot = F.conv2d(x, W, stride=c["stride"], padding=c["padding"])
        ones = torch.ones((1, *W.shape[1:]), dtype=x.dtype, device=x.device)
        x_sq = F.conv2d(x * x, ones, stride=c["stride"], padding=c["padding"])
        w_sq = (W * W).sum(dim=(1, 2, 3)).view(1, -1, 1, 1)
        numerator = dot + self.param("bias").view(1, -1, 1, 1) if c["bias"] else dot
        y = _yat_ratio(dot, x_sq, w_sq, numerator, c["epsilon"])
        alpha = _yat_alpha(self)
        return y * alpha if alpha is not None else y


class Softermax(Block):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return AF.softermax(x.pow(self.config["n"]), float(self.config["epsilon"]), self.config["axis"])


class SofterSigmoid(Block):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return AF.squash(x.pow(self.config["n"]), 0.0)


class SoftTanh(Block):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return AF.squash(x.pow(self.config["n"]), 1.0)


class Linear(Block):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.param("weight"), self.param("bias") if self.config["bias"] else None)


class Conv2D(Block):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c = self.config
        bias = self.param("bias") if c["bias"] else None
        return F.conv2d(x, self.param("weight"), bias, stride=c["stride"], padding=c["padding"])


class MaxPool2D(Block):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.max_pool2d(x, self.config["kernel_size"])


class Flatten(Block):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(start_dim=1)


#: Block name -> class (names from impls.spec.blocks.CLASS_NAMES, shared by every framework).
BLOCK_CLASSES: Mapping[str, type[Block]] = blocks.class_table(globals(), "torch")


def build_block(layer_spec: LayerSpec, params: Mapping[str, np.ndarray], dtype: str = "float32") -> Block:
    """Native module for ``layer_spec`` holding ``params`` (canonical, any float dtype) as ``dtype``."""
    return BLOCK_CLASSES[layer_spec.block](layer_spec, params, dtype)
