"""The Python API (gail_suite.py): the README's example runs as written, policies act on one
observation or a batch like the project's own actor, configs are checked like flags, and the
scripts are commands of the installed project."""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest

import gail_suite as gs
from common.checkpoints import load_actor_critic
from common.config import parse_config
from conftest import REPO_ROOT, SHIPPED_DEMOS, SHIPPED_EXPERT

SCRIPTS = ["run_ppo", "sample_trajectory", "run_gail", "run_behavior_clone", "test_policy", "export_policy",
           "convert_demos"]


def readme_api_example() -> str:
    readme = (REPO_ROOT / "README.md").read_text()
    section = readme[readme.index("### From Python: `gail_suite`"):]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_the_readme_example_runs_as_written(tmp_path: Path) -> None:
    """Run in a fresh interpreter from the repository root, its outputs sent to tmp_path; then
    check what it made."""
    code = readme_api_example().replace("runs/api-example", str(tmp_path))
    checks = """
assert isinstance(result.final_return, float) and result.final_return > 0
assert len(result.evaluations) >= 2 and result.evaluations[-1].step >= 20_000, result.evaluations
assert isinstance(action, np.integer) and action in (0, 1)
assert actions.shape == (32,) and sampled.shape == (32,)
assert more.num_episodes == 5 and demos.num_episodes == 10
assert gs.load_demonstrations(OUT + "/demos").num_episodes == 5
assert (Path(OUT) / "exported" / "saved_model.pb").is_file()
print("checked")
"""
    code += f"from pathlib import Path\nOUT = {str(tmp_path)!r}\n" + checks
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.rstrip().endswith("checked")
    assert (tmp_path / "gail" / "config.json").is_file() and (tmp_path / "log" / "evaluations.json").is_file()


def test_predict_acts_like_the_projects_actor_on_one_observation_and_a_batch() -> None:
    policy = gs.Policy.load(SHIPPED_EXPERT, checkpoint="last")
    model, _ = load_actor_critic(SHIPPED_EXPERT)
    observations = np.random.default_rng(0).normal(size=(100, 4)).astype(np.float32)
    expected = model.actor_snapshot().act(observations, None)
    np.testing.assert_array_equal(policy.predict(observations), expected)
    assert [policy.predict(observation) for observation in observations] == list(expected)
    assert policy.predict(observations.astype(np.float64).tolist()).shape == (100,)  # lists and float64 too
    assert policy.env_id == "CartPole-v1" and policy.action_space.n == 2
    first = policy.predict(observations, deterministic=False, rng=np.random.default_rng(3))
    again = policy.predict(observations, deterministic=False, rng=np.random.default_rng(3))
    np.testing.assert_array_equal(first, again)


@pytest.mark.parametrize("shape", [(3,), (2, 5), (2, 2, 4), ()])
def test_predict_refuses_observations_of_another_shape(shape: tuple[int, ...]) -> None:
    policy = gs.Policy.load(SHIPPED_EXPERT)
    with pytest.raises(ValueError, match=r"CartPole-v1 takes \(4,\) or a batch \[B, 4\]"):
        policy.predict(np.zeros(shape, np.float32))


def test_a_config_from_python_is_checked_like_flags_and_left_unchanged(tmp_path: Path) -> None:
    config = gs.GailRunConfig(minibatch_size=0)
    with pytest.raises(gs.UsageError, match="--minibatch-size must be > 0, got 0"):
        gs.train_gail(config)
    with pytest.raises(gs.UsageError, match=r"--log-dir .*unknown placeholder \{run\}"):
        gs.train_ppo(gs.PPORunConfig(log_dir=str(tmp_path / "{run}")))
    with pytest.raises(gs.UsageError, match="--demo-dir .*no such directory"):
        gs.train_behavior_clone(gs.BehaviorCloneRunConfig(demo_dir=str(tmp_path / "none"),
                                                          save_dir=str(tmp_path / "s"), log_dir=str(tmp_path / "l")))
    assert config.minibatch_size == 0 and gs.PPORunConfig().save_dir == "trained_models/ppo/{env}"
    assert list(tmp_path.iterdir()) == []


