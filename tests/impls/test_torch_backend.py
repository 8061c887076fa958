"""PyTorch implementations against the float64 oracle: forward, every gradient, trajectories.

Inputs and parameters are first rounded to the tested dtype, and the oracle is evaluated on
exactly those values, so the measured error is the implementation's, not the rounding of x.
"""

from __future__ import annotations

import numpy as np
import pytest

import impls
from impls import spec
from impls.spec.cases import CASES, SCALES, Case
from impls.spec.tolerances import relative_l2, tolerance
from tests.conftest import require_framework


@pytest.fixture(scope="module", autouse=True)
def _torch_selected() -> None:
    require_framework("torch")


def _rounded(a: np.ndarray, dtype: str) -> np.ndarray:
    return np.asarray(a, dtype=dtype).astype(np.float64)


def check_case(case: Case, dtype: str, scale: float, mode: str = "eager") -> None:
    layer = impls.build(case.unit, "torch", dtype=dtype, seed=3, **case.config)
    params = {k: _rounded(v, dtype) for k, v in case.params(seed=3, jitter=0.1).items()}
    impls.set_params(layer, params)
    x = _rounded(case.inputs(seed=11, scale=scale), dtype)
    backend = impls.load_backend("torch")
    y = backend.forward(layer, x, mode)
    y_ref = spec.reference(case.unit, params, x, **case.config)
    assert y.dtype == np.dtype(dtype)
    err = relative_l2(y, y_ref, dtype)
    assert err <= tolerance(dtype, "forward"), f"{case.id} forward error {err:.2e}"
    upstream = _rounded(np.random.default_rng(13).standard_normal(y_ref.shape), dtype)
    dx, grads = backend.vjp(layer, x, upstream, mode)
    dx_ref, grads_ref = spec.reference_grad(case.unit, params, x, upstream, **case.config)
    assert set(grads) == set(grads_ref), f"{case.id}: trainable parameters differ"
    for name, (got, want) in {"x": (dx, dx_ref), **{k: (grads[k], grads_ref[k]) for k in grads}}.items():
        err = relative_l2(got, want, dtype)
        assert err <= tolerance(dtype, "gradient"), f"{case.id} gradient of {name}: error {err:.2e}"


@pytest.mark.parametrize("scale", SCALES, ids=lambda s: f"scale{s:g}")
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_torch_matches_oracle(case: Case, dtype: str, scale: float) -> None:
    check_case(case, dtype, scale)


COMPILED_CASES = [c for c in CASES if c.unit in {"aptx_layer", "yat_dense", "actmix", "lselu"}][:4]


@pytest.mark.slow
@pytest.mark.parametrize("case", COMPILED_CASES, ids=lambda c: c.id)
def test_torch_compiled_matches_oracle(case: Case) -> None:
    check_case(case, "float32", 1.0, mode="compiled")


@pytest.mark.parametrize("unit", impls.UNITS)
def test_build_starts_from_canonical_init(unit: str) -> None:
    case = next(c for c in CASES if c.unit == unit)
    for dtype in ("float32", "float64"):
        layer = impls.build(unit, "torch", seed=4, dtype=dtype, **case.config)
        got = impls.get_params(layer)
        want = spec.init_params(unit, case.config, seed=4)
        assert set(got) == set(want) == set(spec.param_shapes(unit, case.config))
        for name in want:
            assert got[name].dtype == np.dtype(dtype)
            np.testing.assert_array_equal(got[name], want[name].astype(dtype))


def test_set_params_validates() -> None:
    layer = impls.build("aptx_layer", "torch", in_features=3, out_features=2)
    params = impls.get_params(layer)
    with pytest.raises(ValueError, match="missing"):
        impls.set_params(layer, {k: v for k, v in params.items() if k != "gamma"})
    with pytest.raises(ValueError, match=r"'alpha' expected shape \(2, 3\)"):
        impls.set_params(layer, {**params, "alpha": np.ones((3, 2))})
    with pytest.raises(ValueError, match="aptx_layer"):
        impls.forward(layer, np.ones((4, 4)))


def test_acceptance_build() -> None:
    layer = impls.build("aptx_layer", "torch", in_features=784, out_features=128)
    assert sum(p.numel() for p in layer.parameters()) == 128 * (3 * 784 + 1)


