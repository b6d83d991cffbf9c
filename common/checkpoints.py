"""Checkpoints through tf.train.Checkpoint / CheckpointManager, plus loading a saved policy.

TensorFlow writes the checkpoint files under temporary names and updates the ``checkpoint``
index file last, so an interrupted save never replaces the previous good checkpoint.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import tensorflow as tf

from common.config import flag_name, load_config_dict, save_config
from common.envs import probe_env_spec
from common.errors import UsageError, first_line
from common.files import atomic_write_bytes
from network_models.factory import build_actor_critic
from network_models.mlp import ACTIVATIONS
from network_models.policy import ActorCritic


# What reading a missing, truncated, corrupt or mismatched checkpoint raises (IndexError: the C++
# reader's "Read less bytes than requested" on a truncated .data file).
RESTORE_ERRORS = (tf.errors.OpError, ValueError, AssertionError, IndexError)
BEST_DIR = "best"  # the best policy of a run, beside its latest checkpoints


@contextlib.contextmanager
def _tf_logging_silenced() -> Iterator[None]:
    """Mute TensorFlow's Python logger: some calls log a problem, then carry on as if all was well."""
    logger = tf.get_logger()
    previous = logger.level
    logger.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        logger.setLevel(previous)


def latest_checkpoint(directory: str | Path) -> str | None:
    """The newest checkpoint in ``directory``, or None if it has none.

    tf.train.latest_checkpoint only logs when the ``checkpoint`` state file is unreadable or names
    files that are gone, and returns None as if the directory were empty; that is a UsageError here.
    """
    directory = Path(directory)
    with _tf_logging_silenced():
        latest = tf.train.latest_checkpoint(str(directory))
        state = tf.train.get_checkpoint_state(str(directory))
    state_file = directory / "checkpoint"
    if state is not None:
        # CheckpointManager deletes the files of the paths it rotates out: they must be this run's.
        inside = directory.resolve()
        for path in [state.model_checkpoint_path, *state.all_model_checkpoint_paths]:
            resolved = (directory / path).resolve()  # an absolute path stays itself
            if not resolved.is_relative_to(inside):
                raise UsageError(f"{state_file}: names checkpoint {path}, outside {directory}; "
                                 "refusing to use (or rotate away) files of another directory")
    if latest is None and state_file.is_file():
        if state is None:
            raise UsageError(f"{state_file}: not a readable checkpoint state file")
        raise UsageError(f"{state_file}: names checkpoint {state.model_checkpoint_path}, whose files are missing")
    return latest


def holds_checkpoint_files(directory: str | Path) -> bool:
    """Whether ``directory`` holds any checkpoint file (the state file, a ckpt-* file or a best
    policy), whatever state the state file is in."""
    directory = Path(directory)
    return ((directory / "checkpoint").exists() or any(directory.glob("ckpt-*"))
            or (directory / BEST_DIR).exists())


class _FailedRestoreReport(logging.Filter):
    """TensorFlow's report, when a restore's bookkeeping is garbage collected, of the values it
    never restored. After a restore that failed midway that is a page of warnings, logged at exit."""

    PREFIXES = ("Detecting that an object or model or tf.train.Checkpoint is being deleted with unrestored",
                "Value in checkpoint could not be found in the restored object",
                "An attribute in the restored object could not be found in the checkpoint")

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith(self.PREFIXES)


def _restore_failed(error: BaseException) -> str:
    """Call when a restore raised: mutes TF's later report on it (the UsageError says it all) and
    returns the error's first line for that UsageError."""
    logger = tf.get_logger()
    if not any(isinstance(existing, _FailedRestoreReport) for existing in logger.filters):
        logger.addFilter(_FailedRestoreReport())
    return first_line(error)


# An imitation run's identity also names its demonstrations (common.demonstrations.demo_set_digest):
# continuing it on another set would mix two experiments in one checkpoint.
DEMOS_IDENTITY = "demos_sha256"


