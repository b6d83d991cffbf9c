"""Action head maths, the numpy acting path, and what gets checkpointed."""

from __future__ import annotations

import math

import numpy as np
import pytest
import tensorflow as tf
from gymnasium.spaces import Box, Discrete

from common.envs import EnvSpec
from network_models.factory import build_actor_critic
from network_models.heads import CategoricalHead, GaussianHead


def test_categorical_log_prob_and_entropy_hand_example():
    head = CategoricalHead(3)
    logits = tf.constant([[0.0, 0.0, 0.0], [math.log(1.0), math.log(2.0), math.log(1.0)]])
    # Row 0 uniform: log p = -ln 3; row 1 probs (.25, .5, .25).
    log_probs = head.log_prob(logits, tf.constant([2, 1])).numpy()
    np.testing.assert_allclose(log_probs, [-math.log(3.0), math.log(0.5)], rtol=1e-6)
    entropy = head.entropy(logits).numpy()
    np.testing.assert_allclose(entropy, [math.log(3.0), -(2 * 0.25 * math.log(0.25) + 0.5 * math.log(0.5))],
                               rtol=1e-6)


def test_numpy_log_probs_match_the_heads_hand_examples_and_tensorflow():
    """The numpy twins that score a rollout's actions as they are drawn (collecting ahead) give
    what the TensorFlow heads PPO learns with give."""
    head = CategoricalHead(3)
    logits = np.array([[0.0, 0.0, 0.0], [math.log(1.0), math.log(2.0), math.log(1.0)], [1000.0, 0.0, 0.0]],
                      np.float32)
    # Uniform: -ln 3; probs (.25, .5, .25): ln .5; a huge logit must not overflow: ln 1 = 0.
    np.testing.assert_allclose(head.numpy_log_prob(logits, np.array([2, 1, 0])), [-math.log(3.0), math.log(0.5), 0.0],
                               rtol=1e-6, atol=1e-6)

    gaussian = GaussianHead(np.array([-1.0, -1.0]), np.array([1.0, 1.0]), initial_log_std=math.log(0.5))
    means = np.array([[0.0, 0.0], [0.5, -2.0]], np.float32)
    actions = np.array([[0.5, 0.0], [0.5, -3.0]], np.float32)  # unclipped, as drawn
    # Row 0: z = (1, 0), row 1: z = (0, -2); each dim adds -z^2/2 - ln 0.5 - ln(2 pi)/2.
    per_dim = -math.log(0.5) - 0.5 * math.log(2 * math.pi)
    expected = [-0.5 + 2 * per_dim, -2.0 + 2 * per_dim]
    frozen = gaussian.frozen()
    np.testing.assert_allclose(frozen.numpy_log_prob(means, actions), expected, rtol=1e-5)
    np.testing.assert_allclose(gaussian.log_prob(tf.constant(means), tf.constant(actions)).numpy(), expected, rtol=1e-5)


def test_sample_with_log_prob_draws_acts_samples_and_scores_them_as_the_model_does():
    spec = EnvSpec("toy", (4,), Box(-1.0, 1.0, (2,), np.float32))
    model = build_actor_critic(spec, (16,), seed=2, normalize_observations=True)
    model.normalizer.update(np.random.default_rng(1).normal(2.0, 3.0, size=(100, 4)).astype(np.float32))
    observations = np.random.default_rng(0).normal(size=(20, 4)).astype(np.float32)
    actor = model.actor_snapshot()
    actions, logp = actor.sample_with_log_prob(observations, np.random.default_rng(7))
    np.testing.assert_array_equal(actions, actor.act(observations, np.random.default_rng(7)))
    params, _ = model(tf.constant(observations))
    np.testing.assert_allclose(logp, model.head.log_prob(params, tf.constant(actions)).numpy(), rtol=1e-5, atol=1e-5)


