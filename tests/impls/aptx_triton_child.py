"""The Triton APTx kernel in Triton's interpreter: the child process of test_aptx_triton.py.

Triton reads TRITON_INTERPRET when ``@triton.jit`` decorates a kernel, i.e. when
``impls.kernels._aptx_triton`` is first imported, and a pytest worker shares its process with
every other test module; so the kernels run here, in a fresh interpreter started with
TRITON_INTERPRET=1, and the test process only compares what this writes. The child runs the
kernels and the torch glue and records outputs and errors; every assertion is in the test.

    TRITON_INTERPRET=1 python -m tests.impls.aptx_triton_child OUT_DIR
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

#: (batch, out, in): not multiples of the tiles, one row, one output neuron, several tiles.
SHAPES: tuple[tuple[int, int, int], ...] = ((7, 13, 11), (1, 8, 5), (33, 17, 50), (4, 1, 3))
SCALES: tuple[float, ...] = (1.0, 30.0)
DTYPES: tuple[str, ...] = ("float32", "float64")
#: The shape the autograd, torch.compile and opcheck checks use (two tiles in every dim).
GLUE_SHAPE = (20, 19, 37)


def case(batch: int, n_out: int, n_in: int, scale: float, dtype: str, seed: int = 0
         ) -> tuple[np.ndarray, ...]:
    """x, A, B, G, g already rounded to ``dtype`` (the oracle then sees the same values)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(0.0, scale, size=(batch, n_in))
    A, B, G = (rng.normal(size=(n_out, n_in)) for _ in range(3))
    g = rng.normal(size=(batch, n_out))
    return tuple(a.astype(dtype) for a in (x, A, B, G, g))


def case_key(shape: tuple[int, int, int], scale: float, dtype: str) -> str:
    return f"{'x'.join(map(str, shape))}-s{scale:g}-{dtype}"


def tanh_grid(dtype: str) -> np.ndarray:
    """z where the tanh and sech^2 accuracy is measured: both branches, saturation, tiny z."""
    z = np.concatenate([np.linspace(-50.0, 50.0, 40_001), np.geomspace(1e-30, 50.0, 8_000)])
    return np.concatenate([z, -z]).astype(dtype)


def _error(call: Callable[[], object]) -> list[str]:
    """[exception type, message] of ``call``, or ["none", ""] when it did not raise."""
    try:
        call()
    except Exception as error:  # any error: recorded for the test to judge
        return [type(error).__name__, str(error)]
    return ["none", ""]


def _kernel_outputs(kernel, torch, arrays: dict[str, np.ndarray]) -> None:
    for shape in SHAPES:
        for scale in SCALES:
            for dtype in DTYPES:
                key = case_key(shape, scale, dtype)
                x, A, B, G, g = (torch.from_numpy(a) for a in case(*shape, scale, dtype))
                arrays[f"{key}/y"] = kernel.forward(x, A, B, G).numpy()
                for name, d in zip(("dx", "dA", "dB", "dG"), kernel.backward(x, A, B, G, g), strict=True):
                    arrays[f"{key}/{name}"] = d.numpy()


def _autograd_outputs(aptx, torch, arrays: dict[str, np.ndarray], meta: dict) -> None:
    """loss = sum(y g) through aptx_triton (the op + autograd formula CUDA runs), eager and
    compiled (aot_eager: dynamo and AOT autograd over the fake kernels, no C++ compiler)."""
    x, A, B, G, g = (torch.from_numpy(a) for a in case(*GLUE_SHAPE, 3.0, "float32", seed=1))
    runs = {"eager": aptx.aptx_triton,
            "compiled": torch.compile(aptx.aptx_triton, backend="aot_eager", fullgraph=True)}
    for mode, fn in runs.items():
        for x_grad in (True, False):
            leaves = [x.clone().requires_grad_(x_grad), *(p.clone().requires_grad_() for p in (A, B, G))]
            y = fn(*leaves)
            (y * g).sum().backward()
            tag = f"autograd/{mode}/{'with' if x_grad else 'without'}-dx"
            arrays[f"{tag}/y"] = y.detach().numpy()
            meta[f"{tag}/dx_is_none"] = leaves[0].grad is None
            for name, leaf in zip(("dx", "dA", "dB", "dG"), leaves, strict=True):
                if leaf.grad is not None:
                    arrays[f"{tag}/{name}"] = leaf.grad.numpy()
    # aptx_fused runs whatever _fused_backend picks; on CUDA that is "triton":
    chosen = aptx._fused_backend
    aptx._fused_backend = lambda device: "triton"
    try:
        arrays["routed/y"] = aptx.aptx_fused(x, A, B, G).numpy()
    finally:
        aptx._fused_backend = chosen
    arrays["routed/reference"] = aptx.aptx_triton(x, A, B, G).numpy()


