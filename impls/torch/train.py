"""Forward, gradients, losses and the train step for PyTorch, following impls/spec/training.py.

The optimiser rules are written out here rather than taken from ``torch.optim`` so that the
definition is visibly the project's one (spec/training.py); torch's own Adam and AdamW use the
same epsilon placement and decay order, which a test checks. Clipping is torch's own
``clip_grad_norm_``, the definition the spec copies. Moments persist in the
``impls.TrainState`` across ``train_steps`` calls.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from impls.common import LOSS_NAMES
from impls.spec.training import SGD, Adam, AdamW
from impls.torch.device import check_mode, in_mode
from impls.torch.models import Model
from impls.torch.params import trainable_parameters
from impls.torch.units import Block
from impls.training import TrainState


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
    if xt.shape[0] == 0:
        # torch.compile's convolution backward rejects an empty batch (its fake kernel's
        # strides); with no rows there is nothing to compile for, so this call runs eagerly.
        mode = "eager"
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
    raise ValueError(f"unknown loss {name!r}; known losses: {', '.join(LOSS_NAMES)}")


@dataclass
class OptimizerState:
    """Adam's step counter and moments, one tensor per trainable parameter (model order).

    Lives in ``impls.TrainState.optimizer_state`` for the whole run, so moments persist across
    ``train_steps`` calls. SGD keeps no moments (empty lists).
    """

    t: int
    m: list[torch.Tensor]
    v: list[torch.Tensor]


def _trainable(model: Model) -> list[torch.Tensor]:
    return [p for p in model.parameters() if p.requires_grad]


def init_optimizer_state(state: TrainState) -> OptimizerState:
    """Moments at zero, on the parameters' device and in their dtype; t = 0."""
    check_mode(state.mode)
    params = _trainable(state.model)
    if not isinstance(state.rule, Adam):
        return OptimizerState(0, [], [])
    return OptimizerState(0, [torch.zeros_like(p) for p in params], [torch.zeros_like(p) for p in params])


@torch.no_grad()
def _update(rule: SGD | Adam, opt: OptimizerState, params: list[torch.Tensor], lr: float) -> None:
    """One in-place update with the spec's SGD, Adam or AdamW (torch's AdamW order)."""
    opt.t += 1
    grads = [p.grad for p in params]
    if isinstance(rule, SGD):
        torch._foreach_add_(params, grads, alpha=-lr)
        return
    torch._foreach_mul_(opt.m, rule.b1)
    torch._foreach_add_(opt.m, grads, alpha=1 - rule.b1)
    torch._foreach_mul_(opt.v, rule.b2)
    torch._foreach_addcmul_(opt.v, grads, grads, value=1 - rule.b2)
    if isinstance(rule, AdamW):  # decoupled decay with this step's lr, before the Adam step
        torch._foreach_mul_(params, 1.0 - lr * rule.weight_decay)
    c1 = 1.0 - rule.b1**opt.t
    c2 = 1.0 - rule.b2**opt.t
    for p, m, v in zip(params, opt.m, opt.v, strict=True):
        p.sub_(lr * (m / c1) / ((v / c2).sqrt() + rule.eps))


def train_steps(state: TrainState, batches: Iterable[tuple[np.ndarray, np.ndarray]]) -> list[float]:
    """One update per batch, continuing ``state``'s moments; the loss before each update.

    The forward runs in ``state.mode`` (torch.compile'd module in "compiled"); the update is
    eager, with ``state.lr`` read once per call, so a new learning rate never recompiles.
    Losses stay on the device until the end of the call (no host sync per step). With an
    entropy weight the ActMix penalty (eager, on the same parameters) joins the loss that is
    differentiated; the returned loss is the task loss.
    """
    model: Model = state.model
    params = _trainable(model)
    opt: OptimizerState = state.optimizer_state
    run = in_mode(model, state.mode)
    lr = float(state.lr)
    device = params[0].device if params else torch.device("cpu")
    weight = float(state.entropy_weight)
    mixing = [m for m in model.modules() if isinstance(m, Block) and m.layer_spec.block == "actmix"] if weight else []
    values: list[torch.Tensor] = []
    for x, target in batches:
        for p in params:
            p.grad = None
        target_t = torch.as_tensor(np.asarray(target), device=device)
        value = loss_value(state.loss, run(_tensor_like(model, x)), target_t)
        if mixing:
            (value + weight * sum(block.entropy() for block in mixing) / len(mixing)).backward()
        else:
            value.backward()
        if state.clip_norm is not None:
            # torch's own definition of the rule: g * min(1, c / (norm + 1e-6)), no host sync.
            torch.nn.utils.clip_grad_norm_(params, state.clip_norm)
        _update(state.rule, opt, params, lr)
        state.step += 1
        values.append(value.detach())
    return torch.stack(values).cpu().tolist() if values else []
