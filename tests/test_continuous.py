"""Continuous actions: the Gaussian head against closed forms, clipping, and the scripts on Pendulum."""

from __future__ import annotations

import math

import numpy as np
import pytest
import tensorflow as tf

import run_behavior_clone
import run_gail
import run_ppo
import sample_trajectory
import test_policy
from common.demonstrations import load_demonstrations
from common.envs import make_vec_env, probe_env_spec
from common.rollout import RolloutCollector
from conftest import REPO_ROOT, TINY_PPO_FLAGS
from network_models.factory import build_actor_critic, build_discriminator, make_head
import gail_suite
from algo.config import GailRunConfig, PPOConfig
from algo.ppo import PPOTrainer
from network_models.heads import CategoricalHead, GaussianHead, mean_overshoot


def test_gaussian_log_prob_matches_the_closed_form():
    head = GaussianHead(low=np.array([-2.0, -1.0]), high=np.array([2.0, 1.0]))
    # Standard deviations whose logs do not cancel in the sum over dimensions (0.5 and 2 would).
    head.log_std.assign([math.log(0.5), math.log(3.0)])
    means = np.array([[0.0, 1.0], [1.0, -1.0]], np.float32)
    actions = np.array([[0.5, 3.0], [1.0, -1.0]], np.float32)  # unclipped samples may leave the box
    stds = np.array([0.5, 3.0])
    expected = [sum(-0.5 * ((a - m) / s) ** 2 - math.log(s) - 0.5 * math.log(2 * math.pi)
                    for a, m, s in zip(action_row, mean_row, stds))
                for action_row, mean_row in zip(actions, means)]
    np.testing.assert_allclose(head.log_prob(tf.constant(means), tf.constant(actions)).numpy(), expected,
                               rtol=1e-5)


def test_gaussian_entropy_matches_the_closed_form():
    head = GaussianHead(low=np.array([-1.0, -1.0, -1.0]), high=np.array([1.0, 1.0, 1.0]))
    head.log_std.assign([0.0, math.log(3.0), -1.0])
    # Entropy of N(m, s^2) is 0.5 * log(2 pi e s^2); the dims are independent, so they add.
    expected = sum(0.5 * math.log(2 * math.pi * math.e * s ** 2) for s in (1.0, 3.0, math.exp(-1.0)))
    entropy = head.entropy(tf.zeros((4, 3))).numpy()
    assert entropy.shape == (4,)
    np.testing.assert_allclose(entropy, expected, rtol=1e-6)


def test_gaussian_sampling_clipping_and_encoding():
    head = GaussianHead(low=np.array([-2.0]), high=np.array([2.0]))
    head.log_std.assign([math.log(0.5)])
    frozen = head.frozen()
    samples = frozen.sample(np.full((50_000, 1), 1.0, np.float32), np.random.default_rng(0))
    assert samples.dtype == np.float32
    assert samples.mean() == pytest.approx(1.0, abs=0.01) and samples.std() == pytest.approx(0.5, abs=0.01)
    assert samples.max() > 2.0  # the sample itself is not clipped: PPO needs its log-probability
    np.testing.assert_array_equal(frozen.to_env(np.array([[-7.0], [0.3], [9.0]], np.float32)),
                                  np.array([[-2.0], [0.3], [2.0]], np.float32))
    np.testing.assert_array_equal(head.encode_actions(tf.constant([[-7.0], [9.0]])).numpy(), [[-2.0], [2.0]])
    np.testing.assert_array_equal(frozen.mode(np.array([[5.0]])), [[5.0]])


def test_gaussian_action_error_is_the_mean_distance_of_the_clipped_means():
    head = GaussianHead(low=np.array([-2.0]), high=np.array([2.0]))
    means = tf.constant([[3.0], [0.5]])  # the first mean lies outside the box: clipped to 2
    actions = tf.constant([[1.0], [-0.5]])
    assert float(head.action_error(means, actions)) == pytest.approx((abs(2.0 - 1.0) + abs(0.5 + 0.5)) / 2)


