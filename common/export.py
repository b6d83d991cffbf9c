"""A trained policy as a self-contained TensorFlow SavedModel, for use without this project.

What is saved follows TF Agents' PolicySaver: the policy network's variables and, as concrete
functions with fixed input signatures,
  - ``action(observation)``: the deterministic action (the most likely discrete action, or the
    Gaussian mean clipped to the action bounds), as the env takes it;
  - ``sample_action(observation, seed)``: an action drawn from the policy with a stateless
    ``seed`` [2] int32, clipped like the env's actions (reproducible for a given seed);
  - ``policy_info()``: the env id, the action space and the observation size, as strings and ints.
``observation`` is a float32 batch [B, obs_dim]; the observation normaliser, if the policy has
one, is applied inside, so callers pass raw env observations. Loading needs TensorFlow only:

    policy = tf.saved_model.load("exported/CartPole-v1")
    actions = policy.action(tf.constant(observations, tf.float32)).numpy()
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import tensorflow as tf

from common.envs import EnvSpec, describe_space
from common.errors import UsageError
from common.files import UMASK, check_writable_dir
from network_models.policy import ActorCritic


class ExportedPolicy(tf.Module):
    """The policy half of an ActorCritic with its action functions (the value net is not kept)."""

    def __init__(self, model: ActorCritic, spec: EnvSpec) -> None:
        super().__init__(name="exported_policy")
        self.policy_net = model.policy_net
        self.normalizer = model.normalizer
        self.discrete = spec.is_discrete
        self.env_id = tf.constant(spec.env_id)
        self.action_space = tf.constant(describe_space(spec.action_space))
        if self.discrete:
            self.log_std = None
        else:
            self.log_std = model.head.log_std
            self.low = tf.constant(spec.action_space.low, tf.float32)
            self.high = tf.constant(spec.action_space.high, tf.float32)
        observation = tf.TensorSpec([None, spec.observation_shape[0]], tf.float32, name="observation")
        self.action = tf.function(self._action, input_signature=[observation])
        self.sample_action = tf.function(self._sample_action,
                                         input_signature=[observation, tf.TensorSpec([2], tf.int32, name="seed")])
        self.policy_info = tf.function(self._policy_info, input_signature=[])

    def _head_params(self, observation: tf.Tensor) -> tf.Tensor:
        inputs = observation if self.normalizer is None else self.normalizer(observation)
        return self.policy_net(inputs)

    def _action(self, observation: tf.Tensor) -> dict[str, tf.Tensor]:
        params = self._head_params(observation)
        if self.discrete:
            return {"action": tf.argmax(params, axis=-1, output_type=tf.int64)}
        return {"action": tf.clip_by_value(params, self.low, self.high)}

    def _sample_action(self, observation: tf.Tensor, seed: tf.Tensor) -> dict[str, tf.Tensor]:
        params = self._head_params(observation)
        if self.discrete:
            return {"action": tf.random.stateless_categorical(params, 1, seed, dtype=tf.int64)[:, 0]}
        noise = tf.random.stateless_normal(tf.shape(params), seed)
        return {"action": tf.clip_by_value(params + tf.exp(self.log_std) * noise, self.low, self.high)}

    def _policy_info(self) -> dict[str, tf.Tensor]:
        return {"env_id": self.env_id, "action_space": self.action_space}


def export_policy(model: ActorCritic, spec: EnvSpec, out_dir: str | Path, overwrite: bool = False) -> Path:
    """Write ``model``'s policy as a SavedModel to ``out_dir``, built in a hidden sibling
    directory and renamed into place, so an interrupted export leaves no partial model; an
    existing export is replaced only with ``overwrite`` (and only if it is a SavedModel)."""
    out_dir = check_writable_dir(out_dir, "--out-dir")
    if out_dir.exists() and any(out_dir.iterdir()):
        if not overwrite:
            raise UsageError(f"--out-dir {out_dir}: already holds files; pass --force to replace them")
        if not (out_dir / "saved_model.pb").is_file():
            raise UsageError(f"--out-dir {out_dir}: not a SavedModel (no saved_model.pb); --force only replaces "
                             "a directory written by export_policy.py")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=out_dir.parent, prefix=f".{out_dir.name}.writing-"))
    try:
        staging.chmod(0o777 & ~UMASK)
        exported = ExportedPolicy(model, spec)
        tf.saved_model.save(exported, str(staging / "model"),
                            signatures={"action": exported.action, "sample_action": exported.sample_action})
        if out_dir.exists():  # the old export is set aside, and deleted only once the new one is in
            os.replace(out_dir, staging / "replaced")
        try:
            os.replace(staging / "model", out_dir)
        except OSError:
            if (staging / "replaced").exists():
                os.replace(staging / "replaced", out_dir)
            raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return out_dir
