"""Expert demonstrations on disk: a directory of .npy arrays plus a small JSON metadata file.

    observations.npy     [N, *obs_shape] float32   states s, all episodes back to back
    actions.npy          [N] int64                 actions a as executed (discrete envs), or
                         [N, action_dim] float32   (continuous envs, clipped to the bounds)
    episode_lengths.npy  [E] int64                 boundaries: sum(episode_lengths) == N
    episode_returns.npy  [E] float64               true return of each episode
    episode_terminated.npy [E] bool                True if the episode reached a terminal state,
                                                   False if a time limit cut it
    metadata.json        env id, shapes, how the episodes were made

Writing builds the whole set in a temporary sibling directory and swaps it in, so a crash
never leaves a half-written set. Loading checks everything and raises a one-line UsageError.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import sys
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable

import numpy as np

from common.envs import EnvSpec
from common.errors import UsageError
from common.files import UMASK, check_writable_dir
from common.rollout import Episodes

ARRAY_FILES = ("observations", "actions", "episode_lengths", "episode_returns", "episode_terminated")
METADATA_FILE = "metadata.json"
FORMAT_VERSION = 1


@dataclasses.dataclass
class Demonstrations:
    env_id: str
    observations: np.ndarray      # [N, *obs_shape] float32
    actions: np.ndarray           # [N] int64, or [N, action_dim] float32
    episode_lengths: np.ndarray   # [E] int64
    episode_returns: np.ndarray   # [E] float64
    episode_terminated: np.ndarray  # [E] bool
    metadata: dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def num_episodes(self) -> int:
        return len(self.episode_lengths)

    def episodes(self, start: int, stop: int) -> "Demonstrations":
        """Episodes ``start`` to ``stop - 1`` (clamped to the set), pairs and all."""
        start, stop = max(0, min(start, self.num_episodes)), max(0, min(stop, self.num_episodes))
        boundaries = np.concatenate([[0], np.cumsum(self.episode_lengths)])
        pairs = slice(int(boundaries[start]), int(boundaries[max(start, stop)]))
        episodes = slice(start, max(start, stop))
        return dataclasses.replace(self, observations=self.observations[pairs], actions=self.actions[pairs],
                                   episode_lengths=self.episode_lengths[episodes],
                                   episode_returns=self.episode_returns[episodes],
                                   episode_terminated=self.episode_terminated[episodes])

    def first_episodes(self, count: int) -> "Demonstrations":
        """The first ``count`` episodes (all of them if count is 0 or too large)."""
        if count <= 0 or count >= self.num_episodes:
            return self
        return self.episodes(0, count)

    def subsampled(self, every: int, rng: np.random.Generator) -> "Demonstrations":
        """Every ``every``-th pair of each episode, from an offset drawn in [0, every) per episode
        (clamped to the episode's last pair, so no episode is left empty): the GAIL authors' protocol
        on MuJoCo (openai/imitation's ``--data_subsamp_freq 20``), which keeps consecutive, nearly
        identical expert pairs from dominating the data. ``episode_lengths`` become the kept pair counts; the episodes'
        returns and ends are as recorded, and ``metadata["subsampled_every"]`` says what was done.
        ``every`` 1 returns the set unchanged."""
        if every == 1:
            return self
        starts = np.concatenate([[0], np.cumsum(self.episode_lengths)[:-1]])
        kept = [np.arange(start + min(int(rng.integers(every)), length - 1), start + length, every)
                for start, length in zip(starts, self.episode_lengths)]
        pairs = np.concatenate(kept) if kept else np.zeros(0, np.int64)
        return dataclasses.replace(self, observations=self.observations[pairs], actions=self.actions[pairs],
                                   episode_lengths=np.array([len(indices) for indices in kept], np.int64),
                                   metadata={**self.metadata, "subsampled_every": every})

    def describe_pairs(self) -> str:
        """"1000 pairs", or "50 pairs: 1 in 20" for a subsampled set."""
        every = self.metadata.get("subsampled_every", 1)
        return f"{self.actions.shape[0]} pairs" + (f": 1 in {every}" if every > 1 else "")

    def split_held_out(self, count: int) -> tuple["Demonstrations", "Demonstrations", bool]:
        """(the first ``count`` episodes to learn from, the episodes to score imitation against,
        whether those are held out). The rest of the set is held out; when nothing is left, the
        training episodes themselves are the reference (False). ``count`` 0 means all."""
        if count > self.num_episodes:
            print(f"note: --num-demos {count}, but the demonstration set has only {self.num_episodes} episodes; "
                  "training on all of them", file=sys.stderr)
        training = self.first_episodes(count)
        if training.num_episodes == self.num_episodes:
            return training, training, False
        return training, self.episodes(training.num_episodes, self.num_episodes), True


def describe_fidelity_reference(fidelity_demos: Demonstrations, held_out: bool) -> str:
    """The console line saying what imitation fidelity is measured against."""
    if held_out:
        return (f"fidelity (imitation/* scalars, best policy in <save-dir>/best) is measured against the "
                f"{fidelity_demos.num_episodes} held-out episodes after them")
    return ("fidelity (imitation/* scalars, best policy in <save-dir>/best) is measured against these same "
            "episodes: the set has no others to hold out")


def demonstrations_from_episodes(env_id: str, episodes: Episodes, metadata: dict[str, Any]) -> Demonstrations:
    """Pack recorded ``episodes`` (from ``run_episodes(..., record=True)``) back to back."""
    return Demonstrations(env_id=env_id,
                          observations=np.concatenate(episodes.observations).astype(np.float32),
                          actions=_action_array(np.concatenate(episodes.actions)),
                          episode_lengths=episodes.lengths.astype(np.int64),
                          episode_returns=episodes.returns.astype(np.float64),
                          episode_terminated=episodes.terminated.astype(bool),
                          metadata=metadata)


def check_out_dir(directory: str | Path, overwrite: bool = False, flag: str = "--out-dir") -> Path:
    """Raise UsageError unless a set can be written to ``directory``: it must be creatable and
    writable, and hold no files unless ``overwrite``. Creates nothing (but first puts back a set
    whose replacement was interrupted)."""
    directory = check_writable_dir(directory, flag)
    restore_interrupted_replacement(directory)
    if not directory.is_dir() or not any(directory.iterdir()):
        return directory
    if not overwrite:
        raise UsageError(f"{flag} {directory}: already holds files; pass --force to replace them")
    # --force replaces the whole directory, so it must be a demonstration set and nothing else.
    known = {METADATA_FILE} | {f"{name}.npy" for name in ARRAY_FILES}
    others = sorted(path.name for path in directory.iterdir() if path.name not in known)
    if not (directory / METADATA_FILE).is_file() or others:
        found = f"it also holds {', '.join(others[:3])}" if others else f"it has no {METADATA_FILE}"
        raise UsageError(f"{flag} {directory}: not a demonstration set ({found}); --force only replaces "
                         "a directory written by sample_trajectory.py")
    return directory


def _action_array(actions: np.ndarray) -> np.ndarray:
    """int64 [N] for discrete actions, float32 [N, action_dim] for continuous ones."""
    return actions.astype(np.int64 if np.issubdtype(actions.dtype, np.integer) else np.float32)


def save_demonstrations(demos: Demonstrations, directory: str | Path, overwrite: bool = False) -> Path:
    """Write ``demos`` to ``directory``; refuse to replace an existing set unless ``overwrite``."""
    directory = check_out_dir(directory, overwrite)
    directory.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=directory.parent, prefix=f".{directory.name}.writing-"))
    try:
        os.chmod(staging, 0o777 & ~UMASK)  # mkdtemp makes it owner-only
        for name in ARRAY_FILES:
            array = getattr(demos, name)
            with open(staging / f"{name}.npy", "wb") as handle:
                np.save(handle, array, allow_pickle=False)
                handle.flush()
                os.fsync(handle.fileno())
        metadata = {**demos.metadata, "env_id": demos.env_id, "format_version": FORMAT_VERSION,
                    "num_episodes": demos.num_episodes, "num_pairs": int(demos.actions.shape[0]),
                    "observation_shape": list(demos.observations.shape[1:])}
        with open(staging / METADATA_FILE, "w") as handle:
            handle.write(json.dumps(metadata, indent=2, sort_keys=True))
            handle.flush()
            os.fsync(handle.fileno())
        _swap_in(staging, directory)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return directory


def _swap_in(staging: Path, directory: Path) -> None:
    """Replace ``directory`` by ``staging`` with renames; the old set is removed only afterwards.
    A crash between the two renames leaves no set at ``directory`` and the old one in
    ``.<name>.old-*/``, from where ``restore_interrupted_replacement`` puts it back."""
    if directory.exists():
        retired = Path(tempfile.mkdtemp(dir=directory.parent, prefix=f".{directory.name}.old-"))
        os.replace(directory, retired / directory.name)
        os.replace(staging, directory)
        shutil.rmtree(retired)
    else:
        os.replace(staging, directory)


def restore_interrupted_replacement(directory: Path) -> None:
    """If a replacement of the set at ``directory`` was killed between its two renames (see
    ``_swap_in``), move the old set back, and say so."""
    if directory.exists():
        return
    retired = [path for path in directory.parent.glob(f".{directory.name}.old-*/{directory.name}")
               if (path / METADATA_FILE).is_file()]
    if not retired:
        return
    newest = max(retired, key=lambda path: path.stat().st_mtime)
    os.replace(newest, directory)
    shutil.rmtree(newest.parent, ignore_errors=True)
    print(f"note: {directory}: a replacement of this demonstration set was interrupted; the previous set "
          "is back in place", file=sys.stderr)


def demo_set_digest(directory: str | Path) -> str | None:
    """The SHA-256 of a demonstration set's files (their names and bytes, metadata included), hex;
    None if ``directory`` holds no set. Two sets with the same digest hold the same episodes: what
    lets an experiment reuse a finished run only while the demonstrations it learnt from are the
    ones on disk (retraining an expert rewrites them under the same path)."""
    directory = Path(directory)
    names = [*(f"{name}.npy" for name in ARRAY_FILES), METADATA_FILE]
    if not all((directory / name).is_file() for name in names):
        return None
    digest = hashlib.sha256()
    for name in names:
        digest.update(name.encode() + b"\0")
        digest.update((directory / name).read_bytes())
    return digest.hexdigest()


def _load_array(path: Path) -> np.ndarray:
    """Read one .npy file without ever unpickling; every failure is a one-line UsageError."""
    if not path.is_file():
        raise UsageError(f"{path}: missing")
    if path.stat().st_size == 0:
        raise UsageError(f"{path}: empty file")
    with open(path, "rb") as handle:
        try:
            version = np.lib.format.read_magic(handle)
            read_header = {(1, 0): np.lib.format.read_array_header_1_0,
                           (2, 0): np.lib.format.read_array_header_2_0}.get(version)
            if read_header is None:
                raise ValueError(f"unsupported .npy format version {version}")
            shape, _, dtype = read_header(handle)
        except (ValueError, EOFError, OSError) as error:
            raise UsageError(f"{path}: not a valid .npy file ({error})") from None
        if dtype.hasobject:
            raise UsageError(f"{path}: holds Python objects (would need pickle); expected a numeric array")
        handle.seek(0)
        try:
            return np.lib.format.read_array(handle, allow_pickle=False)
        except (ValueError, EOFError, OSError) as error:
            raise UsageError(f"{path}: truncated or corrupt .npy file ({shape} {dtype}: {error})") from None


def load_demonstrations(directory: str | Path, spec: EnvSpec | None = None, flag: str = "--demo-dir") -> Demonstrations:
    """Read and check a demonstration set; with ``spec``, also check it fits that env."""
    directory = Path(directory)
    restore_interrupted_replacement(directory)
    if not directory.is_dir():
        raise UsageError(f"{flag} {directory}: no such directory (make one with sample_trajectory.py)")
    metadata_path = directory / METADATA_FILE
    if not metadata_path.is_file():
        raise UsageError(f"{metadata_path}: missing; is {directory} a demonstration directory?")
    try:
        metadata = json.loads(metadata_path.read_text())
        env_id = metadata["env_id"]
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError) as error:
        raise UsageError(f"{metadata_path}: not valid demonstration metadata ({error})") from None
    arrays = {name: _load_array(directory / f"{name}.npy") for name in ARRAY_FILES}
    demos = Demonstrations(env_id=env_id, metadata=metadata, **arrays)
    check_demonstrations(demos, directory, spec, flag)
    return as_float32(demos, lambda name: str(directory / f"{name}.npy"))


def as_float32(demos: Demonstrations, where: Callable[[str], str]) -> Demonstrations:
    """Float observations and continuous actions of another precision (float64, float16) as the
    float32 the networks take, with a one-line note; values float32 cannot hold are refused.
    ``where("observations")`` names the array in the messages (its file, or its source and key)."""
    converted = {}
    for name in ("observations", "actions"):
        array = getattr(demos, name)
        if not np.issubdtype(array.dtype, np.floating) or array.dtype == np.float32:
            continue
        with np.errstate(over="ignore"):
            converted[name] = array.astype(np.float32)
        if not np.isfinite(converted[name]).all():
            raise UsageError(f"{where(name)}: {array.dtype} values too large for float32")
        print(f"note: {where(name)}: {array.dtype} read as float32", file=sys.stderr)
    return dataclasses.replace(demos, **converted) if converted else demos


def check_demonstrations(demos: Demonstrations, directory: Path, spec: EnvSpec | None, flag: str) -> None:
    observations, actions = demos.observations, demos.actions
    lengths, returns = demos.episode_lengths, demos.episode_returns
    if not np.issubdtype(observations.dtype, np.floating):
        raise UsageError(f"{directory / 'observations.npy'}: dtype {observations.dtype}, expected floating point")
    if observations.ndim < 2 or observations.shape[0] == 0:
        raise UsageError(f"{directory / 'observations.npy'}: shape {observations.shape}, expected [N, *obs_shape] with N > 0")
    if not np.isfinite(observations).all():
        raise UsageError(f"{directory / 'observations.npy'}: contains NaN or inf")
    discrete = np.issubdtype(actions.dtype, np.integer)
    if not (discrete or np.issubdtype(actions.dtype, np.floating)):
        raise UsageError(f"{directory / 'actions.npy'}: dtype {actions.dtype}, expected integers (discrete "
                         "actions) or floating point (continuous actions)")
    if actions.shape[:1] != (observations.shape[0],) or actions.ndim != (1 if discrete else 2):
        raise UsageError(f"{directory / 'actions.npy'}: shape {actions.shape} does not match "
                         f"{observations.shape[0]} observations ([N] discrete or [N, action_dim] continuous)")
    if not discrete and not np.isfinite(actions).all():
        raise UsageError(f"{directory / 'actions.npy'}: contains NaN or inf")
    if not np.issubdtype(lengths.dtype, np.integer) or lengths.ndim != 1 or (lengths <= 0).any():
        raise UsageError(f"{directory / 'episode_lengths.npy'}: expected a 1-D array of positive integers")
    if int(lengths.sum()) != observations.shape[0]:
        raise UsageError(f"{directory / 'episode_lengths.npy'}: episode lengths add up to {int(lengths.sum())}, "
                         f"but there are {observations.shape[0]} observations")
    if returns.shape != lengths.shape or not np.isfinite(returns).all():
        raise UsageError(f"{directory / 'episode_returns.npy'}: expected {len(lengths)} finite returns")
    if demos.episode_terminated.shape != lengths.shape or demos.episode_terminated.dtype != np.bool_:
        raise UsageError(f"{directory / 'episode_terminated.npy'}: expected {len(lengths)} booleans")
    if spec is None:
        return
    if demos.env_id != spec.env_id:
        raise UsageError(f"{flag} {directory}: recorded on {demos.env_id}, but --env is {spec.env_id}")
    if tuple(observations.shape[1:]) != spec.observation_shape:
        raise UsageError(f"{directory / 'observations.npy'}: observation shape {tuple(observations.shape[1:])} "
                         f"does not match {spec.env_id}'s {spec.observation_shape}")
    if discrete != spec.is_discrete:
        expected = "integers (discrete actions)" if spec.is_discrete else "floating point (continuous actions)"
        raise UsageError(f"{directory / 'actions.npy'}: dtype {actions.dtype}, but {spec.env_id} needs {expected}")
    if tuple(actions.shape[1:]) != spec.action_shape:
        raise UsageError(f"{directory / 'actions.npy'}: action shape {tuple(actions.shape[1:])} does not match "
                         f"{spec.env_id}'s {spec.action_shape}")
    if spec.is_discrete:
        outside = actions.min() < 0 or actions.max() >= spec.num_actions
    else:
        outside = (actions < spec.action_space.low).any() or (actions > spec.action_space.high).any()
    if outside:
        raise UsageError(f"{directory / 'actions.npy'}: actions outside {spec.env_id}'s action space "
                         f"{spec.action_space}")