def refuse_another_run(saved: dict[str, Any], identity: dict[str, Any], directory: Path, recorded: str) -> None:
    """Refuse to resume the run in ``directory`` whose record ``saved`` (its checkpoint's identity,
    or its config.json: ``recorded`` says which, e.g. "was saved with") names another algorithm or
    other values of the flags in ``identity`` (the algorithm and TrainingRun.RESUME_FIXED_FLAGS), or
    other demonstrations. A record without an entry (config.json of early runs, which has no
    ``algo``; a checkpoint saved before the demonstrations were named) is not refused for it."""
    if saved.get("algo", identity["algo"]) != identity["algo"]:
        raise UsageError(f"--resume: {directory} holds a {saved['algo']} run, which {identity['algo']} cannot "
                         "continue; choose another --save-dir")
    for name, value in identity.items():
        if name == "algo" or name not in saved or saved[name] == value:
            continue
        if name == DEMOS_IDENTITY:
            raise UsageError(f"--resume: --demo-dir holds other demonstrations than those the run in {directory} "
                             "learnt from (SHA-256 differs: replaced, or another set); resume with those or choose "
                             "another --save-dir")
        raise UsageError(f"--resume: {flag_name(name)} is {value!r} but the run in {directory} "
                         f"{recorded} {saved[name]!r}; resume with the same value")


class CheckpointStore:
    """Everything needed to resume a run: networks, optimizers, counters and the numpy RNG."""

    def __init__(self, directory: str | Path, identity: dict[str, Any], max_to_keep: int = 3,
                 **trackables: Any) -> None:
        """``identity``: what the run is (its algorithm and the flags that fix the shapes of what is
        saved); it is saved with every checkpoint, so a resume can check it before restoring."""
        self.directory = Path(directory)
        self.identity = identity
        self.env_steps = tf.Variable(0, dtype=tf.int64)
        self.iteration = tf.Variable(0, dtype=tf.int64)
        self.train_seconds = tf.Variable(0.0, dtype=tf.float64)  # the run's clock, across resumes
        self.rng_state = tf.Variable("", dtype=tf.string)
        self.run_identity = tf.Variable(json.dumps(identity, sort_keys=True), dtype=tf.string)
        self.trackables = list(trackables.values())
        latest_checkpoint(directory)  # a corrupt state file is an error, not a warning and a fresh start
        self.checkpoint = tf.train.Checkpoint(env_steps=self.env_steps, iteration=self.iteration,
                                              train_seconds=self.train_seconds, rng_state=self.rng_state,
                                              run_identity=self.run_identity, **trackables)
        self.manager = tf.train.CheckpointManager(self.checkpoint, str(directory), max_to_keep=max_to_keep)

    def saved_variables(self) -> list[tf.Variable]:
        """Every variable of every tracked network (tf.Module): parameters and statistics such as
        the observation normaliser's, not optimizer state."""
        return [variable for trackable in self.trackables if isinstance(trackable, tf.Module)
                for variable in trackable.variables]

    def save(self, env_steps: int, iteration: int, rng: np.random.Generator, train_seconds: float) -> str:
        self.env_steps.assign(env_steps)
        self.iteration.assign(iteration)
        self.train_seconds.assign(train_seconds)
        self.rng_state.assign(json.dumps(rng.bit_generator.state))
        return self.manager.save(checkpoint_number=iteration)

    def check_identity(self) -> None:
        """Before a resume: refuse a checkpoint of another algorithm, or one saved with other
        structural flags (read from the checkpoint itself, not the editable config.json)."""
        latest = self.manager.latest_checkpoint
        if latest is None:
            return
        try:
            saved = json.loads(tf.train.load_checkpoint(latest).get_tensor(
                "run_identity/.ATTRIBUTES/VARIABLE_VALUE").decode())
        except (*RESTORE_ERRORS, KeyError, UnicodeDecodeError) as error:
            raise UsageError(f"{latest}: cannot resume from this checkpoint (it does not say which run wrote it: "
                             f"{first_line(error)}); start a new run in another --save-dir") from None
        refuse_another_run({"algo": None, **saved}, self.identity, self.directory, "was saved with")

    def restore_latest(self, rng: np.random.Generator) -> bool:
        """Restore the newest checkpoint into the trackables and ``rng``; False if there is none."""
        latest = self.manager.latest_checkpoint
        if latest is None:
            return False
        self.check_identity()
        try:
            self.checkpoint.restore(latest).assert_existing_objects_matched()
        except RESTORE_ERRORS as error:
            raise UsageError(f"{latest}: cannot resume from this checkpoint ({_restore_failed(error)})") from None
        rng.bit_generator.state = json.loads(self.rng_state.numpy().decode())
        return True




