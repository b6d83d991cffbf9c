"""Demonstration checks on load: each bad set is refused with one line naming the bad file.

Catches a bounds check that only looks at the upper bound of a continuous action space, and a
length check that lets zero-length (empty) episodes through. The rest (every check on its own,
unreadable files, what a write leaves, episode slicing) was written for the mutation run
(`make mutation`, tests/mutation/report.md): each case kills mutants the tests above let live.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from gymnasium.spaces import Discrete

from common.demonstrations import Demonstrations, check_demonstrations, load_demonstrations, save_demonstrations
from common.envs import EnvSpec, probe_env_spec
from common.errors import UsageError


def refusal(directory: Path, spec: EnvSpec) -> str:
    with pytest.raises(UsageError) as raised:
        load_demonstrations(directory, spec)
    message = str(raised.value)
    assert "\n" not in message, message
    return message


@pytest.mark.parametrize("bad_action", [-2.5, -2.0001, 2.0001])
def test_continuous_actions_outside_either_bound_are_refused(tmp_path: Path, bad_action: float) -> None:
    """Pendulum-v1's torque is in [-2, 2]: below the lower bound is as wrong as above the upper."""
    actions = np.array([[0.5], [bad_action], [2.0], [-2.0]], np.float32)
    demos = Demonstrations(env_id="Pendulum-v1", observations=np.zeros((4, 3), np.float32), actions=actions,
                           episode_lengths=np.array([4], np.int64), episode_returns=np.array([-1.0]),
                           episode_terminated=np.array([False]))
    save_demonstrations(demos, tmp_path / "demos")
    message = refusal(tmp_path / "demos", probe_env_spec("Pendulum-v1"))
    assert str(tmp_path / "demos" / "actions.npy") in message
    assert "outside Pendulum-v1's action space" in message


def test_discrete_actions_below_zero_are_refused(tmp_path: Path) -> None:
    demos = Demonstrations(env_id="CartPole-v1", observations=np.zeros((3, 4), np.float32),
                           actions=np.array([0, -1, 1], np.int64), episode_lengths=np.array([3], np.int64),
                           episode_returns=np.array([3.0]), episode_terminated=np.array([True]))
    save_demonstrations(demos, tmp_path / "demos")
    message = refusal(tmp_path / "demos", EnvSpec("CartPole-v1", (4,), Discrete(2)))
    assert str(tmp_path / "demos" / "actions.npy") in message and "outside" in message


@pytest.mark.parametrize("lengths", [[3, 0, 2], [0, 5], [5, 0]])
def test_zero_length_episodes_are_refused(tmp_path: Path, lengths: list[int]) -> None:
    """The lengths still add up to the number of pairs, so only the per-episode check sees it."""
    demos = Demonstrations(env_id="CartPole-v1", observations=np.zeros((5, 4), np.float32),
                           actions=np.zeros(5, np.int64), episode_lengths=np.array(lengths, np.int64),
                           episode_returns=np.array(lengths, np.float64),
                           episode_terminated=np.zeros(len(lengths), bool))
    save_demonstrations(demos, tmp_path / "demos")
    message = refusal(tmp_path / "demos", EnvSpec("CartPole-v1", (4,), Discrete(2)))
    assert str(tmp_path / "demos" / "episode_lengths.npy") in message
    assert "positive" in message


# --- every check of check_demonstrations, one bad set each (written for the mutation run) --------

CARTPOLE = EnvSpec("CartPole-v1", (4,), Discrete(2))


def good_discrete() -> Demonstrations:
    """Two CartPole episodes (3 + 2 pairs) that pass every check, using both actions."""
    return Demonstrations(env_id="CartPole-v1", observations=np.zeros((5, 4), np.float32),
                          actions=np.array([0, 1, 1, 0, 1], np.int64), episode_lengths=np.array([3, 2], np.int64),
                          episode_returns=np.array([3.0, 2.0]), episode_terminated=np.array([True, False]))


