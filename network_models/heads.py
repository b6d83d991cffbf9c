"""Action heads: turn the policy network's output into a distribution over actions.

The PPO and BC losses only talk to a head (log_prob, entropy, sample, mode), so a continuous
(Gaussian) head can stand beside ``CategoricalHead``; what still assumes discrete actions is
the [T, N] int64 action buffer of the rollout, the demonstration checks and BC's accuracy metric.
TensorFlow methods are used in training; numpy methods are used when acting.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf


class CategoricalHead:
    """Discrete actions. Parameters are unnormalised logits [B, num_actions] float32."""

    action_dtype = np.int64

    def __init__(self, num_actions: int) -> None:
        self.num_actions = num_actions
        self.param_size = num_actions

    # --- TensorFlow, differentiable -------------------------------------------------------
    def log_prob(self, logits: tf.Tensor, actions: tf.Tensor) -> tf.Tensor:
        """log pi(a|s) [B] for integer actions [B]."""
        log_probs = tf.nn.log_softmax(logits)
        return tf.gather(log_probs, tf.cast(actions, tf.int32), batch_dims=1)

    def entropy(self, logits: tf.Tensor) -> tf.Tensor:
        """Entropy of each row's distribution [B]."""
        log_probs = tf.nn.log_softmax(logits)
        return -tf.reduce_sum(tf.exp(log_probs) * log_probs, axis=-1)

    def encode_actions(self, actions: tf.Tensor) -> tf.Tensor:
        """Actions as discriminator input: one-hot [B, num_actions] float32."""
        return tf.one_hot(tf.cast(actions, tf.int32), self.num_actions, dtype=tf.float32)

    # --- numpy, for acting ----------------------------------------------------------------
    def sample(self, logits: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """One action per row, drawn with the Gumbel-max trick (exact categorical sampling)."""
        gumbel_noise = -np.log(-np.log(rng.random(logits.shape)))
        return np.argmax(logits + gumbel_noise, axis=-1).astype(self.action_dtype)

    def mode(self, logits: np.ndarray) -> np.ndarray:
        """The most likely action of each row (deterministic evaluation)."""
        return np.argmax(logits, axis=-1).astype(self.action_dtype)
