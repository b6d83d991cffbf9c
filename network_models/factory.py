"""Build the networks for an env: the action head is chosen from the env's action space."""

from __future__ import annotations

import numpy as np

from common.envs import EnvSpec
from network_models.discriminator import Discriminator
from network_models.heads import CategoricalHead, GaussianHead
from network_models.normalizer import ObservationNormalizer
from network_models.policy import ActorCritic


def make_head(spec: EnvSpec, initial_log_std: float = 0.0) -> CategoricalHead | GaussianHead:
    """Categorical for Discrete action spaces, a diagonal Gaussian (starting at log std
    ``initial_log_std``) for bounded Box ones."""
    if spec.is_discrete:
        return CategoricalHead(spec.num_actions)
    return GaussianHead(spec.action_space.low, spec.action_space.high, initial_log_std)


def build_actor_critic(spec: EnvSpec, hidden_sizes: tuple[int, ...], seed: int,
                       normalize_observations: bool = False, activation: str = "tanh",
                       initial_log_std: float = 0.0) -> ActorCritic:
    observation_dim = spec.observation_shape[0]
    normalizer = ObservationNormalizer(observation_dim) if normalize_observations else None
    return ActorCritic(observation_dim, make_head(spec, initial_log_std), tuple(hidden_sizes), seed, normalizer,
                       activation)


def discriminator_normalizer(policy: ActorCritic, expert_observations: np.ndarray,
                             standardize: bool) -> ObservationNormalizer:
    """What D normalises observations with: the policy's own normaliser when it has one, so both
    networks see identical inputs; otherwise one fixed to the expert data's mean and std
    (``standardize``), or the untouched one (mean 0, std 1)."""
    if policy.normalizer is not None:
        return policy.normalizer
    normalizer = ObservationNormalizer(expert_observations.shape[1], name="expert_normalizer")
    if standardize:
        normalizer.update(expert_observations)
    return normalizer


def build_discriminator(spec: EnvSpec, hidden_sizes: tuple[int, ...], seed: int,
                        normalizer: ObservationNormalizer | None = None) -> Discriminator:
    """D over ``spec``'s observations and actions; without ``normalizer``, an untouched one."""
    observation_dim = spec.observation_shape[0]
    normalizer = ObservationNormalizer(observation_dim) if normalizer is None else normalizer
    # seed + 7: initialise D differently from the policy built from the same --seed.
    return Discriminator(observation_dim, make_head(spec), tuple(hidden_sizes), seed + 7, normalizer)
