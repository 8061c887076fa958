"""Mish with a learnable slope, as a neuronbench plug-in (see README.md and spec.py).

    mish_beta(x) = x * tanh(softplus(beta * x)),   beta a trainable scalar (1 gives Mish)

Nothing here edits neuronbench: the spec is registered through the ``neuronbench.units``
entry point declared in pyproject.toml.
"""
