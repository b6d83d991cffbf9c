"""GAIL discriminator: D(s, a) = sigmoid(f(s, a)), read as P((s, a) came from the expert).

Its input is [observation, encoded action, absorbing flag]. The flag is 0 for real pairs and
1 for the absorbing state that follows a terminal step (Kostrikov et al., 2019), so D can also
judge *ending* an episode, which the expert may never do.
"""

from __future__ import annotations

import tensorflow as tf

from network_models.heads import CategoricalHead
from network_models.mlp import TanhMLP


class Discriminator(tf.Module):
    """Three hidden tanh layers by default, one logit out; D is its sigmoid."""

    def __init__(self, observation_dim: int, head: CategoricalHead, hidden_sizes: tuple[int, ...],
                 seed: int) -> None:
        super().__init__(name="discriminator")
        self.head = head
        self.input_dim = observation_dim + head.num_actions + 1
        self.net = TanhMLP(self.input_dim, hidden_sizes, 1, 1.0, seed, "discriminator")

    def __call__(self, observations: tf.Tensor, actions: tf.Tensor) -> tf.Tensor:
        """Logits [B] of D for real pairs: observations [B, obs_dim] float32 and actions [B]."""
        not_absorbing = tf.zeros_like(observations[:, :1])
        inputs = tf.concat([observations, self.head.encode_actions(actions), not_absorbing], axis=-1)
        return tf.squeeze(self.net(inputs), axis=-1)

    def absorbing_logit(self) -> tf.Tensor:
        """Scalar logit of D for the absorbing state (all zeros but the flag)."""
        absorbing_input = tf.one_hot([self.input_dim - 1], self.input_dim, dtype=tf.float32)
        return tf.squeeze(self.net(absorbing_input))
