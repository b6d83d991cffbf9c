"""OnPolicyTraining.run, the loop itself, on a tiny CartPole run (a few seconds): when it
evaluates, checkpoints and logs, what progress it reports to the learning-rate schedules, what a
--resume continues from and how a stop request ends it. The maths each iteration does (_learn)
is tested in test_gae_edges.py, the PPO update in test_ppo_update.py.

The run: 2 envs x 16 steps = 32 env steps per iteration, 5 iterations (160 env steps), an
evaluation every 64 env steps and a checkpoint every 96.
"""

from __future__ import annotations

import itertools
import multiprocessing
import signal
import types
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from algo.config import PPORunConfig
from algo.gail import LearnedRewards
from algo.on_policy import OnPolicyTraining
from algo.ppo import PPOTrainer
from common.logger import RunLogger
from common.rollout import Rollout
from common.training_run import StopRequested
from network_models.factory import build_actor_critic
from common.envs import probe_env_spec

BATCH = 32  # num_envs x rollout_steps


def tiny_config(tmp_path: Path, total_env_steps: int = 160, resume: bool = False,
                collect_while_learning: bool = False) -> PPORunConfig:
    return PPORunConfig(env="CartPole-v1", seed=3, num_envs=2, rollout_steps=16, minibatch_size=32, num_epochs=1,
                        hidden_sizes=(8,), total_env_steps=total_env_steps, eval_every=64, checkpoint_every=96,
                        eval_episodes=1, progress=False, resume=resume, collect_while_learning=collect_while_learning,
                        save_dir=str(tmp_path / "save"), log_dir=str(tmp_path / "log"))


class RecordingRewardLearner:
    """GAIL's place in the loop, recording what the loop tells it; rewards are the env's negated."""

    def __init__(self) -> None:
        self.progress: list[float] = []
        self.rollout_sizes: list[int] = []

    def set_progress(self, fraction_done: float) -> None:
        self.progress.append(fraction_done)

    def update_and_reward(self, rollout: Rollout, rng: np.random.Generator) -> LearnedRewards:
        self.rollout_sizes.append(rollout.env_rewards.size)
        return LearnedRewards(-rollout.env_rewards, terminal_value=0.0, metrics={"gail/test_metric": 1.0})


class Recorder:
    """What one run did: PPO's progress calls, checkpoints, logged scalars, rollout seeds."""

    def __init__(self, training: OnPolicyTraining, monkeypatch: pytest.MonkeyPatch) -> None:
        self.trainer_progress: list[float] = []
        self.saves: list[tuple[int, int]] = []
        self.scalars: list[tuple[int, dict[str, float]]] = []
        self.learning_rates: list[float] = []
        self.collector_seeds: list[int] = []
        self.evaluations: list[tuple[int, bool]] = []  # (env steps, whether the run's final one)
        set_progress, save = training.trainer.set_progress, training.save

        def record_progress(fraction_done: float) -> None:
            self.trainer_progress.append(fraction_done)
            set_progress(fraction_done)
            self.learning_rates.append(float(training.trainer.optimizer.learning_rate.numpy()))

        def record_save(env_steps: int, iteration: int) -> None:
            self.saves.append((env_steps, iteration))
            save(env_steps, iteration)

        def record_scalars(logger: RunLogger, step: int, values: dict[str, float]) -> None:
            self.scalars.append((step, dict(values)))

        import algo.on_policy as on_policy
        collector_class = on_policy.RolloutCollector

        def recording_collector(envs: Any, rollout_steps: int, seed: int, rng: np.random.Generator,
                                **options: Any) -> Any:
            self.collector_seeds.append(seed)
            return collector_class(envs, rollout_steps, seed=seed, rng=rng, **options)

        # A clock that advances 1 s per reading: an iteration's SPS is then its env steps since
        # this process started over the iterations run, exactly 32.
        # (Started far from 0, so that a start time added instead of subtracted shows.)
        readings = itertools.count(100.0)
        monkeypatch.setattr(on_policy, "time", types.SimpleNamespace(perf_counter=lambda: next(readings)))
        evaluate = training.evaluate

        def record_evaluate(eval_envs: Any, actor: Any, step: int, final: bool = False) -> Any:
            self.evaluations.append((step, final))
            return evaluate(eval_envs, actor, step, final=final)

        monkeypatch.setattr(training, "evaluate", record_evaluate)
        monkeypatch.setattr(training.trainer, "set_progress", record_progress)
        monkeypatch.setattr(training, "save", record_save)
        monkeypatch.setattr(RunLogger, "scalars", record_scalars)
        monkeypatch.setattr(on_policy, "RolloutCollector", recording_collector)

    def iteration_scalars(self) -> list[tuple[int, dict[str, float]]]:
        """The per-iteration scalars (the evaluations' are logged separately)."""
        return [(step, values) for step, values in self.scalars if "charts/SPS" in values]


def make_training(config: PPORunConfig, reward_learner: RecordingRewardLearner | None = None) -> OnPolicyTraining:
    model = build_actor_critic(probe_env_spec(config.env), config.hidden_sizes, config.seed)
    return OnPolicyTraining(config, model, PPOTrainer(model, config), "test", reward_learner=reward_learner)