def checked(demos: Demonstrations, spec: EnvSpec | None = CARTPOLE) -> str | None:
    """check_demonstrations' one-line refusal, or None when the set passes."""
    try:
        check_demonstrations(demos, Path("set"), spec, "--demo-dir")
    except UsageError as error:
        assert "\n" not in str(error)
        return str(error)
    return None


def test_a_good_set_passes_every_check() -> None:
    assert checked(good_discrete()) is None
    assert checked(good_discrete(), spec=None) is None


BAD_SETS = {
    # name: (change to the good set, file named in the refusal, words in it)
    "integer-observations": (dict(observations=np.zeros((5, 4), np.int64)), "observations.npy", "floating point"),
    "1-d-observations": (dict(observations=np.zeros(5, np.float32)), "observations.npy", "expected [N"),
    "no-pairs": (dict(observations=np.zeros((0, 4), np.float32), actions=np.zeros(0, np.int64),
                      episode_lengths=np.zeros(0, np.int64), episode_returns=np.zeros(0),
                      episode_terminated=np.zeros(0, bool)), "observations.npy", "N > 0"),
    "inf-observation": (dict(observations=np.full((5, 4), np.inf, np.float32)), "observations.npy", "NaN or inf"),
    "boolean-actions": (dict(actions=np.ones(5, bool)), "actions.npy", "expected integers"),
    "one-action-too-many": (dict(actions=np.zeros(6, np.int64)), "actions.npy", "does not match 5 observations"),
    "2-d-discrete-actions": (dict(actions=np.zeros((5, 1), np.int64)), "actions.npy", "does not match"),
    "1-d-continuous-actions": (dict(actions=np.zeros(5, np.float32)), "actions.npy", "does not match"),
    "float-lengths": (dict(episode_lengths=np.array([3.0, 2.0])), "episode_lengths.npy", "positive integers"),
    "2-d-lengths": (dict(episode_lengths=np.array([[3, 2]], np.int64)), "episode_lengths.npy", "positive integers"),
    "negative-length": (dict(episode_lengths=np.array([6, -1], np.int64)), "episode_lengths.npy",
                        "positive integers"),
    "lengths-add-up-to-less": (dict(episode_lengths=np.array([3, 1], np.int64)), "episode_lengths.npy",
                               "add up to 4, but there are 5"),
    "one-return-too-few": (dict(episode_returns=np.array([3.0])), "episode_returns.npy", "2 finite returns"),
    "infinite-return": (dict(episode_returns=np.array([3.0, -np.inf])), "episode_returns.npy", "2 finite returns"),
    "one-flag-too-many": (dict(episode_terminated=np.array([True, False, False])), "episode_terminated.npy",
                          "2 booleans"),
    "integer-flags": (dict(episode_terminated=np.array([1, 0], np.int64)), "episode_terminated.npy", "2 booleans"),
    "other-env": (dict(env_id="Acrobot-v1"), "set", "recorded on Acrobot-v1, but --env is CartPole-v1"),
    "other-observation-shape": (dict(observations=np.zeros((5, 3), np.float32)), "observations.npy",
                                "observation shape (3,) does not match CartPole-v1's (4,)"),
    "continuous-actions-for-discrete-env": (dict(actions=np.zeros((5, 1), np.float32)), "actions.npy",
                                            "needs integers (discrete actions)"),
    "action-equal-to-num-actions": (dict(actions=np.array([0, 1, 2, 0, 1], np.int64)), "actions.npy",
                                    "outside CartPole-v1's action space"),
}


@pytest.mark.parametrize("change, culprit, words", BAD_SETS.values(), ids=BAD_SETS.keys())
def test_each_bad_set_is_refused_naming_its_file(change: dict, culprit: str, words: str) -> None:
    import dataclasses

    message = checked(dataclasses.replace(good_discrete(), **change))
    assert message is not None, "accepted"
    assert str(Path("set") / culprit) in message if culprit != "set" else message.startswith("--demo-dir set:")
    assert words in message, message


def test_without_a_spec_only_the_set_itself_is_checked() -> None:
    """No --env to compare with: another env's set, shape or action range is not an error."""
    import dataclasses

    foreign = dataclasses.replace(good_discrete(), env_id="Acrobot-v1", actions=np.array([0, 1, 2, 0, 5], np.int64),
                                  observations=np.zeros((5, 6), np.float32))
    assert checked(foreign, spec=None) is None


