"""MuJoCo locomotion (gymnasium[mujoco], pinned mujoco): every script runs on Hopper-v5 with tiny
budgets: PPO, sampling, GAIL, BC and test_policy with fidelity and a GIF rendered offscreen."""

from __future__ import annotations

import json
import os
from pathlib import Path

import mujoco
import numpy as np
import pytest
from PIL import Image

import run_behavior_clone
import run_gail
import run_ppo
import sample_trajectory
import test_policy
from conftest import REPO_ROOT, TINY_PPO_FLAGS

ENV = "Hopper-v5"


def test_mujoco_is_the_pinned_version() -> None:
    pinned = [line for line in (REPO_ROOT / "requirements.txt").read_text().splitlines()
              if line.startswith("mujoco==")]
    assert pinned == [f"mujoco=={mujoco.__version__}"]


@pytest.fixture(scope="module")
def hopper_runs(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("hopper")
    run_ppo.main(TINY_PPO_FLAGS + ["--env", ENV, "--normalize-observations", "--save-dir", str(root / "ppo"),
                                   "--log-dir", str(root / "log/ppo")])
    sample_trajectory.main(["--env", ENV, "--model-dir", str(root / "ppo"), "--episodes", "3", "--stochastic",
                            "--out-dir", str(root / "demos")])
    run_gail.main(TINY_PPO_FLAGS + ["--env", ENV, "--demo-dir", str(root / "demos"), "--num-demos", "2",
                                    "--disc-minibatch-size", "32", "--save-dir", str(root / "gail"),
                                    "--log-dir", str(root / "log/gail")])
    run_behavior_clone.main(["--env", ENV, "--demo-dir", str(root / "demos"), "--num-demos", "2", "--epochs", "2",
                             "--eval-every", "1", "--eval-episodes", "1", "--no-progress", "--hidden-sizes", "16,16",
                             "--save-dir", str(root / "bc"), "--log-dir", str(root / "log/bc")])
    return root


def test_every_script_runs_on_hopper(hopper_runs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    demos = json.loads((hopper_runs / "demos" / "metadata.json").read_text())
    assert demos["env_id"] == ENV
    actions = np.load(hopper_runs / "demos" / "actions.npy")
    assert actions.dtype == np.float32 and actions.shape[1] == 3 and np.abs(actions).max() <= 1.0
    for algo in ("ppo", "gail", "bc"):
        evaluations = json.loads((hopper_runs / "log" / algo / "evaluations.json").read_text())["evaluations"]
        assert evaluations and all(np.isfinite(e["return_mean"]) for e in evaluations)
    gif = hopper_runs / "gifs" / "{algo}.gif"
    capsys.readouterr()
    test_policy.main(["--env", ENV, "--algos", "gail,bc", "--episodes", "2", "--model-dir",
                      str(hopper_runs / "{algo}"), "--demo-dir", str(hopper_runs / "demos"),
                      "--log-dir", str(hopper_runs / "log/test/{algo}"), "--record", str(gif)])
    table = capsys.readouterr().out
    assert "| gail |" in table and "| bc |" in table and "energy distance" in table
    with Image.open(hopper_runs / "gifs" / "gail.gif") as image:
        assert image.n_frames >= 1 and image.size == (240, 240)  # half of MuJoCo's 480 x 480 frames


def test_the_mujoco_paper_experiment_runs_quick(tmp_path: Path) -> None:
    """`make paper-mujoco-quick`: GAIL and BC from the shipped expert's fewest and most trajectories
    (4 and 25) with tiny budgets; the table, figure and per-run records are written."""
    import subprocess
    import sys

    sys.path.insert(0, str(REPO_ROOT / "experiments"))
    import paper

    suite = paper.SUITES["mujoco"]
    subprocess.run([sys.executable, "experiments/paper.py", "run", "--suite", "mujoco", "--quick", "--out",
                    str(tmp_path)], cwd=REPO_ROOT, check=True, capture_output=True, text=True)
    summary = json.loads((tmp_path / "results.json").read_text())
    assert len(summary["runs"]) == len(suite.envs) * 2 * 2 and summary["reused_runs"] == 0
    assert {(run["env"], run["algo"], run["num_trajectories"]) for run in summary["runs"]} == {
        (env, algo, num) for env in suite.envs for algo in ("gail", "bc") for num in (4, 25)}
    for env, reference in summary["references"].items():
        assert reference["expert"] > reference["random"] + 1000, env  # a hopping expert, a falling random policy
    assert (tmp_path / "results.md").read_text().count("\n") == 2 + len(suite.envs) * 2
    assert (tmp_path / "paper.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # The README's GIFs: the expert's, and those of the seed-0 GAIL and BC runs with 25 trajectories.
    subprocess.run([sys.executable, "experiments/paper.py", "gifs", "--suite", "mujoco", "--envs", "Hopper-v5",
                    "--out", str(tmp_path)], cwd=REPO_ROOT, check=True, capture_output=True, text=True)
    assert sorted(path.name for path in (tmp_path / "gifs").iterdir()) == [
        "bc-Hopper-v5.gif", "gail-Hopper-v5.gif", "ppo-Hopper-v5.gif", "side-by-side-Hopper-v5.gif"]
    for gif in (tmp_path / "gifs").iterdir():
        assert gif.read_bytes()[:6] == b"GIF89a", gif
    with Image.open(tmp_path / "gifs" / "side-by-side-Hopper-v5.gif") as image:
        assert image.size == (3 * 120, 120)  # expert, GAIL and BC at a quarter of MuJoCo's 480 x 480


# Run in a child process without TensorFlow: MuJoCo's EGL renderer and TensorFlow cannot share one
# (common/gif.py). It counts the robot's pixels (orange-brown: red well above green, green above
# blue; the floor is grey-green and white, the sky grey or blue) with the robot at x = 0 and at 10 m.
ROBOT_PIXELS_NEAR_AND_FAR = """
import json, sys
from common.envs import make_vec_env
from common.gif import follow_the_body
counts = {}
for env_id in sys.argv[1:]:
    for follow in (False, True):
        envs = make_vec_env(env_id, 1, render=True)
        if follow:
            follow_the_body(envs)
        env = envs.envs[0].unwrapped
        envs.reset(seed=0)
        for x in (0.0, 10.0):
            qpos = env.data.qpos.copy()
            qpos[0] = x
            env.set_state(qpos, env.data.qvel.copy())
            red, green, blue = envs.render()[0].astype(int).transpose(2, 0, 1)
            counts[f"{env_id} {follow} {x}"] = int(((red > green + 40) & (green > blue)).sum())
        envs.close()
print(json.dumps(counts))
"""


def test_mujoco_recordings_follow_the_robot() -> None:
    """gymnasium's default (free) camera stays where the episode began (its "trackbodyid" acts only
    on a tracking camera), so the robot leaves the frame within seconds; with each model's "track"
    camera (follow_the_body, which replay_frames uses) it stays in view 10 m further on."""
    import subprocess
    import sys

    envs = ("Hopper-v5", "Walker2d-v5", "HalfCheetah-v5")
    child = subprocess.run([sys.executable, "-c", ROBOT_PIXELS_NEAR_AND_FAR, *envs], cwd=REPO_ROOT,
                           env={**os.environ, "PYTHONPATH": str(REPO_ROOT)}, capture_output=True, text=True, check=True)
    counts = json.loads(child.stdout.strip().splitlines()[-1])
    for env_id in envs:
        assert counts[f"{env_id} False 0.0"] >= 50 and counts[f"{env_id} False 10.0"] == 0, counts
        assert counts[f"{env_id} True 10.0"] >= max(50, counts[f"{env_id} True 0.0"] // 2), counts


def test_mujocos_warning_about_gymnasiums_own_half_cheetah_model_is_not_printed(capfd) -> None:
    """MuJoCo 4 prints a deprecation warning about half_cheetah.xml each time the model compiles;
    nothing a user can act on, so make_vec_env drops it. Other MuJoCo warnings become Python ones."""
    import warnings

    import gymnasium as gym

    from common.envs import make_vec_env

    envs = make_vec_env("HalfCheetah-v5", 2)
    envs.close()
    printed = capfd.readouterr()
    assert "settotalmass" not in printed.out + printed.err
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        handler = mujoco.get_mju_user_warning()  # what MuJoCo's C code now calls with each warning
        handler("compiler attribute 'settotalmass' is deprecated and will be removed")
        handler("Nan, Inf or huge value in QACC at DOF 0. The simulation is unstable.")
    assert [str(warning.message) for warning in caught] == [
        "MuJoCo: Nan, Inf or huge value in QACC at DOF 0. The simulation is unstable."]
    assert gym.spec("HalfCheetah-v5").entry_point.startswith("gymnasium.envs.mujoco")
