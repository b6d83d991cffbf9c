"""Observation normalisation: the running moments, the TF/numpy twins, and save/restore."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from gymnasium.spaces import Discrete

import run_behavior_clone
import run_gail
import run_ppo
from common.checkpoints import CheckpointStore, load_actor_critic
from common.demonstrations import load_demonstrations
from common.envs import EnvSpec, probe_env_spec
from conftest import SHIPPED_DEMOS, TINY_PPO_FLAGS
from network_models.factory import build_actor_critic, build_discriminator, discriminator_normalizer
from network_models.normalizer import ObservationNormalizer, merge_moments, normalize_numpy


def test_merge_moments_hand_example():
    # {0, 2} then {4}: mean 2, population variance (4 + 0 + 4) / 3.
    mean, variance, count = merge_moments(np.zeros(1), np.ones(1), 0, np.array([[0.0], [2.0]]))
    np.testing.assert_allclose([mean[0], variance[0], count], [1.0, 1.0, 2.0])
    mean, variance, count = merge_moments(mean, variance, count, np.array([[4.0]]))
    np.testing.assert_allclose([mean[0], variance[0], count], [2.0, 8.0 / 3.0, 3.0])


def test_merge_moments_after_a_single_observation_keeps_it():
    # {5} then {1, 3}: mean 3, population variance (4 + 4 + 0) / 3; forgetting the first
    # observation would give the batch's own mean 2 and variance 1.
    mean, variance, count = merge_moments(np.array([5.0]), np.array([0.0]), 1, np.array([[1.0], [3.0]]))
    np.testing.assert_allclose([mean[0], variance[0], count], [3.0, 8.0 / 3.0, 3.0])


def test_merge_moments_with_nothing_seen_is_exactly_the_batch_whatever_the_old_mean():
    """count 0 means the old mean and variance are placeholders: they must not leak in, not even
    as float round-off (1e8 + (0.1 - 1e8) is not 0.1 in float64)."""
    batch = np.array([[0.1], [0.3]])
    mean, variance, count = merge_moments(np.array([1e8]), np.array([7.0]), 0, batch)
    assert mean[0] == batch.mean() and variance[0] == batch.var() and count == 2.0


def test_the_running_statistics_are_never_trained_by_gradient_descent():
    """They are counted, not learned: an optimizer that saw them would move them with the loss."""
    normalizer = ObservationNormalizer(3)
    assert normalizer.trainable_variables == ()
    assert {variable.name for variable in normalizer.variables} == {"mean:0", "variance:0", "count:0"}


def test_running_moments_equal_the_moments_of_all_the_data():
    rng = np.random.default_rng(0)
    batches = [rng.normal(loc=[5.0, -1.0, 0.0], scale=[0.01, 3.0, 1.0], size=(size, 3)) for size in (7, 300, 1, 45)]
    normalizer = ObservationNormalizer(3)
    for batch in batches:
        normalizer.update(batch)
    everything = np.concatenate(batches)
    np.testing.assert_allclose(normalizer.mean.numpy(), everything.mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(normalizer.variance.numpy(), everything.var(axis=0), rtol=1e-4)
    assert normalizer.count.numpy() == len(everything)


def test_tensorflow_and_numpy_normalisation_agree_clip_and_survive_constant_features():
    normalizer = ObservationNormalizer(3)
    normalizer.update(np.array([[0.0, 1.0, 7.0], [2.0, 1.0, 7.0]], np.float32))  # mean (1, 1, 7), std (1, 0, 0)
    observations = np.array([[3.0, 1.0, 7.0], [1.0, 1.0, 7.0], [100.0, 1.0, 7.0]], np.float32)
    normalised = normalizer(tf.constant(observations)).numpy()
    np.testing.assert_allclose(normalised, [[2.0, 0.0, 0.0], [0.0, 0.0, 0.0], [10.0, 0.0, 0.0]], atol=1e-5)
    np.testing.assert_array_equal(normalize_numpy(observations, *normalizer.numpy_stats()), normalised)


def test_policy_and_numpy_actor_read_normalised_observations():
    spec = EnvSpec("toy", (2,), Discrete(2))
    model = build_actor_critic(spec, (8,), seed=0, normalize_observations=True)
    model.normalizer.update(np.array([[100.0, -3.0], [140.0, -5.0]], np.float32))
    observations = np.array([[120.0, -4.0], [130.0, -3.5]], np.float32)
    logits, values = model(tf.constant(observations))
    inputs = (observations - [120.0, -4.0]) / [20.0, 1.0]
    np.testing.assert_allclose(logits.numpy(), model.policy_net(tf.constant(inputs, tf.float32)).numpy(), rtol=1e-5)
    np.testing.assert_allclose(values.numpy(), model.values(tf.constant(observations)).numpy())
    actor = model.actor_snapshot()
    np.testing.assert_array_equal(actor.act(observations, rng=None), np.argmax(logits.numpy(), axis=-1))


def test_normalizer_is_saved_and_restored_with_the_checkpoint(tmp_path):
    spec = EnvSpec("toy", (2,), Discrete(2))
    model = build_actor_critic(spec, (8,), seed=0, normalize_observations=True)
    model.normalizer.update(np.array([[1.0, 2.0], [3.0, 6.0]], np.float32))
    store = CheckpointStore(tmp_path, {"algo": "ppo"}, policy=model)
    store.save(10, 1, np.random.default_rng(0), train_seconds=1.0)
    restored = build_actor_critic(spec, (8,), seed=1, normalize_observations=True)
    assert CheckpointStore(tmp_path, {"algo": "ppo"}, policy=restored).restore_latest(np.random.default_rng(0))
    np.testing.assert_array_equal(restored.normalizer.mean.numpy(), [2.0, 4.0])
    np.testing.assert_array_equal(restored.normalizer.variance.numpy(), [1.0, 4.0])
    assert restored.normalizer.count.numpy() == 2


def test_ppo_updates_the_normalizer_and_test_policy_loads_it(tmp_path):
    run_ppo.main(TINY_PPO_FLAGS + ["--normalize-observations", "--save-dir", str(tmp_path / "ppo"),
                                   "--log-dir", str(tmp_path / "log")])
    model, config = load_actor_critic(tmp_path / "ppo", "CartPole-v1")
    assert config["normalize_observations"] is True
    assert model.normalizer.count.numpy() == 256  # every rollout observation, once
    assert np.all(model.normalizer.variance.numpy() > 0) and not np.allclose(model.normalizer.mean.numpy(), 0)


def test_gail_discriminator_shares_the_policy_normalizer_started_from_the_demonstrations(tmp_path):
    spec = probe_env_spec("CartPole-v1")
    demos = load_demonstrations(SHIPPED_DEMOS, spec).first_episodes(1)
    policy = build_actor_critic(spec, (8,), seed=0, normalize_observations=True)
    shared = discriminator_normalizer(policy, demos.observations, standardize=True)
    assert shared is policy.normalizer
    discriminator = build_discriminator(spec, (8, 8, 8), seed=0, normalizer=shared)
    policy.normalizer.update(np.ones((4, 4), np.float32))
    observations = tf.constant(np.full((1, 4), 0.5, np.float32))
    # D's first four inputs are exactly what the policy's networks read.
    np.testing.assert_array_equal(discriminator.inputs(observations, tf.constant([0]))[:, :4].numpy(),
                                  policy.network_inputs(observations).numpy())
    # Without policy normalisation D keeps its own normaliser, fixed to the expert's statistics.
    plain_policy = build_actor_critic(spec, (8,), seed=0)
    expert_normalizer = discriminator_normalizer(plain_policy, demos.observations, standardize=True)
    np.testing.assert_allclose(expert_normalizer.mean.numpy(), demos.observations.mean(axis=0), rtol=1e-6)

    run_gail.main(TINY_PPO_FLAGS + ["--normalize-observations", "--demo-dir", str(SHIPPED_DEMOS),
                                    "--num-demos", "1", "--save-dir", str(tmp_path / "gail"),
                                    "--log-dir", str(tmp_path / "log"), "--disc-minibatch-size", "32"])
    model, _ = load_actor_critic(tmp_path / "gail", "CartPole-v1")
    assert model.normalizer.count.numpy() == len(demos.observations) + 256


@pytest.mark.parametrize("normalize", [True, False])
def test_behavior_clone_fits_the_normalizer_to_the_demonstrations(tmp_path, normalize):
    flags = ["--normalize-observations"] if normalize else []
    run_behavior_clone.main(flags + ["--demo-dir", str(SHIPPED_DEMOS), "--num-demos", "2", "--epochs", "1",
                                     "--eval-every", "1", "--eval-episodes", "1", "--no-progress",
                                     "--save-dir", str(tmp_path / "bc"), "--log-dir", str(tmp_path / "log")])
    model, _ = load_actor_critic(tmp_path / "bc", "CartPole-v1")
    if not normalize:
        assert model.normalizer is None
        return
    demos = load_demonstrations(SHIPPED_DEMOS, probe_env_spec("CartPole-v1")).first_episodes(2)
    np.testing.assert_allclose(model.normalizer.mean.numpy(), demos.observations.mean(axis=0), rtol=1e-6)
    assert model.normalizer.count.numpy() == len(demos.observations)
