"""Accuracy suite: training protocols as typed, versioned configs, run through the trial runner.

``protocols.py`` defines each protocol (MNIST APTx, MNIST units, MNIST NMN) with its ``quick``
and ``paper`` profiles; ``grid.py`` turns a protocol, profile, units, frameworks and seeds into
runner trials; ``train.py`` is the trial function (one seed of one unit in one framework: real
data, real epochs, tidy rows out); ``cli.py`` is ``neuronbench accuracy``. See docs/accuracy.md.
"""
