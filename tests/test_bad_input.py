"""Issue 3: bad input gives one `error:` line naming the culprit, exit status 2, and touches no file.

Every case builds its bad input under ``tmp_path`` (copies of the shipped demonstrations and
expert, corrupted there; the originals are never modified), runs one script's ``main`` in-process
from inside ``tmp_path`` (so a default relative path would also land there), and checks:

* ``SystemExit`` with code 2, no traceback;
* stderr holds exactly one non-empty line, starting with ``error:``;
* that line names the offending flag or file;
* ``tmp_path`` is byte-for-byte what it was before the call: no file changed, added or
  removed, and no directory created.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import shutil
from pathlib import Path
from typing import Callable

import gymnasium as gym
import numpy as np
import pytest
import tensorflow as tf

import run_behavior_clone
import run_gail
import run_ppo
import sample_trajectory
import test_policy
from conftest import SHIPPED_DEMOS, SHIPPED_EXPERT, TINY_PPO_FLAGS

Main = Callable[[list[str] | None], None]
SCRIPTS: dict[str, Main] = {"ppo": run_ppo.main, "gail": run_gail.main, "bc": run_behavior_clone.main,
                            "test-policy": test_policy.main, "sample": sample_trajectory.main}
BC_FLAGS = ["--epochs", "2", "--eval-every", "1", "--eval-episodes", "2", "--no-progress",
            "--hidden-sizes", "16,16"]


# --- helpers ------------------------------------------------------------------------------------

def snapshot(root: Path) -> dict[str, bytes | None]:
    """{relative path: bytes} of every file under ``root``; directories map to None."""
    return {str(path.relative_to(root)): None if path.is_dir() else path.read_bytes()
            for path in sorted(root.rglob("*"))}


def run_expecting_usage_error(main: Main, argv: list[str], capfd: pytest.CaptureFixture[str],
                              caplog: pytest.LogCaptureFixture) -> str:
    """Run ``main(argv)``; check exit 2 and a one-line ``error:`` on stderr; return that line.

    Log records count as stderr too: TensorFlow's Python logger writes its warnings there in a
    real run, through a handler that pytest's fd capture does not see.
    """
    capfd.readouterr()  # drop anything printed while the case was set up
    caplog.clear()
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    out, err = capfd.readouterr()
    logged = [f"{record.name} {record.levelname}: {record.getMessage()}" for record in caplog.records
              if record.levelno >= logging.WARNING]
    assert not logged, f"would also print to stderr: {logged}"
    assert exit_info.value.code == 2, f"exit status {exit_info.value.code}; stderr:\n{err}"
    assert "Traceback" not in out + err, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one line on stderr, got {len(lines)}:\n{err}"
    assert lines[0].startswith("error: "), lines[0]
    return lines[0]


@pytest.fixture(autouse=True)
def shipped_files_stay_untouched():
    before = {root: snapshot(root) for root in (SHIPPED_DEMOS, SHIPPED_EXPERT)}
    yield
    for root, files in before.items():
        assert snapshot(root) == files, f"{root} was modified"


@dataclasses.dataclass
class Case:
    script: str
    argv: list[str]
    culprits: tuple[str, ...]  # each must appear in the error line: the offending flag and/or path


@pytest.fixture
def refused(tmp_path, capfd, caplog, monkeypatch) -> Callable[[Case], None]:
    """``refused(case)``: run the case from inside ``tmp_path``; check the one-line error, that it
    names every culprit, and that nothing under ``tmp_path`` changed."""
    monkeypatch.chdir(tmp_path)

    def check(case: Case) -> None:
        before = snapshot(tmp_path)
        line = run_expecting_usage_error(SCRIPTS[case.script], case.argv, capfd, caplog)
        for culprit in case.culprits:
            assert culprit in line, f"{culprit!r} not named in {line!r}"
        after = snapshot(tmp_path)
        changed = sorted(path for path in before.keys() | after.keys()
                         if before.get(path, 0) != after.get(path, 0))
        assert not changed, f"changed, added or removed under the test's directory: {changed}"

    return check


def copy_demos(tmp_path: Path) -> Path:
    return Path(shutil.copytree(SHIPPED_DEMOS, tmp_path / "demos"))


def copy_expert(tmp_path: Path, name: str = "expert") -> Path:
    return Path(shutil.copytree(SHIPPED_EXPERT, tmp_path / name))


def a_regular_file(tmp_path: Path) -> Path:
    path = tmp_path / "afile"
    path.write_text("not a directory\n")
    return path


def training_argv(script: str, tmp_path: Path, demo_dir: Path | None = None) -> list[str]:
    """A valid tiny command line for a training script, writing under ``tmp_path``."""
    dirs = ["--save-dir", str(tmp_path / "save"), "--log-dir", str(tmp_path / "log")]
    if script == "ppo":
        return TINY_PPO_FLAGS + dirs
    demos = ["--demo-dir", str(demo_dir if demo_dir is not None else SHIPPED_DEMOS)]
    if script == "gail":
        return TINY_PPO_FLAGS + ["--disc-minibatch-size", "32"] + demos + dirs
    return BC_FLAGS + demos + dirs


def policy_argv(script: str, tmp_path: Path, model_dir: Path | str) -> list[str]:
    """A valid command line for test_policy.py / sample_trajectory.py with the given --model-dir."""
    if script == "test-policy":
        return ["--algos", "ppo", "--model-dir", str(model_dir), "--log-dir", str(tmp_path / "log" / "{algo}"),
                "--episodes", "2"]
    return ["--model-dir", str(model_dir), "--out-dir", str(tmp_path / "out"), "--episodes", "2"]


# --- demonstrations (run_gail.py and run_behavior_clone.py read them the same way) ----------------

def resave(name: str, change: Callable[[np.ndarray], np.ndarray]) -> Callable[[Path], str]:
    """A corruption that rewrites ``name``.npy as ``change(array)``; names that file."""
    def corrupt(demo_dir: Path) -> str:
        path = demo_dir / f"{name}.npy"
        np.save(path, change(np.load(path)))
        return str(path)
    return corrupt


def set_item(index: int, value: float) -> Callable[[np.ndarray], np.ndarray]:
    def change(array: np.ndarray) -> np.ndarray:
        array = array.copy()
        array.flat[index] = value
        return array
    return change


def overwrite(name: str, payload: Callable[[bytes], bytes]) -> Callable[[Path], str]:
    """A corruption that replaces the raw bytes of ``name`` (a file in the set); names that file."""
    def corrupt(demo_dir: Path) -> str:
        path = demo_dir / name
        path.write_bytes(payload(path.read_bytes()))
        return str(path)
    return corrupt


def remove_demo_dir(demo_dir: Path) -> str:
    shutil.rmtree(demo_dir)
    return f"--demo-dir {demo_dir}"


def empty_demo_dir(demo_dir: Path) -> str:
    shutil.rmtree(demo_dir)
    demo_dir.mkdir()
    return str(demo_dir / "metadata.json")


def demo_dir_is_a_file(demo_dir: Path) -> str:
    shutil.rmtree(demo_dir)
    demo_dir.write_text("not a directory\n")
    return f"--demo-dir {demo_dir}"


def only_observations(demo_dir: Path) -> str:
    for path in demo_dir.glob("*.npy"):
        if path.name != "observations.npy":
            path.unlink()
    return str(demo_dir / "actions.npy")


def pickled_objects(demo_dir: Path) -> str:
    path = demo_dir / "actions.npy"
    np.save(path, np.array([{"action": int(a)} for a in np.load(path)], dtype=object), allow_pickle=True)
    return str(path)


def metadata_env(env_id: str) -> Callable[[Path], str]:
    def corrupt(demo_dir: Path) -> str:
        path = demo_dir / "metadata.json"
        path.write_text(json.dumps({**json.loads(path.read_text()), "env_id": env_id}))
        return f"--demo-dir {demo_dir}"
    return corrupt


def random_bytes(_: bytes) -> bytes:
    return np.random.default_rng(0).integers(0, 256, size=4096, dtype=np.uint8).tobytes()


DEMO_CORRUPTIONS: dict[str, Callable[[Path], str]] = {
    "demo-dir-missing": remove_demo_dir,
    "demo-dir-empty": empty_demo_dir,
    "demo-dir-is-a-file": demo_dir_is_a_file,
    "only-observations-npy": only_observations,
    "empty-npy": overwrite("actions.npy", lambda _: b""),
    "fewer-actions-than-observations": resave("actions", lambda a: a[:-1]),
    "episode-lengths-do-not-add-up": resave("episode_lengths", lambda a: a + 1),
    "observation-shape-not-the-envs": resave("observations", lambda o: np.concatenate([o, o[:, :1]], axis=1)),
    "action-above-action-space": resave("actions", set_item(0, 2)),
    "negative-action": resave("actions", set_item(0, -1)),
    "nan-in-observations": resave("observations", set_item(5, np.nan)),
    "inf-in-observations": resave("observations", set_item(5, np.inf)),
    "nan-episode-return": resave("episode_returns", set_item(0, np.nan)),
    "float-actions": resave("actions", lambda a: a.astype(np.float32) + 0.5),
    "truncated-npy": overwrite("observations.npy", lambda data: data[: len(data) // 2]),
    "truncated-npy-header": overwrite("observations.npy", lambda data: data[:20]),
    "random-bytes-npy": overwrite("observations.npy", random_bytes),
    "text-file-as-npy": overwrite("observations.npy", lambda _: b"0.1 0.2 0.3 0.4\n0.5 0.6 0.7 0.8\n"),
    "object-array-needs-pickle": pickled_objects,
    "metadata-says-other-env": metadata_env("Acrobot-v1"),
    "metadata-invalid-json": overwrite("metadata.json", lambda data: data[: len(data) // 2]),
    "metadata-not-an-object": overwrite("metadata.json", lambda _: b'["CartPole-v1"]'),
}


@pytest.mark.parametrize("script", ["gail", "bc"])
@pytest.mark.parametrize("corrupt", DEMO_CORRUPTIONS.values(), ids=DEMO_CORRUPTIONS.keys())
def test_bad_demonstrations(script, corrupt, tmp_path, refused):
    demo_dir = copy_demos(tmp_path)
    culprit = corrupt(demo_dir)
    refused(Case(script, training_argv(script, tmp_path, demo_dir), (culprit,)))


# --- env ids --------------------------------------------------------------------------------------

class ToyEnv(gym.Env):
    """One-step env whose action space the toolkit does not support."""

    observation_space = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)

    def __init__(self, action_space: gym.Space) -> None:
        self.action_space = action_space

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return np.zeros(2, np.float32), {}

    def step(self, action):
        return np.zeros(2, np.float32), 0.0, True, False, {}


UNSUPPORTED_ACTION_SPACES = {
    "MultiBinaryActions-v0": gym.spaces.MultiBinary(2),
    "UnboundedBoxActions-v0": gym.spaces.Box(-np.inf, np.inf, (1,), np.float32),
}
for _env_id, _space in UNSUPPORTED_ACTION_SPACES.items():
    if _env_id not in gym.registry:
        gym.register(_env_id, entry_point=ToyEnv, kwargs={"action_space": _space})

ENV_CASES = {
    f"{script}-{name}": (script, env_id)
    for name, env_id in (("unknown-env", "NoSuchEnv-v0"), ("multi-binary-actions", "MultiBinaryActions-v0"),
                         ("unbounded-box-actions", "UnboundedBoxActions-v0"))
    for script in ("ppo", "gail", "bc", "test-policy")
}


@pytest.mark.parametrize("script, env_id", ENV_CASES.values(), ids=ENV_CASES.keys())
def test_unsupported_env(script, env_id, tmp_path, refused):
    if script == "test-policy":
        argv = ["--algos", "random", "--log-dir", str(tmp_path / "log" / "{algo}"), "--episodes", "2"]
    else:
        argv = training_argv(script, tmp_path)
    refused(Case(script, argv + ["--env", env_id], (f"--env {env_id}",)))


# --- checkpoints (test_policy.py and sample_trajectory.py load them the same way) ----------------

def edit_config(names_file: bool, **changes) -> Callable[[Path], str]:
    """Edit the copy's config.json (None deletes a key); the error names that file or --model-dir."""
    def corrupt(model_dir: Path) -> str:
        path = model_dir / "config.json"
        config = json.loads(path.read_text())
        for key, value in changes.items():
            if value is None:
                del config[key]
            else:
                config[key] = value
        path.write_text(json.dumps(config))
        return str(path) if names_file else f"--model-dir {model_dir}"
    return corrupt


