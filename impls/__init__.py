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

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from impls import spec
from impls.registry import (
    FRAMEWORKS,
    FrameworkUnavailableError,
    UnitNotProvidedError,
    framework_of,
    load_backend,
)
from impls.spec import UNITS, LayerSpec
from impls.spec.arrays import check_array
from impls.training import TrainState

__all__ = [
    "FRAMEWORKS",
    "UNITS",
    "FrameworkUnavailableError",
    "TrainState",
    "UnitNotProvidedError",
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
    spec.get_block(unit).check_provides(framework)  # a unit absent in a framework says so
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


def set_params(layer: Any, params: Mapping[str, Any]) -> None:
    """Load canonical parameters into a native layer, all or nothing.

    Every value is checked before the layer is touched (``_checked_params``: names, shapes, real
    finite numbers that fit the layer's dtype), so a refused call changes nothing; the backend
    puts the previous values back if it fails part-way itself.
    """
    values = _checked_params("set_params", layer_spec(layer), params, _dtype_of(layer))
    load_backend(framework_of(layer)).set_params(layer, values)


def _dtype_of(owner: Any) -> str:
    """The dtype name a native layer or model computes in (each backend's ``params.dtype_name``).

    Arrays are cast to it here, at the boundary, so every backend receives its own dtype and
    no framework's own conversion rules (from integers, from float64) decide what it computes on.
    """
    import importlib

    framework = framework_of(owner)
    load_backend(framework)
    return importlib.import_module(f"impls.{framework}.params").dtype_name(owner)


def _checked_params(where: str, ls: LayerSpec, params: Any, dtype: str,
                    index: int | None = None) -> dict[str, np.ndarray]:
    """Canonical parameters of one layer as arrays in ``dtype``, or a ValueError naming the
    unit and the parameter: None, strings, booleans, complex numbers, NaN, +-inf and values that
    overflow ``dtype`` (1e39 into float32) are refused, then names and shapes are checked."""
    unit = f"unit {ls.block!r}" + ("" if index is None else f" (layer {index})")
    if not isinstance(params, Mapping):
        raise ValueError(f"{where}: parameters of {unit} must be a dict of name -> array, "
                         f"received {type(params).__name__}")
    values = {name: check_array(value, what=f"{where}: {unit} parameter {name!r}", dtype=dtype, finite=True)
              for name, value in params.items()}
    spec.check_params(ls.block, ls.config, values)
    return values


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
    x = check_array(x, what="forward: input x", dtype=_dtype_of(layer))
    spec.check_input(ls.block, ls.config, x)
    return _backend_in_mode(layer, mode).forward(layer, x, mode)


def vjp(layer: Any, x: Any, upstream: Any, mode: str = "eager") -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Gradients of sum(upstream * layer(x)) w.r.t. x and every trainable parameter.

    ``upstream`` must have exactly the shape of ``layer(x)``: the frameworks would otherwise
    broadcast it, or not, each in its own way.
    """
    ls = layer_spec(layer)
    dtype = _dtype_of(layer)
    x = check_array(x, what="vjp: input x", dtype=dtype)
    spec.check_input(ls.block, ls.config, x)
    upstream = check_array(upstream, what="vjp: upstream", dtype=dtype)
    expected = _output_shape(layer, ls, x)
    if upstream.shape != expected:
        raise ValueError(f"vjp: upstream has shape {upstream.shape}, but the output of unit "
                         f"{ls.block!r} for an input of shape {x.shape} has shape {expected}")
    return _backend_in_mode(layer, mode).vjp(layer, x, upstream, mode)


#: Block kinds whose output has the shape of their input (element-wise, or normalised along one
#: axis): every activation and squasher (impls/spec/blocks.py, KINDS).
_SHAPE_PRESERVING_KINDS = ("activation", "squasher")


def _output_shape(layer: Any, ls: LayerSpec, x: np.ndarray) -> tuple[int, ...]:
    """The shape of ``layer(x)``, from the spec, without running the layer on ``x``.

    Dense, convolution and structural blocks map each row on its own, so the oracle on a single
    row of ones gives every axis but the batch axis (cheap, and the same in every framework).
    """
    if spec.get_block(ls.block).kind in _SHAPE_PRESERVING_KINDS:
        return x.shape
    with np.errstate(all="ignore"):
        row = spec.reference(ls.block, get_params(layer), np.ones((1, *x.shape[1:])), **ls.config)
    return (x.shape[0], *row.shape[1:])


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
        spec.get_block(ls.block).check_provides(framework)
    params = spec.models.init_model_params(layers, seed)
    return load_backend(framework).build_model(layers, params, dtype)


def get_model_params(model: Any) -> list[dict[str, np.ndarray]]:
    """Canonical parameters of every layer of a native model, in layer order."""
    return load_backend(framework_of(model)).get_model_params(model)


def set_model_params(model: Any, params: Sequence[Mapping[str, Any]]) -> None:
    """Load canonical per-layer parameters into a native model, all or nothing.

    Every layer's values are checked as in ``set_params`` before any layer is touched; if the
    backend fails part-way (a later layer), every layer gets its previous values back.
    """
    layers = model.layer_specs
    if not isinstance(params, Sequence) or isinstance(params, (str, bytes)):
        raise ValueError(f"set_model_params: expected one dict per layer, received {type(params).__name__}")
    if len(params) != len(layers):
        raise ValueError(f"model has {len(layers)} layers, received parameters for {len(params)}")
    dtype = _dtype_of(model)
    values = [_checked_params("set_model_params", ls, p, dtype, index)
              for index, (ls, p) in enumerate(zip(layers, params, strict=True))]
    backend = load_backend(framework_of(model))
    before = backend.get_model_params(model)
    try:
        backend.set_model_params(model, values)
    except BaseException:
        backend.set_model_params(model, before)
        raise


def model_forward(model: Any, x: Any, mode: str = "eager") -> np.ndarray:
    """Run a native model on a NumPy input and return NumPy outputs (logits)."""
    x = _checked_model_input("model_forward", model, x)
    return _backend_in_mode(model, mode).model_forward(model, x, mode)


def _checked_model_input(where: str, model: Any, x: Any) -> np.ndarray:
    """``x`` as real numbers in the model's dtype that its first block accepts (rank, width)."""
    x = check_array(x, what=f"{where}: input x", dtype=_dtype_of(model))
    first = model.layer_specs[0]
    spec.check_input(first.block, first.config, x)
    return x


def predict(model: Any, x: Any, batch_size: int = 1000, mode: str = "eager") -> np.ndarray:
    """Logits of a native model for every row of ``x``, computed ``batch_size`` rows at a time."""
    x = _checked_model_input("predict", model, x)
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, received {batch_size!r}")
    if len(x) == 0:
        raise ValueError("predict received no rows")
    parts = [model_forward(model, x[start:start + batch_size], mode) for start in range(0, len(x), batch_size)]
    return np.concatenate(parts, axis=0)


def evaluate_accuracy(model: Any, x: Any, labels: Any, batch_size: int = 1000,
                      mode: str = "eager") -> int:
    """Number of rows whose arg-max logit is the label, evaluated ``batch_size`` rows at a time.

    ``labels`` must be integer class indices, one per row of ``x``, each in [0, outputs): a
    label the model cannot output would otherwise just count as a miss, and float or boolean
    labels would compare by value.
    """
    from impls import training

    x = _checked_model_input("evaluate_accuracy", model, x)
    labels = check_array(labels, what="evaluate_accuracy: labels")
    if labels.ndim == 1 and len(labels) != len(x):
        raise ValueError(f"evaluate_accuracy: {len(x)} inputs but {len(labels)} labels")
    labels = training.check_labels(labels, training.output_width(model), len(x),
                                   what="evaluate_accuracy: labels")
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
                       n_outputs=training.output_width(model), dtype=_dtype_of(model))
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
