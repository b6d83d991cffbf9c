"""Actor-critic: separate tanh MLPs for the policy (action-head parameters) and the value."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import tensorflow as tf

from network_models.heads import CategoricalHead, FrozenGaussian, GaussianHead
from network_models.mlp import NumpyWeights, TanhMLP, numpy_mlp_forward


class ActorCritic(tf.Module):
    """pi(a|s) through ``head`` and V(s). Observations are flat float32 vectors [B, obs_dim]."""

    def __init__(self, observation_dim: int, head: CategoricalHead | GaussianHead, hidden_sizes: tuple[int, ...],
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

    @property
    def policy_variables(self) -> tuple[tf.Variable, ...]:
        """What behavioural cloning trains: the policy net and the head's own (e.g. log std)."""
        return self.policy_net.trainable_variables + self.head.trainable_variables

    def actor_snapshot(self) -> "NumpyActor":
        return NumpyActor(self.policy_net.numpy_weights(), self.head.frozen())


class NumpyActor:
    """A frozen numpy copy of the policy, used to act in rollouts and evaluations."""

    def __init__(self, policy_weights: NumpyWeights, head: CategoricalHead | FrozenGaussian) -> None:
        self.policy_weights = policy_weights
        self.head = head

    def act(self, observations: np.ndarray, rng: np.random.Generator | None) -> np.ndarray:
        """Sample actions for a batch of observations; ``rng=None`` takes the most likely action.
        These are the actions PPO learns from; step the env with ``to_env`` of them."""
        params = numpy_mlp_forward(self.policy_weights, observations)
        return self.head.mode(params) if rng is None else self.head.sample(params, rng)

    def to_env(self, actions: np.ndarray) -> np.ndarray:
        """The actions the env executes (clipped to the bounds for continuous actions)."""
        return self.head.to_env(actions)


class RandomActor:
    """Uniformly random actions: the 'random policy' baseline of the result tables.

    It always samples, from its own seeded generator, whatever ``rng`` it is handed.
    """

    def __init__(self, action_space: gym.spaces.Discrete | gym.spaces.Box, seed: int) -> None:
        self.action_space = action_space
        self.rng = np.random.default_rng(seed)

    def act(self, observations: np.ndarray, rng: np.random.Generator | None) -> np.ndarray:
        if isinstance(self.action_space, gym.spaces.Discrete):
            return self.rng.integers(0, self.action_space.n, size=len(observations))
        shape = (len(observations),) + self.action_space.shape
        return self.rng.uniform(self.action_space.low, self.action_space.high, size=shape).astype(np.float32)

    def to_env(self, actions: np.ndarray) -> np.ndarray:
        return actions
