"""Issue 11, "never lose a run": each numbered case of the issue, reproduced as a careless or
unlucky user would, must end with a one-line error naming the file or flag, exit status 2 (130
for Ctrl-C), and nothing on disk lost or changed.

Cases covered elsewhere: 11 (2-D and image observations) in test_observation_spaces.py, 15 (path
placeholders such as {env.name}) in test_record_and_paths.py. The SIGKILL crash test is
tools/crashtest.py (``make crashtest``; a few kills in test_crashtest.py).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import tensorflow as tf

import run_behavior_clone
import run_gail
import run_ppo
import sample_trajectory
import test_policy
from common.demonstrations import _swap_in, load_demonstrations, save_demonstrations
from common.files import DirectoryLock
from conftest import REPO_ROOT, SHIPPED_DEMOS, SHIPPED_EXPERT, TINY_PPO_FLAGS

TINY_BC_FLAGS = ["--epochs", "2", "--eval-every", "1", "--eval-episodes", "1", "--hidden-sizes", "16,16",
                 "--no-progress", "--num-demos", "1"]


def tree(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` with its bytes: what must not change."""
    return {str(path.relative_to(root)): path.read_bytes() for path in sorted(root.rglob("*")) if path.is_file()}


def fails_with(capsys, main, argv: list[str], *expected: str, code: int = 2) -> str:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == code
    error = capsys.readouterr().err
    assert error.startswith("error: ") and error.count("\n") == 1, error
    assert all(text in error for text in expected), error
    return error


def ppo_run(tmp_path: Path, name: str = "run", *extra: str) -> list[str]:
    return TINY_PPO_FLAGS + ["--save-dir", str(tmp_path / name), "--log-dir", str(tmp_path / f"{name}-log"), *extra]


def bc_run(tmp_path: Path, name: str = "bc", *extra: str) -> list[str]:
    return TINY_BC_FLAGS + ["--demo-dir", str(SHIPPED_DEMOS), "--save-dir", str(tmp_path / name),
                            "--log-dir", str(tmp_path / f"{name}-log"), *extra]


@pytest.fixture(scope="module")
def trained_runs(tmp_path_factory) -> Path:
    """One finished tiny PPO run and one finished tiny BC run, to be copied by each test."""
    root = tmp_path_factory.mktemp("runs")
    run_ppo.main(ppo_run(root, "ppo"))
    run_behavior_clone.main(bc_run(root, "bc"))
    return root


def copy_run(trained_runs: Path, name: str, tmp_path: Path) -> Path:
    import shutil

    shutil.copytree(trained_runs / name, tmp_path / name)
    return tmp_path / name


# --- 1-3, 6, 8: a save directory knows whose it is ------------------------------------------------

@pytest.mark.parametrize("holder, main, argv", [
    ("bc", run_ppo.main, lambda tmp: ppo_run(tmp, "bc", "--resume")),
    ("ppo", run_behavior_clone.main, lambda tmp: bc_run(tmp, "ppo", "--resume")),
    ("ppo", run_gail.main, lambda tmp: ppo_run(tmp, "ppo", "--resume", "--demo-dir", str(SHIPPED_DEMOS))),
])
def test_1_resume_refuses_a_save_dir_of_another_algorithm(trained_runs, tmp_path, capsys, holder, main, argv):
    save_dir = copy_run(trained_runs, holder, tmp_path)
    before = tree(save_dir)
    fails_with(capsys, main, argv(tmp_path), f"holds a {holder} run", "choose another --save-dir")
    assert tree(save_dir) == before


def test_2_checkpoint_files_without_a_state_file_are_not_overwritten(trained_runs, tmp_path, capsys):
    save_dir = copy_run(trained_runs, "ppo", tmp_path)
    (save_dir / "checkpoint").unlink()
    before = tree(save_dir)
    fails_with(capsys, run_ppo.main, ppo_run(tmp_path, "ppo"), "already holds checkpoint files", "--resume")
    assert tree(save_dir) == before