def test_mean_overshoot_is_the_squared_distance_beyond_the_bounds_in_half_ranges():
    low, high = np.array([-2.0, -1.0], np.float32), np.array([2.0, 1.0], np.float32)  # half-ranges 2 and 1
    means = tf.constant([[0.0, 0.5], [-4.0, 1.5], [3.0, -3.0], [2.0, -1.0]])
    # inside; (2/2)^2 + (0.5/1)^2; (1/2)^2 + (2/1)^2; on the bounds counts as inside
    np.testing.assert_allclose(mean_overshoot(means, low, high).numpy(), [0.0, 1.25, 4.25, 0.0], rtol=1e-6)
    np.testing.assert_allclose(GaussianHead(low, high).out_of_bounds(means).numpy(), [0.0, 1.25, 4.25, 0.0],
                               rtol=1e-6)
    np.testing.assert_array_equal(CategoricalHead(3).out_of_bounds(tf.ones((4, 3))).numpy(), np.zeros(4))


@pytest.mark.parametrize("action_bound_coef", [0.0, 1.0])
def test_the_bound_penalty_brings_a_saturated_mean_back_and_nothing_else_does(action_bound_coef):
    """Every mean at -4 with bounds +-2 and zero advantages: PPO's own loss leaves the policy where
    it is (the clipped samples carry no signal), the penalty moves every mean towards the bound."""
    spec = probe_env_spec("Pendulum-v1")
    model = build_actor_critic(spec, (8,), seed=0)
    model.policy_net.biases[-1].assign([-4.0])
    rng = np.random.default_rng(0)
    observations = rng.normal(size=(32, 3)).astype(np.float32)
    means_before = model.head_params(tf.constant(observations)).numpy()
    actions = (means_before + 0.3 * rng.normal(size=means_before.shape)).astype(np.float32)
    logp_old = model.head.log_prob(tf.constant(means_before), tf.constant(actions)).numpy()
    config = PPOConfig(hidden_sizes=(8,), num_epochs=1, minibatch_size=32, entropy_coef=0.0,
                       action_bound_coef=action_bound_coef)
    metrics = PPOTrainer(model, config).update(observations, actions, logp_old, np.zeros(32, np.float32),
                                               np.zeros(32, np.float32), np.random.default_rng(1))
    expected_overshoot = np.mean(((-2.0 - means_before[:, 0]) / 2.0) ** 2)  # every mean is below -2
    assert metrics["mean_overshoot"] == pytest.approx(expected_overshoot, rel=1e-5)
    means_after = model.head_params(tf.constant(observations)).numpy()
    if action_bound_coef == 0.0:
        np.testing.assert_array_equal(means_after, means_before)
    else:
        # Adam moves every weight by about the learning rate (1e-3), the output bias up among them
        assert means_after.mean() > means_before.mean() + 5e-4
        low, high = spec.action_space.low, spec.action_space.high
        assert float(tf.reduce_mean(mean_overshoot(means_after, low, high))) < expected_overshoot


def test_ppo_reports_the_mean_overshoot_for_bounded_actions_only():
    """Discrete actions have no bounds to overshoot: PPO's metrics (TensorBoard's losses/*) leave
    the always-zero mean_overshoot out for them, and keep it for a Gaussian policy."""
    rng = np.random.default_rng(0)
    for env_id, reported in (("CartPole-v1", False), ("Pendulum-v1", True)):
        spec = probe_env_spec(env_id)
        model = build_actor_critic(spec, (8,), seed=0)
        observations = rng.normal(size=(16,) + spec.observation_shape).astype(np.float32)
        params = model.head_params(tf.constant(observations))
        actions = model.actor_snapshot().act(observations, rng)
        logp_old = model.head.log_prob(params, tf.constant(actions)).numpy()
        metrics = PPOTrainer(model, PPOConfig(hidden_sizes=(8,), num_epochs=1, minibatch_size=16)).update(
            observations, actions, logp_old, np.zeros(16, np.float32), np.zeros(16, np.float32), rng)
        assert ("mean_overshoot" in metrics) is reported, env_id
        assert {"policy_loss", "value_loss", "entropy", "approx_kl", "clipfrac"} <= set(metrics)