def test_categorical_sampling_matches_the_probabilities():
    head = CategoricalHead(3)
    logits = np.tile(np.log(np.array([[0.2, 0.5, 0.3]])), (60_000, 1))
    actions = head.sample(logits, np.random.default_rng(0))
    frequencies = np.bincount(actions, minlength=3) / len(actions)
    np.testing.assert_allclose(frequencies, [0.2, 0.5, 0.3], atol=0.01)
    assert actions.dtype == np.int64
    np.testing.assert_array_equal(head.mode(np.array([[0.1, 2.0, -1.0], [3.0, 0.0, 0.0]])), [1, 0])


def test_categorical_action_error_is_the_error_rate_of_the_most_likely_action():
    head = CategoricalHead(3)
    logits = tf.constant([[0.0, 2.0, 1.0], [5.0, 0.0, 0.0], [0.0, 0.0, 1.0], [1.0, 3.0, 2.0]])  # modes 1, 0, 2, 1
    assert float(head.action_error(logits, tf.constant([1, 0, 0, 2]))) == pytest.approx(0.5)
    assert float(head.action_error(logits, tf.constant([1, 0, 2, 1]))) == 0.0


def test_random_actor_draws_every_action_uniformly_within_the_space():
    """The table's 'random policy' (0 on the normalised scale) must cover the whole space."""
    from gymnasium.spaces import Box

    from network_models.policy import RandomActor

    observations = np.zeros((30_000, 2), np.float32)
    discrete = RandomActor(Discrete(3), seed=0).act(observations, rng=None)
    assert discrete.shape == (30_000,) and np.issubdtype(discrete.dtype, np.integer)
    np.testing.assert_allclose(np.bincount(discrete, minlength=3) / len(discrete), [1 / 3] * 3, atol=0.01)
    box = Box(low=np.array([-2.0, 0.0], np.float32), high=np.array([2.0, 1.0], np.float32))
    continuous = RandomActor(box, seed=0).act(observations, rng=None)
    assert continuous.shape == (30_000, 2) and continuous.dtype == np.float32
    assert np.all(continuous >= box.low) and np.all(continuous <= box.high)
    np.testing.assert_allclose(continuous.mean(axis=0), [0.0, 0.5], atol=0.02)
    np.testing.assert_allclose(continuous.std(axis=0), [4 / math.sqrt(12), 1 / math.sqrt(12)], atol=0.01)


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_numpy_actor_matches_tensorflow_policy(activation):
    spec = EnvSpec("toy", (4,), Discrete(3))
    model = build_actor_critic(spec, (32, 16), seed=5, activation=activation)
    for variable in model.trainable_variables:  # move away from the near-zero output init
        variable.assign(variable + tf.random.stateless_normal(variable.shape, seed=[1, 2]) * 0.3)
    observations = np.random.default_rng(0).normal(size=(50, 4)).astype(np.float32)
    tf_logits, _ = model(tf.constant(observations))
    actor = model.actor_snapshot()
    np.testing.assert_array_equal(actor.act(observations, rng=None), np.argmax(tf_logits.numpy(), axis=-1))
    from network_models.mlp import numpy_mlp_forward
    np.testing.assert_allclose(numpy_mlp_forward(actor.policy_weights, observations, activation), tf_logits.numpy(),
                               rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("activation, expected", [("tanh", math.tanh(2.0) + math.tanh(-3.0) + 0.5),
                                                  ("relu", 2.0 + 0.0 + 0.5)])
def test_mlp_hidden_activation_on_a_hand_example(activation, expected):
    """One hidden layer of two units, pre-activations 2 and -3, summed with output bias 0.5:
    tanh gives tanh 2 + tanh(-3) + 0.5, ReLU 2 + 0 + 0.5; the numpy pass agrees."""
    from network_models.mlp import MLP, numpy_mlp_forward

    mlp = MLP(input_dim=1, hidden_sizes=(2,), output_dim=1, output_gain=1.0, seed=0, name="mlp",
              activation=activation)
    mlp.kernels[0].assign([[2.0, -3.0]])
    mlp.biases[0].assign([0.0, 0.0])
    mlp.kernels[1].assign([[1.0], [1.0]])
    mlp.biases[1].assign([0.5])
    inputs = np.ones((1, 1), np.float32)
    assert float(mlp(tf.constant(inputs))[0, 0]) == pytest.approx(expected, abs=1e-6)
    assert float(numpy_mlp_forward(mlp.numpy_weights(), inputs, activation)[0, 0]) == pytest.approx(expected, abs=1e-6)


def test_the_activation_names_the_flag_offers_are_the_networks():
    """algo.config lists them without importing TensorFlow; network_models.mlp implements them."""
    from algo.config import ACTIVATION_NAMES
    from network_models.mlp import ACTIVATIONS

    assert ACTIVATION_NAMES == tuple(ACTIVATIONS)


def test_actor_critic_shapes_and_variables():
    model = build_actor_critic(EnvSpec("toy", (4,), Discrete(2)), (8, 8), seed=0)
    logits, values = model(tf.zeros((5, 4)))
    assert logits.shape == (5, 2) and values.shape == (5,)
    # policy: 4*8+8 + 8*8+8 + 8*2+2 ; value: same with one output
    assert sum(int(np.prod(v.shape)) for v in model.trainable_variables) == (40 + 72 + 18) + (40 + 72 + 9)


def test_same_seed_same_initial_weights_and_different_seed_differs():
    spec = EnvSpec("toy", (4,), Discrete(2))
    first = build_actor_critic(spec, (8,), seed=3).trainable_variables
    again = build_actor_critic(spec, (8,), seed=3).trainable_variables
    other = build_actor_critic(spec, (8,), seed=4).trainable_variables
    assert all(np.array_equal(a.numpy(), b.numpy()) for a, b in zip(first, again))
    assert not all(np.array_equal(a.numpy(), b.numpy()) for a, b in zip(first, other))


@pytest.mark.parametrize("num_envs, num_episodes", [(3, 7), (4, 2)])
def test_run_episodes_plays_exactly_the_requested_episodes(num_envs, num_episodes):
    from common.envs import make_vec_env
    from common.rollout import run_episodes

    envs = make_vec_env("CartPole-v1", num_envs)
    model = build_actor_critic(EnvSpec("CartPole-v1", (4,), Discrete(2)), (8,), seed=0)
    episodes = run_episodes(envs, model.actor_snapshot(), num_episodes, seed=0,
                            rng=np.random.default_rng(0), record=True)
    envs.close()
    assert episodes.returns.shape == (num_episodes,)
    # CartPole pays 1 per step, so each return equals its length and its recorded pairs.
    np.testing.assert_array_equal(episodes.returns, episodes.lengths)
    assert [len(obs) for obs in episodes.observations] == list(episodes.lengths)
    assert [len(actions) for actions in episodes.actions] == list(episodes.lengths)
    assert episodes.terminated.all()  # a random policy drops the pole long before 500 steps


def test_mlp_kernels_are_orthogonal_with_gain_sqrt_2_then_the_output_gain() -> None:
    """Orthogonal init scaled by sqrt 2 for the tanh layers and by output_gain for the last one:
    K K^T = gain^2 I for a wide kernel, K^T K = gain^2 I for a tall one. (Written for the mutation
    run: nothing looked at the scale of the initial weights.)"""
    from network_models.mlp import MLP

    mlp = MLP(input_dim=4, hidden_sizes=(8, 8), output_dim=2, output_gain=0.01, seed=0, name="mlp")
    first, middle, last = (kernel.numpy().astype(np.float64) for kernel in mlp.kernels)
    np.testing.assert_allclose(first @ first.T, 2.0 * np.eye(4), atol=1e-5)
    np.testing.assert_allclose(middle @ middle.T, 2.0 * np.eye(8), atol=1e-5)
    np.testing.assert_allclose(last.T @ last, 0.01 ** 2 * np.eye(2), atol=1e-8)


def test_the_policy_starts_near_uniform_and_the_value_net_at_gain_one() -> None:
    """Output layers: the policy's at gain 0.01 (first actions almost uniformly random, CleanRL's
    choice), the value net's at 1 (its first estimates already vary with the state)."""
    model = build_actor_critic(EnvSpec("toy", (4,), Discrete(3)), (8, 8), seed=0)
    policy_kernel = model.policy_net.kernels[-1].numpy().astype(np.float64)
    value_kernel = model.value_net.kernels[-1].numpy().astype(np.float64)
    np.testing.assert_allclose(policy_kernel.T @ policy_kernel, 0.01 ** 2 * np.eye(3), atol=1e-8)
    np.testing.assert_allclose(np.linalg.norm(value_kernel), 1.0, atol=1e-6)


def test_discriminator_starts_with_an_output_layer_of_gain_one_and_flags_only_the_absorbing_state() -> None:
    """The policy's output layer starts near 0 (gain 0.01: an almost uniform first policy); D's
    starts at gain 1, so its first rewards differ from pair to pair without saturating. The
    absorbing state is the input with the flag (the last feature) set and nothing else, which no
    real pair has."""
    from network_models.factory import build_discriminator

    spec = EnvSpec("toy", (3,), Discrete(2))
    discriminator = build_discriminator(spec, (8, 8, 8), seed=0)
    output_kernel = discriminator.net.kernels[-1].numpy().astype(np.float64)
    assert output_kernel.shape == (8, 1)
    np.testing.assert_allclose(np.linalg.norm(output_kernel), 1.0, atol=1e-6)

    assert discriminator.input_dim == 3 + 2 + 1  # observation, one-hot action, absorbing flag
    flag_only = np.zeros((1, discriminator.input_dim), np.float32)
    flag_only[0, -1] = 1.0
    expected = float(discriminator.logits(tf.constant(flag_only))[0])
    assert float(discriminator.absorbing_logit()) == pytest.approx(expected, abs=1e-6)
    nothing = float(discriminator.logits(tf.zeros((1, discriminator.input_dim)))[0])
    last_action_feature = float(discriminator.logits(tf.constant(np.roll(flag_only, -1, axis=1)))[0])
    assert abs(expected - nothing) > 1e-3 and abs(expected - last_action_feature) > 1e-3  # the test can tell
    real_inputs = discriminator.inputs(tf.constant(np.ones((4, 3), np.float32)), tf.constant([0, 1, 1, 0]))
    np.testing.assert_array_equal(real_inputs.numpy()[:, -1], 0.0)
    np.testing.assert_array_equal(real_inputs.numpy()[:, 3:5], np.eye(2)[[0, 1, 1, 0]])


def test_the_factory_wires_each_network_to_the_right_normalizer() -> None:
    """No normaliser unless asked; D reads the policy's own when there is one (both networks see
    identical inputs), else one fixed to the expert data's mean and std, or an untouched one."""
    from network_models.factory import build_discriminator, discriminator_normalizer

    spec = EnvSpec("toy", (3,), Discrete(2))
    assert build_actor_critic(spec, (8,), seed=0).normalizer is None
    normalising = build_actor_critic(spec, (8,), seed=0, normalize_observations=True)
    assert normalising.normalizer.mean.shape == (3,)

    expert_obs = np.array([[0.0, 10.0, -1.0], [2.0, 30.0, -1.0], [4.0, 20.0, -1.0], [2.0, 20.0, -1.0]],
                          np.float32)  # 4 pairs of 3 features: the normaliser is per feature
    assert discriminator_normalizer(normalising, expert_obs, standardize=True) is normalising.normalizer
    plain = build_actor_critic(spec, (8,), seed=0)
    fixed = discriminator_normalizer(plain, expert_obs, standardize=True)
    np.testing.assert_allclose(fixed.mean.numpy(), [2.0, 20.0, -1.0])
    np.testing.assert_allclose(fixed.variance.numpy(), [2.0, 50.0, 0.0])
    untouched = discriminator_normalizer(plain, expert_obs, standardize=False)
    np.testing.assert_array_equal(untouched.mean.numpy(), np.zeros(3))
    np.testing.assert_array_equal(untouched.variance.numpy(), np.ones(3))

    assert build_discriminator(spec, (8,), seed=0, normalizer=fixed).normalizer is fixed
    own = build_discriminator(spec, (8,), seed=0).normalizer
    assert own is not fixed and own.mean.shape == (3,) and float(own.count.numpy()) == 0.0
