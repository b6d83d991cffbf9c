"""Action heads: turn the policy network's output into a distribution over actions.

A head owns everything that depends on the action space, so PPO, GAIL, BC and the rollouts
never branch on it: ``CategoricalHead`` for Discrete spaces, ``GaussianHead`` for bounded Box
spaces (chosen by network_models.factory.make_head).
TensorFlow methods are used in training; ``frozen()`` gives the numpy half used when acting.
"""

from __future__ import annotations

import math

import numpy as np
import tensorflow as tf


class CategoricalHead(tf.Module):
    """Discrete actions. Parameters are unnormalised logits [B, num_actions] float32."""

    BOUNDED = False  # no action bounds a mean could overshoot

    def __init__(self, num_actions: int) -> None:
        super().__init__(name="categorical_head")
        self.num_actions = num_actions
        self.param_size = num_actions       # policy net outputs
        self.encoding_size = num_actions    # discriminator inputs per action

    # --- TensorFlow, differentiable -------------------------------------------------------
    def log_prob(self, logits: tf.Tensor, actions: tf.Tensor) -> tf.Tensor:
        """log pi(a|s) [B] for integer actions [B]."""
        log_probs = tf.nn.log_softmax(logits)
        return tf.gather(log_probs, tf.cast(actions, tf.int32), batch_dims=1)

    def entropy(self, logits: tf.Tensor) -> tf.Tensor:
        """Entropy of each row's distribution [B]."""
        log_probs = tf.nn.log_softmax(logits)
        return -tf.reduce_sum(tf.exp(log_probs) * log_probs, axis=-1)

    def out_of_bounds(self, logits: tf.Tensor) -> tf.Tensor:
        """Discrete actions have no bounds to overshoot: zeros [B]."""
        return tf.zeros(tf.shape(logits)[:1])

    def encode_actions(self, actions: tf.Tensor) -> tf.Tensor:
        """Actions as discriminator input: one-hot [B, num_actions] float32."""
        return tf.one_hot(tf.cast(actions, tf.int32), self.num_actions, dtype=tf.float32)

    def action_error(self, logits: tf.Tensor, actions: tf.Tensor) -> tf.Tensor:
        """How far the most likely action is from ``actions``: the error rate (BC's metric)."""
        mode = tf.argmax(logits, axis=-1, output_type=tf.int64)
        return tf.reduce_mean(tf.cast(mode != tf.cast(actions, tf.int64), tf.float32))

    # --- numpy, for acting ----------------------------------------------------------------
    def frozen(self) -> "CategoricalHead":
        return self  # nothing to copy: the numpy methods below use no variables

    def sample(self, logits: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """One action per row, drawn with the Gumbel-max trick (exact categorical sampling)."""
        gumbel_noise = -np.log(-np.log(rng.random(logits.shape)))
        return np.argmax(logits + gumbel_noise, axis=-1).astype(np.int64)

    def mode(self, logits: np.ndarray) -> np.ndarray:
        """The most likely action of each row (deterministic evaluation)."""
        return np.argmax(logits, axis=-1).astype(np.int64)

    def numpy_log_prob(self, logits: np.ndarray, actions: np.ndarray) -> np.ndarray:
        """log pi(a|s) [B] float32 for integer actions [B]: ``log_prob`` in numpy."""
        shifted = logits - logits.max(axis=-1, keepdims=True)  # keeps exp from overflowing
        log_probs = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
        return np.take_along_axis(log_probs, actions.astype(np.int64)[:, None], axis=-1)[:, 0].astype(np.float32)

    def to_env(self, actions: np.ndarray) -> np.ndarray:
        return actions


def mean_overshoot(means: tf.Tensor, low: np.ndarray, high: np.ndarray) -> tf.Tensor:
    """sum_d ((max(mean_d - high_d, 0) + max(low_d - mean_d, 0)) / half_range_d)^2 per row [B],
    for means [B, action_dim]; 0 while every mean is inside the box.

    Why it matters: a Gaussian mean far past a bound (e.g. -4 with bounds +-2 and std 0.3) has
    every sample clipped to that bound, so the env, the discriminator and the advantages cannot
    tell samples apart and PPO's gradient no longer moves the mean back (measured on Pendulum:
    experiments/NOTES-imitation.md). ``PPOConfig.action_bound_coef`` weighs this as a loss.
    """
    half_range = (high - low) / 2.0
    beyond = tf.nn.relu(means - high) + tf.nn.relu(low - means)
    return tf.reduce_sum(tf.square(beyond / half_range), axis=-1)


class GaussianHead(tf.Module):
    """Continuous actions in a bounded box: a diagonal Gaussian with the policy net's output
    [B, action_dim] as means and a state-independent, learned log standard deviation.

    The env is stepped with the sample clipped to the bounds (``to_env``); PPO's log-probabilities
    use the unclipped sample that was actually drawn. The discriminator sees clipped actions,
    the ones the env executed, which is also what demonstrations record.
    """

    LOG_2PI = math.log(2.0 * math.pi)
    BOUNDED = True

    def __init__(self, low: np.ndarray, high: np.ndarray, initial_log_std: float = 0.0) -> None:
        super().__init__(name="gaussian_head")
        self.low = np.asarray(low, np.float32)
        self.high = np.asarray(high, np.float32)
        self.param_size = self.encoding_size = int(self.low.shape[0])
        with self.name_scope:
            self.log_std = tf.Variable(tf.fill([self.param_size], initial_log_std), name="log_std")

    # --- TensorFlow, differentiable -------------------------------------------------------
    def log_prob(self, means: tf.Tensor, actions: tf.Tensor) -> tf.Tensor:
        """log N(a; mean, std^2) summed over action dims [B], for actions [B, action_dim]."""
        z = (tf.cast(actions, tf.float32) - means) / tf.exp(self.log_std)
        return tf.reduce_sum(-0.5 * tf.square(z) - self.log_std - 0.5 * self.LOG_2PI, axis=-1)

    def entropy(self, means: tf.Tensor) -> tf.Tensor:
        """Differential entropy sum(log std + (1 + log 2 pi) / 2), the same for every row [B]."""
        per_row = tf.reduce_sum(self.log_std + 0.5 * (1.0 + self.LOG_2PI))
        return tf.fill(tf.shape(means)[:1], per_row)

    def out_of_bounds(self, means: tf.Tensor) -> tf.Tensor:
        """How far each row's means lie beyond the action bounds [B] (``mean_overshoot``)."""
        return mean_overshoot(means, self.low, self.high)

    def encode_actions(self, actions: tf.Tensor) -> tf.Tensor:
        """Actions as discriminator input: clipped to the bounds [B, action_dim] float32."""
        return tf.clip_by_value(tf.cast(actions, tf.float32), self.low, self.high)

    def action_error(self, means: tf.Tensor, actions: tf.Tensor) -> tf.Tensor:
        """Mean absolute distance of the clipped means from ``actions`` (BC's metric)."""
        return tf.reduce_mean(tf.abs(self.encode_actions(means) - tf.cast(actions, tf.float32)))

    # --- numpy, for acting ----------------------------------------------------------------
    def frozen(self) -> "FrozenGaussian":
        return FrozenGaussian(np.exp(self.log_std.numpy()), self.low, self.high)


class FrozenGaussian:
    """The numpy half of GaussianHead with its standard deviation copied out of TensorFlow."""

    def __init__(self, std: np.ndarray, low: np.ndarray, high: np.ndarray) -> None:
        self.std, self.low, self.high = std, low, high

    def sample(self, means: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Unclipped samples [B, action_dim] float32 (clip with ``to_env`` to step the env)."""
        return (means + self.std * rng.standard_normal(means.shape)).astype(np.float32)

    def mode(self, means: np.ndarray) -> np.ndarray:
        return means.astype(np.float32)

    def numpy_log_prob(self, means: np.ndarray, actions: np.ndarray) -> np.ndarray:
        """log N(a; mean, std^2) summed over action dims [B] float32, for unclipped actions
        [B, action_dim]: GaussianHead's ``log_prob`` in numpy."""
        z = (actions - means) / self.std
        return np.sum(-0.5 * np.square(z) - np.log(self.std) - 0.5 * GaussianHead.LOG_2PI, axis=-1).astype(np.float32)

    def to_env(self, actions: np.ndarray) -> np.ndarray:
        return np.clip(actions, self.low, self.high)
