"""Episode-end edge cases of the bootstrap targets, GAE and GAIL's absorbing-state bookkeeping.

* A step that is both terminated and truncated ended the task: it bootstraps from the terminal
  value (0, or GAIL's absorbing value), never from V(final observation).
* Truncation (a time limit) is never absorbing: only ``terminated`` steps count towards the
  policy's absorbing fraction in the discriminator update.
* The training loop's GAE wiring: which observation each step bootstraps from, where the
  recursion is cut, and that GAIL's learned rewards and terminal value replace the env's.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from gymnasium.spaces import Discrete

from algo.gail import DiscriminatorTrainer, LearnedRewards
from algo.config import DiscriminatorConfig, PPORunConfig
from algo.on_policy import OnPolicyTraining
from algo.ppo import PPOTrainer, compute_gae, next_state_values
from common.envs import EnvSpec
from common.rollout import Rollout
from network_models.factory import build_actor_critic, build_discriminator


def test_a_step_both_terminated_and_truncated_bootstraps_from_the_terminal_value() -> None:
    """Catches next_state_values letting truncation win over termination (V(final obs) = 9
    would be bootstrapped instead of the terminal value)."""
    values = np.array([[1.0, 1.0], [2.0, 2.0]], np.float32)
    last_values = np.array([3.0, 3.0], np.float32)
    final_obs_values = np.array([[9.0, 9.0], [9.0, 9.0]], np.float32)
    terminated = np.array([[True, False], [False, False]])
    truncated = np.array([[True, True], [False, False]])  # env 0: both at t=0; env 1: truncated only
    for terminal_value in (0.0, -7.0):
        next_values = next_state_values(values, last_values, final_obs_values, terminated, truncated,
                                        terminal_value)
        np.testing.assert_array_equal(next_values, [[terminal_value, 9.0], [3.0, 3.0]])


def test_gae_cuts_the_recursion_at_a_step_both_terminated_and_truncated() -> None:
    """Both flags at t=0: A_0 = r_0 + 0 - V_0 exactly, with nothing from t=1 leaking in."""
    rewards = np.array([[1.0], [5.0]], np.float32)
    values = np.array([[0.5], [0.25]], np.float32)
    terminated = np.array([[True], [False]])
    truncated = np.array([[True], [False]])
    next_values = next_state_values(values, np.array([2.0], np.float32), np.full((2, 1), 9.0, np.float32),
                                    terminated, truncated)
    advantages, returns = compute_gae(rewards, values, next_values, terminated | truncated, gamma=0.5,
                                      gae_lambda=0.5)
    # A_1 = 5 + .5 * 2 - .25 = 5.75; A_0 = 1 + 0 - .5 = .5 (cut)
    np.testing.assert_allclose(advantages[:, 0], [0.5, 5.75], rtol=1e-6)
    np.testing.assert_allclose(returns[:, 0], [1.0, 6.0], rtol=1e-6)


def hand_rollout(rng: np.random.Generator, terminated: np.ndarray, truncated: np.ndarray) -> Rollout:
    steps, envs = terminated.shape
    observations = rng.normal(size=(steps, envs, 4)).astype(np.float32)
    final_observations = np.zeros_like(observations)
    final_observations[truncated] = rng.normal(size=(int(truncated.sum()), 4)).astype(np.float32)
    return Rollout(observations=observations, actions=rng.integers(0, 2, size=(steps, envs)).astype(np.int64),
                   env_rewards=rng.uniform(0.5, 1.5, size=(steps, envs)).astype(np.float32),
                   terminated=terminated, truncated=truncated, final_observations=final_observations,
                   last_observations=rng.normal(size=(envs, 4)).astype(np.float32))


def test_discriminator_counts_only_terminated_steps_as_absorbing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Catches truncated steps (or all episode ends) counted as absorbing transitions: a time
    limit is not the end of the task, so it must not teach D that ending looks un-expert-like."""
    rng = np.random.default_rng(0)
    terminated = np.zeros((8, 4), bool)
    truncated = np.zeros((8, 4), bool)
    terminated[2, 0] = terminated[5, 3] = True
    truncated[3, 1] = truncated[6, 2] = truncated[7, 0] = True
    terminated[7, 3] = truncated[7, 3] = True  # both: counts once, as a termination
    rollout = hand_rollout(rng, terminated, truncated)
    spec = EnvSpec("toy", (4,), Discrete(2))
    trainer = DiscriminatorTrainer(build_discriminator(spec, (8, 8, 8), seed=0), rng.normal(size=(20, 4)),
                                   rng.integers(0, 2, size=20), expert_terminations=1,
                                   config=DiscriminatorConfig(disc_minibatch_size=16, disc_epochs=1), gamma=0.9)
    fractions: list[float] = []
    original_update = trainer.update

    def spy(policy_obs: np.ndarray, policy_actions: np.ndarray, policy_absorbing_fraction: float,
            update_rng: np.random.Generator) -> dict[str, float]:
        fractions.append(policy_absorbing_fraction)
        return original_update(policy_obs, policy_actions, policy_absorbing_fraction, update_rng)

    monkeypatch.setattr(trainer, "update", spy)
    trainer.update_and_reward(rollout, rng)
    assert fractions == [pytest.approx(3 / (32 + 3))]  # 3 terminations among 32 pairs
    assert trainer.expert_absorbing_fraction == pytest.approx(1 / (20 + 1))