def test_3_a_state_file_naming_files_outside_the_save_dir_is_refused(trained_runs, tmp_path, capsys):
    save_dir = copy_run(trained_runs, "ppo", tmp_path)
    victim = tmp_path / "precious"
    victim.mkdir()
    for suffix in (".index", ".data-00000-of-00001"):
        (victim / f"ckpt-1{suffix}").write_bytes(b"someone else's work")
    state = (save_dir / "checkpoint").read_text()
    (save_dir / "checkpoint").write_text(state + f'all_model_checkpoint_paths: "{victim / "ckpt-1"}"\n')
    before, victim_before = tree(save_dir), tree(victim)
    fails_with(capsys, run_ppo.main, ppo_run(tmp_path, "ppo", "--resume", "--total-env-steps", "1024"),
               "checkpoint: names checkpoint", "outside")
    assert tree(save_dir) == before and tree(victim) == victim_before


def test_6_a_second_run_on_a_locked_save_dir_is_refused_naming_the_holder(tmp_path, capsys):
    save_dir = tmp_path / "run"
    save_dir.mkdir()
    holder = DirectoryLock(save_dir, "--save-dir")  # as if another run were in its loop
    try:
        fails_with(capsys, run_ppo.main, ppo_run(tmp_path), f"another run (PID {os.getpid()})")
        assert sorted(path.name for path in save_dir.iterdir()) == [".lock"]
        assert not (tmp_path / "run-log").exists()
    finally:
        holder.release()
    run_ppo.main(ppo_run(tmp_path))  # released: the directory is usable again
    assert (save_dir / "checkpoint").is_file()


