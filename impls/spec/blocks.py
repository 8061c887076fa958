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
from dataclasses import dataclass, field, replace
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
    #: The float64 oracle ``(params, x, config, upstream or None) -> y | (dx, {name: grad})``
    #: (impls/spec/oracle.py states the contract), or a lazy ``"module:function"`` reference.
    oracle: Callable[..., Any] | str | None = None
    #: Framework name -> the native class implementing the block there, or a lazy
    #: ``"module:Class"`` reference (imported only when a layer of that framework is built, so
    #: naming a torch class never imports torch). A framework absent here is absent for this
    #: unit: ``impls.build`` refuses it with UnitNotProvidedError, nothing stands in for it.
    classes: Mapping[str, type | str] = field(default_factory=dict)
    #: The option that takes the width of the layer an activation acts on (``"features"`` for
    #: PReLU and ActMix), so model builders fill it in; None for width-free units.
    width_option: str | None = None
    #: True for a squasher whose output ignores a common scale of its input (softermax): the
    #: Yat layer in front of it then gets no alpha, which would receive a zero gradient.
    scale_invariant: bool = False
    #: "unit" (benchmarked, listed in UNITS) or "building_block" (linear, conv2d, ...).
    role: str = "unit"
    #: Where the spec comes from: "neuronbench" for built-ins, else the plug-in's distribution
    #: and version (recorded in reports).
    origin: str = "neuronbench"
    #: Test cases of a plug-in unit: mappings with ``config`` and optionally ``input_shape`` and
    #: ``distribution`` (impls/spec/cases.py); built-in units list theirs in cases.CASES.
    cases: tuple[Mapping[str, Any], ...] = ()

    @property
    def frameworks(self) -> tuple[str, ...]:
        """The frameworks this unit provides a class for, in the project's framework order."""
        from impls.registry import FRAMEWORKS

        return tuple(f for f in FRAMEWORKS if f in self.classes)

    def oracle_fn(self) -> Callable[..., Any]:
        """The oracle function, importing it on first use when given as a reference."""
        if self.oracle is None:
            raise ValueError(f"unit {self.name!r} has no oracle")
        return resolve_reference(self.oracle, f"unit {self.name!r}: oracle")

    def check_provides(self, framework: str) -> None:
        """Raise UnitNotProvidedError when this unit has no class in ``framework`` (nothing is
        imported: a missing framework is the backend loader's error to report)."""
        from impls.registry import UnitNotProvidedError, check_framework

        check_framework(framework)
        if framework not in self.classes:
            provided = ", ".join(self.frameworks) or "none"
            raise UnitNotProvidedError(
                f"unit {self.name!r} ({self.origin}) provides no {framework} implementation; "
                f"it provides: {provided}"
            )

    def class_for(self, framework: str) -> type:
        """The native class of this unit in ``framework``; UnitNotProvidedError when absent."""
        self.check_provides(framework)
        return resolve_reference(self.classes[framework], f"unit {self.name!r}: {framework} class")


def resolve_reference(target: Any, what: str) -> Any:
    """An object, or the object a ``"package.module:attribute"`` string names (imported now).

    Lazy references let a spec name a torch class or an oracle in a module that imports this
    one without importing either when the registry is built.
    """
    if not isinstance(target, str):
        return target
    module_name, sep, attribute = target.partition(":")
    if not sep or not module_name or not attribute:
        raise ValueError(f"{what}: reference {target!r} is not of the form 'module:attribute'")
    import importlib

    module = importlib.import_module(module_name)
    try:
        return getattr(module, attribute)
    except AttributeError:
        raise ImportError(f"{what}: module {module_name!r} has no attribute {attribute!r}") from None


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
        width_option="features",
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
        width_option="features",
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
                    divisors: Callable[[Config], Mapping[str, float]] | None = None,
                    **fields: Any) -> BlockSpec:
    extra: dict[str, Any] = dict(fields)
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


#: Backends of the built-in blocks: each defines one class per block in ``impls.<fw>.units``.
BUILTIN_FRAMEWORKS: tuple[str, ...] = ("numpy", "torch", "jax", "tf")


