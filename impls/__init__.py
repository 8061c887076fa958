"""Parallel implementations of trainable neurons, one subpackage per framework.

The public API, used by every suite and test (frameworks are imported lazily, on first use)::

    import impls
    impls.UNITS                       # the 16 benchmark units
    impls.FRAMEWORKS                  # ("numpy", "torch", "jax", "tf")
    layer = impls.build("aptx_layer", "torch", in_features=784, out_features=128, seed=0)
    impls.get_params(layer)           # canonical {name: np.ndarray}, identical in every framework
    impls.set_params(layer, params)
    y = impls.forward(layer, x)       # NumPy in, NumPy out
    dx, grads = impls.vjp(layer, x, upstream)
    impls.spec.reference(unit, params, x, **config)        # float64 oracle forward
    impls.spec.reference_grad(unit, params, x, g, **config) # its gradients

    model = impls.build_model(impls.spec.APTX_PAPER_MLP, "jax", seed=0)
    state = impls.init_train_state(model, "cross_entropy", impls.spec.training.Adam(4e-3))
    impls.set_learning_rate(state, 1e-3)            # schedules act between train_steps calls
    impls.set_temperature(model, 0.5)               # ActMix temperature annealing, likewise
    impls.set_entropy_weight(state, 0.01)           # ActMix entropy penalty (the "full" variant)
    losses = impls.train_steps(state, batches)      # Adam moments persist across calls
    logits = impls.predict(model, x, batch_size=1000)

Every framework starts from the same canonical float64 initialisation
(``impls.spec.init_params``), so a seed means the same network everywhere.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from impls import spec
from impls.registry import FRAMEWORKS, FrameworkUnavailableError, framework_of, load_backend
from impls.spec import UNITS, LayerSpec
from impls.training import TrainState

__all__ = [
    "FRAMEWORKS",
    "UNITS",
    "FrameworkUnavailableError",
    "TrainState",
    "build",
    "build_model",
    "evaluate_accuracy",
    "forward",
    "framework_of",
    "get_model_params",
    "get_params",
    "init_train_state",
    "kernel_name",
    "layer_spec",
    "load_backend",
    "model_forward",
    "predict",
    "set_entropy_weight",
    "set_learning_rate",
    "set_model_params",
    "set_params",
    "set_temperature",
    "spec",
    "train_steps",
    "vjp",
]


def build(unit: str, framework: str, *, seed: int = 0, dtype: str = "float32", **config: Any) -> Any:
    """Build a framework-native layer of ``unit`` from the canonical seeded initialisation.

    Raises ValueError for an unknown unit, framework, option or dtype (the message lists the
    known values), ``spec.OptionError`` (a ValueError) for an option of the wrong type or range
    or one the dtype cannot represent, and FrameworkUnavailableError when the framework cannot
    be imported. Options are checked here, once, so every backend receives the same config.
    """
    resolved = spec.resolve_config(unit, config)
    from impls.registry import check_framework

    check_framework(framework)
    spec.check_dtype(dtype)
    spec.check_representable(unit, resolved, dtype)
    params = spec.init_params(unit, resolved, seed=seed)
    return load_backend(framework).build_block(LayerSpec(unit, resolved), params, dtype)


def kernel_name(unit: str, framework: str, mode: str = "eager", **config: Any) -> str:
    """Which implementation of ``unit`` runs in ``framework`` and ``mode`` (the rows' ``kernel``).

    Only the APTx layer has several (``impl=``: spec.blocks.APTX_IMPLS); every other unit
    reports ``"default"``. Frameworks are imported to answer, as when the layer is built.
    """
    if unit != "aptx_layer":
        return "default"
    impl = config.get("impl", spec.blocks.BLOCKS["aptx_layer"].defaults["impl"])
    if impl not in spec.blocks.APTX_IMPLS:
        raise ValueError(f"aptx_layer: unknown impl {impl!r}; known: {', '.join(spec.blocks.APTX_IMPLS)}")
    import importlib

    load_backend(framework)
    return importlib.import_module(f"impls.{framework}.aptx").kernel_name(impl, mode)


def layer_spec(layer: Any) -> LayerSpec:
    """The block name and resolved configuration a native layer was built from."""
    found = getattr(layer, "layer_spec", None)
    if not isinstance(found, LayerSpec):
        raise ValueError(f"{type(layer).__qualname__} carries no neuronbench layer_spec")
    return found


def get_params(layer: Any) -> dict[str, np.ndarray]:
    """Canonical parameters of a native layer (names and shapes as in the spec table)."""
    return load_backend(framework_of(layer)).get_params(layer)


def set_params(layer: Any, params: dict[str, Any]) -> None:
    """Load canonical parameters into a native layer, after checking names and shapes."""
    ls = layer_spec(layer)
    spec.check_params(ls.block, ls.config, params)
    load_backend(framework_of(layer)).set_params(layer, {k: np.asarray(v) for k, v in params.items()})


def _backend_in_mode(layer: Any, mode: str) -> Any:
    backend = load_backend(framework_of(layer))
    if mode not in backend.MODES:
        raise ValueError(f"unknown mode {mode!r} for {framework_of(layer)}; "
                         f"its modes: {', '.join(backend.MODES)}")
    return backend


def forward(layer: Any, x: Any, mode: str = "eager") -> np.ndarray:
    """Run a native layer on a NumPy input and return a NumPy output.

    ``mode`` is "eager" or "compiled" (torch.compile, jax.jit, tf.function(jit_compile=True));
    NumPy has eager only.
    """
    ls = layer_spec(layer)
    x = np.asarray(x)
    spec.check_input(ls.block, ls.config, x)
    return _backend_in_mode(layer, mode).forward(layer, x, mode)


def vjp(layer: Any, x: Any, upstream: Any, mode: str = "eager") -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Gradients of sum(upstream * layer(x)) w.r.t. x and every trainable parameter."""
    ls = layer_spec(layer)
    x = np.asarray(x)
    spec.check_input(ls.block, ls.config, x)
    return _backend_in_mode(layer, mode).vjp(layer, x, np.asarray(upstream), mode)


def build_model(architecture: Any, framework: str, *, seed: int = 0, dtype: str = "float32") -> Any:
    """Build a native model from an MLPSpec, CNNSpec or sequence of LayerSpec.

    Parameters come from ``impls.spec.models.init_model_params(architecture, seed)``, so the same
    seed gives the same network in every framework. Every layer's options are checked against
    their kinds and the dtype (``spec.check_representable``) before any backend is called.
    """
    layers = spec.models.as_layers(architecture)
    spec.check_dtype(dtype)
    for ls in layers:
        # A hand-made LayerSpec skipped resolve_config: re-check it, then its dtype fit.
        spec.check_representable(ls.block, spec.resolve_config(ls.block, ls.config), dtype)
    params = spec.models.init_model_params(layers, seed)
    return load_backend(framework).build_model(layers, params, dtype)


def get_model_params(model: Any) -> list[dict[str, np.ndarray]]:
    """Canonical parameters of every layer of a native model, in layer order."""
    return load_backend(framework_of(model)).get_model_params(model)


def set_model_params(model: Any, params: list[dict[str, Any]]) -> None:
    """Load canonical per-layer parameters into a native model (names and shapes checked)."""
    layers = model.layer_specs
    if len(params) != len(layers):
        raise ValueError(f"model has {len(layers)} layers, received parameters for {len(params)}")
    for ls, p in zip(layers, params, strict=True):
        spec.check_params(ls.block, ls.config, p)
    load_backend(framework_of(model)).set_model_params(model, [{k: np.asarray(v) for k, v in p.items()} for p in params])


def model_forward(model: Any, x: Any, mode: str = "eager") -> np.ndarray:
    """Run a native model on a NumPy input and return NumPy outputs (logits)."""
    x = np.asarray(x)
    first = model.layer_specs[0]
    spec.check_input(first.block, first.config, x)
    return _backend_in_mode(model, mode).model_forward(model, x, mode)


def predict(model: Any, x: Any, batch_size: int = 1000, mode: str = "eager") -> np.ndarray:
    """Logits of a native model for every row of ``x``, computed ``batch_size`` rows at a time."""
    x = np.asarray(x)
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, received {batch_size!r}")
    if len(x) == 0:
        raise ValueError("predict received no rows")
    parts = [model_forward(model, x[start:start + batch_size], mode) for start in range(0, len(x), batch_size)]
    return np.concatenate(parts, axis=0)


def evaluate_accuracy(model: Any, x: Any, labels: Any, batch_size: int = 1000,
                      mode: str = "eager") -> int:
    """Number of rows whose arg-max logit is the label, evaluated ``batch_size`` rows at a time."""
    x, labels = np.asarray(x), np.asarray(labels)
    if len(x) != len(labels):
        raise ValueError(f"{len(x)} inputs but {len(labels)} labels")
    logits = predict(model, x, batch_size, mode)
    return int(np.sum(np.argmax(logits, axis=1) == labels))


def init_train_state(model: Any, loss: str, rule: Any, mode: str = "eager",
                     clip_norm: float | None = None) -> TrainState:
    """A persistent training state for a native model: moments at zero, lr = ``rule.lr``.

    ``rule`` is an ``impls.spec.training`` SGD, Adam or AdamW; ``clip_norm`` clips the joint
    gradient norm before every update (torch's ``clip_grad_norm_``). See ``impls.training``.
    """
    from impls import training

    spec.training.check_rule(rule)
    spec.training.check_loss(loss)
    clip_norm = spec.training.check_clip_norm(clip_norm)
    backend = _backend_in_mode(model, mode)
    state = TrainState(model=model, framework=framework_of(model), loss=loss, rule=rule, mode=mode,
                       clip_norm=clip_norm, lr=training.check_learning_rate(rule.lr), step=0,
                       n_outputs=training.output_width(model))
    state.optimizer_state = backend.init_optimizer_state(state)
    return state


def set_learning_rate(state: TrainState, lr: float) -> None:
    """The learning rate of the next updates (schedules call this between epochs)."""
    from impls import training

    state.lr = training.check_learning_rate(lr)


def set_entropy_weight(state: TrainState, weight: float) -> None:
    """Lambda of the ActMix entropy penalty for the next updates: the loss minimised becomes
    task loss + lambda * (mean over ActMix layers of the mean mixture entropy), spec §3.3's
    ``full`` variant. Returned losses stay the task loss. A positive weight on a model without
    an ActMix layer is an error (there is nothing to penalise)."""
    weight = spec.training.check_entropy_weight(weight)
    if weight and not any(s.block == "actmix" for s in state.model.layer_specs):
        raise ValueError("an entropy weight needs at least one ActMix layer; this model has none")
    state.entropy_weight = weight


def set_temperature(model: Any, temperature: float) -> None:
    """The softmax temperature of every ActMix layer of a native model or layer (state, not a
    parameter: compiled steps see the new value without recompiling)."""
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float, np.floating, np.integer)):
        raise ValueError(f"actmix temperature must be a number, received {temperature!r}")
    if not (np.isfinite(temperature) and temperature > 0):
        raise ValueError(f"actmix temperature must be finite and positive, received {temperature!r}")
    load_backend(framework_of(model)).set_temperature(model, float(temperature))


def train_steps(state: TrainState, batches: Any) -> list[float]:
    """One update per ``(x, target)`` batch, continuing ``state``; the loss before each update.

    Targets are validated before the framework sees them (``impls.training.validated_batches``).
    """
    from impls import training

    backend = load_backend(state.framework)
    return backend.train_steps(state, training.validated_batches(state, batches))
