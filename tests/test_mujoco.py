"""MuJoCo locomotion (gymnasium[mujoco], pinned mujoco): every script runs on Hopper-v5 with tiny
budgets: PPO, sampling, GAIL, BC and test_policy with fidelity and a GIF rendered offscreen."""

from __future__ import annotations

import json
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