def _builtin(block: BlockSpec, class_name: str, role: str = "unit") -> BlockSpec:
    """A built-in block with its oracle (``impls.spec.oracle._<name>``) and its class, named
    alike in every framework's ``units`` module: the same contract a plug-in fills in."""
    return replace(
        block,
        oracle=f"impls.spec.oracle:_{block.name}",
        classes={fw: f"impls.{fw}.units:{class_name}" for fw in BUILTIN_FRAMEWORKS},
        role=role,
    )


def _builtin_blocks() -> list[BlockSpec]:
    """Every built-in block; the benchmark units first, in the order of the design card."""
    units = [
        _builtin(_aptx_activation(), "APTxActivation"),
        _builtin(_aptx_layer(), "APTxLayer"),
        _builtin(_actmix(), "ActMix"),
        _builtin(_lselu(), "LearnableSELU"),
        _builtin(_parameter_free("relu", "activation", "ReLU max(0, x)"), "ReLU"),
        _builtin(_prelu(), "PReLU"),
        _builtin(_swish(), "Swish"),
        _builtin(_parameter_free("gelu", "activation",
                                 "GELU x Phi(x) (exact erf, or the tanh approximation)",
                                 {"approximate": False}, {"approximate": opt.BOOL}), "GELU"),
        _builtin(_parameter_free("tanh", "activation", "Hyperbolic tangent"), "Tanh"),
        _builtin(_parameter_free("sigmoid", "activation", "Logistic sigmoid"), "Sigmoid"),
        _builtin(_parameter_free("softmax", "activation",
                                 "Softmax of x / (T + epsilon); epsilon=1e-8 replicates mpneuralnetwork",
                                 {"temperature": 1.0, "axis": -1, "epsilon": 0.0},
                                 {"temperature": opt.NONNEG, "axis": opt.INT, "epsilon": opt.NONNEG},
                                 _softmax_validate, _check_axis,
                                 divisors=lambda c: {
                                     "options 'temperature' + 'epsilon'": c["temperature"] + c["epsilon"]}),
                 "Softmax"),
        _builtin(_yat_dense(), "YatDense"),
        _builtin(_yat_conv2d(), "YatConv2D"),
        _builtin(_parameter_free("softermax", "squasher", "x^n / (eps + sum_j x_j^n) along an axis",
                                 {"n": 1.0, "epsilon": 1e-12, "axis": -1},
                                 # epsilon guards eps + sum_j x_j^n; 0 is allowed (no guard).
                                 {**_SQUASHER_OPTIONS, "epsilon": opt.NONNEG, "axis": opt.INT},
                                 check_input=_check_nonnegative,
                                 divisors=lambda c: {"option 'epsilon'": c["epsilon"]},
                                 # x^n / sum x^n ignores a common scale of x (spec §5.6).
                                 scale_invariant=True), "Softermax"),
        _builtin(_parameter_free("softer_sigmoid", "squasher", "x^n / (1 + x^n)", {"n": 1.0},
                                 _SQUASHER_OPTIONS, check_input=_check_nonnegative), "SofterSigmoid"),
        _builtin(_parameter_free("soft_tanh", "squasher", "(x^n - 1) / (1 + x^n)", {"n": 1.0},
                                 _SQUASHER_OPTIONS, check_input=_check_nonnegative), "SoftTanh"),
    ]
    building = "building_block"
    return [
        *units,
        # Building blocks of models (not benchmark units themselves).
        _builtin(_linear(), "Linear", building),
        _builtin(_conv2d(), "Conv2D", building),
        _builtin(_parameter_free("max_pool2d", "structural", "Non-overlapping max pooling, NCHW",
                                 {"kernel_size": 2}, {"kernel_size": opt.POSITIVE_INT},
                                 check_input=_check_pool_input), "MaxPool2D", building),
        _builtin(_parameter_free("flatten", "structural",
                                 "Flatten every axis but the batch (C, H, W order)",
                                 check_input=_check_flatten_input), "Flatten", building),
    ]