@pytest.mark.parametrize("collect_while_learning", [False, True], ids=["", "collecting-ahead"])
@pytest.mark.parametrize("with_reward_learner", [False, True], ids=["ppo", "gail"])
def test_the_loop_evaluates_checkpoints_and_logs_on_schedule(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                             with_reward_learner: bool,
                                                             collect_while_learning: bool) -> None:
    reward_learner = RecordingRewardLearner() if with_reward_learner else None
    training = make_training(tiny_config(tmp_path, collect_while_learning=collect_while_learning), reward_learner)
    recorder = Recorder(training, monkeypatch)

    history = training.run()

    # Every eval_every env steps, and always at the end, which alone is the final one (GAIL and BC
    # fit the costly fidelity classifier there only).
    assert [record.step for record in history] == [64, 128, 160]
    assert recorder.evaluations == [(64, False), (128, False), (160, True)]
    # Every checkpoint_every env steps (iteration 3 reaches 96), and at the end.
    assert recorder.saves == [(96, 3), (160, 5)]
    assert int(training.store.env_steps.numpy()) == 160 and int(training.store.iteration.numpy()) == 5
    # The schedules hear the fraction of the run done before each iteration: the learning rate
    # decays linearly from 1e-3 and never reaches 0 during the run.
    fractions = [0.0, 0.2, 0.4, 0.6, 0.8]
    np.testing.assert_allclose(recorder.trainer_progress, fractions)
    np.testing.assert_allclose(recorder.learning_rates, [1e-3 * (1 - f) for f in fractions], rtol=1e-6)
    if reward_learner is not None:
        np.testing.assert_allclose(reward_learner.progress, fractions)
        assert reward_learner.rollout_sizes == [BATCH] * 5
    # One rollout collector for the run, seeded by the run's seed.
    assert recorder.collector_seeds == [3]

    logged = recorder.iteration_scalars()
    assert [step for step, _ in logged] == [32, 64, 96, 128, 160]
    for (step, values), learning_rate in zip(logged, recorder.learning_rates):
        assert values["charts/learning_rate"] == pytest.approx(learning_rate, rel=1e-6)
        assert values["charts/SPS"] == BATCH
        assert {"losses/policy_loss", "losses/value_loss", "losses/entropy"} <= set(values)
        # CartPole's returns vary within every batch, so the value fit is always defined.
        assert values["losses/explained_variance"] <= 1.0
        assert ("gail/test_metric" in values) == with_reward_learner
    # CartPole episodes of a random-ish policy last ~10-40 steps: 32 x 5 steps hold some ends.
    returns = [values["charts/episodic_return"] for _, values in logged if "charts/episodic_return" in values]
    assert returns and all(value >= 1.0 for value in returns)
    eval_steps = [step for step, values in recorder.scalars if "eval/return_mean" in values]
    assert eval_steps == [64, 128, 160]


@pytest.mark.parametrize("collect_while_learning", [False, True], ids=["", "collecting-ahead"])
def test_resume_continues_the_counters_schedules_and_rollout_seed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                  collect_while_learning: bool) -> None:
    """A run of 1 iteration (32 env steps, saved at its end: off both grids) resumed to 5: it
    starts at iteration 1 with the rollout seed moved on by 1, evaluates and checkpoints on the
    grids of a run that was never interrupted (evaluations at 64, 128 and 160, checkpoints at 96
    and 160), and counts its speed from where it resumed."""
    first = make_training(tiny_config(tmp_path, total_env_steps=32, collect_while_learning=collect_while_learning))
    with monkeypatch.context() as patch:
        first_recorder = Recorder(first, patch)
        assert [record.step for record in first.run()] == [32]
        assert first_recorder.saves == [(32, 1)]

    resumed = make_training(tiny_config(tmp_path, total_env_steps=160, resume=True,
                                        collect_while_learning=collect_while_learning))
    recorder = Recorder(resumed, monkeypatch)
    history = resumed.run()

    assert recorder.collector_seeds == [3 + 1]
    np.testing.assert_allclose(recorder.trainer_progress, [0.2, 0.4, 0.6, 0.8])
    logged = recorder.iteration_scalars()
    assert [step for step, _ in logged] == [64, 96, 128, 160]
    assert [values["charts/SPS"] for _, values in logged] == [BATCH] * 4
    assert [record.step for record in history] == [32, 64, 128, 160]  # the earlier run's evaluation kept
    assert recorder.saves == [(96, 3), (160, 5)]


@pytest.mark.parametrize("collect_while_learning", [False, True], ids=["", "collecting-ahead"])
def test_a_stop_request_saves_after_the_iteration_and_says_how_to_resume(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch,
                                                                          collect_while_learning: bool) -> None:
    training = make_training(tiny_config(tmp_path, collect_while_learning=collect_while_learning))
    recorder = Recorder(training, monkeypatch)
    training.stop_signal = signal.SIGTERM  # as if SIGTERM arrived during the first iteration

    with pytest.raises(StopRequested, match="stopped at 32 env steps.*--resume"):
        training.run()

    assert recorder.saves == [(32, 1)]
    assert int(training.store.env_steps.numpy()) == 32
    assert (Path(training.save_dir) / "checkpoint").is_file()
    assert multiprocessing.active_children() == []  # collecting ahead: the rollout nobody learns from is dropped


def test_a_stop_request_in_the_last_iteration_lets_the_run_finish(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    training = make_training(tiny_config(tmp_path, total_env_steps=BATCH))
    recorder = Recorder(training, monkeypatch)
    training.stop_signal = signal.SIGTERM

    history = training.run()

    assert [record.step for record in history] == [32]
    assert recorder.saves == [(32, 1)]
