"""Actor-critic: separate MLPs for the policy (action-head parameters) and the value."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import tensorflow as tf

from network_models.heads import CategoricalHead, FrozenGaussian, GaussianHead
from network_models.mlp import MLP, NumpyWeights, numpy_mlp_forward
from network_models.normalizer import ObservationNormalizer, normalize_numpy


class ActorCritic(tf.Module):
    """pi(a|s) through ``head`` and V(s). Observations are flat float32 vectors [B, obs_dim].

    With a ``normalizer`` both nets read normalised observations; the normalizer is part of this
    module, so it is saved and restored with the policy.
    """

    def __init__(self, observation_dim: int, head: CategoricalHead | GaussianHead, hidden_sizes: tuple[int, ...],
                 seed: int, normalizer: ObservationNormalizer | None = None, activation: str = "tanh") -> None:
        super().__init__(name="actor_critic")
        self.head = head
        self.normalizer = normalizer
        # Small output gain keeps the initial policy near uniform (CleanRL's choice).
        self.policy_net = MLP(observation_dim, hidden_sizes, head.param_size, 0.01, seed, "policy", activation)
        # Its own seed range, so the value net never starts as a copy of the policy net's layers.
        self.value_net = MLP(observation_dim, hidden_sizes, 1, 1.0, seed + 1000, "value", activation)

    def __call__(self, observations: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """Returns (head parameters [B, param_size], values [B])."""
        inputs = self.network_inputs(observations)
        return self.policy_net(inputs), tf.squeeze(self.value_net(inputs), axis=-1)

    def network_inputs(self, observations: tf.Tensor) -> tf.Tensor:
        return observations if self.normalizer is None else self.normalizer(observations)

    def head_params(self, observations: tf.Tensor) -> tf.Tensor:
        """The action head's parameters [B, param_size] (the policy half alone)."""
        return self.policy_net(self.network_inputs(observations))

    def values(self, observations: tf.Tensor) -> tf.Tensor:
        return tf.squeeze(self.value_net(self.network_inputs(observations)), axis=-1)

    @property
    def policy_variables(self) -> tuple[tf.Variable, ...]:
        """What behavioural cloning trains: the policy net and the head's own (e.g. log std)."""
        return self.policy_net.trainable_variables + self.head.trainable_variables

    def actor_snapshot(self) -> "NumpyActor":
        normalizer_stats = None if self.normalizer is None else self.normalizer.numpy_stats()
        return NumpyActor(self.policy_net.numpy_weights(), self.head.frozen(), normalizer_stats,
                          self.policy_net.activation)


class NumpyActor:
    """A frozen numpy copy of the policy (and of its observation normaliser's statistics), used to
    act in rollouts and evaluations."""

    def __init__(self, policy_weights: NumpyWeights, head: CategoricalHead | FrozenGaussian,
                 normalizer_stats: tuple[np.ndarray, np.ndarray] | None = None, activation: str = "tanh") -> None:
        self.policy_weights = policy_weights
        self.head = head
        self.normalizer_stats = normalizer_stats
        self.activation = activation

    def act(self, observations: np.ndarray, rng: np.random.Generator | None) -> np.ndarray:
        """Sample actions for a batch of observations; ``rng=None`` takes the most likely action.
        These are the actions PPO learns from; step the env with ``to_env`` of them."""
        params = self.head_params(observations)
        return self.head.mode(params) if rng is None else self.head.sample(params, rng)

    def sample_with_log_prob(self, observations: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """``act``'s samples (the same draws from ``rng``) and their log pi(a|s) [B] float32 under
        this policy: what PPO's ratio needs once the model has learned on from it."""
        params = self.head_params(observations)
        actions = self.head.sample(params, rng)
        return actions, self.head.numpy_log_prob(params, actions)

    def head_params(self, observations: np.ndarray) -> np.ndarray:
        """The action head's parameters [B, param_size] for observations [B, *obs_shape]."""
        if self.normalizer_stats is not None:
            observations = normalize_numpy(observations, *self.normalizer_stats)
        return numpy_mlp_forward(self.policy_weights, observations, self.activation)

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
