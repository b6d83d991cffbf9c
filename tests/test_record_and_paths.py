"""test_policy.py --record GIFs play in real time (frame time from the env's render_fps), and every
path flag of every script fills in {env} and {seed} (test_policy.py also {algo}); an unknown
placeholder is refused before anything is written instead of becoming a literal file name."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import pytest
from PIL import Image
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.util import tensor_util

import run_ppo
import sample_trajectory
import test_policy
from algo.config import BehaviorCloneRunConfig, GailRunConfig, PPORunConfig
from common.gif import gif_durations, gif_timing
from common.script_configs import SampleConfig, TestConfig
from common.config import flag_name, format_path, is_path_field, parse_config
from conftest import SHIPPED_EXPERT, TINY_PPO_FLAGS

CONFIGS = {"run_ppo": PPORunConfig, "run_gail": GailRunConfig,
           "run_behavior_clone": BehaviorCloneRunConfig,
           "sample_trajectory": SampleConfig, "test_policy": TestConfig}


def gif_frame_durations(path: Path) -> list[int]:
    """Each frame's delay in ms, as stored in the GIF (read back with Pillow)."""
    with Image.open(path) as image:
        durations = []
        for index in range(image.n_frames):
            image.seek(index)
            durations.append(image.info["duration"])
    return durations


def all_paths(root: Path) -> list[str]:
    return [str(path.relative_to(root)) for path in root.rglob("*")]


# --- GIF timing ---------------------------------------------------------------------------------

@pytest.mark.parametrize("render_fps, frame_every, frame_ms", [
    (50, 2, 40.0),             # CartPole: every 2nd frame for 40 ms, as before
    (15, 2, 2000 / 15),        # Acrobot: 133.3 ms, not 40 (which played it 3.3x fast)
    (30, 2, 2000 / 30),        # MountainCar, Pendulum: 66.7 ms, not 40 (1.7x fast)
    (125, 3, 24.0),            # above 100 fps a wider stride keeps frames >= 20 ms
])
def test_gif_timing_comes_from_render_fps(render_fps, frame_every, frame_ms):
    stride, milliseconds, note = gif_timing(render_fps)
    assert stride == frame_every and milliseconds == pytest.approx(frame_ms) and note is None


@pytest.mark.parametrize("render_fps", [None, 0, -5, float("nan"), "fast"])
def test_gif_timing_falls_back_to_30_fps_with_a_note(render_fps):
    stride, milliseconds, note = gif_timing(render_fps)
    assert (stride, milliseconds) == (2, pytest.approx(2000 / 30))
    assert "render_fps" in note and "30 fps" in note


@pytest.mark.parametrize("frame_ms", [40.0, 2000 / 15, 2000 / 30, 24.0])
def test_gif_durations_are_whole_centiseconds_that_add_up_to_real_time(frame_ms):
    durations = gif_durations(250, frame_ms)
    assert len(durations) == 250
    assert all(duration % 10 == 0 and duration >= 20 for duration in durations)
    assert all(abs(duration - frame_ms) < 10 for duration in durations)
    for count in range(1, 251):  # no drift: every frame ends within 5 ms of its true time
        assert abs(sum(durations[:count]) - count * frame_ms) <= 5 + 1e-9


