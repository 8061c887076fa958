"""Memory-lean APTx layer maths for TensorFlow.

The package's layer broadcasts x to [batch, out, in] and lets autodiff keep several such
tensors for the backward pass (spec §1.4). Here :func:`aptx_recompute` is a
``tf.custom_gradient`` whose backward closure holds only x and the three [out, in] parameter
matrices: the forward pass evaluates tanh(B x) chunk by chunk over the batch inside a loop and
keeps none of it, and the backward pass recomputes it chunk by chunk. Both loops are
``tf.while_loop``/``tf.map_fn`` with ``parallel_iterations=1`` (one chunk alive at a time) and
compile under ``tf.function(jit_compile=True)``.

Gradients (spec §1.1), with t = tanh(B[o,i] x[b,i]) and s = 1 - t^2 = sech^2(B x):
    dA[o,i] = G[o,i] sum_b g[b,o] x[b,i]                 (a matmul)
    dG[o,i] = A[o,i] sum_b g x + sum_b g t x
    dB[o,i] = G[o,i] sum_b g x^2 s
    dx[b,i] = sum_o g A G + sum_o g G (t + B x s)       (the first term a matmul)

Precision: s is *not* computed as 1 - t^2. Where |B x| is a few units, t rounds to within an
ulp of 1 and 1 - t^2 keeps few correct digits; dB multiplies s by x^2, which for inputs of
magnitude 100 turns that into relative errors of 1e-3 in float32 (measured on the scalar beta
gradient of the APTx activation). :func:`impls.tf.functional.tanh_and_sech2` evaluates both
from u = exp(-2|z|) with one exp per element, as tanh does.
"""

from __future__ import annotations

import tensorflow as tf

from impls.kernels import aptx_cpu
from impls.tf.functional import detached, tanh, tanh_and_sech2

#: Elements of one [chunk, out, in] temporary (4 MiB in float32).
CHUNK_ELEMENTS = 1 << 20


