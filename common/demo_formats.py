"""Demonstrations from elsewhere, and ours for other tools: plain .npz/.npy arrays with the common
key names, and Minari datasets (Farama's standard for offline RL data).

Arrays with the common names are read as one flat stream of N steps:
  observations  obs | observations                                   [N, obs_dim]
  actions       acts | actions                                        [N] or [N, action_dim]
  rewards       rews | rewards (optional: returns are then 0)         [N]
  episode ends  one of: episode_starts [N] (True at each first step, SB3's replay buffers),
                episode_lengths | lengths [E],
                terminals | terminations | terminated | dones [N] with timeouts | truncations |
                truncated [N] (D4RL's terminals + timeouts)
Lenient where it is safe, each with a one-line note on stderr: 0/1 integer flags as booleans,
float64/float16 as float32, discrete actions stored as whole floats or shaped [N, 1]. Strict
where it is not: the checks of common.demonstrations (env, shapes, NaN, actions in the space)
name the file and the fix. With only ``dones`` an episode's end is a time limit if it is exactly
the env's limit long and a termination otherwise (said in a note); an episode marked terminated
that is exactly the limit long gets a warning, since a wrong "terminated" changes what GAIL's
absorbing state learns.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path
from typing import Any, Mapping

import gymnasium as gym
import numpy as np

from common.demonstrations import Demonstrations, as_float32, check_demonstrations
from common.envs import EnvSpec
from common.errors import UsageError

KEYS = {"observations": ("obs", "observations"), "actions": ("acts", "actions"), "rewards": ("rews", "rewards"),
        "terminated": ("terminals", "terminations", "terminated"), "truncated": ("timeouts", "truncations", "truncated"),
        "dones": ("dones",), "episode_starts": ("episode_starts",), "episode_lengths": ("episode_lengths", "lengths")}


# The roles whose arrays are per-step flags (booleans, or 0/1 numbers read as booleans).
FLAG_ROLES = ("terminated", "truncated", "dones", "episode_starts")


def note(text: str) -> None:
    print(f"note: {text}", file=sys.stderr)


def _find(arrays: Mapping[str, np.ndarray], role: str) -> tuple[str, np.ndarray] | tuple[None, None]:
    for key in KEYS[role]:
        if key in arrays:
            return key, np.asarray(arrays[key])
    return None, None


def _flags(array: np.ndarray, name: str, source: str) -> np.ndarray:
    """A flag array as bool: booleans as they are, 0/1 numbers with a note, anything else refused."""
    flat = array.reshape(-1) if array.ndim == 2 and array.shape[1] == 1 else array
    if flat.dtype == np.bool_:
        return flat
    if np.issubdtype(flat.dtype, np.number) and np.isin(flat, (0, 1)).all():
        note(f"{source}: {name} holds 0/1 {flat.dtype} values; read as booleans")
        return flat.astype(bool)
    raise UsageError(f"{source}: {name} must hold booleans or 0/1 values (dtype {flat.dtype})")


def time_limit(env_id: str) -> int | None:
    spec = gym.spec(env_id)
    return spec.max_episode_steps


def episode_ends(arrays: Mapping[str, np.ndarray], num_steps: int, env_id: str,
                 source: str) -> tuple[np.ndarray, np.ndarray]:
    """(episode lengths [E] int64, terminated [E] bool) from whichever convention ``arrays`` use."""
    limit = time_limit(env_id)
    flag_keys = {key for role in FLAG_ROLES for key in KEYS[role]}
    arrays = {key: _flags(np.asarray(array), key, source) if key in flag_keys else array  # once each, one note
              for key, array in arrays.items()}
    key, starts = _find(arrays, "episode_starts")
    if starts is not None:
        if len(starts) != num_steps or not starts[0]:
            raise UsageError(f"{source}: {key} must have one flag per step and start with True")
        boundaries = np.append(np.flatnonzero(starts), num_steps)
        return np.diff(boundaries).astype(np.int64), _terminated_from_steps(arrays, boundaries, limit, source)
    key, lengths = _find(arrays, "episode_lengths")
    if lengths is not None:
        if not np.issubdtype(lengths.dtype, np.integer) or (lengths <= 0).any() or lengths.sum() != num_steps:
            raise UsageError(f"{source}: {key} must be positive integers adding up to the {num_steps} steps")
        boundaries = np.append(0, np.cumsum(lengths))
        return lengths.astype(np.int64), _terminated_from_steps(arrays, boundaries, limit, source)
    ended = np.zeros(num_steps, bool)
    for role in ("terminated", "truncated", "dones"):
        key, flags = _find(arrays, role)
        if flags is not None:
            if len(flags) != num_steps:
                raise UsageError(f"{source}: {key} has {len(flags)} flags for {num_steps} steps")
            ended |= flags
    if not ended.any():
        raise UsageError(f"{source}: cannot tell where episodes end; give episode_starts, episode_lengths, or "
                         "per-step terminals/terminations/dones (with timeouts/truncations)")
    if not ended[-1]:
        note(f"{source}: the last {num_steps - 1 - np.flatnonzero(ended)[-1]} steps end no episode; dropped")
    boundaries = np.append(0, np.flatnonzero(ended) + 1)
    return np.diff(boundaries).astype(np.int64), _terminated_from_steps(arrays, boundaries, limit, source)


def _terminated_from_steps(arrays: Mapping[str, np.ndarray], boundaries: np.ndarray, limit: int | None,
                           source: str) -> np.ndarray:
    """Whether each episode [boundaries[i], boundaries[i+1]) ended in a terminal state."""
    last_steps = boundaries[1:] - 1
    lengths = np.diff(boundaries)
    key, terminated = _find(arrays, "terminated")
    if terminated is not None:
        flags = terminated[last_steps]
        at_limit = flags & (lengths == limit)
        if at_limit.any():
            print(f"warning: {source}: {int(at_limit.sum())} episodes marked terminated are exactly the env's time "
                  f"limit ({limit} steps) long; if they were cut by the limit, mark them truncated, or GAIL "
                  "learns that the expert ends episodes there", file=sys.stderr)
        return flags
    dones_key, dones = _find(arrays, "dones")
    if dones_key is not None and limit is not None:
        note(f"{source}: only '{dones_key}' given; episodes {limit} steps long are read as cut by the time limit, "
             "shorter ones as terminated")
        return lengths != limit
    note(f"{source}: no termination flags; every episode is read as cut by a time limit (truncated)")
    return np.zeros(len(lengths), bool)


def _actions(actions: np.ndarray, spec: EnvSpec, source: str) -> np.ndarray:
    if spec.is_discrete:
        if actions.ndim == 2 and actions.shape[1] == 1:
            note(f"{source}: discrete actions shaped {actions.shape}; read as [N]")
            actions = actions[:, 0]
        if np.issubdtype(actions.dtype, np.floating):
            if not (np.isfinite(actions).all() and (actions == np.round(actions)).all()):
                raise UsageError(f"{source}: {spec.env_id} has discrete actions, but these {actions.dtype} actions "
                                 "are not all whole numbers; expected integers")
            note(f"{source}: discrete actions stored as {actions.dtype}; read as integers")
            actions = actions.astype(np.int64)
        return actions.astype(np.int64) if np.issubdtype(actions.dtype, np.integer) else actions
    if actions.ndim == 1 and spec.action_shape == (1,):
        actions = actions[:, None]
    return actions  # float64/float16 become float32 in from_arrays, through as_float32


def from_arrays(arrays: Mapping[str, np.ndarray], spec: EnvSpec, source: str,
                metadata: dict[str, Any] | None = None) -> Demonstrations:
    """Demonstrations from a flat stream of steps with the common key names (module docstring)."""
    obs_key, observations = _find(arrays, "observations")
    act_key, actions = _find(arrays, "actions")
    if observations is None or actions is None:
        raise UsageError(f"{source}: needs observations ('obs' or 'observations') and actions ('acts' or "
                         f"'actions'); found {', '.join(sorted(arrays)) or 'no arrays'}")
    num_steps = len(observations)
    if len(actions) != num_steps:
        raise UsageError(f"{source}: {len(actions)} actions for {num_steps} observations; give one action per "
                         "observation (drop the final observation of each episode if it is stored)")
    lengths, terminated = episode_ends(arrays, num_steps, spec.env_id, source)
    used = int(lengths.sum())
    rew_key, rewards = _find(arrays, "rewards")
    if rewards is None:
        note(f"{source}: no rewards; episode returns are recorded as 0")
        returns = np.zeros(len(lengths))
    else:
        returns = np.add.reduceat(np.asarray(rewards[:used], np.float64).reshape(used), np.append(0, np.cumsum(lengths)[:-1]))
    demos = Demonstrations(env_id=spec.env_id, observations=observations[:used],
                           actions=_actions(actions[:used], spec, source), episode_lengths=lengths,
                           episode_returns=returns, episode_terminated=terminated,
                           metadata={"source": source, **(metadata or {})})
    check_demonstrations(demos, Path(source), spec, "--source")
    return as_float32(demos, lambda name: f"{source}: {name}")


def load_arrays(path: Path) -> dict[str, np.ndarray]:
    """An .npz file's arrays, or every .npy file of a directory by its stem; never unpickles."""
    try:
        if path.is_file():
            with np.load(path, allow_pickle=False) as archive:
                return {key: archive[key] for key in archive.files}
        return {file.stem: np.load(file, allow_pickle=False) for file in sorted(path.glob("*.npy"))}
    except (ValueError, OSError) as error:
        raise UsageError(f"--source {path}: cannot read ({error})") from None