def test_acrobot_gif_frames_last_two_render_fps_periods_and_seed_fills_the_paths(tmp_path, capsys):
    """Acrobot-v1 renders at 15 fps: every 2nd frame must be shown for 2 * 1000 / 15 ms; the
    --record and --log-dir paths get the seed (no file named '{seed}' is written)."""
    test_policy.main(["--algos", "random", "--env", "Acrobot-v1", "--episodes", "1", "--num-envs", "1",
                      "--seed", "5", "--log-dir", str(tmp_path / "log/{algo}-{env}-{seed}"),
                      "--record", str(tmp_path / "gifs/{algo}-{env}-seed{seed}.gif")])
    output = capsys.readouterr().out
    gif = tmp_path / "gifs" / "random-Acrobot-v1-seed5.gif"
    assert gif.is_file(), all_paths(tmp_path)
    assert not [path for path in all_paths(tmp_path) if "{" in path or "}" in path]
    assert json.loads((tmp_path / "log/random-Acrobot-v1-5/config.json").read_text())["seed"] == 5

    frame_ms = 2 * 1000 / 15
    durations = gif_frame_durations(gif)
    written = int(output.split("wrote ")[1].split(" frames")[0])
    assert f"every 2 steps, {frame_ms:.1f} ms each" in output
    # Pillow merges a frame identical to the one before it (adding the delays), so check each
    # stored frame's delay and the GIF's total playing time against real time.
    assert all(abs(duration - frame_ms * round(duration / frame_ms)) < 10 for duration in durations)
    assert sorted(durations)[len(durations) // 2] in (130, 140)
    assert abs(sum(durations) - written * frame_ms) <= 5

    accumulator = EventAccumulator(str(tmp_path / "log/random-Acrobot-v1-5"))
    accumulator.Reload()
    length = float(tensor_util.make_ndarray(accumulator.Tensors("test/episode_length")[0].tensor_proto))
    assert written == math.ceil(length / 2)  # every 2nd step of the episode


# --- {env} and {seed} in every path flag ------------------------------------------------------------

@pytest.mark.parametrize("script", CONFIGS)
def test_every_path_flag_fills_env_and_seed(script):
    config_class = CONFIGS[script]
    path_fields = [field for field in dataclasses.fields(config_class) if is_path_field(field)]
    # Any flag whose default uses a placeholder is a path flag, so it is filled in too.
    for field in dataclasses.fields(config_class):
        if isinstance(field.default, str) and "{" in field.default:
            assert field in path_fields, f"{script}: {flag_name(field.name)} is not filled in"
    assert path_fields
    for field in path_fields:
        later = "{algo}" if field.name in getattr(config_class, "LATER_PLACEHOLDERS", {}) else ""
        suffix = ".gif" if field.name == "record" else ""
        config = parse_config(config_class, "", ["--env", "Acrobot-v1", "--seed", "7",
                                                 flag_name(field.name), f"out/{{env}}/s{{seed}}{later}{suffix}"])
        assert getattr(config, field.name) == f"out/Acrobot-v1/s7{later}{suffix}", (script, field.name)


def test_test_policy_fills_algo_env_and_seed_in_its_paths():
    config = parse_config(TestConfig, "", [
        "--seed", "3", "--model-dir", "m/{algo}/{env}/{seed}", "--log-dir", "l/{algo}-{seed:02d}",
        "--demo-dir", "d/{env}/{seed}", "--record", "g/{{literal}}/{algo}-{env}-{seed}.gif"])
    assert config.demo_dir == "d/CartPole-v1/3"
    assert str(config.gif_path("gail")) == "g/{literal}/gail-CartPole-v1-3.gif"
    assert format_path(config.model_dir, "--model-dir", algo="bc") == "m/bc/CartPole-v1/3"
    assert format_path(config.log_dir, "--log-dir", algo="bc") == "l/bc-03"


@pytest.mark.parametrize("script, argv, flag", [
    ("run_ppo", ["--save-dir", "{tmp}/ckpt-{sed}"], "--save-dir"),
    ("run_ppo", ["--log-dir", "{tmp}/log/{algo}"], "--log-dir"),      # run_ppo has no {algo}
    ("test_policy", ["--algos", "random", "--log-dir", "{tmp}/log", "--record", "{tmp}/{algo}-{sede}.gif"],
     "--record"),
    ("sample_trajectory", ["--out-dir", "{tmp}/demos/{seeds}"], "--out-dir"),
])
def test_an_unknown_placeholder_is_refused_before_anything_is_written(script, argv, flag, tmp_path, capsys):
    module = {"run_ppo": run_ppo, "test_policy": test_policy, "sample_trajectory": sample_trajectory}[script]
    argv = [arg.replace("{tmp}", str(tmp_path)) for arg in argv]
    with pytest.raises(SystemExit) as exit_info:
        module.main(argv)
    assert exit_info.value.code == 2
    error = capsys.readouterr().err
    assert error.startswith(f"error: {flag} ") and error.count("\n") == 1 and "unknown placeholder" in error
    assert all_paths(tmp_path) == []


def test_run_ppo_fills_seed_in_save_and_log_dirs(tmp_path):
    run_ppo.main(TINY_PPO_FLAGS + ["--seed", "3", "--save-dir", str(tmp_path / "ckpt/{env}-seed{seed}"),
                                   "--log-dir", str(tmp_path / "log/{env}/seed{seed}")])
    assert (tmp_path / "ckpt/CartPole-v1-seed3/checkpoint").is_file()
    assert (tmp_path / "log/CartPole-v1/seed3/evaluations.json").is_file()
    assert not [path for path in all_paths(tmp_path) if "{" in path]


def test_sample_trajectory_fills_seed_in_out_dir(tmp_path):
    sample_trajectory.main(["--model-dir", str(SHIPPED_EXPERT), "--seed", "4", "--episodes", "1",
                            "--out-dir", str(tmp_path / "demos/{env}-seed{seed}")])
    metadata = json.loads((tmp_path / "demos/CartPole-v1-seed4/metadata.json").read_text())
    assert metadata["seed"] == 4 and metadata["env_id"] == "CartPole-v1"
    assert not [path for path in all_paths(tmp_path) if "{" in path]


def test_the_gif_replays_the_very_episode_the_policy_played() -> None:
    """common.gif renders in a child process from the episode's actions (no TensorFlow there,
    so MuJoCo's EGL renderer cannot clash with it); the frames must be those of rendering the
    episode while it is played, here on CartPole with a seeded random policy."""
    import numpy as np

    from common.envs import make_vec_env
    from common.gif import episode_frames, rgb_frame

    rng = np.random.default_rng(0)
    envs = make_vec_env("CartPole-v1", 1, render=True)
    envs.reset(seed=11)
    played_frames, actions, done = [], [], False
    while not done:
        played_frames.append(rgb_frame(envs.render(), "CartPole-v1")[::2, ::2])
        action = rng.integers(0, 2, size=1)
        actions.append(action[0])
        _, _, terminated, truncated, _ = envs.step(action)
        done = bool(terminated[0] or truncated[0])
    envs.close()
    frames, render_fps = episode_frames("CartPole-v1", 11, np.array(actions))
    assert render_fps == 50 and len(frames) == math.ceil(len(actions) / 2)
    np.testing.assert_array_equal(frames, np.stack(played_frames[::2]))
