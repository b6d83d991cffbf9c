"""Imitation fidelity in the training scripts and test_policy.py, and the best policy kept beside
the last one (chosen by fidelity for GAIL and BC, by true return for PPO)."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

import run_behavior_clone
import run_gail
import run_ppo
import sample_trajectory
import test_policy
from common.checkpoints import load_actor_critic
from common.demonstrations import load_demonstrations
from conftest import SHIPPED_DEMOS, SHIPPED_EXPERT, TINY_PPO_FLAGS

MEASURES = ("state_wasserstein", "energy_distance", "action_agreement", "classifier_accuracy")


def scalar_tags(log_dir) -> set[str]:
    accumulator = EventAccumulator(str(log_dir))
    accumulator.Reload()
    return set(accumulator.Tags()["tensors"])


def evaluations(log_dir) -> list[dict]:
    return json.loads((log_dir / "evaluations.json").read_text())["evaluations"]


def same_weights(dir_a, dir_b) -> bool:
    model_a, _ = load_actor_critic(dir_a)
    model_b, _ = load_actor_critic(dir_b)
    return all(np.array_equal(a.numpy(), b.numpy()) for a, b in zip(model_a.variables, model_b.variables))


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Tiny PPO, GAIL (4 of the 10 shipped demos: 6 held out) and BC (all 10: none held out)."""
    root = tmp_path_factory.mktemp("best")
    run_ppo.main(TINY_PPO_FLAGS + ["--total-env-steps", "512", "--save-dir", str(root / "ppo"),
                                   "--log-dir", str(root / "log/ppo")])
    run_gail.main(TINY_PPO_FLAGS + ["--total-env-steps", "512", "--demo-dir", str(SHIPPED_DEMOS),
                                    "--num-demos", "4", "--disc-minibatch-size", "32",
                                    "--save-dir", str(root / "gail"), "--log-dir", str(root / "log/gail")])
    run_behavior_clone.main(["--demo-dir", str(SHIPPED_DEMOS), "--num-demos", "10", "--save-dir", str(root / "bc"),
                             "--log-dir", str(root / "log/bc"), "--epochs", "6", "--eval-every", "2",
                             "--eval-episodes", "2", "--no-progress", "--hidden-sizes", "16,16"])
    return root


def test_gail_and_bc_measure_fidelity_at_every_evaluation(runs):
    """Every evaluation measures fidelity; the classifier, the one costly measure, is fitted at the
    final one."""
    for algo in ("gail", "bc"):
        history = evaluations(runs / "log" / algo)
        assert len(history) >= 2
        for record in history[:-1]:  # the classifier is fitted at the final evaluation only
            assert set(record["fidelity"]) == set(MEASURES) - {"classifier_accuracy"}
            assert record["fidelity"]["energy_distance"] >= 0.0
        assert set(history[-1]["fidelity"]) == set(MEASURES)
        assert 0.0 <= history[-1]["fidelity"]["classifier_accuracy"] <= 1.0
        assert {f"imitation/{measure}" for measure in MEASURES} <= scalar_tags(runs / "log" / algo)


def test_ppo_has_no_demonstrations_and_no_fidelity(runs):
    assert all(record["fidelity"] is None for record in evaluations(runs / "log/ppo"))
    assert not any(tag.startswith("imitation/") for tag in scalar_tags(runs / "log/ppo"))


def test_gail_keeps_its_most_faithful_policy(runs):
    history = evaluations(runs / "log/gail")
    best = json.loads((runs / "gail/best/best.json").read_text())
    energies = [record["fidelity"]["energy_distance"] for record in history]
    # Lowest energy distance; a tie goes to the later evaluation.
    expected = max(range(len(history)), key=lambda index: (-energies[index], index))
    assert best["step"] == history[expected]["step"]
    assert best["score"] == pytest.approx(-energies[expected])
    assert (runs / "gail/best/config.json").is_file()
    load_actor_critic(runs / "gail/best", "CartPole-v1")  # a model directory like any other


def test_ppo_keeps_its_highest_return_policy(runs):
    history = evaluations(runs / "log/ppo")
    best = json.loads((runs / "ppo/best/best.json").read_text())
    returns = [record["return_mean"] for record in history]
    expected = max(range(len(history)), key=lambda index: (returns[index], index))
    assert best["step"] == history[expected]["step"] and best["score"] == returns[expected]
    if expected == len(history) - 1:
        assert same_weights(runs / "ppo/best", runs / "ppo")


def test_test_policy_shows_fidelity_beside_the_return(runs, capsys):
    test_policy.main(["--algos", "gail,bc,random", "--model-dir", str(runs / "{algo}"), "--demo-dir",
                      str(SHIPPED_DEMOS), "--log-dir", str(runs / "log/test/{algo}"), "--episodes", "3"])
    lines = capsys.readouterr().out.splitlines()
    assert any("classifier accuracy (0.5 = same)" in line for line in lines)
    rows = {line.split("|")[1].strip(): line.split("|")[2:-1] for line in lines if line.startswith("| ")}
    for algo in ("gail", "bc", "random"):
        cells = rows[algo]
        assert len(cells) == 5  # return and the four measures
        assert 0.0 <= float(cells[4]) <= 1.0
    assert {f"imitation/{measure}" for measure in MEASURES} <= scalar_tags(runs / "log/test/gail")


