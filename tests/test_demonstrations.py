"""Demonstration files: round trip, slicing, refusal to overwrite, atomic replacement."""

from __future__ import annotations

import re

import numpy as np
import pytest
from gymnasium.spaces import Discrete

from common.demonstrations import Demonstrations, demo_set_digest, load_demonstrations, save_demonstrations
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


def test_the_digest_names_the_sets_content_not_its_place(tmp_path):
    demos = make_demos()
    save_demonstrations(demos, tmp_path / "a")
    save_demonstrations(demos, tmp_path / "b")
    digest = demo_set_digest(tmp_path / "a")
    assert len(digest) == 64 and digest == demo_set_digest(tmp_path / "b")
    demos.observations[4, 0] += 1.0  # one number of one pair
    save_demonstrations(demos, tmp_path / "b", overwrite=True)
    assert demo_set_digest(tmp_path / "b") != digest
    assert demo_set_digest(tmp_path / "missing") is None
    (tmp_path / "a" / "actions.npy").unlink()
    assert demo_set_digest(tmp_path / "a") is None


def test_first_episodes_slices_along_boundaries():
    demos = make_demos(lengths=(3, 2, 4))
    first_two = demos.first_episodes(2)
    assert first_two.num_episodes == 2 and first_two.actions.shape == (5,)
    np.testing.assert_array_equal(first_two.observations, demos.observations[:5])
    assert demos.first_episodes(0) is demos and demos.first_episodes(10) is demos


class FixedOffsets:
    """A stand-in generator whose draws are given: the offsets of the episodes, in order."""

    def __init__(self, offsets):
        self.offsets = list(offsets)

    def integers(self, high):
        assert self.offsets[0] < high
        return self.offsets.pop(0)


def test_subsampling_keeps_every_kth_pair_from_each_episodes_offset():
    """Episodes of 5, 3 and 1 pairs (rows 0-4, 5-7, 8), every 2nd pair from offset 1: rows 1 and 3,
    row 6, and row 8 (the 1-pair episode's offset is clamped to its only pair, never emptied)."""
    demos = make_demos(lengths=(5, 3, 1))
    subsampled = demos.subsampled(2, FixedOffsets([1, 1, 1]))
    np.testing.assert_array_equal(subsampled.observations, demos.observations[[1, 3, 6, 8]])
    np.testing.assert_array_equal(subsampled.actions, demos.actions[[1, 3, 6, 8]])
    np.testing.assert_array_equal(subsampled.episode_lengths, [2, 1, 1])
    np.testing.assert_array_equal(subsampled.episode_returns, demos.episode_returns)
    np.testing.assert_array_equal(subsampled.episode_terminated, demos.episode_terminated)
    assert subsampled.metadata == {"policy_dir": "somewhere", "subsampled_every": 2}
    assert subsampled.describe_pairs() == "4 pairs: 1 in 2" and demos.describe_pairs() == "9 pairs"
    assert demos.subsampled(1, FixedOffsets([])) is demos
    np.testing.assert_array_equal(demos.subsampled(3, FixedOffsets([0, 2, 2])).observations,
                                  demos.observations[[0, 3, 7, 8]])


def test_subsampling_draws_each_offset_below_k_from_the_generator():
    """Over 30 seeds the first episode's first kept row takes many of the 20 offsets and no
    other; one seed gives one subsample."""
    demos = make_demos(lengths=(40, 40))
    first_rows = {int(np.flatnonzero((demos.observations == demos.subsampled(20, np.random.default_rng(seed))
                                      .observations[0]).all(axis=1))[0]) for seed in range(30)}
    assert first_rows <= set(range(20)) and len(first_rows) >= 10
    np.testing.assert_array_equal(demos.subsampled(20, np.random.default_rng(7)).observations,
                                  demos.subsampled(20, np.random.default_rng(7)).observations)


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
