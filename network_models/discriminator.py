"""GAIL discriminator: D(s, a) = sigmoid(f(s, a)), read as P((s, a) came from the expert).

Its input is [observation, encoded action, absorbing flag]. The flag is 0 for real pairs and
1 for the absorbing state that follows a terminal step (Kostrikov et al., 2019), so D can also
judge *ending* an episode, which the expert may never do.
"""

from __future__ import annotations

import tensorflow as tf

from network_models.heads import CategoricalHead, GaussianHead
from network_models.mlp import MLP
from network_models.normalizer import ObservationNormalizer


class Discriminator(tf.Module):
    """Three hidden tanh layers by default, one logit out; D is its sigmoid.

    Observations pass through ``normalizer`` (see network_models.factory): the policy's own when
    the policy normalises observations, else one fixed to the expert data's mean and std. On
    CartPole the expert's pole angle spreads over ~0.006 rad, far below the scale a tanh layer
    resolves, yet it is what tells a drifting policy from the expert.
    """

    def __init__(self, observation_dim: int, head: CategoricalHead | GaussianHead, hidden_sizes: tuple[int, ...],
                 seed: int, normalizer: ObservationNormalizer) -> None:
        super().__init__(name="discriminator")
        # Only the head's encoding, not the head: a Gaussian head's log std belongs to the policy
        # and must not become one of D's trainable variables.
        self.encode_actions = head.encode_actions
        self.input_dim = observation_dim + head.encoding_size + 1
        self.normalizer = normalizer
        self.net = MLP(self.input_dim, hidden_sizes, 1, 1.0, seed, "discriminator")

    def __call__(self, observations: tf.Tensor, actions: tf.Tensor) -> tf.Tensor:
        """Logits [B] of D for real pairs: observations [B, obs_dim] float32 and actions [B]."""
        return self.logits(self.inputs(observations, actions))

    def inputs(self, observations: tf.Tensor, actions: tf.Tensor) -> tf.Tensor:
        """The network's input [B, input_dim] for real pairs (standardised, encoded, flag 0)."""
        not_absorbing = tf.zeros_like(observations[:, :1])
        return tf.concat([self.normalizer(observations), self.encode_actions(actions), not_absorbing], axis=-1)

    def logits(self, inputs: tf.Tensor) -> tf.Tensor:
        """Logits [B] for network inputs [B, input_dim]."""
        return tf.squeeze(self.net(inputs), axis=-1)

    def absorbing_logit(self) -> tf.Tensor:
        """Scalar logit of D for the absorbing state (all zeros but the flag)."""
        absorbing_input = tf.one_hot([self.input_dim - 1], self.input_dim, dtype=tf.float32)
        return tf.squeeze(self.net(absorbing_input))
