"""The behavioural-cloning loop (BehaviorCloneTraining.run) and GAIL's BC warm start: how many
epochs run, when it evaluates and checkpoints, the final flag, stopping on a signal, the timing.
(Written for the mutation run: test_bc_loss.py checks one training step, not the loop.)"""

from __future__ import annotations

import dataclasses
import signal
import time
from pathlib import Path

import numpy as np
import pytest
from gymnasium.spaces import Discrete

from algo.behavior_clone import BehaviorCloneTraining, warm_start
from common.demonstrations import load_demonstrations
from common.envs import EnvSpec
from common.training_run import StopRequested
from conftest import SHIPPED_DEMOS
from network_models.factory import build_actor_critic
from algo.config import BehaviorCloneRunConfig

CARTPOLE = EnvSpec("CartPole-v1", (4,), Discrete(2))
EPOCHS, EVAL_EVERY = 6, 2


def observed_training(tmp_path: Path, stop_in_epoch: int | None = None):
    """A 6-epoch BC run evaluating every 2 epochs, with its epochs, evaluations and checkpoints
    recorded; ``stop_in_epoch``: SIGINT arrives while that epoch trains."""
    config = BehaviorCloneRunConfig(hidden_sizes=(8,), normalize_observations=False, epochs=EPOCHS,
                                    eval_every=EVAL_EVERY, eval_episodes=1, save_dir=str(tmp_path / "save"),
                                    log_dir=str(tmp_path / "log"), progress=False, minibatch_size=64)
    first = load_demonstrations(SHIPPED_DEMOS, CARTPOLE).first_episodes(1)  # cut to one 64-pair minibatch
    demos = dataclasses.replace(first, observations=first.observations[:64], actions=first.actions[:64],
                                episode_lengths=np.array([64]))
    training = BehaviorCloneTraining(config, build_actor_critic(CARTPOLE, (8,), seed=0), demos)
    seen = {"epochs": 0, "evaluations": [], "saves": []}
    train_epoch, evaluate, save = training.trainer.train_epoch, training.evaluate, training.save

    def counting_train_epoch(*args, **kwargs):
        seen["epochs"] += 1
        if seen["epochs"] == stop_in_epoch:
            training.stop_signal = signal.SIGINT
        return train_epoch(*args, **kwargs)

    def recording_evaluate(eval_envs, actor, step, final=False):
        record = evaluate(eval_envs, actor, step, final=final)
        seen["evaluations"].append((step, final, record.seconds))
        return record

    def recording_save(env_steps, iteration):
        seen["saves"].append((env_steps, iteration))
        return save(env_steps, iteration)

    training.trainer.train_epoch = counting_train_epoch
    training.evaluate, training.save = recording_evaluate, recording_save
    return training, seen


def test_the_loop_runs_every_epoch_once_evaluating_and_saving_on_schedule(tmp_path: Path) -> None:
    """A signal during the last epoch changes nothing (the run just finishes), so this is also
    the plain run."""
    training, seen = observed_training(tmp_path, stop_in_epoch=EPOCHS)
    started = time.perf_counter()
    history = training.run()
    elapsed = time.perf_counter() - started
    assert seen["epochs"] == EPOCHS
    # Every eval_every epochs, and at the last one, which alone is final.
    assert [(step, final) for step, final, _ in seen["evaluations"]] == [(2, False), (4, False), (6, True)]
    assert [record.step for record in history] == [2, 4, 6]
    assert seen["saves"] == [(0, 2), (0, 4), (0, 6)]
    assert int(training.store.env_steps.numpy()) == 0 and int(training.store.iteration.numpy()) == EPOCHS
    seconds = [seconds for _, _, seconds in seen["evaluations"]]
    assert 0 <= seconds[0] <= seconds[1] <= seconds[2] <= elapsed
    assert seconds[2] <= training.train_seconds() <= elapsed


def test_a_signal_saves_and_stops_after_the_epoch_it_arrived_in(tmp_path: Path) -> None:
    """Up to the last-but-one epoch a signal stops the run, with a checkpoint of where it got to."""
    training, seen = observed_training(tmp_path, stop_in_epoch=EPOCHS - 1)
    with pytest.raises(StopRequested, match=f"stopped at epoch {EPOCHS - 1}; checkpoint saved in"):
        training.run()
    assert seen["epochs"] == EPOCHS - 1 and seen["saves"] == [(0, 2), (0, 4), (0, 5)]


def test_warm_start_trains_the_policy_for_the_given_epochs() -> None:
    demos = load_demonstrations(SHIPPED_DEMOS, CARTPOLE).first_episodes(1)
    model = build_actor_critic(CARTPOLE, (8,), seed=0)
    before = [variable.numpy().copy() for variable in model.policy_variables]
    assert warm_start(model, demos, epochs=0, seed=0) == {}
    metrics = warm_start(model, demos, epochs=2, seed=0)
    assert set(metrics) == {"bc/loss", "bc/action_error", "bc/entropy"}
    assert any(not np.array_equal(b, v.numpy()) for b, v in zip(before, model.policy_variables))
