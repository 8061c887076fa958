"""The NumPy class of tests/plugins/fake_units.py's unit, defined outside impls/."""

from __future__ import annotations

import numpy as np

from impls.numpy.units import Block


class ScaledIdentity(Block):
    def _forward(self, x):
        return self.param("scale") * x, x

    def _backward(self, x, g):
        return g * self.param("scale"), {"scale": np.asarray(np.sum(g * x), dtype=self.dtype)}