def spec_problems(block: BlockSpec) -> list[str]:
    """What is wrong with a block spec (empty when it can be registered).

    Built-ins and plug-ins pass the same checks, so a plug-in that would fail later (an option
    without a kind, a kind no model builder knows, no oracle) is refused when it is loaded.
    """
    from impls.registry import FRAMEWORKS

    problems = []
    if not isinstance(block.name, str) or not block.name.isidentifier() or block.name != block.name.lower():
        problems.append(f"name {block.name!r} must be a lower-case Python identifier")
    if block.kind not in KINDS:
        problems.append(f"kind {block.kind!r} is not one of {', '.join(KINDS)}")
    if block.role not in ("unit", "building_block"):
        problems.append(f"role {block.role!r} must be 'unit' or 'building_block'")
    if set(block.options) != set(block.defaults):
        # Every option has a kind, so no value reaches a framework unchecked.
        problems.append(f"option kinds {sorted(block.options)} do not match its options "
                        f"{sorted(block.defaults)}")
    if block.oracle is None:
        problems.append("it has no oracle")
    unknown = sorted(set(block.classes) - set(FRAMEWORKS))
    if unknown:
        problems.append(f"classes name unknown framework(s) {unknown}; known: {', '.join(FRAMEWORKS)}")
    if not block.classes:
        problems.append("it provides no framework class")
    if block.width_option is not None and block.width_option not in block.defaults:
        problems.append(f"width_option {block.width_option!r} is not one of its options")
    return problems


def _checked(blocks: list[BlockSpec]) -> dict[str, BlockSpec]:
    table: dict[str, BlockSpec] = {}
    for b in blocks:
        problems = spec_problems(b)
        if problems:
            raise AssertionError(f"block {b.name!r}: " + "; ".join(problems))
        table[b.name] = b
    return table


# --------------------------------------------------------------------------------------------
# Plug-ins: third-party units through the ``neuronbench.units`` entry-point group

#: The entry-point group a package declares its units in (docs/extending.md).
ENTRY_POINT_GROUP = "neuronbench.units"

#: Set to "0" to ignore installed plug-ins (a run of the built-ins only, whatever is installed).
PLUGINS_ENV = "NEURONBENCH_PLUGINS"

#: Entry point -> why it was refused; each is also issued once as a PluginWarning.
PLUGIN_ERRORS: dict[str, str] = {}


class PluginWarning(UserWarning):
    """An installed ``neuronbench.units`` entry point that could not be registered."""


def _specs_of(loaded: Any) -> list[BlockSpec]:
    """An entry point may name a BlockSpec, a sequence of them, or a function returning either."""
    if callable(loaded) and not isinstance(loaded, BlockSpec):
        loaded = loaded()
    if isinstance(loaded, BlockSpec):
        return [loaded]
    if isinstance(loaded, (list, tuple)) and all(isinstance(b, BlockSpec) for b in loaded):
        return list(loaded)
    raise TypeError(f"expected a BlockSpec, a list of them or a function returning one, "
                    f"got {type(loaded).__name__}")


def _plugin_blocks(taken: Mapping[str, BlockSpec]) -> list[BlockSpec]:
    """Every valid plug-in unit; a broken entry point is reported, never half-registered."""
    import os
    import warnings
    from importlib import metadata

    if os.environ.get(PLUGINS_ENV, "1").strip() == "0":
        return []
    found: list[BlockSpec] = []
    names = set(taken)
    for entry in sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        label = f"{entry.name} = {entry.value}"
        try:
            dist = entry.dist
            origin = f"{dist.name} {dist.version}" if dist is not None else entry.value
            specs = [b if b.origin != "neuronbench" else replace(b, origin=origin)
                     for b in _specs_of(entry.load())]
            for b in specs:
                problems = spec_problems(b)
                if b.role != "unit":
                    problems.append("a plug-in registers units only (role='unit')")
                if b.name in names:
                    problems.append(f"the name {b.name!r} is already taken"
                                    + (" by a built-in block" if b.name in taken else ""))
                if problems:
                    raise ValueError(f"unit {b.name!r}: " + "; ".join(problems))
            found.extend(specs)
            names.update(b.name for b in specs)
        except Exception as error:  # a broken plug-in must not take the built-ins down with it
            PLUGIN_ERRORS[label] = f"{type(error).__name__}: {error}"
            warnings.warn(f"neuronbench plug-in {label!r} was not registered: "
                          f"{PLUGIN_ERRORS[label]}", PluginWarning, stacklevel=2)
    return found


