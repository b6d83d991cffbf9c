"""test_policy.py's printed numbers against episodes played by an independent gymnasium loop.

The independent loop uses one plain ``gym.make`` env per vector slot, seeded as
common.rollout.run_episodes seeds its vector env: env i is reset with seed + i and plays
episodes i, i + n, i + 2n, ... (later resets unseeded, as the vector env's autoreset does);
the deterministic action is the argmax of the policy's logits. Catches evaluation seeded
differently from what --seed promises (e.g. an offset), episodes counted from whichever env
finishes first, returns cut or summed across episodes, and mean/std mixed up in the table.
"""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import tensorflow as tf
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

import run_behavior_clone
import test_policy
from common.checkpoints import load_actor_critic
from conftest import SHIPPED_DEMOS, SHIPPED_EXPERT

ENV_ID = "CartPole-v1"


def independent_returns(model_dir: Path, num_envs: int, num_episodes: int, seed: int) -> np.ndarray:
    """Returns of episodes 0..num_episodes-1, episode k played by env k % num_envs."""
    actor = load_actor_critic(model_dir, ENV_ID)[0].actor_snapshot()
    returns = np.zeros(num_episodes)
    for env_index in range(num_envs):
        env = gym.make(ENV_ID)
        observation, _ = env.reset(seed=seed + env_index)
        for episode in range(env_index, num_episodes, num_envs):
            done = False
            while not done:
                action = int(actor.act(observation[None].astype(np.float32), None)[0])
                observation, reward, terminated, truncated, _ = env.step(action)
                returns[episode] += reward
                done = terminated or truncated
            observation, _ = env.reset()
        env.close()
    return returns


def printed_row(output: str, algo: str) -> tuple[float, float]:
    match = re.search(rf"^\| {algo} \| (-?[\d.]+) ± ([\d.]+) \|", output, re.MULTILINE)
    assert match, output
    return float(match.group(1)), float(match.group(2))


def logged_episode_returns(log_dir: Path) -> np.ndarray:
    accumulator = EventAccumulator(str(log_dir))
    accumulator.Reload()
    events = sorted(accumulator.Tensors("test/episode_return"), key=lambda event: event.step)
    return np.array([float(tf.make_ndarray(event.tensor_proto)) for event in events])


def run_test_policy(model_dir: Path, algo: str, log_dir: Path, num_envs: int, num_episodes: int,
                    seed: int) -> str:
    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        test_policy.main(["--algos", algo, "--model-dir", str(model_dir), "--env", ENV_ID,
                          "--episodes", str(num_episodes), "--num-envs", str(num_envs), "--seed", str(seed),
                          "--log-dir", str(log_dir)])
    return output.getvalue()


@pytest.fixture(scope="module")
def weak_bc_policy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two epochs of BC on two demonstrations: a deterministic policy whose episodes last
    ~50-130 steps, so that every episode's return differs (the shipped expert scores 500 on all).
    It is evaluated once, at its last epoch, so its best policy (what test_policy loads by
    default) and its last checkpoint (what load_actor_critic reads) are the same weights."""
    root = tmp_path_factory.mktemp("weak_bc")
    with contextlib.redirect_stdout(io.StringIO()):
        run_behavior_clone.main(["--demo-dir", str(SHIPPED_DEMOS), "--num-demos", "2", "--epochs", "2",
                                 "--eval-every", "2", "--eval-episodes", "1", "--minibatch-size", "64",
                                 "--hidden-sizes", "16", "--no-progress", "--seed", "0",
                                 "--save-dir", str(root / "bc"), "--log-dir", str(root / "log")])
    return root / "bc"


@pytest.mark.parametrize("num_envs, num_episodes, seed", [(3, 7, 5), (7, 7, 11)])
def test_printed_and_logged_returns_match_an_independent_run(weak_bc_policy: Path, tmp_path: Path,
                                                            num_envs: int, num_episodes: int, seed: int) -> None:
    expected = independent_returns(weak_bc_policy, num_envs, num_episodes, seed)
    assert len(set(expected)) >= num_episodes - 2, expected  # the episodes really differ
    output = run_test_policy(weak_bc_policy, "bc", tmp_path / "log", num_envs, num_episodes, seed)
    mean, std = printed_row(output, "bc")
    assert mean == pytest.approx(round(expected.mean(), 1), abs=0.051)
    assert std == pytest.approx(round(expected.std(), 1), abs=0.051)
    np.testing.assert_array_equal(logged_episode_returns(tmp_path / "log"), expected)


def test_shipped_expert_scores_what_an_independent_run_scores(tmp_path: Path) -> None:
    expected = independent_returns(SHIPPED_EXPERT, num_envs=2, num_episodes=3, seed=7)
    output = run_test_policy(SHIPPED_EXPERT, "ppo", tmp_path / "log", num_envs=2, num_episodes=3, seed=7)
    mean, std = printed_row(output, "ppo")
    assert mean == pytest.approx(round(expected.mean(), 1), abs=0.051)
    assert std == pytest.approx(round(expected.std(), 1), abs=0.051)
    np.testing.assert_array_equal(logged_episode_returns(tmp_path / "log"), expected)
    assert expected.mean() > 450  # and it is an expert
