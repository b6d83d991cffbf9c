"""Actor-critic: separate tanh MLPs for the policy (action-head parameters) and the value."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from network_models.heads import CategoricalHead
from network_models.mlp import NumpyWeights, TanhMLP, numpy_mlp_forward


class ActorCritic(tf.Module):
    """pi(a|s) through ``head`` and V(s). Observations are flat float32 vectors [B, obs_dim]."""

    def __init__(self, observation_dim: int, head: CategoricalHead, hidden_sizes: tuple[int, ...],
                 seed: int) -> None:
        super().__init__(name="actor_critic")
        self.head = head
        # Small output gain keeps the initial policy near uniform (CleanRL's choice).
        self.policy_net = TanhMLP(observation_dim, hidden_sizes, head.param_size, 0.01, seed, "policy")
        # Its own seed range, so the value net never starts as a copy of the policy net's layers.
        self.value_net = TanhMLP(observation_dim, hidden_sizes, 1, 1.0, seed + 1000, "value")

    def __call__(self, observations: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """Returns (head parameters [B, param_size], values [B])."""
        return self.policy_net(observations), self.values(observations)

    def values(self, observations: tf.Tensor) -> tf.Tensor:
        return tf.squeeze(self.value_net(observations), axis=-1)

    def actor_snapshot(self) -> "NumpyActor":
        return NumpyActor(self.policy_net.numpy_weights(), self.head)


class NumpyActor:
    """A frozen numpy copy of the policy, used to act in rollouts and evaluations."""

    def __init__(self, policy_weights: NumpyWeights, head: CategoricalHead) -> None:
        self.policy_weights = policy_weights
        self.head = head

    def act(self, observations: np.ndarray, rng: np.random.Generator | None) -> np.ndarray:
        """Sample actions for a batch of observations; ``rng=None`` takes the most likely action."""
        params = numpy_mlp_forward(self.policy_weights, observations)
        return self.head.mode(params) if rng is None else self.head.sample(params, rng)


class RandomActor:
    """Uniformly random discrete actions: the 'random policy' baseline of the result tables.

    It always samples, from its own seeded generator, whatever ``rng`` it is handed.
    """

    def __init__(self, num_actions: int, seed: int) -> None:
        self.num_actions = num_actions
        self.rng = np.random.default_rng(seed)

    def act(self, observations: np.ndarray, rng: np.random.Generator | None) -> np.ndarray:
        return self.rng.integers(0, self.num_actions, size=len(observations))