def _build_registry() -> Mapping[str, BlockSpec]:
    table = _checked(_builtin_blocks())
    for b in _plugin_blocks(table):
        table[b.name] = b
    return MappingProxyType(table)


#: Every block, built-in and plug-in: the one registry everything else derives from.
BLOCKS: Mapping[str, BlockSpec] = _build_registry()

#: The benchmark units: the built-ins in the order of the project's design card, then the
#: installed plug-ins' units by name.
UNITS: tuple[str, ...] = tuple(name for name, b in BLOCKS.items() if b.role == "unit")

#: The built-in units only (what the committed golden files and paper tables cover).
BUILTIN_UNITS: tuple[str, ...] = tuple(n for n in UNITS if BLOCKS[n].origin == "neuronbench")

#: Units registered by installed plug-ins.
PLUGIN_UNITS: tuple[str, ...] = tuple(n for n in UNITS if n not in BUILTIN_UNITS)

#: Blocks that exist to build models around the units.
BUILDING_BLOCKS: tuple[str, ...] = tuple(n for n, b in BLOCKS.items() if b.role == "building_block")


def _class_name(block: BlockSpec, framework: str) -> str | None:
    ref = block.classes.get(framework)
    if isinstance(ref, str) and ref.startswith(f"impls.{framework}.units:"):
        return ref.partition(":")[2]
    return None


#: Built-in block name -> class name, identical in every framework (impls/<framework>/units.py).
CLASS_NAMES: Mapping[str, str] = MappingProxyType({
    name: _class_name(b, "numpy") for name, b in BLOCKS.items() if _class_name(b, "numpy")
})


class _ClassTable(Mapping[str, type]):
    """Block name -> native class of one framework: the backend's own classes, found in its
    namespace when the backend is imported, and plug-in classes imported when first asked for
    (a plug-in module importing the backend cannot then run into a half-imported backend)."""

    def __init__(self, own: Mapping[str, type], framework: str) -> None:
        self._own = dict(own)
        self._framework = framework

    def __getitem__(self, block: str) -> type:
        if block in self._own:
            return self._own[block]
        return get_block(block).class_for(self._framework)

    def __iter__(self):
        return iter(n for n, b in BLOCKS.items() if self._framework in b.classes)

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def __contains__(self, block: object) -> bool:
        return isinstance(block, str) and block in BLOCKS and self._framework in BLOCKS[block].classes


def class_table(namespace: Mapping[str, Any], framework: str) -> Mapping[str, type]:
    """Block name -> class for a backend, its own classes found by name in its namespace.

    Each backend calls ``class_table(globals(), "<framework>")`` once at the end of its units
    module, so a backend that lacks a class of a built-in block fails at import with the names
    of what is missing; plug-in classes join the table lazily.
    """
    own: dict[str, type] = {}
    missing = []
    for name, b in BLOCKS.items():
        class_name = _class_name(b, framework)
        if class_name is None:
            continue
        if class_name in namespace:
            own[name] = namespace[class_name]
        else:
            missing.append(f"{name} ({class_name})")
    if missing:
        raise ImportError(f"impls.{framework} has no class for block(s): {', '.join(missing)}")
    return _ClassTable(own, framework)


def get_block(name: str) -> BlockSpec:
    """Return the spec of a block, or raise a ValueError listing the known ones."""
    try:
        return BLOCKS[name]
    except (KeyError, TypeError):
        refused = "".join(f"; plug-in {label!r} was not registered ({why})"
                          for label, why in PLUGIN_ERRORS.items())
        raise ValueError(
            f"unknown unit {name!r}; known units: {', '.join(UNITS)} "
            f"(building blocks: {', '.join(BUILDING_BLOCKS)}){refused}"
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