def remove_model_dir(model_dir: Path) -> str:
    shutil.rmtree(model_dir)
    return f"--model-dir {model_dir}"


def empty_model_dir(model_dir: Path) -> str:
    shutil.rmtree(model_dir)
    model_dir.mkdir()
    return str(model_dir / "config.json")


def only_config(model_dir: Path) -> str:
    for path in model_dir.iterdir():
        if path.name != "config.json":
            path.unlink()
    return f"--model-dir {model_dir}"


def checkpoint_file(suffix: str, payload: Callable[[bytes], bytes]) -> Callable[[Path], str]:
    """Replace the bytes of the checkpoint file ending in ``suffix``; the error names --model-dir."""
    def corrupt(model_dir: Path) -> str:
        (path,) = [path for path in model_dir.iterdir() if path.name.endswith(suffix)]
        path.write_bytes(payload(path.read_bytes()))
        return f"--model-dir {model_dir}"
    return corrupt


def delete_file(suffix: str) -> Callable[[Path], str]:
    def corrupt(model_dir: Path) -> str:
        (path,) = [path for path in model_dir.iterdir() if path.name.endswith(suffix)]
        path.unlink()
        return f"--model-dir {model_dir}"
    return corrupt


def naming_state_file(corrupt: Callable[[Path], str]) -> Callable[[Path], str]:
    """The same corruption, but the error must name the ``checkpoint`` state file."""
    def corrupt_and_name_state_file(model_dir: Path) -> str:
        corrupt(model_dir)
        return str(model_dir / "checkpoint")
    return corrupt_and_name_state_file


