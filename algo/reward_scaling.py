"""PPO's reward divided by a running standard deviation of the discounted return (run_ppo.py
--scale-reward for the env reward, run_gail.py --scale-reward for D's): what gymnasium's
NormalizeReward wrapper and SB3's VecNormalize(norm_reward=True) do, and what rl-zoo3 and CleanRL
use on MuJoCo, where a step's reward is several units and returns reach thousands, so that the
value loss and the learning rate tuned on small rewards still fit.

Written here rather than taken from the gymnasium wrapper because the statistics are part of the
run's state: they are checkpointed with it (a resumed run scales as the uninterrupted one would),
and the env's own rewards stay untouched for logging the true return.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import tensorflow as tf

from algo.gail import LearnedRewards
from common.rollout import Rollout
from network_models.normalizer import merge_moments

if TYPE_CHECKING:
    from algo.on_policy import RewardLearner

STD_EPSILON = 1e-8  # gymnasium's NormalizeReward epsilon: a reward-free start must not divide by 0


def discounted_return_trace(carry: np.ndarray, rewards: np.ndarray, episode_ends: np.ndarray,
                            gamma: float) -> tuple[np.ndarray, np.ndarray]:
    """The running discounted return of each env at each step, R_t = gamma * R_{t-1} + r_t, started
    again from 0 after a step that ended an episode (terminated or truncated).

    carry [N]: the trace after the previous rollout's last step (already 0 where it ended an
    episode); rewards, episode_ends [T, N]. Returns (R [T, N], the carry for the next rollout [N]),
    float64.
    """
    returns = np.empty(rewards.shape, np.float64)
    running = np.asarray(carry, np.float64)
    for step in range(rewards.shape[0]):
        running = gamma * running + rewards[step]
        returns[step] = running
        running = np.where(episode_ends[step], 0.0, running)
    return returns, running


class RewardScaler(tf.Module):
    """Rewards / (std of the discounted returns seen so far + 1e-8). Its statistics and per-env
    trace are variables, saved in the run's checkpoints."""

    def __init__(self, num_envs: int, gamma: float, name: str = "reward_scaler") -> None:
        super().__init__(name=name)
        self.gamma = gamma
        self.mean = tf.Variable(0.0, dtype=tf.float64, trainable=False, name="return_mean")
        self.variance = tf.Variable(1.0, dtype=tf.float64, trainable=False, name="return_variance")
        self.count = tf.Variable(0.0, dtype=tf.float64, trainable=False, name="count")
        self.trace = tf.Variable(tf.zeros(num_envs, tf.float64), trainable=False, name="discounted_return")

    def set_progress(self, fraction_done: float) -> None:
        pass  # nothing is scheduled

    def update_and_scale(self, rewards: np.ndarray, episode_ends: np.ndarray) -> tuple[np.ndarray, float]:
        """Fold one rollout's discounted returns (rewards, episode_ends [T, N]) into the statistics,
        then divide its rewards by the updated standard deviation (SB3's order: statistics first,
        then the scaling). Returns (scaled rewards [T, N] float32, the scale)."""
        returns, carry = discounted_return_trace(self.trace.numpy(), rewards, episode_ends, self.gamma)
        mean, variance, count = merge_moments(self.mean.numpy(), self.variance.numpy(), float(self.count.numpy()),
                                              returns.reshape(-1))
        self.mean.assign(mean)
        self.variance.assign(variance)
        self.count.assign(count)
        self.trace.assign(carry)
        scale = float(np.sqrt(variance)) + STD_EPSILON
        return (rewards / scale).astype(np.float32), scale


class EnvRewardScaler(RewardScaler):
    """The env reward, scaled, as PPO's learning signal (run_ppo.py --scale-reward): it takes GAIL's
    place in the training loop (``OnPolicyTraining(reward_learner=...)``)."""

    def __init__(self, num_envs: int, gamma: float) -> None:
        super().__init__(num_envs, gamma, name="env_reward_scaler")

    def update_and_reward(self, rollout: Rollout, rng: np.random.Generator) -> LearnedRewards:
        rewards, scale = self.update_and_scale(rollout.env_rewards, rollout.episode_ends)
        return LearnedRewards(rewards, terminal_value=0.0, metrics={"charts/reward_scale": scale})


class ScaledRewardLearner:
    """Another reward learner's rewards, scaled (run_gail.py --scale-reward): D's reward grows from
    ~0 to a few units per step as D learns, and with it the value targets; scaled, they stay near
    the size the experts' PPO settings were tuned on. The absorbing state's value is in reward
    units, so it is scaled alike. The learner's own state stays its own; the scaler is checkpointed
    beside it (``scaler``)."""

    def __init__(self, learner: RewardLearner, scaler: RewardScaler) -> None:
        self.learner = learner
        self.scaler = scaler

    def set_progress(self, fraction_done: float) -> None:
        self.learner.set_progress(fraction_done)

    def update_and_reward(self, rollout: Rollout, rng: np.random.Generator) -> LearnedRewards:
        learned = self.learner.update_and_reward(rollout, rng)
        rewards, scale = self.scaler.update_and_scale(learned.rewards, rollout.episode_ends)
        return LearnedRewards(rewards, terminal_value=learned.terminal_value / scale,
                              metrics={**learned.metrics, "charts/reward_scale": scale})