def test_a_continuous_set_for_a_discrete_env_and_back_is_refused() -> None:
    import dataclasses

    pendulum = probe_env_spec("Pendulum-v1")
    discrete_set = dataclasses.replace(good_discrete(), env_id="Pendulum-v1", observations=np.zeros((5, 3), np.float32))
    assert "needs floating point (continuous actions)" in checked(discrete_set, pendulum)
    continuous = dataclasses.replace(discrete_set, actions=np.zeros((5, 1), np.float32))
    assert checked(continuous, pendulum) is None
    # Exactly on the bounds is inside the space.
    assert checked(dataclasses.replace(continuous, actions=np.array([[-2.0], [2.0], [0], [2.0], [-2.0]],
                                                                     np.float32)), pendulum) is None


# --- loading: each unreadable file is refused with one line naming it ----------------------------

def saved(tmp_path: Path, demos: Demonstrations | None = None) -> Path:
    return save_demonstrations(demos or good_discrete(), tmp_path / "demos")


def load_refusal(directory: Path) -> str:
    with pytest.raises(UsageError) as raised:
        load_demonstrations(directory, CARTPOLE)
    assert "\n" not in str(raised.value)
    return str(raised.value)


def test_missing_directory_and_metadata_are_refused(tmp_path: Path) -> None:
    assert load_refusal(tmp_path / "nowhere").startswith(f"--demo-dir {tmp_path / 'nowhere'}: no such directory")
    (tmp_path / "empty").mkdir()
    assert load_refusal(tmp_path / "empty").startswith(f"{tmp_path / 'empty' / 'metadata.json'}: missing")


@pytest.mark.parametrize("metadata", ['{"env_id": "CartPole-v1"', '["CartPole-v1"]', '{"format_version": 1}', "\xff"],
                         ids=["truncated-json", "not-an-object", "no-env-id", "not-utf-8"])
def test_unusable_metadata_is_refused(tmp_path: Path, metadata: str) -> None:
    directory = saved(tmp_path)
    (directory / "metadata.json").write_bytes(metadata.encode("latin-1"))
    message = load_refusal(directory)
    assert message.startswith(f"{directory / 'metadata.json'}: not valid demonstration metadata")


def test_unreadable_arrays_are_refused(tmp_path: Path) -> None:
    directory = saved(tmp_path)
    (directory / "actions.npy").write_bytes(b"")
    assert load_refusal(directory) == f"{directory / 'actions.npy'}: empty file"
    (directory / "actions.npy").unlink()
    assert load_refusal(directory) == f"{directory / 'actions.npy'}: missing"
    np.save(directory / "actions.npy", np.array([{"a": 1}] * 5, dtype=object), allow_pickle=True)
    assert "holds Python objects" in load_refusal(directory)
    np.save(directory / "actions.npy", np.zeros(5, np.int64))
    data = (directory / "actions.npy").read_bytes()
    (directory / "actions.npy").write_bytes(data[:-8])
    assert load_refusal(directory).startswith(f"{directory / 'actions.npy'}: truncated or corrupt .npy file")
    (directory / "actions.npy").write_bytes(b"\x93NUMPY\x09\x00" + data[8:])
    assert "unsupported .npy format version (9, 0)" in load_refusal(directory)
    (directory / "actions.npy").write_bytes(b"not an array at all")
    assert load_refusal(directory).startswith(f"{directory / 'actions.npy'}: not a valid .npy file")


def test_npy_format_versions_1_and_2_both_load(tmp_path: Path) -> None:
    directory = saved(tmp_path)
    for version in ((1, 0), (2, 0)):
        with open(directory / "actions.npy", "wb") as handle:
            np.lib.format.write_array(handle, good_discrete().actions, version=version)
        np.testing.assert_array_equal(load_demonstrations(directory, CARTPOLE).actions, good_discrete().actions)


# --- writing --------------------------------------------------------------------------------------

