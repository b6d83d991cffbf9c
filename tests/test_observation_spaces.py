"""Only 1-D Box observations reach the networks: any other observation space (a 2-D Box, an
image, a Dict, a Discrete) is refused by common.envs.make_vec_env with a one-line error naming
--env and exit status 2, before any script writes a file."""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

import run_behavior_clone
import run_gail
import run_ppo
import test_policy
from common.envs import describe_space, make_vec_env
from common.errors import UsageError
from conftest import SHIPPED_DEMOS, TINY_PPO_FLAGS


class SpaceEnv(gym.Env):
    """A do-nothing env with a given observation space, two discrete actions, 5-step episodes."""

    metadata = {"render_modes": [], "render_fps": 30}

    def __init__(self, observation_space: gym.Space) -> None:
        self.observation_space = observation_space
        self.action_space = gym.spaces.Discrete(2)
        self.steps = 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.observation_space.seed(seed)
        self.steps = 0
        return self.observation_space.sample(), {}

    def step(self, action):
        self.steps += 1
        return self.observation_space.sample(), 1.0, False, self.steps >= 5, {}


class GridObservationEnv(SpaceEnv):
    """Observations are a 3x4 grid: a 2-D Box."""

    def __init__(self) -> None:
        super().__init__(gym.spaces.Box(-1.0, 1.0, (3, 4), np.float32))


class ImageObservationEnv(SpaceEnv):
    def __init__(self) -> None:
        super().__init__(gym.spaces.Box(0, 255, (16, 16, 3), np.uint8))


class DictObservationEnv(SpaceEnv):
    def __init__(self) -> None:
        super().__init__(gym.spaces.Dict({"position": gym.spaces.Box(-1.0, 1.0, (2,), np.float32)}))


class DiscreteObservationEnv(SpaceEnv):
    def __init__(self) -> None:
        super().__init__(gym.spaces.Discrete(7))


class VectorObservationEnv(SpaceEnv):
    """The supported case: a flat vector."""

    def __init__(self) -> None:
        super().__init__(gym.spaces.Box(-1.0, 1.0, (4,), np.float32))


UNSUPPORTED = {"GridObs-v0": GridObservationEnv, "ImageObs-v0": ImageObservationEnv,
               "DictObs-v0": DictObservationEnv, "DiscreteObs-v0": DiscreteObservationEnv}
ENVS = {**UNSUPPORTED, "VectorObs-v0": VectorObservationEnv}


@pytest.fixture(autouse=True)
def registered_envs():
    for env_id, env_class in ENVS.items():
        gym.register(id=env_id, entry_point=env_class)
    yield
    for env_id in ENVS:
        gym.registry.pop(env_id, None)


def all_paths(root: Path) -> list[str]:
    return [str(path.relative_to(root)) for path in root.rglob("*")]


def test_run_ppo_refuses_a_2d_box_observation_space_before_writing_anything(tmp_path, capsys):
    save_dir, log_dir = tmp_path / "ckpt", tmp_path / "log"
    with pytest.raises(SystemExit) as exit_info:
        run_ppo.main(TINY_PPO_FLAGS + ["--env", "GridObs-v0", "--save-dir", str(save_dir), "--log-dir", str(log_dir)])
    assert exit_info.value.code == 2
    error = capsys.readouterr().err
    assert error.startswith("error: --env GridObs-v0: observation space Box of shape (3, 4)")
    assert error.count("\n") == 1 and "1-D Box" in error
    assert not save_dir.exists() and not log_dir.exists()
    assert all_paths(tmp_path) == []


@pytest.mark.parametrize("env_id", UNSUPPORTED)
def test_make_vec_env_refuses_every_observation_space_but_a_1d_box(env_id):
    with pytest.raises(UsageError, match=rf"^--env {env_id}: observation space .* is not supported") as raised:
        make_vec_env(env_id, num_envs=2)
    assert "\n" not in str(raised.value)


def test_make_vec_env_accepts_a_1d_box():
    envs = make_vec_env("VectorObs-v0", num_envs=2)
    try:
        observations, _ = envs.reset(seed=0)
        assert observations.shape == (2, 4)
    finally:
        envs.close()


@pytest.mark.parametrize("script", ["run_gail", "run_behavior_clone", "test_policy"])
def test_every_script_refuses_an_image_env_before_writing_anything(script, tmp_path, capsys):
    paths = ["--save-dir", str(tmp_path / "ckpt"), "--log-dir", str(tmp_path / "log")]
    argv, main = {
        "run_gail": (TINY_PPO_FLAGS + ["--demo-dir", str(SHIPPED_DEMOS)] + paths, run_gail.main),
        "run_behavior_clone": (["--demo-dir", str(SHIPPED_DEMOS), "--no-progress"] + paths, run_behavior_clone.main),
        "test_policy": (["--algos", "random", "--log-dir", str(tmp_path / "log/{algo}"),
                         "--record", str(tmp_path / "{algo}.gif")], test_policy.main),
    }[script]
    with pytest.raises(SystemExit) as exit_info:
        main(argv + ["--env", "ImageObs-v0"])
    assert exit_info.value.code == 2
    error = capsys.readouterr().err
    assert error.startswith("error: --env ImageObs-v0: observation space Box of shape (16, 16, 3) (uint8)")
    assert all_paths(tmp_path) == []


def test_describe_space_is_one_line_even_for_per_element_bounds():
    bounds = np.arange(1.0, 13.0, dtype=np.float32).reshape(3, 4)
    space = gym.spaces.Box(low=-bounds, high=bounds)
    assert "\n" in str(space)  # what the error message printed before
    assert describe_space(space) == "Box of shape (3, 4) (float32)"
    assert describe_space(gym.spaces.Box(-np.inf, np.inf, (2,))) == "Box of shape (2,) (float32, not bounded)"
    assert describe_space(gym.spaces.Discrete(3)) == "Discrete(3)"