def chunk_rows(out_features: int, in_features: int) -> int:
    """Batch rows per chunk so that a [rows, out, in] temporary holds at most CHUNK_ELEMENTS."""
    return max(1, CHUNK_ELEMENTS // max(1, out_features * in_features))


def _split(a: tf.Tensor, rows: int) -> tuple[tf.Tensor, tf.Tensor]:
    """Zero-pad a [batch, k] tensor to whole chunks and view it as [n_chunks, rows, k]."""
    batch = tf.shape(a)[0]
    n = (batch + rows - 1) // rows
    padded = tf.pad(a, [[0, n * rows - batch], [0, 0]])
    return tf.reshape(padded, [n, rows, tf.shape(a)[1]]), n


def _fits_one_chunk(x: tf.Tensor, rows: int) -> bool:
    return x.shape[0] is not None and x.shape[0] <= rows


def _tanh_term(xs: tf.Tensor, B: tf.Tensor, G: tf.Tensor) -> tf.Tensor:
    """sum_i G[o,i] x[b,i] tanh(B[o,i] x[b,i]) for one chunk: [rows, in] -> [rows, out]."""
    x3 = xs[:, None, :]
    return tf.reduce_sum(tf.tanh(B * x3) * x3 * G, axis=2)


def _chunk_grads(xs: tf.Tensor, gs: tf.Tensor, B: tf.Tensor, G: tf.Tensor):
    """One chunk's share of sum_b g t x, sum_b g x^2 s (both [out, in]) and its dx tanh part."""
    x3 = xs[:, None, :]
    t, s = tanh_and_sech2(B * x3)
    d_g = tf.einsum("bo,boi->oi", gs, t * x3)
    d_b = tf.einsum("bo,boi->oi", gs, s * (x3 * x3))
    dx = tf.einsum("bo,boi->bi", gs, G * (t + B * x3 * s))
    return d_g, d_b, dx


@tf.custom_gradient
def aptx_recompute(x: tf.Tensor, A: tf.Tensor, B: tf.Tensor, G: tf.Tensor):
    """y[b,o] = sum_i (A + tanh(B x)) G x, keeping no [batch, out, in] tensor for the backward."""
    x, A, B, G = detached(x, A, B, G)
    rows = chunk_rows(*A.shape)
    linear = tf.matmul(x, A * G, transpose_b=True)
    if _fits_one_chunk(x, rows):
        y = linear + _tanh_term(x, B, G)
    else:
        xr, _ = _split(x, rows)
        parts = tf.map_fn(lambda xs: _tanh_term(xs, B, G), xr, parallel_iterations=1,
                          fn_output_signature=x.dtype)
        y = linear + tf.reshape(parts, [-1, A.shape[0]])[: tf.shape(x)[0]]

    def grad(g: tf.Tensor):
        gx = tf.matmul(g, x, transpose_a=True)                      # [O, I] = sum_b g x
        if _fits_one_chunk(x, rows):
            d_g, d_b, dx_t = _chunk_grads(x, g, B, G)
        else:
            xr, n = _split(x, rows)
            gr, _ = _split(g, rows)

            def body(k, d_g, d_b, dx_parts):
                cg, cb, cdx = _chunk_grads(xr[k], gr[k], B, G)
                return k + 1, d_g + cg, d_b + cb, dx_parts.write(k, cdx)

            zeros = tf.zeros_like(A)
            parts = tf.TensorArray(x.dtype, size=n, element_shape=[rows, A.shape[1]])
            _, d_g, d_b, parts = tf.while_loop(
                lambda k, *_: k < n, body, (tf.constant(0), zeros, zeros, parts),
                parallel_iterations=1,
            )
            dx_t = tf.reshape(parts.stack(), [-1, A.shape[1]])[: tf.shape(x)[0]]
        dx = tf.matmul(g, A * G) + dx_t
        return dx, G * gx, G * d_b, A * gx + d_g

    return y, grad


def aptx_naive(x: tf.Tensor, A: tf.Tensor, B: tf.Tensor, G: tf.Tensor) -> tf.Tensor:
    """The package's broadcast formulation (autodiff keeps [batch, out, in]); for comparisons."""
    x3 = x[:, None, :]
    return tf.reduce_sum((A + tanh(B * x3)) * G * x3, axis=2)


# --- the fused CPU kernel (impls/kernels/aptx_cpu.py) as a host op ----------------------------
# tf.numpy_function runs the compiled NumPy kernel eagerly and inside tf.function graphs, but
# XLA cannot compile a host op: under jit_compile (this project's "compiled" mode) the layer
# keeps the XLA-fused recompute formulation, which is what XLA is good at. ``kernel_name``
# says which one ran.

def _host_forward(x, A, B, G):
    return aptx_cpu.forward(x, A, B, G)


def _host_backward(x, A, B, G, g):
    return aptx_cpu.backward(x, A, B, G, g)


@tf.custom_gradient
def _aptx_fused(x: tf.Tensor, A: tf.Tensor, B: tf.Tensor, G: tf.Tensor):
    x, A, B, G = detached(x, A, B, G)
    y = tf.numpy_function(_host_forward, [x, A, B, G], x.dtype, stateful=False)
    y.set_shape([x.shape[0], A.shape[0]])

    def grad(g: tf.Tensor):
        grads = tf.numpy_function(_host_backward, [x, A, B, G, tf.cast(g, x.dtype)],
                                  [x.dtype] * 4, stateful=False)
        for d, like in zip(grads, (x, A, B, G), strict=True):
            d.set_shape(like.shape)
        return tuple(grads)

    return y, grad


def aptx_fused(x: tf.Tensor, A: tf.Tensor, B: tf.Tensor, G: tf.Tensor) -> tf.Tensor:
    """The fused kernel when executing eagerly; :func:`aptx_recompute` inside a traced function.

    The project traces TF functions only for XLA (``impls/tf/device.py::in_mode``), which cannot
    run a host op, so "traced" means "compiled" here.
    """
    if tf.executing_eagerly():
        return _aptx_fused(x, A, B, G)
    return aptx_recompute(x, A, B, G)


def kernel_name(impl: str, mode: str) -> str:
    """What ``impl`` runs in ``mode`` (the ``kernel`` column of result rows)."""
    if impl == "fused":
        return "recompute" if mode == "compiled" else aptx_cpu.KERNEL_NAME
    return impl
