"""Framework-neutral specifications of every building block.

A *block* is anything a model is made of: the 16 benchmark units of ``UNITS`` plus the plain
building blocks models need around them (``linear``, ``conv2d``, ``max_pool2d``, ``flatten``).
Each block is described once, here, by a :class:`BlockSpec`: its configuration keys, their
defaults and their kinds (:mod:`impls.spec.options`: what each accepts, checked once by
:func:`resolve_config` so every framework receives the same validated values), the names and
shapes of its canonical parameters, which of them train, the seeded initialiser every framework
starts from, and the input it accepts. The float64 maths lives in :mod:`impls.spec.oracle`; the
framework twins only have to agree with both.

Why one table and not a class per unit: the suites need to *reason* about units (count
parameters, solve widths, pick a model layout) without importing any framework, and a new unit
then costs one entry here, one oracle function and one class per framework.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np

from impls.spec import options as opt
from impls.spec.options import OptionError, OptionKind

Config = Mapping[str, Any]
Params = dict[str, np.ndarray]

#: Marker for a configuration key the caller must supply (layer widths, channels).
REQUIRED: Any = type("Required", (), {"__repr__": lambda self: "<required>"})()

#: Basis functions ActMix may mix, in the order of the original project.
ACTMIX_BASES = ("sin", "tanh", "relu", "identity", "sigmoid", "silu")

#: Kinds of block: how a model builder may use it.
#: - activation: element-wise or per-feature map, used after a linear (or conv) layer;
#: - dense: a whole dense layer [batch, in] -> [batch, out];
#: - conv: a whole 2-D convolution layer, NCHW;
#: - squasher: maps non-negative scores (the output of a Yat layer) into a bounded range;
#: - structural: pooling and flattening, no parameters, no maths worth a unit.
KINDS = ("activation", "dense", "conv", "squasher", "structural")


@dataclass(frozen=True)
class BlockSpec:
    """Everything a framework or a suite needs to know about one block, minus the maths."""

    name: str
    kind: str
    summary: str
    defaults: Mapping[str, Any]
    #: config -> {parameter name: canonical shape}; every parameter the canonical dict holds.
    param_shapes: Callable[[Config], dict[str, tuple[int, ...]]]
    #: (config, rng) -> canonical float64 parameters, deterministic given the generator.
    initialise: Callable[[Config, np.random.Generator], Params]
    #: config -> names of the parameters that receive gradients (a subset of param_shapes).
    trainable: Callable[[Config], tuple[str, ...]] = lambda config: ()
    #: option name -> kind (impls/spec/options.py): what each option accepts, checked by
    #: resolve_config before anything else sees it. Must name exactly the keys of ``defaults``.
    options: Mapping[str, OptionKind] = field(default_factory=dict)
    #: (config) -> None, raising OptionError on a bad *combination* of options (each option's
    #: own type and range are its kind's job); run after every option passed its kind.
    validate: Callable[[Config], None] = lambda config: None
    #: (config) -> {label: value} of the numbers the layer divides by (temperatures, epsilons):
    #: check_representable refuses a dtype in which one of them flushes to 0 or 1/value overflows.
    divisors: Callable[[Config], Mapping[str, float]] = lambda config: {}
    #: (config, x) -> None, raising ValueError when x cannot be fed to the block.
    check_input: Callable[[str, Config, np.ndarray], None] = field(
        default=lambda name, config, x: _check_rank_at_least(name, x, 1)
    )


# --------------------------------------------------------------------------------------------
# Input checks shared by several blocks


def _shape_error(name: str, expected: str, x: np.ndarray) -> ValueError:
    return ValueError(f"unit {name!r}: expected input {expected}, received shape {tuple(x.shape)}")


def _check_rank_at_least(name: str, x: np.ndarray, rank: int) -> None:
    if x.ndim < rank:
        raise _shape_error(name, f"of rank >= {rank}", x)


def _check_dense_input(name: str, config: Config, x: np.ndarray) -> None:
    width = config["in_features"]
    if x.ndim != 2 or x.shape[1] != width:
        raise _shape_error(name, f"of shape [batch, in_features={width}]", x)


def _check_feature_axis(name: str, config: Config, x: np.ndarray) -> None:
    axis = config["axis"]
    if x.ndim < 1 or not -x.ndim <= axis < x.ndim:
        raise _shape_error(name, f"with a feature axis {axis}", x)
    if x.shape[axis] != config["features"]:
        raise _shape_error(name, f"with features={config['features']} on axis {axis}", x)


def _check_axis(name: str, config: Config, x: np.ndarray) -> None:
    axis = config["axis"]
    if x.ndim < 1 or not -x.ndim <= axis < x.ndim:
        raise _shape_error(name, f"with an axis {axis} to reduce over", x)


def _check_nonnegative(name: str, config: Config, x: np.ndarray) -> None:
    _check_rank_at_least(name, x, 1)
    if "axis" in config:
        _check_axis(name, config, x)
    if np.any(np.asarray(x) < 0):
        raise ValueError(
            f"unit {name!r}: expected non-negative scores (the output of a Yat layer), "
            f"received a minimum of {float(np.min(x))}"
        )


def conv_output_size(size: int, kernel: int, stride: int, padding: int) -> int:
    """Spatial size after a convolution or pooling window (floor division, like every framework)."""
    return (size + 2 * padding - kernel) // stride + 1


def _check_conv_input(name: str, config: Config, x: np.ndarray) -> None:
    channels = config["in_channels"]
    if x.ndim != 4 or x.shape[1] != channels:
        raise _shape_error(name, f"NCHW [batch, in_channels={channels}, height, width]", x)
    kh, kw = config["kernel_size"]
    ph, pw = config["padding"]
    if x.shape[2] + 2 * ph < kh or x.shape[3] + 2 * pw < kw:
        raise _shape_error(name, f"spatially at least the kernel {kh}x{kw} after padding", x)


def _check_pool_input(name: str, config: Config, x: np.ndarray) -> None:
    k = config["kernel_size"]
    if x.ndim != 4 or x.shape[2] < k or x.shape[3] < k:
        raise _shape_error(name, f"NCHW with height and width >= {k}", x)


def _check_flatten_input(name: str, config: Config, x: np.ndarray) -> None:
    _check_rank_at_least(name, x, 2)


#: The APTx layer's implementations (``impl=``), fastest first; every one is in the equivalence
#: matrix (impls/spec/cases.py), and the one that ran is named in every result row.
APTX_IMPLS: tuple[str, ...] = ("fused", "recompute", "naive")

#: The Yat dense layer's semantics (spec §5.1/§5.2).
YAT_SEMANTICS: tuple[str, ...] = ("nmn-0.3.5", "dl2-paper")


# --------------------------------------------------------------------------------------------
# Parameter initialisers (float64; every framework casts the same numbers)


def _glorot_normal(rng: np.random.Generator, fan_out: int, fan_in: int, shape: tuple) -> np.ndarray:
    return rng.normal(0.0, math.sqrt(2.0 / (fan_in + fan_out)), size=shape)


def _uniform_fan_in(rng: np.random.Generator, fan_in: int, shape: tuple) -> np.ndarray:
    bound = 1.0 / math.sqrt(fan_in)
    return rng.uniform(-bound, bound, size=shape)


def yat_alpha_mode(alpha: Any, unit: str = "yat_dense") -> str | float | None:
    """Interpret the ``alpha`` option of the Yat layers.

    ``"learnable"`` -> a trainable scalar initialised to 1; a float -> that constant;
    ``"sqrt2"`` -> the constant sqrt(2) (nmn's ``constant_alpha=True``); ``None`` or ``False``
    -> no scale. ``False`` means "off" on purpose: nmn < 0.3.5 turned it into 0.0 and zeroed
    every output (spec §5.1), a trap this project must not reproduce.
    """
    if alpha is None or alpha is False:
        return None
    if alpha == "learnable":
        return "learnable"
    if alpha == "sqrt2":
        return math.sqrt(2.0)
    if isinstance(alpha, (int, float)) and not isinstance(alpha, bool):
        return float(alpha)
    raise OptionError(
        f"unit {unit!r}: option 'alpha' must be {opt.YAT_ALPHA.expected}, got {opt.describe(alpha)}"
    )


# --------------------------------------------------------------------------------------------
# The blocks


def _aptx_activation() -> BlockSpec:
    def init(config: Config, rng: np.random.Generator) -> Params:
        return {k: np.array(float(config[k])) for k in ("alpha", "beta", "gamma")}

    return BlockSpec(
        name="aptx_activation",
        kind="activation",
        summary="APTx activation (alpha + tanh(beta x)) gamma x with scalar parameters",
        defaults={"alpha": 1.0, "beta": 1.0, "gamma": 0.5, "trainable": False},
        options={"alpha": opt.FINITE, "beta": opt.FINITE, "gamma": opt.FINITE,
                 "trainable": opt.BOOL},
        param_shapes=lambda c: {"alpha": (), "beta": (), "gamma": ()},
        initialise=init,
        trainable=lambda c: ("alpha", "beta", "gamma") if c["trainable"] else (),
    )


def _aptx_layer() -> BlockSpec:
    def shapes(c: Config) -> dict[str, tuple[int, ...]]:
        o, i = c["out_features"], c["in_features"]
        out = {"alpha": (o, i), "beta": (o, i), "gamma": (o, i)}
        if c["use_delta"]:
            out["delta"] = (o,)
        return out

    def init(c: Config, rng: np.random.Generator) -> Params:
        o, i = c["out_features"], c["in_features"]
        # Unit normals, no fan-in scaling: exactly the package's init (spec §1.2).
        alpha = rng.standard_normal((o, i))
        params = {
            "alpha": alpha if c["alpha_trainable"] else np.ones((o, i)),
            "beta": rng.standard_normal((o, i)),
            "gamma": rng.standard_normal((o, i)),
        }
        if c["use_delta"]:
            params["delta"] = np.zeros(o)
        return params

    def trainable(c: Config) -> tuple[str, ...]:
        names = ("alpha",) if c["alpha_trainable"] else ()
        return (*names, "beta", "gamma", *(("delta",) if c["use_delta"] else ()))

    return BlockSpec(
        name="aptx_layer",
        kind="dense",
        summary="APTx neuron layer: sum_i (A + tanh(B x_i)) G x_i + delta, per-input parameters",
        defaults={
            "in_features": REQUIRED,
            "out_features": REQUIRED,
            "alpha_trainable": True,
            "use_delta": True,
            "impl": "fused",
        },
        options={
            "in_features": opt.POSITIVE_INT,
            "out_features": opt.POSITIVE_INT,
            "alpha_trainable": opt.BOOL,
            "use_delta": opt.BOOL,
            # "fused": one compiled pass per direction (impls/kernels/aptx_cpu.py), the default;
            # "recompute": memory-lean chunks of framework ops (no stored [batch, out, in]);
            # "naive": the package's broadcast formulation, kept to measure what the others save.
            "impl": opt.Choice(APTX_IMPLS),
        },
        param_shapes=shapes,
        initialise=init,
        trainable=trainable,
        check_input=_check_dense_input,
    )


def _actmix() -> BlockSpec:
    def init(c: Config, rng: np.random.Generator) -> Params:
        logits = np.zeros((c["features"], len(c["basis"])))
        if "relu" in c["basis"] and c["relu_bias"] != 0:
            logits[:, c["basis"].index("relu")] = float(c["relu_bias"])
        return {"logits": logits}

    return BlockSpec(
        name="actmix",
        kind="activation",
        summary="ActMix: per-neuron softmax(logits / T) mixture of basis activations",
        defaults={
            "features": REQUIRED,
            "basis": ("sin", "tanh", "relu", "identity"),
            "omega_0": 1.0,
            "relu_bias": 1.5,
            "temperature": 1.0,
            "axis": -1,
        },
        options={
            "features": opt.POSITIVE_INT,
            "basis": opt.Subset(ACTMIX_BASES),
            "omega_0": opt.FINITE,
            "relu_bias": opt.FINITE,
            # softmax(logits / T): T = 0 divides by zero, T < 0 inverts the preference.
            "temperature": opt.POSITIVE,
            "axis": opt.INT,
        },
        param_shapes=lambda c: {"logits": (c["features"], len(c["basis"]))},
        initialise=init,
        trainable=lambda c: ("logits",),
        divisors=lambda c: {"option 'temperature'": c["temperature"]},
        check_input=_check_feature_axis,
    )


#: LearnableSELU defaults (ToyMath, spec §4.1): rounded SELU constants plus a sine term.
LSELU_DEFAULTS = {"lambda": 1.0507, "alpha": 1.67326, "beta": 1.0, "gamma": 0.1, "omega": 2.0}


def _lselu() -> BlockSpec:
    return BlockSpec(
        name="lselu",
        kind="activation",
        summary="Learnable SELU variation: lambda x | lambda (alpha (e^(beta x) - 1) + gamma sin(omega x))",
        defaults={"safe": True},
        options={"safe": opt.BOOL},
        param_shapes=lambda c: dict.fromkeys(LSELU_DEFAULTS, ()),
        initialise=lambda c, rng: {k: np.array(v) for k, v in LSELU_DEFAULTS.items()},
        trainable=lambda c: tuple(LSELU_DEFAULTS),
    )


def _prelu() -> BlockSpec:
    return BlockSpec(
        name="prelu",
        kind="activation",
        summary="PReLU with one learnable slope per feature",
        defaults={"features": REQUIRED, "init": 0.25, "axis": -1},
        options={"features": opt.POSITIVE_INT, "init": opt.FINITE, "axis": opt.INT},
        param_shapes=lambda c: {"alpha": (c["features"],)},
        initialise=lambda c, rng: {"alpha": np.full(c["features"], float(c["init"]))},
        trainable=lambda c: ("alpha",),
        check_input=_check_feature_axis,
    )


def _swish() -> BlockSpec:
    return BlockSpec(
        name="swish",
        kind="activation",
        summary="Swish / SiLU x sigmoid(beta x), beta optionally learnable",
        defaults={"learnable": False, "beta": 1.0},
        options={"learnable": opt.BOOL, "beta": opt.FINITE},
        param_shapes=lambda c: {"beta": ()} if c["learnable"] else {},
        initialise=lambda c, rng: {"beta": np.array(float(c["beta"]))} if c["learnable"] else {},
        trainable=lambda c: ("beta",) if c["learnable"] else (),
    )


def _parameter_free(name: str, kind: str, summary: str, defaults: Mapping[str, Any] | None = None,
                    options: Mapping[str, OptionKind] | None = None,
                    validate: Callable[[Config], None] | None = None,
                    check_input: Callable[[str, Config, np.ndarray], None] | None = None,
                    divisors: Callable[[Config], Mapping[str, float]] | None = None) -> BlockSpec:
    extra: dict[str, Any] = {}
    if validate is not None:
        extra["validate"] = validate
    if check_input is not None:
        extra["check_input"] = check_input
    if divisors is not None:
        extra["divisors"] = divisors
    return BlockSpec(
        name=name,
        kind=kind,
        summary=summary,
        defaults=defaults or {},
        options=options or {},
        param_shapes=lambda c: {},
        initialise=lambda c, rng: {},
        **extra,
    )


def _softmax_validate(c: Config) -> None:
    # Each may be 0 on its own (T = 0 with epsilon = 1e-8 is mpneuralnetwork's hard arg-max),
    # but the layer divides by their sum.
    if not c["temperature"] + c["epsilon"] > 0:
        raise OptionError(
            f"unit 'softmax': options 'temperature' + 'epsilon' must be positive (the layer "
            f"divides by their sum), got temperature={c['temperature']!r}, "
            f"epsilon={c['epsilon']!r}"
        )


#: x^n with n > 0: n <= 0 is not a squasher (x^0 = 1, x^-n blows up at 0), spec §5.6.
_SQUASHER_OPTIONS: Mapping[str, OptionKind] = {"n": opt.POSITIVE}


def _yat_dense() -> BlockSpec:
    def shapes(c: Config) -> dict[str, tuple[int, ...]]:
        o, i = c["out_features"], c["in_features"]
        out: dict[str, tuple[int, ...]] = {"weight": (o, i)}
        if c["bias"]:
            out["bias"] = (o,)
        if yat_alpha_mode(c["alpha"]) == "learnable":
            out["alpha"] = ()
        return out

    def init(c: Config, rng: np.random.Generator) -> Params:
        o, i = c["out_features"], c["in_features"]
        # nmn.torch.YatNMN's defaults: xavier-normal kernel, U(+-1/sqrt(fan_in)) bias, alpha 1.
        params = {"weight": _glorot_normal(rng, o, i, (o, i))}
        if c["bias"]:
            params["bias"] = _uniform_fan_in(rng, i, (o,))
        if yat_alpha_mode(c["alpha"]) == "learnable":
            params["alpha"] = np.array(1.0)
        return params

    def validate(c: Config) -> None:
        if c["spherical"] and c["semantics"] != "nmn-0.3.5":
            raise OptionError(
                "unit 'yat_dense': spherical=True exists only with semantics='nmn-0.3.5'"
            )

    return BlockSpec(
        name="yat_dense",
        kind="dense",
        summary="Yat-product dense layer (NMN): alpha (w.x + b)^2 / (|x - w|^2 + eps)",
        defaults={
            "in_features": REQUIRED,
            "out_features": REQUIRED,
            "bias": True,
            "alpha": "learnable",
            "epsilon": 1e-5,
            "spherical": False,
            "semantics": "nmn-0.3.5",
        },
        options={
            "in_features": opt.POSITIVE_INT,
            "out_features": opt.POSITIVE_INT,
            "bias": opt.BOOL,
            "alpha": opt.YAT_ALPHA,
            # The only guard of (w.x + b)^2 / (dist + eps) where x == w (spec §5.10).
            "epsilon": opt.POSITIVE,
            "spherical": opt.BOOL,
            "semantics": opt.Choice(YAT_SEMANTICS),
        },
        param_shapes=shapes,
        initialise=init,
        trainable=lambda c: tuple(shapes(c)),
        validate=validate,
        divisors=lambda c: {"option 'epsilon'": c["epsilon"]},
        check_input=_check_dense_input,
    )


def _conv_shapes(c: Config) -> dict[str, tuple[int, ...]]:
    kh, kw = c["kernel_size"]
    out: dict[str, tuple[int, ...]] = {"weight": (c["out_channels"], c["in_channels"], kh, kw)}
    if c["bias"]:
        out["bias"] = (c["out_channels"],)
    return out


def _conv_init(c: Config, rng: np.random.Generator) -> Params:
    kh, kw = c["kernel_size"]
    fan_in = c["in_channels"] * kh * kw
    # torch's Conv default (kaiming_uniform with a=sqrt(5)) is exactly U(+-1/sqrt(fan_in)).
    params = {"weight": _uniform_fan_in(rng, fan_in, _conv_shapes(c)["weight"])}
    if c["bias"]:
        params["bias"] = _uniform_fan_in(rng, fan_in, (c["out_channels"],))
    return params


_CONV_DEFAULTS = {
    "in_channels": REQUIRED,
    "out_channels": REQUIRED,
    "kernel_size": REQUIRED,
    "stride": 1,
    "padding": 0,
    "bias": True,
}

#: Conv geometry resolves to (h, w) tuples of ints: an int means the same on both axes.
_CONV_OPTIONS: Mapping[str, OptionKind] = {
    "in_channels": opt.POSITIVE_INT,
    "out_channels": opt.POSITIVE_INT,
    "kernel_size": opt.POSITIVE_INT_PAIR,
    "stride": opt.POSITIVE_INT_PAIR,
    "padding": opt.NONNEG_INT_PAIR,
    "bias": opt.BOOL,
}


def _yat_conv2d() -> BlockSpec:
    def shapes(c: Config) -> dict[str, tuple[int, ...]]:
        out = _conv_shapes(c)
        if yat_alpha_mode(c["alpha"]) == "learnable":
            out["alpha"] = ()
        return out

    def init(c: Config, rng: np.random.Generator) -> Params:
        params = _conv_init(c, rng)
        if yat_alpha_mode(c["alpha"]) == "learnable":
            params["alpha"] = np.array(1.0)
        return params

    return BlockSpec(
        name="yat_conv2d",
        kind="conv",
        summary="Yat-product 2-D convolution (NMN YatConv2D), NCHW",
        defaults={**_CONV_DEFAULTS, "alpha": "learnable", "epsilon": 1e-5},
        options={**_CONV_OPTIONS, "alpha": opt.YAT_ALPHA, "epsilon": opt.POSITIVE},
        param_shapes=shapes,
        initialise=init,
        trainable=lambda c: tuple(shapes(c)),
        divisors=lambda c: {"option 'epsilon'": c["epsilon"]},
        check_input=_check_conv_input,
    )


def _linear() -> BlockSpec:
    def shapes(c: Config) -> dict[str, tuple[int, ...]]:
        out: dict[str, tuple[int, ...]] = {"weight": (c["out_features"], c["in_features"])}
        if c["bias"]:
            out["bias"] = (c["out_features"],)
        return out

    def init(c: Config, rng: np.random.Generator) -> Params:
        i = c["in_features"]
        params = {"weight": _uniform_fan_in(rng, i, (c["out_features"], i))}
        if c["bias"]:
            params["bias"] = _uniform_fan_in(rng, i, (c["out_features"],))
        return params

    return BlockSpec(
        name="linear",
        kind="dense",
        summary="Affine layer x W^T + b (torch's default init)",
        defaults={"in_features": REQUIRED, "out_features": REQUIRED, "bias": True},
        options={"in_features": opt.POSITIVE_INT, "out_features": opt.POSITIVE_INT,
                 "bias": opt.BOOL},
        param_shapes=shapes,
        initialise=init,
        trainable=lambda c: tuple(shapes(c)),
        check_input=_check_dense_input,
    )


def _conv2d() -> BlockSpec:
    return BlockSpec(
        name="conv2d",
        kind="conv",
        summary="Plain 2-D cross-correlation, NCHW (torch's default init)",
        defaults=dict(_CONV_DEFAULTS),
        options=dict(_CONV_OPTIONS),
        param_shapes=_conv_shapes,
        initialise=_conv_init,
        trainable=lambda c: tuple(_conv_shapes(c)),
        check_input=_check_conv_input,
    )


def _build_registry() -> Mapping[str, BlockSpec]:
    blocks = [
        _aptx_activation(),
        _aptx_layer(),
        _actmix(),
        _lselu(),
        _parameter_free("relu", "activation", "ReLU max(0, x)"),
        _prelu(),
        _swish(),
        _parameter_free("gelu", "activation", "GELU x Phi(x) (exact erf, or the tanh approximation)",
                        {"approximate": False}, {"approximate": opt.BOOL}),
        _parameter_free("tanh", "activation", "Hyperbolic tangent"),
        _parameter_free("sigmoid", "activation", "Logistic sigmoid"),
        _parameter_free("softmax", "activation",
                        "Softmax of x / (T + epsilon); epsilon=1e-8 replicates mpneuralnetwork",
                        {"temperature": 1.0, "axis": -1, "epsilon": 0.0},
                        {"temperature": opt.NONNEG, "axis": opt.INT, "epsilon": opt.NONNEG},
                        _softmax_validate, _check_axis,
                        divisors=lambda c: {
                            "options 'temperature' + 'epsilon'": c["temperature"] + c["epsilon"]}),
        _yat_dense(),
        _yat_conv2d(),
        _parameter_free("softermax", "squasher", "x^n / (eps + sum_j x_j^n) along an axis",
                        {"n": 1.0, "epsilon": 1e-12, "axis": -1},
                        # epsilon guards eps + sum_j x_j^n; 0 is allowed (no guard).
                        {**_SQUASHER_OPTIONS, "epsilon": opt.NONNEG, "axis": opt.INT},
                        check_input=_check_nonnegative,
                        divisors=lambda c: {"option 'epsilon'": c["epsilon"]}),
        _parameter_free("softer_sigmoid", "squasher", "x^n / (1 + x^n)", {"n": 1.0},
                        _SQUASHER_OPTIONS, check_input=_check_nonnegative),
        _parameter_free("soft_tanh", "squasher", "(x^n - 1) / (1 + x^n)", {"n": 1.0},
                        _SQUASHER_OPTIONS, check_input=_check_nonnegative),
        # Building blocks of models (not benchmark units themselves).
        _linear(),
        _conv2d(),
        _parameter_free("max_pool2d", "structural", "Non-overlapping max pooling, NCHW",
                        {"kernel_size": 2}, {"kernel_size": opt.POSITIVE_INT},
                        check_input=_check_pool_input),
        _parameter_free("flatten", "structural", "Flatten every axis but the batch (C, H, W order)",
                        check_input=_check_flatten_input),
    ]
    for b in blocks:
        # Every option has a kind, so no value reaches a framework unchecked.
        if set(b.options) != set(b.defaults):
            raise AssertionError(f"block {b.name!r}: option kinds {sorted(b.options)} do not match "
                                 f"its options {sorted(b.defaults)}")
    return MappingProxyType({b.name: b for b in blocks})


BLOCKS: Mapping[str, BlockSpec] = _build_registry()

#: The benchmark units, in the order of the project's design card.
UNITS: tuple[str, ...] = (
    "aptx_activation",
    "aptx_layer",
    "actmix",
    "lselu",
    "relu",
    "prelu",
    "swish",
    "gelu",
    "tanh",
    "sigmoid",
    "softmax",
    "yat_dense",
    "yat_conv2d",
    "softermax",
    "softer_sigmoid",
    "soft_tanh",
)

#: Blocks that exist to build models around the units.
BUILDING_BLOCKS: tuple[str, ...] = ("linear", "conv2d", "max_pool2d", "flatten")


#: Block name -> class name, identical in every framework (impls/<framework>/units.py).
CLASS_NAMES: Mapping[str, str] = MappingProxyType({
    "aptx_activation": "APTxActivation",
    "aptx_layer": "APTxLayer",
    "actmix": "ActMix",
    "lselu": "LearnableSELU",
    "relu": "ReLU",
    "prelu": "PReLU",
    "swish": "Swish",
    "gelu": "GELU",
    "tanh": "Tanh",
    "sigmoid": "Sigmoid",
    "softmax": "Softmax",
    "yat_dense": "YatDense",
    "yat_conv2d": "YatConv2D",
    "softermax": "Softermax",
    "softer_sigmoid": "SofterSigmoid",
    "soft_tanh": "SoftTanh",
    "linear": "Linear",
    "conv2d": "Conv2D",
    "max_pool2d": "MaxPool2D",
    "flatten": "Flatten",
})


def class_table(namespace: Mapping[str, Any], framework: str) -> Mapping[str, type]:
    """Block name -> class, looked up by CLASS_NAMES in a backend's module namespace.

    Each backend calls ``class_table(globals(), "<framework>")`` once at the end of its units
    module, so the block list and the class names live here only and a backend that lacks a
    class fails at import with the names of what is missing.
    """
    missing = [f"{block} ({name})" for block, name in CLASS_NAMES.items() if name not in namespace]
    if missing:
        raise ImportError(f"impls.{framework} has no class for block(s): {', '.join(missing)}")
    return MappingProxyType({block: namespace[name] for block, name in CLASS_NAMES.items()})


def get_block(name: str) -> BlockSpec:
    """Return the spec of a block, or raise a ValueError listing the known ones."""
    try:
        return BLOCKS[name]
    except (KeyError, TypeError):
        raise ValueError(
            f"unknown unit {name!r}; known units: {', '.join(UNITS)} "
            f"(building blocks: {', '.join(BUILDING_BLOCKS)})"
        ) from None


def resolve_config(name: str, config: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Fill in defaults, check every option against its kind, then the block's cross-option
    rules; the result is what every framework sees, so no backend coerces anything itself.

    Unknown keys and missing required keys raise an OptionError (a ValueError) naming the unit,
    the key and the keys it accepts, so a typo never silently falls back to a default; a value
    of the wrong type or range raises one naming the unit, the option, the value received and
    what was expected (impls/spec/options.py). Resolving a resolved config returns it unchanged.
    """
    spec = get_block(name)
    config = dict(config or {})
    unknown = sorted(set(config) - set(spec.defaults), key=str)
    if unknown:
        accepted = ", ".join(spec.defaults) or "none"
        raise OptionError(
            f"unit {name!r}: unknown option(s) {unknown}; accepted options: {accepted}"
        )
    resolved = {**spec.defaults, **config}
    missing = [k for k, v in resolved.items() if v is REQUIRED]
    if missing:
        raise OptionError(f"unit {name!r}: missing required option(s) {missing}")
    resolved = opt.check_options(name, spec.options, resolved)
    spec.validate(resolved)
    return resolved


def check_representable(name: str, resolved: Mapping[str, Any], dtype: str) -> None:
    """Raise an OptionError when a resolved configuration cannot be computed in ``dtype``.

    Option kinds are dtype-free (a temperature of 1e-300 is a fine float64); whether a layer
    can hold a value depends on the dtype it is built in, known only when it is built. So
    ``impls.build`` and ``impls.build_model`` call this once per layer, before dispatching to
    any backend: a float32 layer refuses a real option that overflows float32 and a
    temperature or epsilon below float32's smallest normal number (it would flush to 0 and
    1/value overflow: ActMix at T=1e-300 gave all-NaN output); see
    ``options.representability_problems``.
    """
    spec = get_block(name)
    check_dtype(dtype)
    problems = opt.representability_problems(name, spec.options, resolved,
                                              spec.divisors(resolved), dtype)
    if problems:
        raise OptionError("; ".join(problems))


def param_shapes(name: str, config: Mapping[str, Any] | None = None) -> dict[str, tuple[int, ...]]:
    """Canonical parameter names and shapes of a block under a configuration."""
    resolved = resolve_config(name, config)
    return get_block(name).param_shapes(resolved)


def trainable_names(name: str, config: Mapping[str, Any] | None = None) -> tuple[str, ...]:
    """Names of the parameters that receive gradients under a configuration."""
    resolved = resolve_config(name, config)
    return get_block(name).trainable(resolved)


def init_params(name: str, config: Mapping[str, Any] | None = None, seed: int = 0) -> Params:
    """The canonical float64 initial parameters: what every framework's ``build`` starts from."""
    resolved = resolve_config(name, config)
    params = get_block(name).initialise(resolved, np.random.default_rng(seed))
    return {k: np.asarray(v, dtype=np.float64) for k, v in params.items()}


def count_params(name: str, config: Mapping[str, Any] | None = None, *, trainable_only: bool = True) -> int:
    """Number of parameter values; by default only those that train (what papers report)."""
    resolved = resolve_config(name, config)
    spec = get_block(name)
    shapes = spec.param_shapes(resolved)
    names = spec.trainable(resolved) if trainable_only else tuple(shapes)
    return int(sum(math.prod(shapes[n]) for n in names))


def check_params(name: str, config: Mapping[str, Any], params: Mapping[str, Any]) -> None:
    """Raise a ValueError when ``params`` lacks, adds or mis-shapes a canonical parameter."""
    expected = get_block(name).param_shapes(config)
    missing = sorted(set(expected) - set(params))
    extra = sorted(set(params) - set(expected))
    if missing or extra:
        raise ValueError(
            f"unit {name!r}: expected parameters {sorted(expected)}, received {sorted(params)}"
            + (f" (missing {missing})" if missing else "")
            + (f" (unexpected {extra})" if extra else "")
        )
    for key, shape in expected.items():
        received = tuple(np.shape(params[key]))
        if received != tuple(shape):
            raise ValueError(
                f"unit {name!r}: parameter {key!r} expected shape {tuple(shape)}, received {received}"
            )


def check_input(name: str, config: Mapping[str, Any], x: Any) -> None:
    """Raise a ValueError when ``x`` cannot be fed to the block (rank, width, channels, sign)."""
    get_block(name).check_input(name, config, np.asarray(x))


def check_dtype(dtype: str) -> str:
    """Validate a dtype name; the project speaks of dtypes by name in every framework."""
    if dtype not in DTYPES:
        raise ValueError(f"unknown dtype {dtype!r}; known dtypes: {', '.join(DTYPES)}")
    return dtype


#: Floating dtypes the implementations support (by name; frameworks map them).
DTYPES: tuple[str, ...] = ("float32", "float64")
