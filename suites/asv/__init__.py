"""ASV benchmarks (``asv.conf.json`` points here): thin wrappers over neuronbench's own callables.

ASV imports this folder as the package ``asv`` with ``suites/`` on ``sys.path``; nothing here
imports the real ``asv`` (the runner is ``asv_runner``), and every neuronbench import is
absolute (``suites.performance...``), so the code benchmarked is whatever ``impls`` and
``suites`` the interpreter finds first: the checkout under test (``PYTHONPATH``, set per commit
by ``suites.performance.asv_runs``).
"""
