"""--scale-reward (run_ppo.py: the env reward; run_gail.py: D's): the discounted-return trace by
hand, the scaler's statistics against numpy over everything it has seen, the learned reward and the
absorbing state's value scaled alike, and the scaler's state kept in the run's checkpoints."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from algo.config import GailRunConfig, PPORunConfig
from algo.gail import LearnedRewards
from algo.reward_scaling import (STD_EPSILON, EnvRewardScaler, RewardScaler, ScaledRewardLearner,
                                 discounted_return_trace)
from common.rollout import Rollout
from conftest import SHIPPED_DEMOS
from gail_suite import gail_training, ppo_training


def test_discounted_return_trace_hand_example() -> None:
    """gamma 0.5, carry [1, 0]. Env 0: 0.5*1 + 1 = 1.5, 0.5*1.5 + 3 = 3.75 (ends), 0 + 5 = 5.
    Env 1: 0 + 2 = 2 (ends), 0 + 4 = 4, 0.5*4 + 6 = 8. Carry: 5 and 8."""
    rewards = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], np.float32)
    ends = np.array([[False, True], [True, False], [False, False]])
    returns, carry = discounted_return_trace(np.array([1.0, 0.0]), rewards, ends, gamma=0.5)
    np.testing.assert_allclose(returns, [[1.5, 2.0], [3.75, 4.0], [5.0, 8.0]])
    np.testing.assert_allclose(carry, [5.0, 8.0])
    # Env 0 ends at the last step: its carry starts the next rollout from 0 (1, 0.5 + 3, then 0).
    _, carry = discounted_return_trace(np.zeros(2), rewards[:2], np.array([[False, False], [True, False]]), 0.5)
    np.testing.assert_allclose(carry, [0.0, 0.5 * 2.0 + 4.0])


def rollout_with(rewards: np.ndarray, ends: np.ndarray) -> Rollout:
    steps, envs = rewards.shape
    observations = np.zeros((steps, envs, 4), np.float32)
    return Rollout(observations=observations, actions=np.zeros((steps, envs), np.int64),
                   env_rewards=rewards.astype(np.float32), terminated=ends, truncated=np.zeros_like(ends),
                   final_observations=observations, last_observations=np.zeros((envs, 4), np.float32))


def test_the_scale_is_the_std_of_every_discounted_return_so_far() -> None:
    """Two rollouts of 6 steps x 3 envs: the second is scaled by the std of the returns of all 12
    steps, traced across the rollout boundary as one 12-step rollout would be."""
    rng = np.random.default_rng(0)
    rewards = rng.uniform(0, 10, size=(12, 3))
    ends = rng.random((12, 3)) < 0.2
    scaler = EnvRewardScaler(num_envs=3, gamma=0.9)
    first = scaler.update_and_reward(rollout_with(rewards[:6], ends[:6]), rng)
    second = scaler.update_and_reward(rollout_with(rewards[6:], ends[6:]), rng)

    all_returns, _ = discounted_return_trace(np.zeros(3), rewards.astype(np.float32), ends, gamma=0.9)
    first_std = np.std(all_returns[:6])
    second_std = np.std(all_returns)
    np.testing.assert_allclose(first.rewards, rewards[:6] / (first_std + 1e-8), rtol=1e-5)
    np.testing.assert_allclose(second.rewards, rewards[6:] / (second_std + 1e-8), rtol=1e-5)
    assert second.metrics["charts/reward_scale"] == pytest.approx(second_std + 1e-8, rel=1e-12)
    assert STD_EPSILON == 1e-8
    assert first.terminal_value == 0.0 and second.rewards.dtype == np.float32
    assert float(scaler.count.numpy()) == 36
    assert scaler.trainable_variables == ()  # statistics, never moved by an optimizer


def test_a_reward_free_start_does_not_divide_by_zero() -> None:
    scaler = EnvRewardScaler(num_envs=2, gamma=0.9)
    zeros = np.zeros((4, 2))
    scaled = scaler.update_and_reward(rollout_with(zeros, np.zeros((4, 2), bool)), np.random.default_rng(0))
    np.testing.assert_array_equal(scaled.rewards, zeros)
    assert scaled.metrics["charts/reward_scale"] == 1e-8


def test_a_ppo_run_learns_from_scaled_rewards_and_checkpoints_the_statistics(tmp_path: Path) -> None:
    config = PPORunConfig(env="CartPole-v1", num_envs=2, rollout_steps=16, minibatch_size=32, num_epochs=1,
                          hidden_sizes=(8,), total_env_steps=64, eval_every=64, eval_episodes=1, progress=False,
                          scale_reward=True, save_dir=str(tmp_path / "save"), log_dir=str(tmp_path / "log"))
    training = ppo_training(config)
    training.run()
    scaler = training.reward_learner
    assert isinstance(scaler, EnvRewardScaler) and float(scaler.count.numpy()) == 64
    saved = tf_checkpoint_variables(tmp_path / "save")
    assert any(name.startswith("reward_scaler/") for name in saved)
    unscaled = ppo_training(PPORunConfig(**{**vars(config), "scale_reward": False, "save_dir": str(tmp_path / "s2")}))
    unscaled.envs.close()
    unscaled.eval_envs.close()
    assert unscaled.reward_learner is None


def tf_checkpoint_variables(save_dir: Path) -> list[str]:
    import tensorflow as tf

    return [name for name, _ in tf.train.list_variables(tf.train.latest_checkpoint(str(save_dir)))]


class FixedRewards:
    """A reward learner that hands out given rewards and records what it was told."""

    def __init__(self, rewards: np.ndarray, terminal_value: float) -> None:
        self.rewards = rewards.astype(np.float32)
        self.terminal_value = terminal_value
        self.progress: list[float] = []

    def set_progress(self, fraction_done: float) -> None:
        self.progress.append(fraction_done)

    def update_and_reward(self, rollout: Rollout, rng: np.random.Generator) -> LearnedRewards:
        return LearnedRewards(self.rewards, self.terminal_value, metrics={"gail/mean_learned_reward": 1.0})


def test_learned_rewards_and_the_absorbing_value_are_scaled_alike() -> None:
    """gamma 0.5, one env, learned rewards 2, 2 (episode ends), 4: discounted returns 2, 3, 4, whose
    std is sqrt(2/3); the env's own rewards (all 100) play no part."""
    learned = np.array([[2.0], [2.0], [4.0]])
    ends = np.array([[False], [True], [False]])
    inner = FixedRewards(learned, terminal_value=-6.0)
    scaled_learner = ScaledRewardLearner(inner, RewardScaler(num_envs=1, gamma=0.5))
    scaled_learner.set_progress(0.25)
    scaled = scaled_learner.update_and_reward(rollout_with(np.full((3, 1), 100.0), ends), np.random.default_rng(0))
    scale = np.sqrt(2.0 / 3.0) + 1e-8
    np.testing.assert_allclose(scaled.rewards, learned / scale, rtol=1e-6)
    assert scaled.terminal_value == pytest.approx(-6.0 / scale)
    assert scaled.metrics == {"gail/mean_learned_reward": 1.0, "charts/reward_scale": pytest.approx(scale)}
    assert inner.progress == [0.25]


def test_a_gail_run_learns_from_scaled_rewards_and_checkpoints_the_statistics(tmp_path: Path) -> None:
    config = GailRunConfig(env="CartPole-v1", demo_dir=str(SHIPPED_DEMOS), num_demos=2, num_envs=2,
                           rollout_steps=16, minibatch_size=32, num_epochs=1, hidden_sizes=(8,),
                           disc_hidden_sizes=(8,), total_env_steps=64, eval_every=64, eval_episodes=1,
                           progress=False, scale_reward=True, save_dir=str(tmp_path / "save"),
                           log_dir=str(tmp_path / "log"))
    training = gail_training(config)
    training.run()
    assert isinstance(training.reward_learner, ScaledRewardLearner)
    assert float(training.reward_learner.scaler.count.numpy()) == 64
    saved = tf_checkpoint_variables(tmp_path / "save")
    assert any(name.startswith("reward_scaler/") for name in saved)
    assert any(name.startswith("discriminator/") for name in saved)
