"""The one seeding policy: a trial seed spawns named, independent NumPy streams.

Every random choice of a trial (initial weights, the order of the training batches, the
validation split, data augmentation) draws from its own child of
``numpy.random.SeedSequence(trial_seed)``, addressed by a fixed spawn key per purpose. So:

* all four frameworks see identical initial weights and identical batches (the randomness
  lives in NumPy, never in a framework's generator);
* changing how many numbers one purpose draws (e.g. a longer run, more augmentation) never
  shifts another purpose's stream;
* the streams are reproducible from the trial seed alone, which every result row records.

``impls.spec.models.init_model_params`` accepts the ``init`` stream's SeedSequence directly, and
``suites.data.splits.permutation`` accepts the integer words of a stream's entropy.
"""

from __future__ import annotations

import numpy as np

#: purpose -> spawn key (never renumber: that would change every published result)
STREAMS: dict[str, int] = {"init": 0, "data_order": 1, "split": 2, "augmentation": 3}


def stream(trial_seed: int, purpose: str) -> np.random.SeedSequence:
    """The SeedSequence of ``purpose`` for ``trial_seed`` (see the module docstring)."""
    if purpose not in STREAMS:
        raise ValueError(f"unknown seed stream {purpose!r}; known streams: {', '.join(STREAMS)}")
    if isinstance(trial_seed, bool) or not isinstance(trial_seed, (int, np.integer)) or trial_seed < 0:
        raise ValueError(f"a trial seed is a non-negative integer, received {trial_seed!r}")
    return np.random.SeedSequence(int(trial_seed), spawn_key=(STREAMS[purpose],))


def generator(trial_seed: int, purpose: str) -> np.random.Generator:
    """A PCG64 Generator on the ``purpose`` stream of ``trial_seed``."""
    return np.random.default_rng(stream(trial_seed, purpose))


def words(trial_seed: int, purpose: str, n: int = 4) -> list[int]:
    """``n`` 32-bit words of the stream's state, usable as a seed for ``splits.permutation``."""
    return [int(w) for w in stream(trial_seed, purpose).generate_state(n)]
