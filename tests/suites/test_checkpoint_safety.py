"""The published APTx checkpoint is a pickle-based torch file: it is hashed before anything
opens it, and opened with weights_only=True."""

from __future__ import annotations

import pytest

from suites.equivalence import checkpoint


def test_a_tampered_checkpoint_is_refused_before_it_is_opened(tmp_path, monkeypatch) -> None:
    original = checkpoint.checkpoint_path()
    tampered = tmp_path / original.name
    data = bytearray(original.read_bytes())
    data[len(data) // 2] ^= 0xFF
    tampered.write_bytes(bytes(data))
    opened = []
    import sys
    import types

    fake_torch = types.SimpleNamespace(load=lambda *a, **k: opened.append(k) or {})
    monkeypatch.setitem(sys.modules, "torch", fake_torch)
    with pytest.raises(ValueError, match="sha256"):
        checkpoint.load_canonical(tampered)
    assert opened == []


def test_the_checkpoint_is_opened_with_weights_only(monkeypatch) -> None:
    import sys
    import types

    seen = {}

    def fake_load(path, **kwargs):
        seen.update(kwargs)
        raise RuntimeError("stop after the call")

    monkeypatch.setitem(sys.modules, "torch", types.SimpleNamespace(load=fake_load))
    with pytest.raises(RuntimeError, match="stop after the call"):
        checkpoint.load_canonical(checkpoint.checkpoint_path())
    assert seen.get("weights_only") is True
