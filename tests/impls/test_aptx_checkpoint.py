"""The published APTx MNIST checkpoint gives exactly 9669/10000 in every selected framework."""

from __future__ import annotations

import pytest

from suites.equivalence import checkpoint
from tests.conftest import require_framework, selected_frameworks


@pytest.mark.slow
@pytest.mark.parametrize("framework", selected_frameworks())
def test_published_checkpoint_accuracy(framework: str) -> None:
    require_framework(framework)
    _, results = checkpoint.evaluate([framework], download=False, oracle_rows=500)
    (result,) = results
    assert result.correct == checkpoint.PUBLISHED_CORRECT, f"{framework}: {result.correct}/10000"
    assert result.logits_rel_l2 <= checkpoint.LOGIT_TOLERANCE, f"{framework}: logits {result.logits_rel_l2:.2e}"


def test_checkpoint_conversion_has_the_paper_layout() -> None:
    pytest.importorskip("torch")
    params = checkpoint.load_canonical(checkpoint.checkpoint_path())
    assert [p["beta"].shape for p in params[:3]] == [(128, 784), (64, 128), (32, 64)]
    assert sum(v.size for p in params for v in p.values()) == 332_330
