"""GAE, bootstrapping and the PPO clipped loss against hand-computed examples."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from algo.ppo import compute_gae, explained_variance, next_state_values, ppo_clipped_loss


def test_gae_with_a_terminated_and_a_truncated_episode_in_one_batch():
    # Two envs, three steps, gamma 0.9, lambda 0.8 (gamma * lambda = 0.72).
    # env 0: episode terminates at t=1; a new one starts at t=2.
    # env 1: episode is truncated (time limit) at t=0; V(final obs) = 0.9 is bootstrapped.
    rewards = np.array([[1.0, 1.0], [1.0, 0.0], [1.0, 1.0]], np.float32)
    values = np.array([[0.5, 0.1], [0.4, 0.2], [0.3, 0.3]], np.float32)
    last_values = np.array([0.2, 0.6], np.float32)
    final_obs_values = np.array([[0.0, 0.9], [0.0, 0.0], [0.0, 0.0]], np.float32)
    terminated = np.array([[False, False], [True, False], [False, False]])
    truncated = np.array([[False, True], [False, False], [False, False]])

    next_values = next_state_values(values, last_values, final_obs_values, terminated, truncated)
    np.testing.assert_allclose(next_values, [[0.4, 0.9], [0.0, 0.3], [0.2, 0.6]], rtol=1e-6)

    advantages, returns = compute_gae(rewards, values, next_values, terminated | truncated,
                                      gamma=0.9, gae_lambda=0.8)
    # env 0: deltas 1 + .9*.4 - .5 = .86, 1 + 0 - .4 = .6, 1 + .9*.2 - .3 = .88
    #        A2 = .88; A1 = .6 (episode ended at t=1); A0 = .86 + .72 * .6 = 1.292
    # env 1: deltas 1 + .9*.9 - .1 = 1.71, 0 + .9*.3 - .2 = .07, 1 + .9*.6 - .3 = 1.24
    #        A2 = 1.24; A1 = .07 + .72 * 1.24 = .9628; A0 = 1.71 (episode ended at t=0)
    expected = np.array([[1.292, 1.71], [0.6, 0.9628], [0.88, 1.24]], np.float32)
    np.testing.assert_allclose(advantages, expected, rtol=1e-5)
    np.testing.assert_allclose(returns, expected + values, rtol=1e-5)
    assert advantages.dtype == np.float32 and returns.dtype == np.float32


def test_terminal_value_replaces_zero_after_termination_only():
    values = np.array([[1.0], [2.0]], np.float32)
    next_values = next_state_values(values, np.array([3.0], np.float32), np.zeros((2, 1), np.float32),
                                    terminated=np.array([[True], [False]]), truncated=np.zeros((2, 1), bool),
                                    terminal_value=-7.0)
    np.testing.assert_allclose(next_values, [[-7.0], [3.0]])


def test_gae_lambda_one_gives_discounted_monte_carlo_returns():
    rewards = np.array([[1.0], [2.0], [3.0]], np.float32)
    values = np.array([[0.3], [0.2], [0.1]], np.float32)
    next_values = np.array([[0.2], [0.1], [0.0]], np.float32)
    ends = np.array([[False], [False], [True]])
    _, returns = compute_gae(rewards, values, next_values, ends, gamma=0.5, gae_lambda=1.0)
    # 3; 2 + .5*3 = 3.5; 1 + .5*3.5 = 2.75
    np.testing.assert_allclose(returns[:, 0], [2.75, 3.5, 3.0], rtol=1e-6)


def test_clipped_loss_clips_on_both_sides():
    ratios = np.array([1.5, 0.5, 1.1, 0.5], np.float32)
    advantages = np.array([1.0, -1.0, 2.0, 1.0], np.float32)
    logp_old = np.log(np.array([0.2, 0.4, 0.5, 0.6], np.float32))
    logp_new = logp_old + np.log(ratios)
    # min(r A, clip(r, .8, 1.2) A) per sample:
    #   1.5 * 1 = 1.5 vs 1.2 -> 1.2   (clipped above)
    #   .5 * -1 = -.5 vs -.8 -> -.8   (clipped below)
    #   1.1 * 2 = 2.2 vs 2.2 -> 2.2   (inside the range)
    #   .5 * 1 = .5 vs .8 -> .5       (pessimistic bound keeps the unclipped term)
    loss = ppo_clipped_loss(tf.constant(logp_new), tf.constant(logp_old), tf.constant(advantages), 0.2)
    assert float(loss) == pytest.approx(-(1.2 - 0.8 + 2.2 + 0.5) / 4, rel=1e-5)


def test_clipped_loss_gradient_vanishes_where_clipped():
    logp_old = tf.constant(np.log([0.5, 0.5]).astype(np.float32))
    logp_new = tf.Variable(logp_old + tf.math.log(tf.constant([1.5, 1.1])))
    advantages = tf.constant([1.0, 1.0])
    with tf.GradientTape() as tape:
        loss = ppo_clipped_loss(logp_new, logp_old, advantages, 0.2)
    gradient = tape.gradient(loss, logp_new).numpy()
    assert gradient[0] == 0.0  # ratio 1.5 > 1.2 with A > 0: no further push
    assert gradient[1] == pytest.approx(-1.1 / 2, rel=1e-5)  # d(-r A / 2)/d logp = -r A / 2


def test_explained_variance_hand_example():
    returns = np.array([[1.0, 2.0], [3.0, 6.0]])           # mean 3, variance (4 + 1 + 0 + 9) / 4 = 3.5
    values = np.array([[1.0, 3.0], [3.0, 5.0]])            # errors 0, -1, 0, 1: variance 0.5
    assert explained_variance(values, returns) == pytest.approx(1 - 0.5 / 3.5)
    assert explained_variance(returns, returns) == 1.0                      # a perfect value net
    assert explained_variance(np.full((2, 2), 3.0), returns) == 0.0         # the mean explains nothing
    assert explained_variance(-returns, returns) == pytest.approx(1 - 14.0 / 3.5)  # worse than the mean
    assert np.isnan(explained_variance(values, np.full((2, 2), 2.0)))      # constant returns: undefined