# --- Minari -------------------------------------------------------------------------------------

def _minari():
    try:
        import minari
    except ImportError:
        raise UsageError("Minari is not installed: pip install 'minari[hdf5]'") from None
    return minari


def from_minari(dataset: str, spec_for: Any, download: bool = False) -> Demonstrations:
    """A Minari dataset (an id in the local store, or a dataset's directory) as demonstrations.
    Minari stores T + 1 observations per episode (the final one too); the final one is dropped,
    as our format keeps the observation each action was taken in. ``spec_for(env_id)`` gives
    the EnvSpec of the dataset's env."""
    minari = _minari()
    path = Path(dataset)
    try:
        if path.is_dir():
            data_path = path / "data" if (path / "data").is_dir() else path
            loaded = minari.MinariDataset(data_path)
        else:
            loaded = minari.load_dataset(dataset, download=download)
    except (FileNotFoundError, ValueError, OSError) as error:
        raise UsageError(f"--source minari:{dataset}: {error}") from None
    env_id = loaded.spec.env_spec.id if loaded.spec.env_spec is not None else None
    if env_id is None:
        raise UsageError(f"--source minari:{dataset}: the dataset names no env; cannot check it")
    observations, actions, rewards, lengths, terminated = [], [], [], [], []
    for episode in loaded.iterate_episodes():
        if not isinstance(episode.observations, np.ndarray):
            raise UsageError(f"--source minari:{dataset}: observations are {type(episode.observations).__name__}, "
                             "not a flat array (only 1-D Box observations are supported)")
        observations.append(episode.observations[:-1])
        actions.append(episode.actions)
        rewards.append(episode.rewards)
        lengths.append(len(episode.actions))
        terminated.append(bool(episode.terminations[-1]))
    arrays = {"observations": np.concatenate(observations), "actions": np.concatenate(actions),
              "rewards": np.concatenate(rewards), "episode_lengths": np.array(lengths, np.int64),
              "terminated": np.repeat(terminated, lengths)}
    return from_arrays(arrays, spec_for(env_id), f"minari:{dataset}", {"minari_dataset_id": loaded.spec.dataset_id})


