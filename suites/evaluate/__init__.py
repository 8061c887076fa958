"""``neuronbench evaluate UNIT``: the whole battery on one unit, built-in or plug-in.

The battery (docs/extending.md): the oracle's gradients against finite differences
(``gradcheck``), parity of every framework the unit provides against the oracle (the
equivalence harness: forward, gradients, 10-step trajectories, eager and compiled), the MNIST
accuracy protocol against the ReLU and GELU baselines (``suites.accuracy``), the layer benchmark
against Linear + ReLU (``suites.performance.layer``), and a one-page report (``report``) with
the rows and run manifests behind it.
Every check is a runner trial in one results store, so an interrupted evaluation resumes.
"""
