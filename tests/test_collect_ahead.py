"""Collecting ahead (--collect-while-learning): the rollout collector in a child process, and the
loop that learns from one rollout while the next is collected by the policy before that update."""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.spaces import Discrete

from algo.config import PPORunConfig
from algo.on_policy import OnPolicyTraining
from algo.ppo import PPOTrainer
from common.envs import EnvSpec, make_vec_env, probe_env_spec
from common.rollout import CollectorProcess, RolloutCollector
from conftest import REPO_ROOT
from network_models.factory import build_actor_critic
from network_models.policy import NumpyActor

SHORT_CARTPOLE = "ShortCartPoleAhead-v0"  # registered at run time: the forked child must know it too
FAILING_CARTPOLE = "FailingCartPoleAhead-v0"


class FailsOnThirdStep(gym.Wrapper):
    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        self.steps = 0

    def step(self, action):
        self.steps += 1
        if self.steps == 3:
            raise RuntimeError("the env broke on its third step")
        return self.env.step(action)


def _register_envs() -> None:
    if SHORT_CARTPOLE not in gym.registry:
        gym.register(SHORT_CARTPOLE, entry_point="gymnasium.envs.classic_control:CartPoleEnv", max_episode_steps=7)
    if FAILING_CARTPOLE not in gym.registry:
        gym.register(FAILING_CARTPOLE,
                     entry_point=lambda **kwargs: FailsOnThirdStep(gym.make("CartPole-v1", **kwargs)))


def _collector(env_id: str, rollout_steps: int = 10) -> RolloutCollector:
    _register_envs()
    return RolloutCollector(make_vec_env(env_id, 2), rollout_steps, seed=4, rng=np.random.default_rng(9),
                            record_log_probs=True)


def _actor(seed: int = 0) -> NumpyActor:
    return build_actor_critic(EnvSpec(SHORT_CARTPOLE, (4,), Discrete(2)), (8,), seed=seed).actor_snapshot()


def test_the_collector_process_returns_what_the_collector_would_in_process() -> None:
    """Same envs, seeds and generator: the child's rollouts (with their log-probabilities) and
    finished episodes are the in-process collector's, rollout after rollout."""
    in_process, ahead = _collector(SHORT_CARTPOLE), CollectorProcess(_collector(SHORT_CARTPOLE))
    try:
        for actor in (_actor(0), _actor(1), _actor(2)):
            expected = in_process.collect(actor)
            got = ahead.collect(actor)
            for field in ("observations", "actions", "env_rewards", "terminated", "truncated",
                          "final_observations", "last_observations", "policy_logp"):
                np.testing.assert_array_equal(getattr(got, field), getattr(expected, field), err_msg=field)
            assert ahead.drain_episode_stats() == in_process.drain_episode_stats()
        # Each action's log-probability is the acting policy's.
        params = actor.head_params(got.flat(got.observations))
        np.testing.assert_allclose(got.flat(got.policy_logp), actor.head.numpy_log_prob(params, got.flat(got.actions)),
                                   rtol=1e-6)
        assert got.truncated.any()  # 7-step episodes: the stats compared above were not empty
    finally:
        ahead.close()
        in_process.envs.close()
    assert not ahead.process.is_alive() and ahead.process.exitcode == 0


def test_an_env_error_in_the_child_reaches_the_parent_with_its_traceback() -> None:
    ahead = CollectorProcess(_collector(FAILING_CARTPOLE))
    try:
        with pytest.raises(RuntimeError, match="(?s)rollout collection failed in its process.*third step"):
            ahead.collect(_actor())
    finally:
        ahead.close()
    assert not ahead.process.is_alive()


@pytest.mark.parametrize("dies", ["before start", "while collecting"])
def test_a_dead_child_is_reported_not_waited_for(dies: str) -> None:
    ahead = CollectorProcess(_collector(SHORT_CARTPOLE, rollout_steps=50_000))  # collecting takes seconds
    try:
        if dies == "while collecting":
            ahead.start(_actor())
        ahead.process.kill()
        with pytest.raises(RuntimeError, match=r"rollout collector's process ended unexpectedly \(exit code -9\)"):
            ahead.wait() if dies == "while collecting" else ahead.collect(_actor())
    finally:
        ahead.close()


@pytest.mark.parametrize("parent_gone", ["idle", "while collecting"])
def test_the_child_exits_quietly_once_its_parent_is_gone(parent_gone: str) -> None:
    """A parent killed outright closes its end of the pipe: the child, waiting for the next policy
    or sending a rollout back, must exit (code 0), not wait forever nor die of a traceback."""
    ahead = CollectorProcess(_collector(SHORT_CARTPOLE, rollout_steps=5_000))  # ~0.5 MB, more than a pipe holds
    if parent_gone == "while collecting":
        ahead.start(_actor())
    ahead.connection.close()  # all that a SIGKILL of the parent does to the child's world
    ahead.process.join(timeout=60)
    assert ahead.process.exitcode == 0


def test_closing_an_idle_collector_stops_it_in_order() -> None:
    ahead = CollectorProcess(_collector(SHORT_CARTPOLE))
    ahead.close()
    assert ahead.process.exitcode == 0  # told to stop, it closed its envs and returned (killed: -9)


