"""Oracle for whole models: a model is a tuple of LayerSpec, run block by block in float64."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from impls.spec import blocks, oracle
from impls.spec.architectures import CNNSpec, LayerSpec, MLPSpec

ModelParams = list[dict[str, np.ndarray]]
Architecture = MLPSpec | CNNSpec | Sequence[LayerSpec]


def as_layers(architecture: Architecture) -> tuple[LayerSpec, ...]:
    """Accept an MLPSpec, a CNNSpec or an explicit sequence of LayerSpec."""
    if isinstance(architecture, (MLPSpec, CNNSpec)):
        return architecture.layers()
    layers = tuple(architecture)
    if not all(isinstance(spec, LayerSpec) for spec in layers):
        raise ValueError("an architecture is an MLPSpec, a CNNSpec or a sequence of LayerSpec")
    return layers


def init_model_params(architecture: Architecture, seed: int | np.random.SeedSequence = 0) -> ModelParams:
    """Canonical initial parameters of every layer; layer i draws from child seed i of ``seed``.

    ``seed`` is an integer or a SeedSequence (trainers pass the ``init`` stream of
    ``impls.spec.seeds``, so a trial seed means the same weights in every framework).

    Child seeds (numpy SeedSequence.spawn) keep layers independent: adding a layer at the end
    never changes the initialisation of the ones before it.
    """
    layers = as_layers(architecture)
    # A fresh copy: spawn() advances a SeedSequence, and the same stream must give the same net.
    root = (np.random.SeedSequence(seed.entropy, spawn_key=seed.spawn_key)
            if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed))
    children = root.spawn(len(layers))
    return [
        {k: np.asarray(v, np.float64)
         for k, v in blocks.get_block(spec.block).initialise(spec.config, np.random.default_rng(child)).items()}
        for spec, child in zip(layers, children, strict=True)
    ]


def model_forward(architecture: Architecture, params: ModelParams, x: np.ndarray) -> np.ndarray:
    """Float64 forward pass of the whole model."""
    h = np.asarray(x, np.float64)
    for spec, p in zip(as_layers(architecture), params, strict=True):
        h = oracle.reference(spec.block, p, h, **spec.config)
    return h


def model_vjp(architecture: Architecture, params: ModelParams, x: np.ndarray,
              upstream: np.ndarray) -> tuple[np.ndarray, ModelParams]:
    """Gradients of sum(upstream * model(x)) w.r.t. the input and every trainable parameter."""
    layers = as_layers(architecture)
    activations = [np.asarray(x, np.float64)]
    for spec, p in zip(layers[:-1], params[:-1], strict=True):
        activations.append(oracle.reference(spec.block, p, activations[-1], **spec.config))
    g = np.asarray(upstream, np.float64)
    grads: ModelParams = [{} for _ in layers]
    for i in range(len(layers) - 1, -1, -1):
        spec = layers[i]
        g, grads[i] = oracle.reference_grad(spec.block, params[i], activations[i], g, **spec.config)
    return g, grads