def test_saving_writes_the_metadata_and_permissions_of_a_finished_set(tmp_path: Path) -> None:
    import json
    import os

    from common.files import UMASK

    demos = good_discrete()
    demos.metadata = {"policy_dir": "x"}
    directory = saved(tmp_path, demos)
    metadata = json.loads((directory / "metadata.json").read_text())
    assert metadata == {"policy_dir": "x", "env_id": "CartPole-v1", "format_version": 1, "num_episodes": 2,
                        "num_pairs": 5, "observation_shape": [4]}
    assert os.stat(directory).st_mode & 0o777 == 0o777 & ~UMASK
    assert sorted(path.name for path in tmp_path.iterdir()) == ["demos"]
    # Missing parent directories are created.
    assert load_demonstrations(save_demonstrations(demos, tmp_path / "a" / "b" / "demos")).num_episodes == 2


def test_saving_never_pickles(tmp_path: Path) -> None:
    """An object array cannot be written, and the failed write leaves nothing behind."""
    import dataclasses

    demos = dataclasses.replace(good_discrete(), actions=np.array([0, 1, 1, 0, 1], dtype=object))
    with pytest.raises(ValueError):
        save_demonstrations(demos, tmp_path / "demos")
    assert list(tmp_path.iterdir()) == []


def test_force_replaces_only_a_demonstration_set(tmp_path: Path) -> None:
    from common.demonstrations import check_out_dir

    empty = tmp_path / "empty"
    empty.mkdir()
    assert check_out_dir(empty) == empty and check_out_dir(tmp_path / "new") == tmp_path / "new"
    directory = saved(tmp_path)
    with pytest.raises(UsageError, match="already holds files; pass --force"):
        check_out_dir(directory)
    assert check_out_dir(directory, overwrite=True) == directory
    (directory / "notes.txt").write_text("mine")
    with pytest.raises(UsageError, match=r"not a demonstration set \(it also holds notes.txt\)"):
        check_out_dir(directory, overwrite=True, flag="--out-dir")
    (directory / "notes.txt").unlink()
    (directory / "metadata.json").unlink()
    with pytest.raises(UsageError, match=r"not a demonstration set \(it has no metadata.json\)"):
        check_out_dir(directory, overwrite=True)


# --- episodes: slicing, held-out split, packing recorded episodes ---------------------------------

def numbered(lengths: tuple[int, ...] = (3, 2, 4)) -> Demonstrations:
    """Observation i is [i, i, i, i], so a slice shows exactly which pairs it took."""
    total = sum(lengths)
    return Demonstrations(env_id="CartPole-v1", observations=np.repeat(np.arange(total, dtype=np.float32), 4)
                          .reshape(total, 4), actions=np.arange(total, dtype=np.int64) % 2,
                          episode_lengths=np.array(lengths, np.int64),
                          episode_returns=np.array(lengths, np.float64) * 10,
                          episode_terminated=np.array([True, False, True][:len(lengths)]))


@pytest.mark.parametrize("start, stop, episodes, pairs", [
    (1, 3, [1, 2], list(range(3, 9))), (0, 1, [0], [0, 1, 2]), (2, 99, [2], [5, 6, 7, 8]),
    (-5, 1, [0], [0, 1, 2]), (2, 1, [], []), (3, 5, [], []), (5, 7, [], []), (0, 0, [], []), (0, -2, [], []),
])
def test_episodes_slices_pairs_along_episode_boundaries(start: int, stop: int, episodes: list[int],
                                                        pairs: list[int]) -> None:
    demos = numbered()
    part = demos.episodes(start, stop)
    np.testing.assert_array_equal(part.observations[:, 0], pairs)
    np.testing.assert_array_equal(part.actions, np.array(pairs, np.int64) % 2)
    np.testing.assert_array_equal(part.episode_lengths, demos.episode_lengths[episodes])
    np.testing.assert_array_equal(part.episode_returns, demos.episode_returns[episodes])
    np.testing.assert_array_equal(part.episode_terminated, demos.episode_terminated[episodes])
    assert part.num_episodes == len(episodes)


