"""Build the networks for an env: the action head is chosen from the env's action space."""

from __future__ import annotations

import numpy as np

from common.envs import EnvSpec
from network_models.discriminator import Discriminator
from network_models.heads import CategoricalHead, GaussianHead
from network_models.policy import ActorCritic


def make_head(spec: EnvSpec) -> CategoricalHead | GaussianHead:
    """Categorical for Discrete action spaces, a diagonal Gaussian for bounded Box ones."""
    if spec.is_discrete:
        return CategoricalHead(spec.num_actions)
    return GaussianHead(spec.action_space.low, spec.action_space.high)


def build_actor_critic(spec: EnvSpec, hidden_sizes: tuple[int, ...], seed: int) -> ActorCritic:
    return ActorCritic(spec.observation_shape[0], make_head(spec), tuple(hidden_sizes), seed)


def build_discriminator(spec: EnvSpec, hidden_sizes: tuple[int, ...], seed: int,
                        expert_observations: np.ndarray | None = None) -> Discriminator:
    """With ``expert_observations`` [N, obs_dim], D standardises its inputs by their mean and std."""
    mean = std = None
    if expert_observations is not None:
        mean = expert_observations.mean(axis=0)
        std = expert_observations.std(axis=0) + 1e-6  # a constant feature must not divide by zero
    # seed + 7: initialise D differently from the policy built from the same --seed.
    return Discriminator(spec.observation_shape[0], make_head(spec), tuple(hidden_sizes), seed + 7, mean, std)