def test_a_fresh_gaussian_policy_explores_with_standard_deviation_one():
    """CleanRL's start: log std 0, whatever the action bounds (PPO then learns it)."""
    head = make_head(probe_env_spec("Pendulum-v1"))
    np.testing.assert_array_equal(head.log_std.numpy(), [0.0])
    np.testing.assert_array_equal(GaussianHead(low=np.array([-1.0, -5.0]), high=np.array([1.0, 5.0])).log_std.numpy(),
                                  [0.0, 0.0])


def test_log_std_init_sets_the_gaussian_policys_first_standard_deviation():
    """rl-baselines3-zoo's MuJoCo experts start at log std -2 (std 0.135) rather than 0."""
    model = build_actor_critic(probe_env_spec("Pendulum-v1"), (8,), seed=0, initial_log_std=-2.0)
    np.testing.assert_array_equal(model.head.log_std.numpy(), [-2.0])
    np.testing.assert_allclose(model.actor_snapshot().head.std, [math.exp(-2.0)], rtol=1e-6)


def test_a_relu_policy_is_saved_and_loaded_back_as_relu(tmp_path):
    """Trained with --activation relu --log-std-init -2, the policy loaded from its checkpoint
    (which rebuilds the network from config.json) replays the run's final evaluation exactly:
    a loader that rebuilt tanh layers would score differently."""
    import json

    from common.checkpoints import load_actor_critic
    from common.rollout import EVAL_SEED_OFFSET, run_episodes

    run_ppo.main(TINY_PPO_FLAGS + ["--env", "Pendulum-v1", "--activation", "relu", "--log-std-init", "-2",
                                   "--save-dir", str(tmp_path / "ppo"), "--log-dir", str(tmp_path / "log")])
    final = json.loads((tmp_path / "log" / "evaluations.json").read_text())["evaluations"][-1]
    model, saved_config = load_actor_critic(tmp_path / "ppo")
    assert saved_config["activation"] == "relu" and model.policy_net.activation == "relu"
    envs = make_vec_env("Pendulum-v1", 2)
    replay = run_episodes(envs, model.actor_snapshot(), 2, seed=EVAL_SEED_OFFSET)
    envs.close()
    assert float(replay.returns.mean()) == pytest.approx(final["return_mean"], rel=1e-6)
    model.policy_net.activation = "tanh"  # the same weights read as tanh layers act otherwise
    envs = make_vec_env("Pendulum-v1", 2)
    assert float(run_episodes(envs, model.actor_snapshot(), 2, seed=EVAL_SEED_OFFSET).returns.mean()) != \
        pytest.approx(final["return_mean"], rel=1e-6)
    envs.close()


def test_head_is_chosen_from_the_action_space_and_its_log_std_is_trained_by_the_policy_only():
    spec = probe_env_spec("Pendulum-v1")
    assert isinstance(make_head(spec), GaussianHead) and spec.action_shape == (1,)
    model = build_actor_critic(spec, (8,), seed=0)
    discriminator = build_discriminator(spec, (8, 8, 8), seed=0)
    assert any("log_std" in variable.name for variable in model.trainable_variables)
    assert any("log_std" in variable.name for variable in model.policy_variables)
    assert not any("log_std" in variable.name for variable in discriminator.trainable_variables)
    assert discriminator(tf.zeros((3, 3)), tf.zeros((3, 1))).shape == (3,)


def test_collector_stores_unclipped_actions_but_steps_the_env_with_clipped_ones():
    """Two actors, one asking for torque 50 and one for the bound 2: the env sees the same torque."""
    spec = probe_env_spec("Pendulum-v1")
    model = build_actor_critic(spec, (8,), seed=0)

    def observations_and_actions(torque: float) -> tuple[np.ndarray, np.ndarray]:
        envs = make_vec_env("Pendulum-v1", 2)
        actor = model.actor_snapshot()
        actor.act = lambda observations, rng: np.full((len(observations), 1), torque, np.float32)
        rollout = RolloutCollector(envs, rollout_steps=20, seed=3, rng=np.random.default_rng(0)).collect(actor)
        envs.close()
        return rollout.observations.copy(), rollout.actions.copy()

    observations_far, actions_far = observations_and_actions(50.0)
    observations_bound, _ = observations_and_actions(2.0)
    assert actions_far.shape == (20, 2, 1) and actions_far.dtype == np.float32
    np.testing.assert_array_equal(actions_far, 50.0)
    np.testing.assert_allclose(observations_far, observations_bound)