def independent_targets(rewards: np.ndarray, values: np.ndarray, last_values: np.ndarray,
                        final_obs_values: np.ndarray, terminated: np.ndarray, truncated: np.ndarray,
                        terminal_value: float, gamma: float, gae_lambda: float) -> tuple[np.ndarray, np.ndarray]:
    """GAE written step by step, one env at a time, in float64."""
    steps, envs = rewards.shape
    advantages = np.zeros((steps, envs))
    for env in range(envs):
        following = 0.0
        for t in reversed(range(steps)):
            if terminated[t, env]:
                next_value, following = terminal_value, 0.0
            elif truncated[t, env]:
                next_value, following = final_obs_values[t, env], 0.0
            else:
                next_value = values[t + 1, env] if t + 1 < steps else last_values[env]
            delta = rewards[t, env] + gamma * next_value - values[t, env]
            following = delta + gamma * gae_lambda * following
            advantages[t, env] = following
    return advantages, advantages + values


class FixedRewardLearner:
    """A stand-in for GAIL's discriminator: fixed rewards and terminal value."""

    def __init__(self, rewards: np.ndarray, terminal_value: float) -> None:
        self.rewards, self.terminal_value = rewards, terminal_value

    def set_progress(self, fraction_done: float) -> None:
        pass

    def update_and_reward(self, rollout: Rollout, rng: np.random.Generator) -> LearnedRewards:
        return LearnedRewards(self.rewards, self.terminal_value, {})


@pytest.mark.parametrize("learned", [False, True], ids=["ppo_env_reward", "gail_learned_reward"])
def test_training_loop_feeds_ppo_the_independently_computed_gae(tmp_path: Path, learned: bool,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """OnPolicyTraining._learn on a hand-made rollout: the advantages and returns handed to the
    PPO update match GAE written out here. Catches terminated/truncated swapped, truncation
    bootstrapped from the post-rollout or reset observation instead of the real final one,
    the recursion not cut at episode ends, and (GAIL) the env reward added to the learned one
    or the absorbing terminal value ignored."""
    gamma, gae_lambda = 0.9, 0.8
    config = PPORunConfig(env="CartPole-v1", seed=0, num_envs=2, rollout_steps=5, minibatch_size=10,
                          num_epochs=1, hidden_sizes=(8,), normalize_observations=False, gamma=gamma,
                          gae_lambda=gae_lambda, eval_episodes=1, progress=False,
                          save_dir=str(tmp_path / "save"), log_dir=str(tmp_path / "log"))
    model = build_actor_critic(EnvSpec("CartPole-v1", (4,), Discrete(2)), (8,), seed=0)
    terminated = np.zeros((5, 2), bool)
    truncated = np.zeros((5, 2), bool)
    terminated[1, 0] = True
    truncated[2, 1] = True
    terminated[3, 1] = truncated[3, 1] = True
    rollout = hand_rollout(np.random.default_rng(1), terminated, truncated)
    learned_rewards = np.random.default_rng(2).normal(size=(5, 2)).astype(np.float32)
    reward_learner = FixedRewardLearner(learned_rewards, terminal_value=-5.0) if learned else None
    training = OnPolicyTraining(config, model, PPOTrainer(model, config), "test", reward_learner=reward_learner)
    captured: dict[str, np.ndarray] = {}

    def capture_update(observations, actions, policy_logp_old, advantages, returns, rng):
        captured.update(observations=observations, advantages=advantages, returns=returns)
        return {name: 0.0 for name in PPOTrainer.METRICS}

    monkeypatch.setattr(training.trainer, "update", capture_update)
    try:
        training._learn(rollout)
    finally:
        training.envs.close()
        training.eval_envs.close()

    def value(observations: np.ndarray) -> np.ndarray:
        return model.values(tf.constant(observations.reshape(-1, 4))).numpy().astype(np.float64)

    values = value(rollout.observations).reshape(5, 2)
    expected_advantages, expected_returns = independent_targets(
        learned_rewards if learned else rollout.env_rewards, values, value(rollout.last_observations),
        value(rollout.final_observations).reshape(5, 2), terminated, truncated,
        terminal_value=-5.0 if learned else 0.0, gamma=gamma, gae_lambda=gae_lambda)
    np.testing.assert_array_equal(captured["observations"], rollout.observations.reshape(10, 4))
    np.testing.assert_allclose(captured["advantages"], expected_advantages.reshape(-1), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(captured["returns"], expected_returns.reshape(-1), rtol=1e-5, atol=1e-5)