def test_test_policy_fidelity_of_the_expert_on_its_own_demonstrations(capsys):
    """The shipped expert against its own demonstrations: it takes the demonstrated action on
    (nearly) every demonstrated state, and a random policy is told apart far more easily."""
    test_policy.main(["--algos", "ppo,random", "--model-dir", str(SHIPPED_EXPERT), "--demo-dir", str(SHIPPED_DEMOS),
                      "--episodes", "5", "--log-dir", "/tmp/unused-{algo}"])
    rows = {line.split("|")[1].strip(): [float(cell.split("±")[0]) for cell in line.split("|")[2:-1]]
            for line in capsys.readouterr().out.splitlines() if line.startswith("| ") and "policy" not in line}
    expert, random = rows["ppo"], rows["random"]
    assert expert[3] > 0.99 and random[3] < 0.7  # action agreement
    assert expert[2] < random[2] / 10             # energy distance
    assert expert[4] < random[4]                  # classifier accuracy


def test_checkpoint_choice_best_or_last(runs, capsys, tmp_path):
    sample_trajectory.main(["--model-dir", str(runs / "gail"), "--out-dir", str(tmp_path / "best_demos"),
                            "--episodes", "2"])
    sample_trajectory.main(["--model-dir", str(runs / "gail"), "--checkpoint", "last",
                            "--out-dir", str(tmp_path / "last_demos"), "--episodes", "2"])
    assert load_demonstrations(tmp_path / "best_demos").metadata["policy_dir"] == str(runs / "gail/best")
    assert load_demonstrations(tmp_path / "last_demos").metadata["policy_dir"] == str(runs / "gail")
    # A run saved before best policies were kept (the shipped expert): best falls back to the last.
    capsys.readouterr()
    test_policy.main(["--algos", "ppo", "--model-dir", str(SHIPPED_EXPERT), "--episodes", "1",
                      "--log-dir", str(tmp_path / "log")])
    assert "has no best policy (best/); using its last checkpoint" in capsys.readouterr().out


def test_held_out_split():
    demos = load_demonstrations(SHIPPED_DEMOS)
    training, reference, held_out = demos.split_held_out(4)
    assert held_out and training.num_episodes == 4 and reference.num_episodes == 6
    np.testing.assert_array_equal(np.concatenate([training.observations, reference.observations]),
                                  demos.observations)
    np.testing.assert_array_equal(reference.episode_lengths, demos.episode_lengths[4:])
    training, reference, held_out = demos.split_held_out(0)
    assert not held_out and training is reference and training.num_episodes == 10


def test_a_stray_best_policy_counts_as_a_run_in_the_save_dir(runs, tmp_path, capsys):
    """--save-dir holding only a best/ policy (a run killed before its first checkpoint) is refused
    like any other run's directory, rather than mixed with a new run's."""
    import shutil

    shutil.copytree(runs / "ppo/best", tmp_path / "save/best")
    with pytest.raises(SystemExit) as stop:
        run_ppo.main(TINY_PPO_FLAGS + ["--save-dir", str(tmp_path / "save"), "--log-dir", str(tmp_path / "log")])
    assert stop.value.code == 2
    assert "already holds checkpoint files" in capsys.readouterr().err


def test_resume_keeps_the_best_score(runs, tmp_path):
    """A resumed GAIL run compares against the best score recorded before it stopped."""
    import shutil

    save, log = tmp_path / "gail", tmp_path / "log"
    flags = TINY_PPO_FLAGS + ["--demo-dir", str(SHIPPED_DEMOS), "--num-demos", "4", "--disc-minibatch-size", "32",
                              "--save-dir", str(save), "--log-dir", str(log)]
    run_gail.main(flags)  # 256 env steps
    before = json.loads((save / "best/best.json").read_text())
    run_gail.main([*flags[: flags.index("--total-env-steps")], "--total-env-steps", "512",
                   *flags[flags.index("--total-env-steps") + 2:], "--resume"])
    after = json.loads((save / "best/best.json").read_text())
    history = evaluations(log)
    assert [record["step"] for record in history] == [128, 256, 384, 512]
    assert after["score"] >= before["score"]
    best_energy = min(record["fidelity"]["energy_distance"] for record in history)
    assert after["score"] == pytest.approx(-best_energy)
    shutil.rmtree(tmp_path)


def test_best_policy_offer_keeps_the_highest_finite_score_ties_to_the_later(tmp_path):
    from gymnasium.spaces import Discrete

    from common.checkpoints import BestPolicy
    from common.envs import EnvSpec
    from network_models.factory import build_actor_critic

    @dataclasses.dataclass
    class Config:
        env: str = "CartPole-v1"

    model = build_actor_critic(EnvSpec("CartPole-v1", (4,), Discrete(2)), (8,), seed=0)
    best = BestPolicy(tmp_path, model, Config())

    def offer(score: float, step: int) -> bool:
        return best.offer(score, step, "env_steps", "test score")

    assert offer(1.0, 10) and offer(1.0, 20)            # a tie goes to the later policy
    assert not offer(0.5, 30) and not offer(float("nan"), 40)
    assert offer(2.0, 50)
    recorded = json.loads((tmp_path / "best/best.json").read_text())
    assert (recorded["step"], recorded["score"]) == (50, 2.0)
    again = BestPolicy(tmp_path, model, Config())
    again.restore_score()                               # what --resume does
    assert again.best_score == 2.0 and not again.offer(1.5, 60, "env_steps", "test score")
