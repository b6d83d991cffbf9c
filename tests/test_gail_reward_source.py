"""GAIL never learns from the environment reward: scaling it changes nothing that is learned.

run_gail.py is run twice with the same seed and flags, once on CartPole-v1 and once on a copy
whose reward is 7 r + 3. The learned reward replaces the env reward, so every saved variable
(policy, value net, discriminator, optimizer states) must be bit-identical. Catches a loop that
learns from "learned reward + env reward", from the env reward alone, or that lets the env
reward into the discriminator or the value targets in any other way.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import gymnasium as gym
import numpy as np
import tensorflow as tf

import run_gail
from common.checkpoints import load_actor_critic
from common.envs import probe_env_spec
from conftest import SHIPPED_DEMOS, TINY_PPO_FLAGS
from network_models.factory import build_actor_critic

SCALED_ENV_ID = "RewardScaledCartPole-v1"


def make_reward_scaled_cartpole(**kwargs: object) -> gym.Env:
    """CartPole-v1 (with its 500-step time limit) paying 7 r + 3 instead of r."""
    return gym.wrappers.TransformReward(gym.make("CartPole-v1", **kwargs), lambda reward: 7.0 * reward + 3.0)


def register_scaled_env() -> str:
    if SCALED_ENV_ID not in gym.registry:
        gym.register(SCALED_ENV_ID, entry_point=make_reward_scaled_cartpole)
    return SCALED_ENV_ID


def demos_for(env_id: str, directory: Path) -> Path:
    """The shipped CartPole demonstrations, relabelled for ``env_id`` (loading checks the env id)."""
    shutil.copytree(SHIPPED_DEMOS, directory)
    metadata_path = directory / "metadata.json"
    metadata = json.loads(metadata_path.read_text())
    metadata["env_id"] = env_id
    metadata_path.write_text(json.dumps(metadata))
    return directory


def train_gail(env_id: str, root: Path) -> Path:
    demo_dir = demos_for(env_id, root / "demos")
    run_gail.main(TINY_PPO_FLAGS + ["--env", env_id, "--seed", "0", "--demo-dir", str(demo_dir),
                                    "--disc-minibatch-size", "32", "--save-dir", str(root / "gail"),
                                    "--log-dir", str(root / "log")])
    return root


def checkpoint_variables(save_dir: Path) -> dict[str, np.ndarray]:
    """Every variable of the latest checkpoint in ``save_dir``, by its checkpoint key."""
    reader = tf.train.load_checkpoint(str(save_dir))
    # Not the run's bookkeeping: its identity names the env id, its clock the seconds it took.
    return {name: reader.get_tensor(name) for name in reader.get_variable_to_shape_map()
            if name != "_CHECKPOINTABLE_OBJECT_GRAPH" and not name.startswith(("run_identity/", "train_seconds/"))}


def eval_returns(root: Path) -> list[float]:
    evaluations = json.loads((root / "log" / "evaluations.json").read_text())["evaluations"]
    return [record["return_mean"] for record in evaluations]


def test_gail_weights_are_bit_identical_when_the_env_reward_is_scaled(tmp_path: Path) -> None:
    plain = train_gail("CartPole-v1", tmp_path / "plain")
    scaled = train_gail(register_scaled_env(), tmp_path / "scaled")

    # The wrapper really was in place: the same policy scores exactly 10x on the scaled env
    # (CartPole pays 1 per step; 7 * 1 + 3 = 10).
    np.testing.assert_allclose(np.array(eval_returns(scaled)), 10 * np.array(eval_returns(plain)), rtol=1e-9)

    plain_variables = checkpoint_variables(plain / "gail")
    scaled_variables = checkpoint_variables(scaled / "gail")
    assert plain_variables.keys() == scaled_variables.keys()
    network_keys = [key for key in plain_variables if "policy" in key or "value" in key or "discriminator" in key]
    assert len(network_keys) >= 6, sorted(plain_variables)  # the networks are in there
    for key, value in plain_variables.items():
        np.testing.assert_array_equal(scaled_variables[key], value, err_msg=key)

    # And the policy did learn something (identical untrained weights would prove nothing).
    trained, _ = load_actor_critic(plain / "gail", "CartPole-v1")
    untrained = build_actor_critic(probe_env_spec("CartPole-v1"), (16, 16), seed=0)
    changes = [float(np.max(np.abs(a.numpy() - b.numpy())))
               for a, b in zip(trained.trainable_variables, untrained.trainable_variables)]
    assert min(changes) > 0, changes
