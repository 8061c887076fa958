"""neuronbench suites: data, equivalence, accuracy and performance harnesses built on ``impls``."""
