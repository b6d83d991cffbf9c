"""convert_demos.py and common/demo_formats.py: demonstrations in from .npz/.npy arrays with the
common key names and from Minari, ours out to Minari; lenient where it is safe (with a note),
strict where it is not (one-line error naming the source)."""

from __future__ import annotations

import numpy as np
import pytest

import convert_demos
import gail_suite
import run_gail
from common.demo_formats import from_arrays
from common.demonstrations import load_demonstrations
from common.envs import probe_env_spec
from common.errors import UsageError
from conftest import SHIPPED_DEMOS, TINY_PPO_FLAGS

CARTPOLE = probe_env_spec("CartPole-v1")


@pytest.fixture(scope="module")
def shipped():
    return load_demonstrations(SHIPPED_DEMOS).first_episodes(3)


def flat_stream(demos, terminated_last=None) -> dict[str, np.ndarray]:
    """The three episodes as per-step arrays: what other tools store."""
    starts = np.zeros(len(demos.actions), bool)
    starts[np.append(0, np.cumsum(demos.episode_lengths)[:-1])] = True
    ends = np.roll(starts, -1)
    rewards = np.ones(len(demos.actions))  # CartPole: 1 per step
    return {"starts": starts, "ends": ends, "rewards": rewards}


def same(first, second) -> None:
    for name in ("observations", "actions", "episode_lengths", "episode_returns", "episode_terminated"):
        np.testing.assert_array_equal(getattr(first, name), getattr(second, name), err_msg=name)


@pytest.mark.parametrize("convention", ["sb3", "d4rl", "dones", "lengths"])
def test_each_key_convention_imports_the_same_episodes(shipped, tmp_path, convention, capsys):
    stream = flat_stream(shipped)
    base = {"sb3": {"obs": shipped.observations, "acts": shipped.actions, "rews": stream["rewards"],
                    "episode_starts": stream["starts"]},
            "d4rl": {"observations": shipped.observations, "actions": shipped.actions, "rewards": stream["rewards"],
                     "terminals": np.zeros_like(stream["ends"]), "timeouts": stream["ends"]},
            "dones": {"obs": shipped.observations, "actions": shipped.actions, "rewards": stream["rewards"],
                      "dones": stream["ends"]},
            "lengths": {"observations": shipped.observations, "acts": shipped.actions, "rews": stream["rewards"],
                        "episode_lengths": shipped.episode_lengths}}[convention]
    np.savez(tmp_path / "expert.npz", **base)
    convert_demos.main(["--source", str(tmp_path / "expert.npz"), "--env", "CartPole-v1",
                        "--out-dir", str(tmp_path / "set")])
    same(load_demonstrations(tmp_path / "set"), shipped)
    if convention == "dones":  # 500-step episodes of a 500-step limit: read as truncated, and said so
        assert "only 'dones' given" in capsys.readouterr().err


def test_a_directory_of_npy_files_imports_too(shipped, tmp_path):
    (tmp_path / "arrays").mkdir()
    np.save(tmp_path / "arrays" / "obs.npy", shipped.observations)
    np.save(tmp_path / "arrays" / "acts.npy", shipped.actions)
    np.save(tmp_path / "arrays" / "episode_lengths.npy", shipped.episode_lengths)
    demos = gail_suite.convert_demonstrations(tmp_path / "arrays", env="CartPole-v1")
    np.testing.assert_array_equal(demos.observations, shipped.observations)
    np.testing.assert_array_equal(demos.episode_returns, [0.0, 0.0, 0.0])  # no rewards given


def test_lenient_cases_are_read_with_a_note(shipped, capsys):
    stream = flat_stream(shipped)
    demos = from_arrays({"obs": shipped.observations.astype(np.float64),
                         "acts": shipped.actions.astype(np.float32)[:, None],
                         "rews": stream["rewards"], "terminals": np.zeros(len(stream["ends"]), np.int64),
                         "timeouts": stream["ends"].astype(np.int64)}, CARTPOLE, "expert.npz")
    same(demos, shipped)
    notes = capsys.readouterr().err.splitlines()
    assert notes == ["note: expert.npz: terminals holds 0/1 int64 values; read as booleans",  # each note once
                     "note: expert.npz: timeouts holds 0/1 int64 values; read as booleans",
                     "note: expert.npz: discrete actions shaped (1500, 1); read as [N]",
                     "note: expert.npz: discrete actions stored as float32; read as integers",
                     "note: expert.npz: observations: float64 read as float32"]
    assert demos.observations.dtype == np.float32 and demos.actions.dtype == np.int64


def test_a_terminated_episode_exactly_the_time_limit_long_gets_a_warning(shipped, capsys):
    stream = flat_stream(shipped)
    demos = from_arrays({"obs": shipped.observations, "acts": shipped.actions, "rews": stream["rewards"],
                         "terminals": stream["ends"]}, CARTPOLE, "expert.npz")
    assert demos.episode_terminated.all()
    assert ("warning: expert.npz: 3 episodes marked terminated are exactly the env's time limit (500 steps) long"
            in capsys.readouterr().err)