# ----------------------------------------------------------------------------------------
# Trajectories: 10 SGD / Adam steps of a small model vs the oracle


def _mlp_architectures():
    for unit in impls.UNITS:
        kind = spec.get_block(unit).kind
        if kind == "conv":
            yield unit, spec.CNNSpec(1, 8, (2,), (4,), 3, unit)
        else:
            yield unit, spec.MLPSpec(8, (6, 5), 3, unit)


@pytest.mark.parametrize("optimizer", [spec.training.SGD(lr=0.05), spec.training.Adam(lr=0.01)],
                         ids=["sgd", "adam"])
@pytest.mark.parametrize(("unit", "architecture"), list(_mlp_architectures()), ids=[u for u, _ in _mlp_architectures()])
def test_training_trajectory_matches_oracle(unit, architecture, optimizer) -> None:
    rng = np.random.default_rng(21)
    in_shape = (8, 1, 8, 8) if isinstance(architecture, spec.CNNSpec) else (8, 8)
    batches = [(rng.standard_normal(in_shape).astype(np.float32), rng.integers(0, 3, size=8)) for _ in range(10)]
    batches = [(x.astype(np.float64), y) for x, y in batches]
    for dtype in ("float32", "float64"):
        model = impls.build_model(architecture, "torch", seed=2, dtype=dtype)
        start = impls.get_model_params(model)
        start64 = [{k: v.astype(np.float64) for k, v in p.items()} for p in start]
        losses_ref, final_ref = spec.training.train_trajectory(architecture, start64, batches, "cross_entropy", optimizer)
        losses = impls.train_steps(impls.init_train_state(model, "cross_entropy", optimizer), batches)
        err = relative_l2(np.array(losses), np.array(losses_ref), dtype)
        assert err <= tolerance(dtype, "trajectory"), f"{unit} {dtype} losses: {err:.2e}"
        final = impls.get_model_params(model)
        for i, (p, p_ref) in enumerate(zip(final, final_ref, strict=True)):
            for name in p_ref:
                err = relative_l2(p[name], p_ref[name], dtype)
                assert err <= tolerance(dtype, "trajectory"), f"{unit} {dtype} layer {i} {name}: {err:.2e}"


@pytest.mark.parametrize("clip_norm", [None, 0.05], ids=["noclip", "clip"])
@pytest.mark.parametrize("rule", [spec.training.Adam(lr=0.1), spec.training.AdamW(lr=0.1, weight_decay=0.3)],
                         ids=["adam", "adamw"])
def test_adam_rule_equals_torch_adam(rule, clip_norm) -> None:
    """The spec's Adam (eps after the bias-corrected sqrt), AdamW (decay before the step) and
    clipping are torch.optim.Adam's / AdamW's and clip_grad_norm_'s, state kept across calls."""
    import torch

    arch = spec.MLPSpec(4, (3,), 2, "tanh")
    rng = np.random.default_rng(0)
    batches = [(rng.standard_normal((5, 4)), rng.integers(0, 2, 5)) for _ in range(5)]
    ours = impls.build_model(arch, "torch", dtype="float64")
    theirs = impls.build_model(arch, "torch", dtype="float64")
    state = impls.init_train_state(ours, "cross_entropy", rule, clip_norm=clip_norm)
    impls.train_steps(state, batches[:2])
    impls.train_steps(state, batches[2:])
    if isinstance(rule, spec.training.AdamW):
        opt = torch.optim.AdamW(theirs.parameters(), lr=0.1, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.3)
    else:
        opt = torch.optim.Adam(theirs.parameters(), lr=0.1, betas=(0.9, 0.999), eps=1e-8)
    for x, y in batches:
        opt.zero_grad()
        torch.nn.functional.cross_entropy(theirs(torch.as_tensor(x)), torch.as_tensor(y)).backward()
        if clip_norm is not None:
            torch.nn.utils.clip_grad_norm_(theirs.parameters(), clip_norm)
        opt.step()
    for a, b in zip(impls.get_model_params(ours), impls.get_model_params(theirs), strict=True):
        for name in a:
            np.testing.assert_allclose(a[name], b[name], rtol=1e-12, atol=1e-14)
