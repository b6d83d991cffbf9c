"""Minibatch shuffling and metric packing shared by the PPO, discriminator and BC trainers."""

from __future__ import annotations

from typing import Sequence

import numpy as np


def shuffled_minibatch_indices(rng: np.random.Generator, num_items: int, minibatch_size: int,
                               num_epochs: int) -> np.ndarray:
    """Indices [num_epochs * (num_items // minibatch_size), minibatch_size] int32: each epoch is
    a fresh permutation cut into whole minibatches (the remainder is dropped, so every
    compiled step sees the same shape and nothing retraces)."""
    minibatch_size = min(minibatch_size, num_items)
    used = (num_items // minibatch_size) * minibatch_size
    epochs = [rng.permutation(num_items)[:used] for _ in range(num_epochs)]
    return np.stack(epochs).reshape(-1, minibatch_size).astype(np.int32)


def named_metrics(names: Sequence[str], values: Sequence[float]) -> dict[str, float]:
    return {name: float(value) for name, value in zip(names, values)}