def to_minari(demos: Demonstrations, dataset_id: str, env: gym.Env) -> Path:
    """Write ``demos`` as the local Minari dataset ``dataset_id`` (needs minari[hdf5]). Our format
    has no final observation per episode; Minari needs one, so each episode's last observation is
    repeated there (stated in the dataset's description)."""
    minari = _minari()
    from minari.data_collector.episode_buffer import EpisodeBuffer

    buffers = []
    start = 0
    for index, length in enumerate(demos.episode_lengths):
        observations = demos.observations[start:start + length]
        terminated = np.zeros(length, bool)
        truncated = np.zeros(length, bool)
        terminated[-1] = demos.episode_terminated[index]
        truncated[-1] = not demos.episode_terminated[index]
        rewards = np.zeros(length)
        rewards[-1] = demos.episode_returns[index]
        buffers.append(EpisodeBuffer(id=index, observations=list(np.concatenate([observations, observations[-1:]])),
                                     actions=list(demos.actions[start:start + length]), rewards=list(rewards),
                                     terminations=list(terminated), truncations=list(truncated)))
        start += length
    try:
        with warnings.catch_warnings():  # its advice to name an author, a code link, an eval env
            warnings.filterwarnings("ignore", category=UserWarning, module="minari")
            dataset = minari.create_dataset_from_buffers(
                dataset_id, buffers, env=env,
                algorithm_name=str(demos.metadata.get("policy", "gail-suite demonstrations")),
                description=("Exported by the GAIL suite (convert_demos.py). Per-step rewards were not recorded: "
                             "each episode's return is on its last step. The final observation of each episode "
                             "was not recorded either; it repeats the last one."))
    except ValueError as error:
        raise UsageError(f"--to-minari {dataset_id}: {error}") from None
    return Path(dataset.spec.data_path)
