"""Demonstration checks on load: each bad set is refused with one line naming the bad file.

Catches a bounds check that only looks at the upper bound of a continuous action space, and a
length check that lets zero-length (empty) episodes through.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from gymnasium.spaces import Discrete

from common.demonstrations import Demonstrations, load_demonstrations, save_demonstrations
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