def _opchecks(torch, meta: dict) -> None:
    """torch.library.opcheck: schema, fake kernels and autograd registration of both ops."""
    x, A, B, G, g = (torch.from_numpy(a) for a in case(3, 5, 6, 1.0, "float32", seed=2))
    ops = torch.ops.neuronbench
    checks = {"forward": (ops.aptx_triton.default, (x.requires_grad_(), A, B, G)),
              "backward": (ops.aptx_triton_backward.default, (x.detach(), A, B, G, g, True))}
    for name, (op, args) in checks.items():
        meta[f"opcheck/{name}"] = _error(lambda op=op, args=args: torch.library.opcheck(op, args))


def _empty_and_errors(kernel, aptx, torch, arrays: dict[str, np.ndarray], meta: dict) -> None:
    x, A, B, G, g = (torch.from_numpy(a) for a in case(0, 6, 5, 1.0, "float32"))
    arrays["empty/y"] = kernel.forward(x, A, B, G).numpy()
    for name, d in zip(("dx", "dA", "dB", "dG"), kernel.backward(x, A, B, G, g), strict=True):
        arrays[f"empty/{name}"] = d.numpy()
    x, A, B, G, g = (torch.from_numpy(a) for a in case(3, 4, 5, 1.0, "float64"))
    bad = {
        "int64 input": lambda: kernel.forward(x.long(), A, B, G),
        "float16 input": lambda: kernel.forward(x.half(), A.half(), B.half(), G.half()),
        "narrow input": lambda: kernel.forward(x[:, :4], A, B, G),
        "narrow beta": lambda: kernel.forward(x, A, B[:, :3], G),
        "float32 gamma": lambda: kernel.forward(x, A, B, G.float()),
        "vector alpha": lambda: kernel.forward(x, A[0], B, G),
        "narrow upstream": lambda: kernel.backward(x, A, B, G, g[:, :2]),
        "meta input": lambda: kernel.forward(x.to("meta"), A, B, G),
        "int64 input via the op": lambda: aptx.aptx_triton(x.long(), A, B, G),
        "float16 tanh": lambda: kernel.tanh_and_sech2(x.half()),
    }
    meta["errors"] = {name: _error(call) for name, call in bad.items()}


def main(out_dir: Path) -> None:
    import impls
    import impls.torch  # the import whose side effects are checked
    meta: dict = {"triton_imported_by_impls": "triton" in sys.modules, "impls": impls.__name__}
    import torch

    from impls.kernels import aptx_triton as kernel
    from impls.torch import aptx

    meta["interpreted"] = kernel.interpreted()
    arrays: dict[str, np.ndarray] = {}
    _kernel_outputs(kernel, torch, arrays)
    for dtype in DTYPES:
        t, s = kernel.tanh_and_sech2(torch.from_numpy(tanh_grid(dtype)))
        arrays[f"tanh/{dtype}"], arrays[f"sech2/{dtype}"] = t.numpy(), s.numpy()
    _autograd_outputs(aptx, torch, arrays, meta)
    _opchecks(torch, meta)
    _empty_and_errors(kernel, aptx, torch, arrays, meta)
    np.savez(out_dir / "arrays.npz", **arrays)
    (out_dir / "meta.json").write_text(json.dumps(meta, indent=1))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
