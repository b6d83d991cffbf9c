"""Checkpoints through tf.train.Checkpoint / CheckpointManager, plus loading a saved policy.

TensorFlow writes the checkpoint files under temporary names and updates the ``checkpoint``
index file last, so an interrupted save never replaces the previous good checkpoint.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf

from common.config import load_config_dict
from common.envs import probe_env_spec
from common.errors import UsageError
from network_models.factory import build_actor_critic
from network_models.policy import ActorCritic


class CheckpointStore:
    """Everything needed to resume a run: networks, optimizers, counters and the numpy RNG."""

    def __init__(self, directory: str | Path, max_to_keep: int = 3, **trackables: Any) -> None:
        self.env_steps = tf.Variable(0, dtype=tf.int64)
        self.iteration = tf.Variable(0, dtype=tf.int64)
        self.rng_state = tf.Variable("", dtype=tf.string)
        self.checkpoint = tf.train.Checkpoint(env_steps=self.env_steps, iteration=self.iteration,
                                              rng_state=self.rng_state, **trackables)
        self.manager = tf.train.CheckpointManager(self.checkpoint, str(directory), max_to_keep=max_to_keep)

    def save(self, env_steps: int, iteration: int, rng: np.random.Generator) -> str:
        self.env_steps.assign(env_steps)
        self.iteration.assign(iteration)
        self.rng_state.assign(json.dumps(rng.bit_generator.state))
        return self.manager.save(checkpoint_number=iteration)

    def restore_latest(self, rng: np.random.Generator) -> bool:
        """Restore the newest checkpoint into the trackables and ``rng``; False if there is none."""
        latest = self.manager.latest_checkpoint
        if latest is None:
            return False
        try:
            self.checkpoint.restore(latest).assert_existing_objects_matched()
        except (tf.errors.OpError, ValueError, AssertionError) as error:
            raise UsageError(f"{latest}: cannot resume from this checkpoint ({first_line(error)})") from None
        rng.bit_generator.state = json.loads(self.rng_state.numpy().decode())
        return True


def first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def load_actor_critic(model_dir: str | Path) -> tuple[ActorCritic, dict[str, Any]]:
    """Rebuild the policy saved in ``model_dir`` (any of ppo / gail / bc) and its run config."""
    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        raise UsageError(f"--model-dir {model_dir}: no such directory")
    saved_config = load_config_dict(model_dir)
    latest = tf.train.latest_checkpoint(str(model_dir))
    if latest is None:
        raise UsageError(f"--model-dir {model_dir}: no checkpoint in this directory")
    spec = probe_env_spec(saved_config["env"])
    model = build_actor_critic(spec, saved_config["hidden_sizes"], seed=0)
    try:
        tf.train.Checkpoint(policy=model).read(latest).expect_partial().assert_existing_objects_matched()
    except (tf.errors.OpError, ValueError, AssertionError) as error:
        raise UsageError(f"--model-dir {model_dir}: checkpoint {Path(latest).name} is corrupt or does not "
                         f"match its config.json ({first_line(error)})") from None
    return model, saved_config
