"""The README's TensorBoard section, script by script: exactly which scalars each script logs and
against which step (env steps for PPO and GAIL, epochs for BC, the episode index for test_policy)."""

from __future__ import annotations

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

import run_behavior_clone
import run_gail
import run_ppo
import test_policy
from conftest import SHIPPED_DEMOS, TINY_PPO_FLAGS

PPO_EVERY_ITERATION = {"losses/policy_loss", "losses/value_loss", "losses/entropy", "losses/approx_kl",
                       "losses/clipfrac", "losses/explained_variance", "charts/learning_rate", "charts/SPS"}
EPISODE_CHARTS = {"charts/episodic_return", "charts/episodic_length"}  # when an episode ended in the batch
GAIL_EVERY_ITERATION = {"gail/discriminator_loss", "gail/expert_accuracy", "gail/policy_accuracy",
                        "gail/mean_learned_reward", "gail/absorbing_reward"}
EVAL = {"eval/return_mean", "eval/return_std"}
FIDELITY_EVERY_EVAL = {"imitation/state_wasserstein", "imitation/energy_distance", "imitation/action_agreement"}
CLASSIFIER = "imitation/classifier_accuracy"
BC_EVERY_EPOCH = {"bc/loss", "bc/action_error", "bc/entropy"}
# TINY_PPO_FLAGS: 2 envs x 32 steps = 64 env steps per iteration, 256 in all, evaluations every 128.
ITERATION_STEPS = [64, 128, 192, 256]
EVAL_STEPS = [128, 256]


def steps_by_tag(log_dir) -> dict[str, list[int]]:
    accumulator = EventAccumulator(str(log_dir))
    accumulator.Reload()
    return {tag: [event.step for event in accumulator.Tensors(tag)] for tag in accumulator.Tags()["tensors"]}


@pytest.fixture(scope="module")
def logs(tmp_path_factory):
    root = tmp_path_factory.mktemp("tensorboard")
    run_ppo.main(TINY_PPO_FLAGS + ["--save-dir", str(root / "ppo"), "--log-dir", str(root / "log/ppo")])
    run_gail.main(TINY_PPO_FLAGS + ["--demo-dir", str(SHIPPED_DEMOS), "--save-dir", str(root / "gail"),
                                    "--log-dir", str(root / "log/gail"), "--disc-minibatch-size", "32"])
    run_behavior_clone.main(["--demo-dir", str(SHIPPED_DEMOS), "--save-dir", str(root / "bc"),
                             "--log-dir", str(root / "log/bc"), "--epochs", "3", "--eval-every", "2",
                             "--eval-episodes", "2", "--no-progress", "--hidden-sizes", "16,16"])
    test_policy.main(["--algos", "random", "--episodes", "3", "--demo-dir", str(SHIPPED_DEMOS),
                      "--log-dir", str(root / "log/test/{algo}")])
    return {name: steps_by_tag(root / "log" / name) for name in ("ppo", "gail", "bc", "test/random")}


def check_on_policy_tags(steps: dict[str, list[int]], every_iteration: set[str]) -> None:
    for tag in every_iteration:
        assert steps[tag] == ITERATION_STEPS, tag
    for tag in EPISODE_CHARTS:
        assert steps[tag] and set(steps[tag]) <= set(ITERATION_STEPS), tag
    for tag in EVAL:
        assert steps[tag] == EVAL_STEPS, tag


def test_ppo_logs_losses_charts_and_eval_against_env_steps(logs):
    steps = logs["ppo"]
    assert set(steps) == PPO_EVERY_ITERATION | EPISODE_CHARTS | EVAL
    check_on_policy_tags(steps, PPO_EVERY_ITERATION)


def test_gail_adds_gail_and_imitation_scalars_against_env_steps(logs):
    steps = logs["gail"]
    assert set(steps) == PPO_EVERY_ITERATION | EPISODE_CHARTS | EVAL | GAIL_EVERY_ITERATION | FIDELITY_EVERY_EVAL | {
        CLASSIFIER}
    check_on_policy_tags(steps, PPO_EVERY_ITERATION | GAIL_EVERY_ITERATION)
    for tag in FIDELITY_EVERY_EVAL:
        assert steps[tag] == EVAL_STEPS, tag
    assert steps[CLASSIFIER] == EVAL_STEPS[-1:]  # the last evaluation only


def test_behavior_clone_logs_bc_eval_and_imitation_per_epoch(logs):
    steps = logs["bc"]
    assert set(steps) == BC_EVERY_EPOCH | EVAL | FIDELITY_EVERY_EVAL | {CLASSIFIER}  # no losses/*, charts/*
    for tag in BC_EVERY_EPOCH:
        assert steps[tag] == [1, 2, 3], tag  # epochs, not env steps
    for tag in EVAL | FIDELITY_EVERY_EVAL:
        assert steps[tag] == [2, 3], tag  # every --eval-every epochs and the last
    assert steps[CLASSIFIER] == [3]


def test_test_policy_logs_test_scalars_and_imitation_with_demo_dir(logs):
    steps = logs["test/random"]
    assert set(steps) == {"test/episode_return", "test/episode_length", "test/return_mean", "test/return_std",
                          *FIDELITY_EVERY_EVAL, CLASSIFIER}
    assert steps["test/episode_return"] == steps["test/episode_length"] == [0, 1, 2]  # the episode's index
    for tag in ("test/return_mean", "test/return_std", *FIDELITY_EVERY_EVAL, CLASSIFIER):
        assert steps[tag] == [0], tag


def test_continuous_actions_add_how_far_the_means_overshoot_the_bounds(tmp_path):
    """losses/mean_overshoot (how saturated a Gaussian policy is) is logged for Box actions only:
    CartPole's set above is exact, so it has no such chart. (No Pendulum episode ends in 128 steps
    per env: no episode charts.)"""
    run_ppo.main(TINY_PPO_FLAGS + ["--env", "Pendulum-v1", "--save-dir", str(tmp_path / "ppo"),
                                   "--log-dir", str(tmp_path / "log")])
    steps = steps_by_tag(tmp_path / "log")
    assert set(steps) == PPO_EVERY_ITERATION | EVAL | {"losses/mean_overshoot"}
    assert steps["losses/mean_overshoot"] == ITERATION_STEPS
