"""NumPy class: forward caches what the hand-written backward needs (impls.numpy contract)."""

from __future__ import annotations

import numpy as np

from impls.numpy.units import Block


class MishBeta(Block):
    def _forward(self, x):
        beta = self.param("beta")
        z = beta * x
        s = np.logaddexp(0.0, z).astype(x.dtype, copy=False)
        t = np.tanh(s)
        return x * t, (x, z, s, t, beta)

    def _backward(self, cache, g):
        x, z, s, t, beta = cache
        e = np.exp(-2.0 * s)                      # s >= 0: sech^2(s) = 4e / (1 + e)^2
        sig = np.exp(-np.logaddexp(0.0, -z)).astype(x.dtype, copy=False)
        common = 4.0 * e / ((1.0 + e) * (1.0 + e)) * sig
        dx = g * (t + x * common * beta)
        return dx, {"beta": np.asarray(np.sum(g * x * x * common), dtype=self.dtype)}