class BestPolicy:
    """Keeps the best policy of a run so far in ``<save-dir>/best``: a policy-only checkpoint,
    the run's config.json (so ``load_actor_critic`` reads it like any model directory) and
    best.json (which evaluation, its score and what the score measures).

    Scores are "higher is better"; a tie goes to the later policy.
    """

    def __init__(self, save_dir: str | Path, policy: ActorCritic, config: Any) -> None:
        self.directory = Path(save_dir) / BEST_DIR
        self.config = config
        self.manager = tf.train.CheckpointManager(tf.train.Checkpoint(policy=policy), str(self.directory),
                                                  max_to_keep=1)
        self.best_score: float | None = None

    def holds_checkpoint(self) -> bool:
        return self.manager.latest_checkpoint is not None

    def restore_score(self) -> None:
        """On --resume: the score to beat is the one best.json recorded."""
        try:
            self.best_score = float(json.loads((self.directory / "best.json").read_text())["score"])
        except (OSError, ValueError, KeyError, TypeError):
            self.best_score = None

    def offer(self, score: float, step: int, step_unit: str, criterion: str) -> bool:
        """Save the policy if ``score`` is at least the best so far; True if it was saved. A NaN
        score (a diverged policy) never is."""
        if not math.isfinite(score) or (self.best_score is not None and score < self.best_score):
            return False
        self.manager.save(checkpoint_number=step)
        save_config(self.config, self.directory)
        atomic_write_bytes(self.directory / "best.json", json.dumps(
            {"step": step, "step_unit": step_unit, "score": score, "criterion": criterion}, indent=1).encode())
        self.best_score = score
        return True


def policy_dir(model_dir: str | Path, checkpoint: str) -> tuple[Path, str]:
    """The directory to load for ``--checkpoint best|last`` and a note when ``best`` falls back to
    the last policy (runs saved before best policies were kept have no ``best`` directory)."""
    model_dir = Path(model_dir)
    if checkpoint == "best":
        if (model_dir / BEST_DIR / "checkpoint").is_file():
            return model_dir / BEST_DIR, ""
        if model_dir.is_dir():
            return model_dir, f"note: {model_dir} has no best policy ({BEST_DIR}/); using its last checkpoint"
    return model_dir, ""


def load_actor_critic(model_dir: str | Path, env_id: str | None = None) -> tuple[ActorCritic, dict[str, Any]]:
    """Rebuild the policy saved in ``model_dir`` (any of ppo / gail / bc) and its run config;
    with ``env_id`` (the --env flag), first check that the policy was trained on that env."""
    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        raise UsageError(f"--model-dir {model_dir}: no such directory")
    saved_config = load_config_dict(model_dir)
    saved_env, hidden_sizes = saved_config.get("env"), saved_config.get("hidden_sizes")
    if not isinstance(saved_env, str):
        raise UsageError(f"{model_dir / 'config.json'}: \"env\" is missing or not an env id")
    if not (isinstance(hidden_sizes, list) and hidden_sizes
            and all(type(size) is int and size > 0 for size in hidden_sizes)):
        raise UsageError(f"{model_dir / 'config.json'}: \"hidden_sizes\" is missing or not a list of "
                         "positive integers")
    normalize_observations = saved_config["normalize_observations"]
    if not isinstance(normalize_observations, bool):
        raise UsageError(f"{model_dir / 'config.json'}: \"normalize_observations\" is not true or false")
    if env_id is not None and saved_env != env_id:
        raise UsageError(f"--model-dir {model_dir}: policy was trained on {saved_env}, but --env is {env_id}")
    latest = latest_checkpoint(model_dir)
    if latest is None:
        raise UsageError(f"--model-dir {model_dir}: no checkpoint in this directory")
    activation = saved_config["activation"]
    if activation not in ACTIVATIONS:
        raise UsageError(f"{model_dir / 'config.json'}: \"activation\" is {activation!r}, not one of "
                         f"{', '.join(ACTIVATIONS)}")
    model = build_actor_critic(probe_env_spec(saved_env), tuple(hidden_sizes), seed=0,
                               normalize_observations=normalize_observations, activation=activation)
    try:
        tf.train.Checkpoint(policy=model).read(latest).expect_partial().assert_existing_objects_matched()
    except RESTORE_ERRORS as error:
        raise UsageError(f"--model-dir {model_dir}: checkpoint {Path(latest).name} is corrupt or does not "
                         f"match its config.json ({_restore_failed(error)})") from None
    return model, saved_config
