"""Build the networks for an env: the action head is chosen from the env's action space."""

from __future__ import annotations

from common.envs import EnvSpec
from network_models.discriminator import Discriminator
from network_models.heads import CategoricalHead
from network_models.policy import ActorCritic


def make_head(spec: EnvSpec) -> CategoricalHead:
    return CategoricalHead(spec.num_actions)


def build_actor_critic(spec: EnvSpec, hidden_sizes: tuple[int, ...], seed: int) -> ActorCritic:
    return ActorCritic(spec.observation_shape[0], make_head(spec), tuple(hidden_sizes), seed)


def build_discriminator(spec: EnvSpec, hidden_sizes: tuple[int, ...], seed: int) -> Discriminator:
    return Discriminator(spec.observation_shape[0], make_head(spec), tuple(hidden_sizes), seed + 7)