def test_python_configs_and_flags_give_the_same_run_config() -> None:
    from common.config import resolve_config

    from_flags = parse_config(gs.GailRunConfig, "", ["--env", "Pendulum-v1", "--seed", "3", "--gamma", "0.9"])
    from_python = resolve_config(gs.GailRunConfig(env="Pendulum-v1", seed=3, gamma=0.9))
    assert dataclasses.asdict(from_flags) == dataclasses.asdict(from_python)
    assert from_python.save_dir == "trained_models/gail/Pendulum-v1"


def test_subsampled_demonstrations_are_what_gail_and_bc_learn_from(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """--demo-subsample 20 on Acrobot's shipped set (every episode ends in a terminal state): GAIL's
    discriminator and BC see the same 1-in-20 pairs, GAIL weighs the absorbing state by the
    terminations over 20 (as subsampled as the pairs), and fidelity is measured on whole episodes."""
    from common.demonstrations import load_demonstrations

    full = load_demonstrations(REPO_ROOT / "trajectory" / "Acrobot-v1").first_episodes(2)
    assert full.episode_terminated.all()
    common = dict(env="Acrobot-v1", demo_dir=str(REPO_ROOT / "trajectory" / "Acrobot-v1"), num_demos=2,
                  demo_subsample=20, progress=False)
    gail = gs.gail_training(gs.GailRunConfig(**common, save_dir=str(tmp_path / "gail"), log_dir=str(tmp_path / "gl")))
    gail.envs.close()
    gail.eval_envs.close()
    bc = gs.behavior_clone_training(gs.BehaviorCloneRunConfig(**common, save_dir=str(tmp_path / "bc"),
                                                              log_dir=str(tmp_path / "bl")))
    kept = bc.demos.actions.shape[0]
    assert 2 * (full.episode_lengths.min() // 20) <= kept <= 2 * (full.episode_lengths.max() // 20 + 1)
    np.testing.assert_array_equal(gail.reward_learner.expert_obs.numpy(), bc.demos.observations)
    assert gail.reward_learner.expert_absorbing_fraction == pytest.approx((2 / 20) / (kept + 2 / 20))
    assert gail.fidelity_demos.actions.shape[0] > full.actions.shape[0]  # the held-out episodes, whole
    assert f"({kept} pairs: 1 in 20, " in capsys.readouterr().out


def test_convert_demonstrations_reads_our_sets_and_arrays(tmp_path: Path) -> None:
    ours = gs.convert_demonstrations(SHIPPED_DEMOS)
    np.savez(tmp_path / "expert.npz", obs=ours.observations, acts=ours.actions,
             episode_lengths=ours.episode_lengths)
    arrays = gs.convert_demonstrations(tmp_path / "expert.npz", env="CartPole-v1")
    np.testing.assert_array_equal(arrays.actions, ours.actions)
    with pytest.raises(gs.UsageError, match="plain arrays do not say their env; pass --env"):
        gs.convert_demonstrations(tmp_path / "expert.npz")


def test_pyproject_makes_every_script_a_command_and_installs_requirements_txt() -> None:
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    assert project["project"]["scripts"] == {name: f"{name}:main" for name in SCRIPTS}
    assert set(SCRIPTS) | {"gail_suite"} == set(project["tool"]["setuptools"]["py-modules"])
    assert project["tool"]["setuptools"]["dynamic"]["dependencies"] == {"file": ["requirements.txt"]}
    on_disk = {path.stem for path in REPO_ROOT.glob("*.py")}
    assert on_disk == set(SCRIPTS) | {"gail_suite"}, "a new root module must be listed in pyproject.toml"


def test_the_installed_commands_run_from_another_directory(tmp_path: Path) -> None:
    """`make setup` installs the project in editable mode; its commands and `import gail_suite`
    work outside the repository."""
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "PYTHONPATH": ""}
    for name in SCRIPTS:
        result = subprocess.run([str(bin_dir / name), "--help"], cwd=tmp_path, capture_output=True, text=True,
                                env=env)
        assert result.returncode == 0 and result.stdout.startswith(f"usage: {name} "), (name, result.stderr)
    result = subprocess.run([sys.executable, "-c", "import gail_suite; print(gail_suite.Policy.load.__name__)"],
                            cwd=tmp_path, capture_output=True, text=True, env=env)
    assert result.stdout.strip() == "load", result.stderr[-2000:]
