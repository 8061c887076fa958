"""The published APTx MNIST checkpoint, in the canonical layout, evaluated in every framework.

The paper's epoch-11 weights (mr-ravin/APTxNeuron, ``aptx_neural_network_11.pt``) use the old
per-neuron layout: ``aptx{1,2,3}.neurons.{j}.{alpha,beta,gamma}`` ([in] each),
``...neurons.{j}.delta`` ([1]) and ``fc_out.{weight,bias}``. Stacking neuron j's vectors as row j
gives the canonical [out, in] matrices of ``APTX_PAPER_MLP``. Evaluated on the MNIST test set
(APTx normalisation) every framework must classify exactly 9669/10000 images correctly and agree
with the float64 oracle's logits to 1e-4 relative (spec §1.5).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from impls import spec

CHECKPOINT_NAME = "aptx_neural_network_11.pt"
CHECKPOINT_SHA256 = "21fa225fe5b6446147131cd3bda3ff926d6854c7f18ac0d5f43da81ea05c304e"
PUBLISHED_CORRECT = 9669
LOGIT_TOLERANCE = 1e-4


def default_reference_dir() -> Path:
    """--reference-dir, $NEURONBENCH_REFERENCE or ../shared/reference: suites.settings decides."""
    from suites import settings

    return settings.reference_root()


def checkpoint_path(reference_dir: Path | None = None) -> Path:
    from suites import settings

    path = settings.reference_root(reference_dir) / "aptx-mnist" / CHECKPOINT_NAME
    if not path.is_file():
        raise FileNotFoundError(
            f"APTx checkpoint not found at {path}; set NEURONBENCH_REFERENCE to the folder holding "
            f"aptx-mnist/{CHECKPOINT_NAME} (from github.com/mr-ravin/APTxNeuron, weights/)"
        )
    return path


def load_canonical(path: Path) -> list[dict[str, np.ndarray]]:
    """Verify the file's sha256, load it with weights_only=True and convert to the canonical layout."""
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != CHECKPOINT_SHA256:
        raise ValueError(f"checkpoint {path}: sha256 {digest} differs from the published {CHECKPOINT_SHA256}")
    import torch

    state = {k: v.double().numpy() for k, v in torch.load(path, map_location="cpu", weights_only=True).items()}
    layers = spec.APTX_PAPER_MLP.layers()
    params: list[dict[str, np.ndarray]] = []
    for index, layer in enumerate(layers[:-1], start=1):
        neurons = layer.config["out_features"]
        rows = {name: np.stack([state[f"aptx{index}.neurons.{j}.{name}"] for j in range(neurons)])
                for name in ("alpha", "beta", "gamma")}
        rows["delta"] = np.concatenate([state[f"aptx{index}.neurons.{j}.delta"] for j in range(neurons)])
        params.append(rows)
    params.append({"weight": state["fc_out.weight"], "bias": state["fc_out.bias"]})
    for layer, p in zip(layers, params, strict=True):
        spec.check_params(layer.block, layer.config, p)
    return params


@dataclass(frozen=True)
class CheckpointResult:
    framework: str
    dtype: str
    correct: int
    total: int
    logits_rel_l2: float

    @property
    def passed(self) -> bool:
        return self.correct == PUBLISHED_CORRECT and self.logits_rel_l2 <= LOGIT_TOLERANCE


def evaluate(frameworks, data_dir=None, download=None, reference_dir=None, dtype: str = "float32",
             batch_size: int = 1000, oracle_rows: int | None = None) -> tuple[int | None, list[CheckpointResult]]:
    """Oracle correct count and one result per framework on the MNIST test set.

    Every framework classifies all 10,000 images. The float64 oracle (about 10x slower than a
    framework) evaluates the first ``oracle_rows`` images (default: all) for the logit check;
    with a subset the oracle's own count is not computed (None).
    """
    import impls
    from impls.spec.tolerances import relative_l2
    from suites.data import load_mnist

    params = load_canonical(checkpoint_path(reference_dir))
    mnist = load_mnist(data_dir, download=download, layout="flat")
    x, labels = mnist.x_test, mnist.y_test
    architecture = spec.APTX_PAPER_MLP
    n_oracle = len(x) if oracle_rows is None else min(oracle_rows, len(x))
    oracle = np.concatenate([spec.models.model_forward(architecture, params, x[s:min(s + batch_size, n_oracle)].astype(np.float64))
                             for s in range(0, n_oracle, batch_size)])
    oracle_correct = int(np.sum(np.argmax(oracle, axis=1) == labels)) if n_oracle == len(x) else None
    results = []
    for framework in frameworks:
        model = impls.build_model(architecture, framework, dtype=dtype)
        impls.set_model_params(model, params)
        logits = np.concatenate([impls.model_forward(model, x[s:s + batch_size])
                                 for s in range(0, len(x), batch_size)])
        correct = int(np.sum(np.argmax(logits, axis=1) == labels))
        results.append(CheckpointResult(framework, dtype, correct, len(labels),
                                        relative_l2(logits[:n_oracle], oracle, dtype)))
    return oracle_correct, results
