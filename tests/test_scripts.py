"""Each entry script end to end in a tiny configuration, in a temporary directory."""

from __future__ import annotations

import json

import numpy as np
import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

import run_behavior_clone
import run_gail
import run_ppo
import sample_trajectory
import test_policy
from conftest import TINY_PPO_FLAGS


def scalar_tags(log_dir) -> set[str]:
    accumulator = EventAccumulator(str(log_dir))
    accumulator.Reload()
    return set(accumulator.Tags()["tensors"])


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    """PPO -> sample -> GAIL -> BC, tiny, once for the module's tests."""
    root = tmp_path_factory.mktemp("pipeline")
    run_ppo.main(TINY_PPO_FLAGS + ["--save-dir", str(root / "ppo"), "--log-dir", str(root / "log/ppo")])
    sample_trajectory.main(["--model-dir", str(root / "ppo"), "--out-dir", str(root / "demos"),
                            "--episodes", "3", "--stochastic"])
    run_gail.main(TINY_PPO_FLAGS + ["--demo-dir", str(root / "demos"), "--save-dir", str(root / "gail"),
                                    "--log-dir", str(root / "log/gail"), "--disc-minibatch-size", "32"])
    run_behavior_clone.main(["--demo-dir", str(root / "demos"), "--save-dir", str(root / "bc"),
                             "--log-dir", str(root / "log/bc"), "--epochs", "3", "--eval-every", "2",
                             "--eval-episodes", "2", "--no-progress", "--hidden-sizes", "16,16"])
    return root


def test_ppo_writes_checkpoint_config_and_curves(pipeline):
    saved = json.loads((pipeline / "ppo" / "config.json").read_text())
    assert saved["env"] == "CartPole-v1" and saved["hidden_sizes"] == [16, 16]
    assert (pipeline / "log/ppo/config.json").is_file()
    assert (pipeline / "ppo" / "checkpoint").is_file()
    evaluations = json.loads((pipeline / "log/ppo/evaluations.json").read_text())["evaluations"]
    assert [record["step"] for record in evaluations] == [128, 256]
    tags = scalar_tags(pipeline / "log/ppo")
    assert {"charts/episodic_return", "charts/episodic_length", "losses/policy_loss", "losses/value_loss",
            "losses/entropy", "eval/return_mean"} <= tags


def test_sample_trajectory_writes_a_loadable_set(pipeline):
    from common.demonstrations import load_demonstrations

    demos = load_demonstrations(pipeline / "demos")
    assert demos.num_episodes == 3 and demos.env_id == "CartPole-v1"
    np.testing.assert_array_equal(demos.episode_returns, demos.episode_lengths)  # CartPole: 1 per step


def test_gail_logs_discriminator_curves_and_never_the_env_reward_as_learning_signal(pipeline):
    tags = scalar_tags(pipeline / "log/gail")
    assert {"gail/discriminator_loss", "gail/expert_accuracy", "gail/policy_accuracy",
            "gail/mean_learned_reward", "gail/absorbing_reward", "charts/episodic_return"} <= tags
    assert (pipeline / "gail" / "checkpoint").is_file()


def test_behavior_clone_logs_and_saves(pipeline):
    assert {"bc/loss", "bc/action_error", "eval/return_mean"} <= scalar_tags(pipeline / "log/bc")
    assert (pipeline / "bc" / "checkpoint").is_file()


def test_test_policy_evaluates_every_algorithm(pipeline, capsys):
    test_policy.main(["--algos", "ppo,gail,bc,random", "--model-dir", str(pipeline / "{algo}"),
                      "--log-dir", str(pipeline / "log/test/{algo}"), "--episodes", "3"])
    table = capsys.readouterr().out
    for algo in ("ppo", "gail", "bc", "random"):
        assert f"| {algo} | " in table
        assert "test/return_mean" in scalar_tags(pipeline / "log/test" / algo)


@pytest.mark.filterwarnings("ignore:.*CartPole-v0 is out of date:DeprecationWarning")
def test_cartpole_v0_trains_and_its_demonstrations_are_tagged_with_it(tmp_path):
    """Any gymnasium id with discrete actions works through --env; demos remember their env."""
    from common.demonstrations import load_demonstrations

    run_ppo.main(TINY_PPO_FLAGS + ["--env", "CartPole-v0", "--save-dir", str(tmp_path / "ppo"),
                                   "--log-dir", str(tmp_path / "log")])
    sample_trajectory.main(["--env", "CartPole-v0", "--model-dir", str(tmp_path / "ppo"),
                            "--out-dir", str(tmp_path / "demos"), "--episodes", "2"])
    demos = load_demonstrations(tmp_path / "demos")
    assert demos.env_id == "CartPole-v0"
    assert demos.episode_lengths.max() <= 200  # CartPole-v0's time limit


def test_gail_bc_init_starts_from_a_cloned_policy(tmp_path):
    """--bc-init-epochs: the very first evaluation already shows the cloned expert's skill
    (seed 0: 500 with 30 epochs of BC against 90 without; the tiny learning rate keeps PPO from
    changing much in between)."""
    from conftest import SHIPPED_DEMOS

    first_returns = {}
    for epochs in (0, 30):
        log_dir = tmp_path / f"log{epochs}"
        run_gail.main(TINY_PPO_FLAGS + ["--demo-dir", str(SHIPPED_DEMOS), "--bc-init-epochs", str(epochs),
                                        "--learning-rate", "1e-6", "--disc-minibatch-size", "32",
                                        "--save-dir", str(tmp_path / f"gail{epochs}"), "--log-dir", str(log_dir)])
        evaluations = json.loads((log_dir / "evaluations.json").read_text())["evaluations"]
        first_returns[epochs] = evaluations[0]["return_mean"]
    assert first_returns[30] > 2 * first_returns[0] and first_returns[30] > 200, first_returns


def test_test_policy_records_a_gif_of_the_first_episode(pipeline, tmp_path, capsys):
    import imageio.v3 as iio

    test_policy.main(["--algos", "ppo,random", "--model-dir", str(pipeline / "{algo}"), "--episodes", "2",
                      "--log-dir", str(tmp_path / "log/{algo}"), "--record", str(tmp_path / "gifs/{algo}-{env}.gif")])
    output = capsys.readouterr().out
    for algo in ("ppo", "random"):
        frames = iio.imread(tmp_path / "gifs" / f"{algo}-CartPole-v1.gif", index=None)
        assert frames.ndim == 4 and frames.shape[1:] == (200, 300, 3)  # half of CartPole's 400x600
        assert f"of {algo}'s first episode to" in output
