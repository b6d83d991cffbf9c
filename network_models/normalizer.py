"""Observation normalisation: running mean and variance, applied in TensorFlow and in numpy.

One ``ObservationNormalizer`` is part of the policy (saved in its checkpoint) and, in GAIL, the
discriminator reads the very same object, so both networks always see identical inputs.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

CLIP = 10.0  # normalised features beyond +-10 std carry no extra information and destabilise tanh nets
STD_EPSILON = 1e-6  # a constant feature (std 0) must not divide by zero


def merge_moments(mean: np.ndarray, variance: np.ndarray, count: float, batch: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray, float]:
    """Mean and (population) variance [obs_dim] of everything seen so far plus ``batch`` [B, obs_dim].

    Chan et al.'s parallel update, so the result equals the moments of all the data at once;
    with ``count == 0`` it is exactly the batch's own ``mean`` and ``var``.
    """
    batch_count = batch.shape[0]
    batch_mean, batch_variance = batch.mean(axis=0), batch.var(axis=0)
    if count == 0:
        return batch_mean, batch_variance, float(batch_count)
    total = count + batch_count
    delta = batch_mean - mean
    new_mean = mean + delta * (batch_count / total)
    sum_of_squares = variance * count + batch_variance * batch_count + np.square(delta) * count * batch_count / total
    return new_mean, sum_of_squares / total, float(total)


def normalize_numpy(observations: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """clip((obs - mean) / std, -10, 10), float32 [B, obs_dim]; the numpy twin of the TF call."""
    return np.clip((observations - mean) / std, -CLIP, CLIP).astype(np.float32)


class ObservationNormalizer(tf.Module):
    """(obs - mean) / (sqrt(var) + 1e-6), clipped to +-10, with mean and var updated from data.

    Until its first ``update`` it is mean 0, variance 1: almost the identity but for the clip.
    """

    def __init__(self, observation_dim: int, name: str = "observation_normalizer") -> None:
        super().__init__(name=name)
        self.mean = tf.Variable(tf.zeros(observation_dim), trainable=False, name="mean")
        self.variance = tf.Variable(tf.ones(observation_dim), trainable=False, name="variance")
        self.count = tf.Variable(0.0, dtype=tf.float64, trainable=False, name="count")

    def __call__(self, observations: tf.Tensor) -> tf.Tensor:
        """observations [B, obs_dim] float32 -> normalised [B, obs_dim] float32."""
        std = tf.sqrt(self.variance) + STD_EPSILON
        return tf.clip_by_value((observations - self.mean) / std, -CLIP, CLIP)

    def update(self, observations: np.ndarray) -> None:
        """Fold a batch of observations [B, obs_dim] into the running statistics."""
        mean, variance, count = merge_moments(self.mean.numpy(), self.variance.numpy(), float(self.count.numpy()),
                                              np.asarray(observations, np.float32))
        self.mean.assign(mean.astype(np.float32))
        self.variance.assign(variance.astype(np.float32))
        self.count.assign(count)

    def numpy_stats(self) -> tuple[np.ndarray, np.ndarray]:
        """(mean, std) [obs_dim] float32 for ``normalize_numpy``, frozen at this moment."""
        variance = self.variance.numpy()
        return self.mean.numpy(), (np.sqrt(variance) + np.float32(STD_EPSILON)).astype(np.float32)
