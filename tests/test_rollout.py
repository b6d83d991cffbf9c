"""The rollout collector: shapes, autoreset bookkeeping and truncation's final observations."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
from gymnasium.spaces import Discrete

from common.envs import EnvSpec, make_vec_env
from common.rollout import RolloutCollector
from network_models.factory import build_actor_critic
from network_models.policy import NumpyActor


def _register_short_cartpole() -> str:
    env_id = "ShortCartPole-v0"
    if env_id not in gym.registry:
        gym.register(env_id, entry_point="gymnasium.envs.classic_control:CartPoleEnv", max_episode_steps=5)
    return env_id


def _pushing_right(rollout_steps: int) -> tuple[gym.vector.VectorEnv, RolloutCollector, NumpyActor]:
    """Two 5-step CartPoles and an actor that always pushes right: CartPole survives 5 steps, so
    every episode ends by the time limit, after 5 steps with a reward of 1 each."""
    env_id = _register_short_cartpole()
    envs = make_vec_env(env_id, 2)
    actor = build_actor_critic(EnvSpec(env_id, (4,), Discrete(2)), (8,), seed=0).actor_snapshot()
    actor.act = lambda observations, rng: np.ones(len(observations), np.int64)
    return envs, RolloutCollector(envs, rollout_steps, seed=0, rng=np.random.default_rng(0)), actor


def test_collector_records_truncation_and_the_real_final_observation():
    envs, collector, actor = _pushing_right(rollout_steps=12)
    rollout = collector.collect(actor)
    envs.close()

    assert rollout.observations.shape == (12, 2, 4) and rollout.actions.shape == (12, 2)
    assert not rollout.terminated.any()
    np.testing.assert_array_equal(np.flatnonzero(rollout.truncated[:, 0]), [4, 9])
    # The stored final observation is the true last state, not the reset state that follows:
    # one more push to the right from s_4 increases the cart velocity (index 1).
    assert rollout.final_observations[4, 0, 1] > rollout.observations[4, 0, 1]
    assert not np.allclose(rollout.final_observations[4, 0], rollout.observations[5, 0])
    returns, lengths = collector.drain_episode_stats()
    assert returns == [5.0] * 4 and lengths == [5] * 4
    assert collector.drain_episode_stats() == ([], [])


def test_episodes_that_span_several_rollouts_are_counted_whole():
    """Rollouts of 3 steps, episodes of 5 (the time limit): each episode's return and length add
    up across the rollouts it spans (steps 5-9 span three), and each is reported once, when it ends."""
    envs, collector, actor = _pushing_right(rollout_steps=3)
    reported = []
    for _ in range(4):  # 12 steps per env: episodes end at steps 4 and 9
        collector.collect(actor)
        reported.append(collector.drain_episode_stats())
    envs.close()
    assert reported == [([], []), ([5.0, 5.0], [5, 5]), ([], []), ([5.0, 5.0], [5, 5])]
    # The third episode has run two steps (10 and 11) so far.
    np.testing.assert_array_equal(collector.running_lengths, [2, 2])
    np.testing.assert_array_equal(collector.running_returns, [2.0, 2.0])


def test_flat_merges_time_and_env_axes_in_time_major_order_and_episode_ends_is_either_end():
    """[T, N, ...] -> [T * N, ...], row t * N + n being step t of env n (what the GAE and the
    minibatches index); an episode ends when it terminates or is truncated."""
    from common.rollout import Rollout

    steps, envs = 3, 2
    observations = np.arange(steps * envs * 4, dtype=np.float32).reshape(steps, envs, 4)
    terminated = np.array([[True, False], [False, False], [True, False]])
    truncated = np.array([[False, False], [False, True], [True, False]])
    rollout = Rollout(observations=observations, actions=np.zeros((steps, envs), np.int64),
                      env_rewards=np.zeros((steps, envs), np.float32), terminated=terminated, truncated=truncated,
                      final_observations=observations.copy(), last_observations=observations[-1])
    flat = rollout.flat(rollout.observations)
    assert flat.shape == (steps * envs, 4)
    np.testing.assert_array_equal(flat[1 * envs + 1], observations[1, 1])
    assert rollout.flat(rollout.actions).shape == (steps * envs,)
    np.testing.assert_array_equal(rollout.episode_ends, [[True, False], [False, True], [True, False]])


def test_the_collector_stores_discrete_actions_as_integers_and_continuous_ones_as_float32():
    for env_id, dtype, shape in (("CartPole-v1", np.int64, (4, 2)), ("Pendulum-v1", np.float32, (4, 2, 1))):
        envs = make_vec_env(env_id, 2)
        collector = RolloutCollector(envs, rollout_steps=4, seed=0, rng=np.random.default_rng(0))
        assert collector.rollout.actions.dtype == dtype and collector.rollout.actions.shape == shape, env_id
        envs.close()


def test_run_episodes_keeps_the_episodes_observations_only_when_asked():
    """Evaluations play thousands of steps: they keep returns and lengths, not every observation."""
    from common.rollout import run_episodes
    from network_models.policy import RandomActor

    envs = make_vec_env("CartPole-v1", 2)
    plain = run_episodes(envs, RandomActor(Discrete(2), seed=0), 2, seed=0)
    recorded = run_episodes(envs, RandomActor(Discrete(2), seed=0), 2, seed=0, record=True)
    envs.close()
    assert plain.observations is None and plain.actions is None
    assert [len(episode) for episode in recorded.observations] == list(recorded.lengths)