def test_6_two_processes_cannot_share_a_save_dir(tmp_path):
    """A real second process, started while the first trains, gets the error and writes nothing."""
    flags = ppo_run(tmp_path, "run", "--total-env-steps", "200000", "--checkpoint-every", "100000",
                    "--eval-every", "100000")
    first = subprocess.Popen([sys.executable, "run_ppo.py", *flags], cwd=REPO_ROOT, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True)
    try:
        lock_file = tmp_path / "run" / ".lock"
        deadline = time.monotonic() + 120
        while not (lock_file.is_file() and lock_file.read_text().strip()) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert lock_file.read_text().strip() == str(first.pid)
        second = subprocess.run([sys.executable, "run_ppo.py", *flags[:-2], "--log-dir", str(tmp_path / "other-log")],
                                cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
        assert second.returncode == 2
        assert second.stderr == (f"error: --save-dir {tmp_path / 'run'}: another run (PID {first.pid}) is using "
                                 "this directory; wait for it to finish or choose another directory\n")
        assert not (tmp_path / "other-log").exists()
    finally:
        first.kill()
        first.wait()


def test_8_an_edited_config_cannot_drop_the_checkpoints_normaliser(tmp_path, capsys):
    run_ppo.main(ppo_run(tmp_path, "run", "--normalize-observations"))
    save_dir = tmp_path / "run"
    config = json.loads((save_dir / "config.json").read_text())
    (save_dir / "config.json").write_text(json.dumps({**config, "normalize_observations": False}))
    before = tree(save_dir)
    fails_with(capsys, run_ppo.main, ppo_run(tmp_path, "run", "--resume", "--total-env-steps", "512"),
               "--normalize-observations is False", "saved with True")
    assert tree(save_dir) == before


# --- 4: a --force replacement killed between its renames ----------------------------------------

def test_4_an_interrupted_replacement_is_undone_by_the_next_run(tmp_path, monkeypatch, capsys):
    out_dir = tmp_path / "demos"
    old = load_demonstrations(SHIPPED_DEMOS).first_episodes(2)
    save_demonstrations(old, out_dir)
    old_files = tree(out_dir)
    real_replace, calls = os.replace, []

    def crash_after_the_first_rename(source, target):
        calls.append(target)
        if len(calls) == 2:
            raise KeyboardInterrupt  # the process dies between the two renames
        real_replace(source, target)

    monkeypatch.setattr("common.demonstrations.os.replace", crash_after_the_first_rename)
    with pytest.raises(KeyboardInterrupt):
        save_demonstrations(old.first_episodes(1), out_dir, overwrite=True)
    monkeypatch.undo()
    assert not out_dir.exists()  # the instant the issue describes: no set at --out-dir
    restored = load_demonstrations(out_dir)  # the next run, whatever it is
    assert "a replacement of this demonstration set was interrupted" in capsys.readouterr().err
    assert restored.num_episodes == 2 and tree(out_dir) == old_files
    assert sorted(path.name for path in tmp_path.iterdir()) == ["demos"]


def test_4_swap_in_keeps_the_old_set_until_the_new_one_is_in_place(tmp_path):
    staging, directory = tmp_path / "new", tmp_path / "set"
    staging.mkdir()
    (staging / "metadata.json").write_text("new")
    directory.mkdir()
    (directory / "metadata.json").write_text("old")
    _swap_in(staging, directory)
    assert (directory / "metadata.json").read_text() == "new"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["set"]


# --- 5: evaluations written as they happen; the clock survives a resume ---------------------------

def test_5_a_kill_9_keeps_every_evaluation_and_resume_continues_the_clock(tmp_path):
    flags = ppo_run(tmp_path, "run", "--total-env-steps", "100000", "--eval-every", "64", "--checkpoint-every", "64")
    process = subprocess.Popen([sys.executable, "run_ppo.py", *flags], cwd=REPO_ROOT, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    evaluations_file = tmp_path / "run-log" / "evaluations.json"
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if evaluations_file.is_file() and len(json.loads(evaluations_file.read_text())["evaluations"]) >= 3:
                break
            time.sleep(0.1)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    before_kill = json.loads(evaluations_file.read_text())["evaluations"]
    assert len(before_kill) >= 3
    # The kill may fall between an evaluation and its iteration's checkpoint: that evaluation is
    # then redone by the resumed run. Every one up to the checkpoint must survive as it was.
    checkpoint_step = int(tf.train.latest_checkpoint(str(tmp_path / "run")).rsplit("-", 1)[1]) * 64  # 2 envs x 32
    run_ppo.main([*flags, "--resume", "--total-env-steps", str(before_kill[-1]["step"] + 128)])
    after = json.loads(evaluations_file.read_text())["evaluations"]
    kept = [record for record in before_kill if record["step"] <= checkpoint_step]
    assert len(kept) >= 2 and after[:len(kept)] == kept
    assert [record["step"] for record in after] == list(range(64, after[-1]["step"] + 64, 64))
    seconds = [record["seconds"] for record in after]
    assert seconds == sorted(seconds) and seconds[-1] > before_kill[0]["seconds"]


# --- 7: NaN and inf never reach a checkpoint ------------------------------------------------------

class InfObservationEnv(gym.Env):
    """CartPole-sized observations that become inf at the 100th step of the env's life."""

    metadata = {"render_modes": [], "render_fps": 30}
    observation_space = gym.spaces.Box(-np.inf, np.inf, (4,), np.float32)
    action_space = gym.spaces.Discrete(2)

    def __init__(self) -> None:
        self.steps = 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return self.np_random.normal(size=4).astype(np.float32), {}

    def step(self, action):
        self.steps += 1
        observation = self.np_random.normal(size=4).astype(np.float32)
        if self.steps >= 100:
            observation[0] = np.inf
        return observation, 1.0, False, self.steps % 20 == 0, {}


class ShiftedActionsEnv(InfObservationEnv):
    action_space = gym.spaces.Discrete(2, start=1)


class NoRenderEnv(InfObservationEnv):
    metadata = {"render_modes": [], "render_fps": 30}

    def __init__(self, render_mode=None) -> None:
        super().__init__()
        self.render_mode = render_mode

    def render(self):
        return None


@pytest.fixture
def custom_envs():
    envs = {"InfObs-v0": InfObservationEnv, "ShiftedActions-v0": ShiftedActionsEnv, "NoRender-v0": NoRenderEnv}
    for env_id, env_class in envs.items():
        gym.register(id=env_id, entry_point=env_class)
    yield
    for env_id in envs:
        gym.registry.pop(env_id, None)


def test_7_an_inf_observation_stops_the_run_and_the_last_checkpoint_stays_finite(tmp_path, capsys, custom_envs):
    from common.checkpoints import load_actor_critic

    argv = ppo_run(tmp_path, "run", "--env", "InfObs-v0", "--normalize-observations", "--num-envs", "1",
                   "--eval-every", "1000", "--checkpoint-every", "32")
    fails_with(capsys, run_ppo.main, argv, "--env InfObs-v0 returned a NaN or inf observation before env step 128",
               code=1)
    model, _ = load_actor_critic(tmp_path / "run")
    assert model.normalizer is not None
    assert all(np.isfinite(variable.numpy()).all() for variable in model.variables)


def test_7_a_non_finite_statistic_is_not_saved(tmp_path):
    """The guard covers every saved variable, not only the trainable ones."""
    import math

    from algo.config import PPORunConfig
    from algo.on_policy import OnPolicyTraining
    from algo.ppo import PPOTrainer
    from common.envs import probe_env_spec
    from common.training_run import TrainingDiverged
    from network_models.factory import build_actor_critic

    config = PPORunConfig(save_dir=str(tmp_path / "run"), log_dir=str(tmp_path / "log"), num_envs=2,
                          normalize_observations=True, progress=False)
    model = build_actor_critic(probe_env_spec("CartPole-v1"), (8,), seed=0, normalize_observations=True)
    training = OnPolicyTraining(config, model, PPOTrainer(model, config), algo_name="ppo")
    training.start(1, "--total-env-steps")
    model.normalizer.mean.assign([math.inf, 0.0, 0.0, 0.0])
    with pytest.raises(TrainingDiverged, match="variable mean:0 became NaN or inf"):
        training.save(64, 1)
    training.finish()
    assert not (tmp_path / "run" / "checkpoint").exists()


# --- 9, 12-14, 16-17: one-line errors before anything is written ----------------------------------

def test_9_an_error_is_one_line_with_no_tensorflow_start_up_noise(tmp_path):
    result = subprocess.run([sys.executable, "run_ppo.py", "--env", "NoSuchEnv-v0", "--save-dir", str(tmp_path / "s")],
                            cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr.startswith("error: --env NoSuchEnv-v0: ") and result.stderr.count("\n") == 1, result.stderr
    assert result.stdout == "" and not (tmp_path / "s").exists()


def test_9_a_normal_run_prints_no_tensorflow_start_up_line(tmp_path):
    result = subprocess.run([sys.executable, "run_ppo.py", *ppo_run(tmp_path)], cwd=REPO_ROOT, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0 and result.stderr == "", result.stderr
    assert result.stdout.startswith("eval at 128 env steps")


@pytest.mark.parametrize("script, main", [("ppo", run_ppo.main), ("bc", run_behavior_clone.main),
                                          ("sample", sample_trajectory.main), ("test", test_policy.main)])
def test_12_a_seed_out_of_range_is_a_usage_error(tmp_path, capsys, script, main):
    fails_with(capsys, main, ["--seed", "4294967296", "--save-dir", str(tmp_path / "s")] if script in ("ppo", "bc")
               else ["--seed", "4294967296"], "--seed must be in [0, 2**32 - 1], got 4294967296")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("env_id, expected", [
    ("nosuchmod:Foo-v0", "No module named 'nosuchmod'"),
    ("phys2d/CartPole-v0", "package 'jax' is not installed"),
    ("GymV26Environment-v0", "shimmy"),
])
def test_13_an_env_whose_package_is_missing_is_one_line(tmp_path, capsys, env_id, expected):
    if env_id.startswith("phys2d") and _installed("jax"):
        pytest.skip("jax is installed here")
    fails_with(capsys, run_ppo.main, ppo_run(tmp_path, "run", "--env", env_id), f"--env {env_id}: ", expected)
    assert list(tmp_path.iterdir()) == []


def _installed(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def test_14_a_discrete_space_not_starting_at_0_is_refused(tmp_path, capsys, custom_envs):
    fails_with(capsys, run_ppo.main, ppo_run(tmp_path, "run", "--env", "ShiftedActions-v0"), "starts at 1")
    fails_with(capsys, test_policy.main, ["--env", "ShiftedActions-v0", "--algos", "random",
                                          "--log-dir", str(tmp_path / "{algo}")], "starts at 1")
    assert list(tmp_path.iterdir()) == []


def test_16_record_on_an_env_that_cannot_render_is_refused_before_the_episodes(tmp_path, capsys, custom_envs):
    fails_with(capsys, test_policy.main, ["--env", "NoRender-v0", "--algos", "random", "--episodes", "1",
                                          "--log-dir", str(tmp_path / "{algo}"), "--record", str(tmp_path / "x.gif")],
               "--record: NoRender-v0 cannot render frames here")
    assert capsys.readouterr().out == "" and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("main, argv", [
    (run_behavior_clone.main, lambda tmp: bc_run(tmp, "bc", "--num-demos", "50")),
    (run_gail.main, lambda tmp: ppo_run(tmp, "gail", "--demo-dir", str(SHIPPED_DEMOS), "--num-demos", "50")),
])
def test_17_more_demonstrations_asked_for_than_the_set_has_is_said(tmp_path, capsys, main, argv):
    main(argv(tmp_path))
    assert ("note: --num-demos 50, but the demonstration set has only 10 episodes; training on all of them"
            in capsys.readouterr().err)


# --- 10: float64 / float16 demonstrations ---------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float64, np.float16])
def test_10_other_float_precisions_are_read_as_float32_with_a_note(tmp_path, capsys, dtype):
    demo_dir = tmp_path / "demos"
    demo_dir.mkdir()
    for path in SHIPPED_DEMOS.iterdir():
        (demo_dir / path.name).write_bytes(path.read_bytes())
    observations = np.load(demo_dir / "observations.npy")
    np.save(demo_dir / "observations.npy", observations.astype(dtype))
    run_behavior_clone.main(TINY_BC_FLAGS + ["--demo-dir", str(demo_dir), "--save-dir", str(tmp_path / "bc"),
                                             "--log-dir", str(tmp_path / "log")])
    error = capsys.readouterr().err
    assert f"note: {demo_dir / 'observations.npy'}: {np.dtype(dtype).name} read as float32" in error
    assert (tmp_path / "bc" / "checkpoint").is_file()


def test_10_values_too_large_for_float32_are_refused(tmp_path):
    from common.errors import UsageError

    demo_dir = tmp_path / "demos"
    save_demonstrations(load_demonstrations(SHIPPED_DEMOS).first_episodes(1), demo_dir)
    observations = np.load(demo_dir / "observations.npy").astype(np.float64)
    observations[0, 0] = 1e300
    np.save(demo_dir / "observations.npy", observations)
    with pytest.raises(UsageError, match="float64 values too large for float32"):
        load_demonstrations(demo_dir)


# --- 18-19: Ctrl-C anywhere is one line and exit 130 ---------------------------------------------

def test_18_ctrl_c_while_tensorflow_imports(tmp_path):
    process = subprocess.Popen([sys.executable, "run_ppo.py", "--save-dir", str(tmp_path / "s")], cwd=REPO_ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # Signal as soon as TensorFlow's core library is mapped into the process: its Python import goes
    # on for a second or more after that. (A fixed sleep was a race: on an idle machine with a warm
    # file cache the whole import can end within it.)
    maps = Path(f"/proc/{process.pid}/maps")
    deadline = time.monotonic() + 60
    while "_pywrap_tensorflow_internal" not in maps.read_text() and time.monotonic() < deadline:
        time.sleep(0.005)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=120)
    assert (process.returncode, stderr, stdout) == (130, "interrupted\n", "")
    assert list(tmp_path.iterdir()) == []


def test_19_ctrl_c_while_sampling_leaves_no_partial_set(tmp_path):
    """The episodes are interrupted from inside (deterministic, unlike a timed signal); what
    matters is the path the KeyboardInterrupt takes out of the script."""
    out_dir = tmp_path / "demos"
    code = ("import sys, gail_suite, sample_trajectory\n"
            "def interrupted(*args, **kwargs):\n"
            "    raise KeyboardInterrupt\n"
            "gail_suite.run_episodes = interrupted\n"
            f"sample_trajectory.main(['--model-dir', {str(SHIPPED_EXPERT)!r}, '--out-dir', {str(out_dir)!r}])\n")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert (result.returncode, result.stderr) == (130, "interrupted\n")
    assert list(tmp_path.iterdir()) == []
