"""Demonstration files: round trip, slicing, refusal to overwrite, atomic replacement."""

from __future__ import annotations

import re

import numpy as np
import pytest
from gymnasium.spaces import Discrete

from common.demonstrations import Demonstrations, load_demonstrations, save_demonstrations
from common.envs import EnvSpec
from common.errors import UsageError

CARTPOLE = EnvSpec("CartPole-v1", (4,), Discrete(2))


def make_demos(lengths=(3, 2), env_id="CartPole-v1") -> Demonstrations:
    rng = np.random.default_rng(0)
    total = sum(lengths)
    return Demonstrations(env_id=env_id,
                          observations=rng.normal(size=(total, 4)).astype(np.float32),
                          actions=rng.integers(0, 2, size=total).astype(np.int64),
                          episode_lengths=np.array(lengths, np.int64),
                          episode_returns=np.array(lengths, np.float64),
                          episode_terminated=np.array([True] + [False] * (len(lengths) - 1)),
                          metadata={"policy_dir": "somewhere"})


def test_round_trip_keeps_arrays_dtypes_and_metadata(tmp_path):
    demos = make_demos()
    save_demonstrations(demos, tmp_path / "demos")
    loaded = load_demonstrations(tmp_path / "demos", CARTPOLE)
    for name in ("observations", "actions", "episode_lengths", "episode_returns", "episode_terminated"):
        original, restored = getattr(demos, name), getattr(loaded, name)
        np.testing.assert_array_equal(restored, original)
        assert restored.dtype == original.dtype
    assert loaded.env_id == "CartPole-v1"
    assert loaded.metadata["policy_dir"] == "somewhere"
    assert loaded.metadata["num_episodes"] == 2 and loaded.metadata["num_pairs"] == 5


def test_first_episodes_slices_along_boundaries():
    demos = make_demos(lengths=(3, 2, 4))
    first_two = demos.first_episodes(2)
    assert first_two.num_episodes == 2 and first_two.actions.shape == (5,)
    np.testing.assert_array_equal(first_two.observations, demos.observations[:5])
    assert demos.first_episodes(0) is demos and demos.first_episodes(10) is demos


def test_existing_set_is_kept_unless_overwrite(tmp_path):
    target = tmp_path / "demos"
    save_demonstrations(make_demos(lengths=(3, 2)), target)
    before = {path.name: path.read_bytes() for path in target.iterdir()}
    with pytest.raises(UsageError, match="--force"):
        save_demonstrations(make_demos(lengths=(1, 1)), target)
    assert {path.name: path.read_bytes() for path in target.iterdir()} == before

    save_demonstrations(make_demos(lengths=(1, 1)), target, overwrite=True)
    assert load_demonstrations(target).num_episodes == 2
    assert load_demonstrations(target).actions.shape == (2,)
    assert [p.name for p in tmp_path.iterdir()] == ["demos"]  # no staging or retired copies left


def test_a_crash_while_writing_leaves_the_old_set_intact(tmp_path, monkeypatch):
    target = tmp_path / "demos"
    save_demonstrations(make_demos(lengths=(3, 2)), target)
    before = {path.name: path.read_bytes() for path in target.iterdir()}

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("common.demonstrations._swap_in", crash)
    with pytest.raises(OSError):
        save_demonstrations(make_demos(lengths=(1, 1)), target, overwrite=True)
    assert {path.name: path.read_bytes() for path in target.iterdir()} == before
    assert [p.name for p in tmp_path.iterdir()] == ["demos"]


def test_demonstrations_from_another_env_are_refused(tmp_path):
    save_demonstrations(make_demos(env_id="CartPole-v0"), tmp_path / "demos")
    with pytest.raises(UsageError, match="recorded on CartPole-v0, but --env is CartPole-v1"):
        load_demonstrations(tmp_path / "demos", CARTPOLE)


PENDULUM_DEMOS = dict(observations=np.zeros((4, 3), np.float32), episode_lengths=np.array([4]),
                      episode_returns=np.array([-1.0]), episode_terminated=np.array([False]))


@pytest.mark.parametrize("actions, message", [
    (np.array([[0.5], [-2.0], [2.0], [2.5]], np.float32), "outside Pendulum-v1's action space"),
    (np.zeros((4, 2), np.float32), "action shape (2,) does not match Pendulum-v1's (1,)"),
    (np.zeros(4, np.int64), "needs floating point"),
    (np.array([[0.0], [np.nan], [0.0], [0.0]], np.float32), "NaN or inf"),
])
def test_continuous_demonstrations_are_checked_against_the_action_space(tmp_path, actions, message):
    from common.envs import probe_env_spec

    demos = Demonstrations(env_id="Pendulum-v1", actions=actions, **PENDULUM_DEMOS)
    save_demonstrations(demos, tmp_path / "demos")
    with pytest.raises(UsageError, match=re.escape(message)):
        load_demonstrations(tmp_path / "demos", probe_env_spec("Pendulum-v1"))


def test_continuous_demonstrations_round_trip(tmp_path):
    from common.envs import probe_env_spec

    actions = np.array([[0.5], [-2.0], [2.0], [1.5]], np.float32)
    save_demonstrations(Demonstrations(env_id="Pendulum-v1", actions=actions, **PENDULUM_DEMOS), tmp_path / "d")
    loaded = load_demonstrations(tmp_path / "d", probe_env_spec("Pendulum-v1"))
    np.testing.assert_array_equal(loaded.actions, actions)
    assert loaded.actions.dtype == np.float32
