"""Every ```python block of the README and docs/ runs as written (a reader copies them).

Blocks that only show signatures are marked ```text in the docs, so a block marked python is
a promise that it runs. Each block runs in a fresh interpreter, as in a reader's new session
(and apart from the frameworks this test process has already imported).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import require_framework

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"^```python\n(.*?)^```$", re.S | re.M)
SNIPPETS = [(doc, i, code) for doc in DOCUMENTS for i, code in enumerate(BLOCK.findall(doc.read_text()))]


def test_the_readme_has_a_python_snippet() -> None:
    assert any(doc.name == "README.md" for doc, _, _ in SNIPPETS)


@pytest.mark.parametrize(("doc", "index", "code"), SNIPPETS,
                         ids=[f"{d.relative_to(ROOT)}#{i}" for d, i, _ in SNIPPETS])
def test_snippet_runs(doc: Path, index: int, code: str) -> None:
    for framework in ("torch", "jax", "tf"):
        if re.search(rf'"{framework}"', code):
            require_framework(framework)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=600, check=False)
    assert done.returncode == 0, f"{doc.name} python block {index} failed:\n{done.stderr[-3000:]}"