@pytest.mark.parametrize("change, message", [
    (lambda a: {**a, "obs": a["obs"][:, :3]}, "observation shape (3,) does not match CartPole-v1's (4,)"),
    (lambda a: {**a, "obs": np.where(np.arange(len(a["obs"]))[:, None] == 7, np.nan, a["obs"])}, "NaN"),
    (lambda a: {**a, "acts": a["acts"] + 1}, "actions outside CartPole-v1's action space"),
    (lambda a: {**a, "acts": a["acts"] + 0.5}, "expected integers"),
    (lambda a: {**a, "episode_starts": a["episode_starts"].astype(np.int64) * 2}, "must hold booleans or 0/1"),
    (lambda a: {**a, "acts": a["acts"][:-1]}, "1499 actions for 1500 observations"),
    (lambda a: {key: value for key, value in a.items() if key != "episode_starts"}, "cannot tell where episodes end"),
    (lambda a: {"observations": a["obs"]}, "needs observations ('obs' or 'observations') and actions"),
])
def test_strict_cases_are_one_line_errors_naming_the_source(shipped, change, message):
    stream = flat_stream(shipped)
    arrays = {"obs": shipped.observations, "acts": shipped.actions, "rews": stream["rewards"],
              "episode_starts": stream["starts"]}
    with pytest.raises(UsageError, match="expert.npz") as raised:
        from_arrays(change(arrays), CARTPOLE, "expert.npz")
    assert message in str(raised.value) and "\n" not in str(raised.value)


def test_a_minari_dataset_round_trips_and_gail_trains_on_it(tmp_path, monkeypatch, capsys):
    pytest.importorskip("minari")
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "minari"))
    convert_demos.main(["--source", str(SHIPPED_DEMOS), "--to-minari", "gailsuite/cartpole/expert-v0"])
    assert "to the Minari dataset gailsuite/cartpole/expert-v0" in capsys.readouterr().out
    import minari

    dataset = minari.load_dataset("gailsuite/cartpole/expert-v0")
    assert dataset.total_episodes == 10 and dataset.spec.env_spec.id == "CartPole-v1"
    convert_demos.main(["--source", "minari:gailsuite/cartpole/expert-v0", "--out-dir", str(tmp_path / "back")])
    same(load_demonstrations(tmp_path / "back"), load_demonstrations(SHIPPED_DEMOS))
    # A dataset directory works as well as an id.
    convert_demos.main(["--source", str(tmp_path / "minari" / "gailsuite" / "cartpole" / "expert-v0"),
                        "--out-dir", str(tmp_path / "from-path")])
    same(load_demonstrations(tmp_path / "from-path"), load_demonstrations(SHIPPED_DEMOS))
    run_gail.main(TINY_PPO_FLAGS + ["--demo-dir", str(tmp_path / "back"), "--num-demos", "2",
                                    "--save-dir", str(tmp_path / "gail"), "--log-dir", str(tmp_path / "log")])
    assert (tmp_path / "gail" / "checkpoint").is_file()


def test_convert_refuses_to_overwrite_and_asks_for_the_env(tmp_path, capsys):
    np.savez(tmp_path / "x.npz", obs=np.zeros((2, 4), np.float32), acts=np.zeros(2, np.int64))
    with pytest.raises(SystemExit):
        convert_demos.main(["--source", str(tmp_path / "x.npz"), "--out-dir", str(tmp_path / "set")])
    assert "plain arrays do not say their env; pass --env" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        convert_demos.main(["--source", str(tmp_path / "x.npz"), "--out-dir", str(SHIPPED_DEMOS), "--env", "CartPole-v1"])
    assert "already holds files; pass --force" in capsys.readouterr().err


def test_float64_continuous_arrays_become_float32_with_a_note_and_huge_values_are_refused(capsys):
    pendulum = probe_env_spec("Pendulum-v1")
    rng = np.random.default_rng(0)
    arrays = {"observations": rng.uniform(-1, 1, size=(6, 3)), "actions": rng.uniform(-2, 2, size=6),
              "episode_lengths": np.array([2, 4])}
    demos = from_arrays(arrays, pendulum, "p.npz")
    assert demos.observations.dtype == np.float32 and demos.actions.dtype == np.float32
    assert demos.actions.shape == (6, 1)
    np.testing.assert_allclose(demos.actions[:, 0], arrays["actions"], rtol=1e-6)
    assert capsys.readouterr().err.splitlines()[-2:] == ["note: p.npz: observations: float64 read as float32",
                                                         "note: p.npz: actions: float64 read as float32"]
    arrays["observations"][3, 1] = 1e300
    with pytest.raises(UsageError, match=r"p.npz: observations: float64 values too large for float32"):
        from_arrays(arrays, pendulum, "p.npz")
