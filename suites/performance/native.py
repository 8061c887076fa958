"""Framework-native calls of one layer, for timing: no NumPy conversion inside the timed region.

``impls.forward``/``impls.vjp`` take and return NumPy arrays, which is right for parity and
wrong for timing (a 1024 x 784 copy costs as much as a Linear layer). ``native_calls`` turns
inputs into the framework's own tensors once, builds the eager or compiled callables once, and
returns two zero-argument functions, forward and forward + backward, each of which returns only
when the work is done (JAX's asynchronous dispatch is waited for; torch, TF and NumPy are
synchronous on the CPU). The same adapters time the original packages' torch modules.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

Call = Callable[[], Any]


def native_calls(framework: str, layer: Any, x: np.ndarray, upstream: np.ndarray,
                 mode: str, device: str = "cpu") -> tuple[Call, Call]:
    """(forward, forward_backward) closures over native tensors for ``layer`` in ``mode`` on
    ``device`` (cpu, gpu, tpu: see ``suites.performance.devices``)."""
    builders = {"numpy": _numpy, "torch": _torch, "jax": _jax, "tf": _tf}
    if framework not in builders:
        raise ValueError(f"unknown framework {framework!r}; known: {', '.join(builders)}")
    return builders[framework](layer, x, upstream, mode, device)


def torch_module_calls(module: Any, x: np.ndarray, upstream: np.ndarray, mode: str,
                       device: str = "cpu") -> tuple[Call, Call]:
    """The same for any torch module (the original packages' layers)."""
    return _torch(module, x, upstream, mode, device)


def numpy_layers_calls(layers: list[Any], x: np.ndarray, upstream: np.ndarray) -> tuple[Call, Call]:
    """The same for a stack of layers with ``forward(x, training)`` / ``backward(g)`` methods
    (mpneuralnetwork's NumPy layers, the reference rows of the Linear + ReLU case)."""
    def forward():
        out = x
        for layer in layers:
            out = layer.forward(out, training=False)
        return out

    def forward_backward():
        out = x
        for layer in layers:
            out = layer.forward(out, training=True)
        grad = upstream
        for layer in reversed(layers):
            grad = layer.backward(grad)
        return grad

    return forward, forward_backward


def _numpy(layer, x, upstream, mode, device="cpu"):
    if mode != "eager":
        raise ValueError("NumPy has one mode: eager")
    if device != "cpu":
        raise ValueError("NumPy runs on the CPU only")
    def forward():
        return layer.forward(x, training=False)

    def forward_backward():
        layer.forward(x, training=True)
        return layer.backward(upstream)

    return forward, forward_backward


def _torch(module, x, upstream, mode, device="cpu"):
    import torch

    from suites.performance.devices import synchronise, torch_device

    target = torch_device(device)
    module = module.to(target)
    sync = synchronise("torch", device)
    dtype = next((p.dtype for p in module.parameters()), torch.float32)
    xt = torch.from_numpy(np.ascontiguousarray(x)).to(dtype).to(target)
    gt = torch.from_numpy(np.ascontiguousarray(upstream)).to(dtype).to(target)
    if mode != "eager":
        from impls.llvm_order import check_dynamo_import_safe

        check_dynamo_import_safe()  # torch.compile imports triton: refuse where that would abort
    fn = module if mode == "eager" else torch.compile(module, fullgraph=True)

    def forward():
        with torch.no_grad():
            out = fn(xt)
        sync()
        return out

    def forward_backward():
        module.zero_grad(set_to_none=True)
        xg = xt.detach().requires_grad_(True)
        fn(xg).backward(gt)
        sync()
        return xg.grad

    return forward, forward_backward


def _jax(layer, x, upstream, mode, device="cpu"):
    import jax
    from flax import nnx

    target = jax.devices(device)[0]
    graphdef, params, rest = nnx.split(layer, nnx.Param, ...)
    if device != "cpu":     # the layer was built on JAX's default device; move it where asked
        params, rest = jax.device_put(params, target), jax.device_put(rest, target)
    dtype = jax.tree_util.tree_leaves(params)[0].dtype if jax.tree_util.tree_leaves(params) else np.float32
    xj = jax.device_put(jax.numpy.asarray(x, dtype=dtype), target)
    gj = jax.device_put(jax.numpy.asarray(upstream, dtype=dtype), target)

    def apply(xs, ps):
        return nnx.merge(graphdef, ps, rest)(xs)

    def pullback(xs, ps, g):
        # The output is returned too: a pullback alone lets XLA drop the forward pass as dead
        # code under jit (a custom_vjp's residuals need not include it), and training always
        # needs the forward value (the loss). Every other framework computes it as well.
        y, back = jax.vjp(apply, xs, ps)
        return y, back(g)

    fwd, bwd = (jax.jit(apply), jax.jit(pullback)) if mode == "compiled" else (apply, pullback)

    def forward():
        return jax.block_until_ready(fwd(xj, params))

    def forward_backward():
        return jax.block_until_ready(bwd(xj, params, gj))

    return forward, forward_backward


def _tf(layer, x, upstream, mode, device="cpu"):
    import tensorflow as tf

    dtype = layer.trainable_variables[0].dtype if layer.trainable_variables else tf.float32
    # The inputs live on the device; TF places each op where its inputs are (the layer's
    # variables were created on TF's default device, the GPU when it sees one).
    with tf.device({"cpu": "/CPU:0", "gpu": "/GPU:0", "tpu": "/TPU:0"}[device]):
        xt, gt = tf.constant(x, dtype=dtype), tf.constant(upstream, dtype=dtype)

    def forward_fn():
        return layer(xt)

    def forward_backward_fn():
        with tf.GradientTape() as tape:
            tape.watch(xt)
            y = layer(xt)
        return tape.gradient(y, [xt, *layer.trainable_variables], output_gradients=gt)

    if mode == "compiled":
        forward_fn = tf.function(forward_fn, jit_compile=True)
        forward_backward_fn = tf.function(forward_backward_fn, jit_compile=True)

    def forward():
        return forward_fn()

    def forward_backward():
        return tf.nest.flatten(forward_backward_fn())

    return forward, forward_backward