def test_first_episodes_keeps_all_for_zero_negative_or_too_many() -> None:
    demos = numbered()
    for count in (0, -1, 3, 4):
        assert demos.first_episodes(count) is demos
    assert demos.first_episodes(1).num_episodes == 1 and demos.first_episodes(2).num_episodes == 2


def test_split_held_out_holds_out_the_rest_or_reuses_the_training_episodes() -> None:
    from common.demonstrations import describe_fidelity_reference

    demos = numbered()
    training, reference, held_out = demos.split_held_out(1)
    assert held_out is True and training.num_episodes == 1 and reference.num_episodes == 2
    np.testing.assert_array_equal(reference.observations[:, 0], range(3, 9))
    assert "against the 2 held-out episodes after them" in describe_fidelity_reference(reference, held_out)
    for count in (0, 3, 10):
        training, reference, held_out = demos.split_held_out(count)
        assert held_out is False and training is demos and reference is demos
    assert "against these same episodes" in describe_fidelity_reference(demos, False)


def test_recorded_episodes_are_packed_back_to_back() -> None:
    from common.demonstrations import demonstrations_from_episodes
    from common.rollout import Episodes

    episodes = Episodes(returns=np.array([2.0, 1.0], np.float32), lengths=np.array([2, 1], np.int32),
                        terminated=np.array([1, 0]),
                        observations=[np.ones((2, 4), np.float64), np.full((1, 4), 2.0)],
                        actions=[np.array([1, 0], np.int32), np.array([1], np.int32)])
    demos = demonstrations_from_episodes("CartPole-v1", episodes, {"seed": 3})
    np.testing.assert_array_equal(demos.observations[:, 0], [1, 1, 2])
    np.testing.assert_array_equal(demos.actions, [1, 0, 1])
    assert (demos.observations.dtype, demos.actions.dtype, demos.episode_lengths.dtype,
            demos.episode_returns.dtype, demos.episode_terminated.dtype) == (
        np.float32, np.int64, np.int64, np.float64, np.bool_)
    assert demos.metadata == {"seed": 3} and checked(demos) is None
    continuous = Episodes(returns=np.zeros(1), lengths=np.array([2]), terminated=np.array([False]),
                          observations=[np.zeros((2, 3))], actions=[np.array([[0.5], [-1.0]], np.float64)])
    assert demonstrations_from_episodes("Pendulum-v1", continuous, {}).actions.dtype == np.float32


@pytest.mark.parametrize("error", [EOFError("short read"), OSError(5, "Input/output error")],
                         ids=["eof", "io-error"])
@pytest.mark.parametrize("reader", ["read_magic", "read_array"])
def test_a_failing_read_is_a_one_line_refusal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reader: str,
                                              error: Exception) -> None:
    """numpy reports truncation as ValueError; other read failures must not escape as tracebacks."""
    directory = saved(tmp_path)

    def fail(*args, **kwargs):
        raise error

    monkeypatch.setattr(np.lib.format, reader, fail)
    assert load_refusal(directory).startswith(f"{directory / 'observations.npy'}: ")


def test_the_metadata_counts_pairs_not_action_dimensions(tmp_path: Path) -> None:
    import json

    demos = Demonstrations(env_id="Pendulum-v1", observations=np.zeros((4, 3), np.float32),
                           actions=np.zeros((4, 1), np.float32), episode_lengths=np.array([4]),
                           episode_returns=np.array([-1.0]), episode_terminated=np.array([False]))
    metadata = json.loads((saved(tmp_path, demos) / "metadata.json").read_text())
    assert metadata["num_pairs"] == 4 and metadata["observation_shape"] == [3]


def test_a_failed_cleanup_does_not_hide_the_error_that_stopped_the_write(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil

    def crash_after_losing_the_staging_dir(staging: Path, directory: Path) -> None:
        shutil.rmtree(staging)
        raise OSError("disk full")

    monkeypatch.setattr("common.demonstrations._swap_in", crash_after_losing_the_staging_dir)
    with pytest.raises(OSError, match="disk full"):
        save_demonstrations(good_discrete(), tmp_path / "demos")
