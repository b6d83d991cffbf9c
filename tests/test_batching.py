"""Minibatch indices shared by the PPO, discriminator and BC trainers: whole minibatches of a fresh
permutation per epoch. (Written for the mutation run: the trainers' tests use a single minibatch.)"""

from __future__ import annotations

import numpy as np

from algo.batching import named_metrics, shuffled_minibatch_indices


def test_each_epoch_is_a_permutation_cut_into_whole_minibatches() -> None:
    indices = shuffled_minibatch_indices(np.random.default_rng(0), num_items=10, minibatch_size=4, num_epochs=3)
    assert indices.shape == (6, 4) and indices.dtype == np.int32  # 2 minibatches per epoch, 2 items dropped
    for epoch in indices.reshape(3, 8):
        assert len(set(epoch.tolist())) == 8 and set(epoch.tolist()) <= set(range(10))
    assert not np.array_equal(indices[:2], indices[2:4])  # a fresh permutation each epoch


def test_a_minibatch_larger_than_the_data_is_the_whole_data() -> None:
    indices = shuffled_minibatch_indices(np.random.default_rng(0), num_items=5, minibatch_size=64, num_epochs=2)
    assert indices.shape == (2, 5)
    assert all(sorted(row.tolist()) == list(range(5)) for row in indices)


def test_named_metrics() -> None:
    assert named_metrics(("a", "b"), np.array([1.5, 2.0], np.float32)) == {"a": 1.5, "b": 2.0}