CHECKPOINT_CORRUPTIONS: dict[str, tuple[Callable[[Path], str], str]] = {
    # name: (corruption of a copy of the shipped expert, --env passed to the script)
    "model-dir-missing": (remove_model_dir, "CartPole-v1"),
    "model-dir-empty": (empty_model_dir, "CartPole-v1"),
    "model-dir-without-checkpoint": (only_config, "CartPole-v1"),
    "config-json-invalid": (overwrite("config.json", lambda data: data[:40]), "CartPole-v1"),
    "config-json-not-an-object": (overwrite("config.json", lambda _: b'["CartPole-v1", [64, 64]]'), "CartPole-v1"),
    "config-json-without-hidden-sizes": (edit_config(True, hidden_sizes=None), "CartPole-v1"),
    "config-json-hidden-sizes-not-a-list": (edit_config(True, hidden_sizes="64,64"), "CartPole-v1"),
    "config-json-unknown-activation": (edit_config(True, activation="sigmoid"), "CartPole-v1"),
    "checkpoint-state-file-garbage": (
        naming_state_file(checkpoint_file("checkpoint", lambda _: b"\x00garbage{{\n")), "CartPole-v1"),
    "index-file-missing": (naming_state_file(delete_file(".index")), "CartPole-v1"),
    "data-file-missing": (delete_file(".data-00000-of-00001"), "CartPole-v1"),
    "data-file-truncated": (checkpoint_file(".data-00000-of-00001", lambda d: d[: len(d) // 2]), "CartPole-v1"),
    "data-file-zeroed": (checkpoint_file(".data-00000-of-00001", lambda d: bytes(len(d))), "CartPole-v1"),
    "index-file-truncated": (checkpoint_file(".index", lambda d: d[: len(d) // 2]), "CartPole-v1"),
    "index-file-random-bytes": (checkpoint_file(".index", random_bytes), "CartPole-v1"),
    "other-architecture-wider": (edit_config(False, hidden_sizes=[32, 32]), "CartPole-v1"),
    "other-architecture-deeper": (edit_config(False, hidden_sizes=[64, 64, 64]), "CartPole-v1"),
    "trained-on-other-env-than-flag": (lambda model_dir: f"--model-dir {model_dir}", "Acrobot-v1"),
    "config-env-acrobot-flag-cartpole": (edit_config(False, env="Acrobot-v1"), "CartPole-v1"),
    "config-env-acrobot-shapes-differ": (edit_config(False, env="Acrobot-v1"), "Acrobot-v1"),
}


@pytest.mark.parametrize("script", ["test-policy", "sample"])
@pytest.mark.parametrize("corrupt, env_id", CHECKPOINT_CORRUPTIONS.values(), ids=CHECKPOINT_CORRUPTIONS.keys())
def test_bad_checkpoint(script, corrupt, env_id, tmp_path, refused):
    model_dir = copy_expert(tmp_path)
    culprit = corrupt(model_dir)
    argv = policy_argv(script, tmp_path, model_dir) + ["--env", env_id]
    refused(Case(script, argv, (culprit,)))


# --- resuming and existing checkpoints ------------------------------------------------------------

def resume_without_checkpoint(script: str, save_dir_exists: bool) -> Callable[[Path], Case]:
    def setup(tmp_path: Path) -> Case:
        if save_dir_exists:
            (tmp_path / "save").mkdir()
        return Case(script, training_argv(script, tmp_path) + ["--resume"], (f"--save-dir {tmp_path / 'save'}",))
    return setup


def existing_checkpoint(script: str) -> Callable[[Path], Case]:
    def setup(tmp_path: Path) -> Case:
        copy_expert(tmp_path, "save")
        return Case(script, training_argv(script, tmp_path), (f"--save-dir {tmp_path / 'save'}",))
    return setup


# The shipped expert's shape flags (a resume must keep them) and its checkpoint's name.
EXPERT_SHAPE = ["--num-envs", "8", "--rollout-steps", "32", "--hidden-sizes", "64,64"]
EXPERT_CHECKPOINT = Path(tf.train.latest_checkpoint(str(SHIPPED_EXPERT))).name


def resume_with_other_shape(flag: str, *value: str) -> Callable[[Path], Case]:
    """--resume of the expert's run with a network or batch shape flag changed: the flag is named."""
    def setup(tmp_path: Path) -> Case:
        copy_expert(tmp_path, "save")
        return Case("ppo", training_argv("ppo", tmp_path) + ["--resume", *EXPERT_SHAPE, flag, *value], (flag,))
    return setup


def unusable_checkpoint(change: Callable[[Path], object], flags: list[str],
                        culprit: str) -> Callable[[Path], Case]:
    """run_ppo.py with ``flags`` on a copy of the expert changed by ``change``; ``culprit`` is a file in it."""
    def setup(tmp_path: Path) -> Case:
        save_dir = copy_expert(tmp_path, "save")
        change(save_dir)
        return Case("ppo", training_argv("ppo", tmp_path) + flags, (str(save_dir / culprit),))
    return setup


def random_then_missing_checkpoint(tmp_path: Path) -> Case:
    """--algos random,ppo with a missing ppo checkpoint: random's log must not be written either."""
    model_dir = tmp_path / "missing"
    argv = policy_argv("test-policy", tmp_path, model_dir) + ["--algos", "random,ppo"]
    return Case("test-policy", argv, (f"--model-dir {model_dir}",))


STATE_CASES: dict[str, Callable[[Path], Case]] = {
    "ppo-resume-no-save-dir": resume_without_checkpoint("ppo", save_dir_exists=False),
    "ppo-resume-empty-save-dir": resume_without_checkpoint("ppo", save_dir_exists=True),
    "gail-resume-no-save-dir": resume_without_checkpoint("gail", save_dir_exists=False),
    "ppo-save-dir-holds-checkpoint": existing_checkpoint("ppo"),
    "gail-save-dir-holds-checkpoint": existing_checkpoint("gail"),
    "bc-save-dir-holds-checkpoint": existing_checkpoint("bc"),
    "ppo-resume-other-architecture": resume_with_other_shape("--hidden-sizes", "32,32"),
    "ppo-resume-other-num-envs": resume_with_other_shape("--num-envs", "4"),
    "ppo-resume-other-rollout-steps": resume_with_other_shape("--rollout-steps", "16"),
    "ppo-resume-other-normalization": resume_with_other_shape("--normalize-observations"),
    "ppo-resume-truncated-data-file": unusable_checkpoint(
        checkpoint_file(".data-00000-of-00001", lambda d: d[: len(d) // 2]),
        ["--resume", *EXPERT_SHAPE], EXPERT_CHECKPOINT),
    "ppo-resume-index-file-missing": unusable_checkpoint(
        delete_file(".index"), ["--resume", *EXPERT_SHAPE], "checkpoint"),
    "ppo-save-dir-corrupt-state-file": unusable_checkpoint(
        checkpoint_file("checkpoint", lambda _: b"garbage{{\n"), [], "checkpoint"),
    "test-policy-random-then-missing-checkpoint": random_then_missing_checkpoint,
}


@pytest.mark.parametrize("setup", STATE_CASES.values(), ids=STATE_CASES.keys())
def test_checkpoint_state_refused(setup, tmp_path, refused):
    refused(setup(tmp_path))


# --- flags ----------------------------------------------------------------------------------------

FLAG_CASES: dict[str, tuple[str, list[str], str]] = {
    # name: (script, flags appended to a valid command line, the flag the error must name)
    "learning-rate-zero": ("ppo", ["--learning-rate", "0"], "--learning-rate"),
    "learning-rate-negative": ("ppo", ["--learning-rate", "-0.001"], "--learning-rate"),
    "learning-rate-nan": ("ppo", ["--learning-rate", "nan"], "--learning-rate"),
    "learning-rate-inf": ("ppo", ["--learning-rate", "inf"], "--learning-rate"),
    "num-envs-zero": ("ppo", ["--num-envs", "0"], "--num-envs"),
    "num-envs-not-a-number": ("ppo", ["--num-envs", "two"], "--num-envs"),
    "num-envs-float": ("ppo", ["--num-envs", "2.5"], "--num-envs"),
    "clip-range-zero": ("ppo", ["--clip-range", "0"], "--clip-range"),
    "gamma-zero": ("ppo", ["--gamma", "0"], "--gamma"),
    "gamma-1.5": ("ppo", ["--gamma", "1.5"], "--gamma"),
    "gamma-not-a-number": ("ppo", ["--gamma", "high"], "--gamma"),
    "gae-lambda-zero": ("ppo", ["--gae-lambda", "0"], "--gae-lambda"),
    "gae-lambda-1.5": ("ppo", ["--gae-lambda", "1.5"], "--gae-lambda"),
    "minibatch-larger-than-batch": ("ppo", ["--minibatch-size", "65"], "--minibatch-size"),
    "total-env-steps-zero": ("ppo", ["--total-env-steps", "0"], "--total-env-steps"),
    "num-epochs-zero": ("ppo", ["--num-epochs", "0"], "--num-epochs"),
    "rollout-steps-zero": ("ppo", ["--rollout-steps", "0"], "--rollout-steps"),
    "entropy-coef-negative": ("ppo", ["--entropy-coef", "-0.5"], "--entropy-coef"),
    "seed-negative": ("ppo", ["--seed", "-1"], "--seed"),
    "hidden-sizes-zero": ("ppo", ["--hidden-sizes", "0"], "--hidden-sizes"),
    "hidden-sizes-letters": ("ppo", ["--hidden-sizes", "a,b"], "--hidden-sizes"),
    "hidden-sizes-empty": ("ppo", ["--hidden-sizes", ","], "--hidden-sizes"),
    "unknown-flag": ("ppo", ["--no-such-flag", "1"], "--no-such-flag"),
    "gail-disc-learning-rate-zero": ("gail", ["--disc-learning-rate", "0"], "--disc-learning-rate"),
    "gail-disc-hidden-sizes-zero": ("gail", ["--disc-hidden-sizes", "64,0"], "--disc-hidden-sizes"),
    "gail-reward-unknown": ("gail", ["--reward", "d"], "--reward"),
    "gail-gamma-one-with-absorbing-states": ("gail", ["--gamma", "1"], "--gamma"),
    "save-dir-stray-brace": ("ppo", ["--save-dir", "runs/{envv"], "--save-dir"),
    "test-policy-model-dir-unknown-placeholder-index": ("test-policy", ["--model-dir", "m/{0}"], "--model-dir"),
    "test-policy-record-not-a-gif": ("test-policy", ["--record", "episode.mp4"], "--record"),
    "gail-num-demos-negative": ("gail", ["--num-demos", "-1"], "--num-demos"),
    "gail-minibatch-larger-than-batch": ("gail", ["--minibatch-size", "65"], "--minibatch-size"),
    "bc-epochs-zero": ("bc", ["--epochs", "0"], "--epochs"),
    "bc-learning-rate-zero": ("bc", ["--learning-rate", "0"], "--learning-rate"),
    "bc-minibatch-size-zero": ("bc", ["--minibatch-size", "0"], "--minibatch-size"),
    "test-policy-episodes-zero": ("test-policy", ["--episodes", "0"], "--episodes"),
    "test-policy-algos-unknown": ("test-policy", ["--algos", "ppo,dqn"], "--algos"),
    "test-policy-algos-empty": ("test-policy", ["--algos", ","], "--algos"),
    "test-policy-num-envs-zero": ("test-policy", ["--num-envs", "0"], "--num-envs"),
    "sample-episodes-zero": ("sample", ["--episodes", "0"], "--episodes"),
    "sample-episodes-not-a-number": ("sample", ["--episodes", "ten"], "--episodes"),
}


@pytest.mark.parametrize("script, flags, flag", FLAG_CASES.values(), ids=FLAG_CASES.keys())
def test_invalid_flag(script, flags, flag, tmp_path, refused):
    if script in ("test-policy", "sample"):
        argv = policy_argv(script, tmp_path, SHIPPED_EXPERT)
    else:
        argv = training_argv(script, tmp_path)
    refused(Case(script, argv + flags, (flag,)))


# --- output directories that cannot be written, and --out-dir without --force -------------------

def output_under_a_file(script: str, flag: str, below: str = "sub") -> Callable[[Path], Case]:
    """``flag`` pointing below (or at) a regular file: tests run as root, so permissions would not do."""
    def setup(tmp_path: Path) -> Case:
        target = a_regular_file(tmp_path) / below if below else a_regular_file(tmp_path)
        if script in ("test-policy", "sample"):
            argv = policy_argv(script, tmp_path, SHIPPED_EXPERT)
        else:
            argv = training_argv(script, tmp_path)
        return Case(script, argv + [flag, str(target)], (f"{flag} {target}",))
    return setup


def out_dir_holding(name: str) -> Callable[[Path], Case]:
    def setup(tmp_path: Path) -> Case:
        out_dir = copy_demos(tmp_path) if name == "demonstrations" else tmp_path / "out"
        if name != "demonstrations":
            out_dir.mkdir()
            (out_dir / name).write_text("someone's notes\n")
        argv = policy_argv("sample", tmp_path, SHIPPED_EXPERT) + ["--out-dir", str(out_dir)]
        return Case("sample", argv, (f"--out-dir {out_dir}", "--force"))
    return setup


def force_on_other_directory(with_demonstrations: bool) -> Callable[[Path], Case]:
    """--force replaces a whole directory, so it must refuse one that is not only a demonstration set."""
    def setup(tmp_path: Path) -> Case:
        out_dir = copy_demos(tmp_path) if with_demonstrations else tmp_path / "project"
        out_dir.mkdir(exist_ok=True)
        (out_dir / "precious.txt").write_text("not a demonstration\n")
        argv = policy_argv("sample", tmp_path, SHIPPED_EXPERT) + ["--out-dir", str(out_dir), "--force"]
        return Case("sample", argv, (f"--out-dir {out_dir}", "precious.txt"))
    return setup


OUTPUT_CASES: dict[str, Callable[[Path], Case]] = {
    "ppo-save-dir-below-a-file": output_under_a_file("ppo", "--save-dir"),
    "ppo-save-dir-is-a-file": output_under_a_file("ppo", "--save-dir", below=""),
    "ppo-log-dir-below-a-file": output_under_a_file("ppo", "--log-dir"),
    "gail-save-dir-below-a-file": output_under_a_file("gail", "--save-dir"),
    "gail-log-dir-below-a-file": output_under_a_file("gail", "--log-dir", below="sub/deeper"),
    "bc-save-dir-below-a-file": output_under_a_file("bc", "--save-dir"),
    "bc-log-dir-below-a-file": output_under_a_file("bc", "--log-dir"),
    "test-policy-log-dir-below-a-file": output_under_a_file("test-policy", "--log-dir"),
    "sample-out-dir-below-a-file": output_under_a_file("sample", "--out-dir"),
    "sample-out-dir-is-a-file": output_under_a_file("sample", "--out-dir", below=""),
    "sample-out-dir-holds-demonstrations-no-force": out_dir_holding("demonstrations"),
    "sample-out-dir-holds-other-file-no-force": out_dir_holding("notes.txt"),
    "sample-force-on-a-directory-that-is-not-a-set": force_on_other_directory(with_demonstrations=False),
    "sample-force-on-a-set-with-extra-files": force_on_other_directory(with_demonstrations=True),
}


@pytest.mark.parametrize("setup", OUTPUT_CASES.values(), ids=OUTPUT_CASES.keys())
def test_unusable_output_dir(setup, tmp_path, refused):
    refused(setup(tmp_path))