def test_scripts_run_end_to_end_on_a_continuous_env(tmp_path, capsys):
    flags = TINY_PPO_FLAGS + ["--env", "Pendulum-v1"]
    run_ppo.main(flags + ["--save-dir", str(tmp_path / "ppo"), "--log-dir", str(tmp_path / "log/ppo")])
    sample_trajectory.main(["--env", "Pendulum-v1", "--model-dir", str(tmp_path / "ppo"),
                            "--out-dir", str(tmp_path / "demos"), "--episodes", "2", "--stochastic"])
    demos = load_demonstrations(tmp_path / "demos", probe_env_spec("Pendulum-v1"))
    assert demos.actions.shape == (400, 1) and demos.actions.dtype == np.float32
    assert np.abs(demos.actions).max() <= 2.0  # demonstrations record the executed, clipped actions
    run_gail.main(flags + ["--demo-dir", str(tmp_path / "demos"), "--save-dir", str(tmp_path / "gail"),
                           "--log-dir", str(tmp_path / "log/gail"), "--disc-minibatch-size", "32"])
    run_behavior_clone.main(["--env", "Pendulum-v1", "--demo-dir", str(tmp_path / "demos"),
                             "--save-dir", str(tmp_path / "bc"), "--log-dir", str(tmp_path / "log/bc"),
                             "--epochs", "2", "--eval-every", "1", "--eval-episodes", "2", "--no-progress"])
    capsys.readouterr()
    test_policy.main(["--env", "Pendulum-v1", "--algos", "ppo,gail,bc,random", "--episodes", "2",
                      "--model-dir", str(tmp_path / "{algo}"), "--log-dir", str(tmp_path / "log/test/{algo}")])
    table = capsys.readouterr().out
    for algo in ("ppo", "gail", "bc", "random"):
        assert f"| {algo} | -" in table  # Pendulum's returns are negative


def test_jit_compile_trains_gail_with_xla_to_the_same_weights(tmp_path):
    """--jit-compile on a short GAIL run on Pendulum (PPO's update and the discriminator's, with its
    gradient penalty, under XLA): the run ends with the weights of the same run without it, up to
    round-off, and the round-off differs (so XLA really compiled both updates)."""
    weights = {}
    for jit_compile in (False, True):
        config = GailRunConfig(env="Pendulum-v1", demo_dir=str(REPO_ROOT / "trajectory" / "Pendulum-v1"),
                               num_demos=2, num_envs=2, rollout_steps=64, minibatch_size=32, num_epochs=2,
                               total_env_steps=256, eval_every=256, eval_episodes=1, hidden_sizes=(16, 16),
                               disc_hidden_sizes=(16, 16), disc_minibatch_size=32, disc_grad_penalty=10.0,
                               progress=False, jit_compile=jit_compile, save_dir=str(tmp_path / f"jit{jit_compile}"),
                               log_dir=str(tmp_path / f"log{jit_compile}"))
        training = gail_suite.gail_training(gail_suite.resolve_config(config))
        # Both updates are compiled as asked (TensorFlow keeps the setting on the function).
        assert training.trainer._update._jit_compile is jit_compile
        assert training.reward_learner._update._jit_compile is jit_compile
        training.run()
        variables = training.model.trainable_variables + training.reward_learner.discriminator.trainable_variables
        weights[jit_compile] = [variable.numpy() for variable in variables]
    differences = [float(np.max(np.abs(a - b))) for a, b in zip(weights[False], weights[True])]
    assert max(differences) < 1e-4, differences
    assert max(differences) > 0.0  # the same numbers to the bit would mean XLA never ran