def test_a_parent_that_exits_without_closing_its_collector_does_not_hang(tmp_path: Path) -> None:
    """A script that forgets close() (or dies of an error before it) must still exit, and stop its
    child: multiprocessing would wait for the child at exit, which waits for the next policy."""
    script = tmp_path / "forgets_close.py"
    script.write_text("import gymnasium as gym, numpy as np\n"
                      "from common.envs import make_vec_env\n"
                      "from common.rollout import CollectorProcess, RolloutCollector\n"
                      "collector = RolloutCollector(make_vec_env('CartPole-v1', 1), 4, seed=0, rng=np.random.default_rng(0))\n"
                      "ahead = CollectorProcess(collector)\n"
                      "print(ahead.process.pid, flush=True)\n")
    finished = subprocess.run([sys.executable, str(script)], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120,
                              env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})
    assert finished.returncode == 0, finished.stderr
    child_pid = int(finished.stdout.split()[0])
    with pytest.raises(ProcessLookupError):  # not left behind either
        for _ in range(50):
            os.kill(child_pid, 0)
            time.sleep(0.1)


def test_the_child_leaves_ctrl_c_to_the_parent() -> None:
    """A Ctrl-C reaches the whole process group; the parent saves and stops, so the child must
    not die of it mid-rollout."""
    ahead = CollectorProcess(_collector(SHORT_CARTPOLE))
    try:
        ahead.collect(_actor())  # the child is past its set-up
        os.kill(ahead.process.pid, signal.SIGINT)
        os.kill(ahead.process.pid, signal.SIGTERM)
        assert ahead.collect(_actor()).observations.shape == (10, 2, 4)
    finally:
        ahead.close()


def test_closing_while_a_rollout_is_on_its_way_does_not_wait_for_it() -> None:
    """A run stopped mid-iteration never reads the rollout collected ahead: a big one would keep
    the child blocked on the full pipe, so close must not wait for the child to finish."""
    ahead = CollectorProcess(_collector(SHORT_CARTPOLE, rollout_steps=5_000))  # ~0.5 MB to send back
    ahead.start(_actor())
    time.sleep(0.5)
    started = time.perf_counter()
    ahead.close()
    assert time.perf_counter() - started < 5.0  # an orderly stop would wait 10 s, then kill
    assert not ahead.process.is_alive()


def _config(tmp_path: Path, total_env_steps: int = 160) -> PPORunConfig:
    return PPORunConfig(env="CartPole-v1", seed=3, num_envs=2, rollout_steps=16, minibatch_size=32, num_epochs=2,
                        hidden_sizes=(8,), total_env_steps=total_env_steps, eval_every=64, checkpoint_every=96,
                        eval_episodes=1, progress=False, collect_while_learning=True,
                        save_dir=str(tmp_path / "save"), log_dir=str(tmp_path / "log"))


def test_each_rollout_is_acted_by_the_policy_before_the_last_update_and_ppo_is_told_so(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Five iterations: rollout 0 is acted by the initial policy; rollout i + 1 is collected during
    update i by the policy that update started from (one update old when it is learned from); PPO's
    ratio is taken against the log-probabilities of the policy that acted, not the current model's."""
    config = _config(tmp_path)
    model = build_actor_critic(probe_env_spec(config.env), config.hidden_sizes, config.seed)
    trainer = PPOTrainer(model, config)
    training = OnPolicyTraining(config, model, trainer, "test")
    weights_before_update, learned_rollouts, logp_old_given, actors_sent_ahead = [], [], [], []
    learn, update, start = training._learn, trainer.update, CollectorProcess.start

    def recording_learn(rollout):
        weights_before_update.append(model.actor_snapshot())
        learned_rollouts.append((rollout.flat(rollout.observations).copy(), rollout.flat(rollout.actions).copy(),
                                 rollout.flat(rollout.policy_logp).copy()))
        return learn(rollout)

    def recording_update(observations, actions, policy_logp_old, *args):
        logp_old_given.append(np.array(policy_logp_old))
        return update(observations, actions, policy_logp_old, *args)

    def recording_start(collector, actor):
        actors_sent_ahead.append(actor)
        start(collector, actor)

    monkeypatch.setattr(training, "_learn", recording_learn)
    monkeypatch.setattr(trainer, "update", recording_update)
    monkeypatch.setattr(CollectorProcess, "start", recording_start)
    training.run()

    assert len(learned_rollouts) == 5
    # collect() of the first rollout goes through start too; the last update collects nothing ahead.
    assert len(actors_sent_ahead) == 1 + 4
    for iteration in range(4):  # what update `iteration` started from was sent ahead during it
        for sent, before in zip(actors_sent_ahead[iteration + 1].policy_weights,
                                weights_before_update[iteration].policy_weights):
            for sent_array, before_array in zip(sent, before):  # kernel, bias
                np.testing.assert_array_equal(sent_array, before_array)

    def logp(actor: NumpyActor, observations: np.ndarray, actions: np.ndarray) -> np.ndarray:
        return actor.head.numpy_log_prob(actor.head_params(observations), actions)

    for iteration, (observations, actions, policy_logp) in enumerate(learned_rollouts):
        np.testing.assert_allclose(policy_logp, logp(actors_sent_ahead[iteration], observations, actions),
                                   rtol=1e-5)
        np.testing.assert_array_equal(logp_old_given[iteration], policy_logp)
        if iteration >= 1:  # learned from one update late: the model had moved on from the actor
            current = logp(weights_before_update[iteration], observations, actions)
            assert np.abs(current - policy_logp).max() > 1e-4
    assert multiprocessing.active_children() == []
