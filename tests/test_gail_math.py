"""Discriminator loss and learned rewards against hand numbers, and the trainer's behaviour."""

from __future__ import annotations

import math

import numpy as np
import pytest
import tensorflow as tf
from gymnasium.spaces import Discrete

from algo.config import DiscriminatorConfig
from algo.gail import DiscriminatorTrainer, absorbing_discriminator_loss, learned_reward
from common.envs import EnvSpec
from common.rollout import Rollout
from network_models.factory import build_discriminator

LN2, LN3 = math.log(2.0), math.log(3.0)


def discriminator_loss(expert_logits: tf.Tensor, policy_logits: tf.Tensor) -> tf.Tensor:
    """The plain GAIL loss: the absorbing loss with no absorbing pairs on either side."""
    return absorbing_discriminator_loss(expert_logits, policy_logits, tf.constant(5.0), tf.constant(0.0),
                                        tf.constant(0.0))


def test_discriminator_loss_hand_example():
    # Expert logits 0 and ln 3 -> D = .5 and .75; policy logits 0 and -ln 3 -> 1 - D = .5 and .75.
    expert_logits = tf.constant([0.0, LN3])
    policy_logits = tf.constant([0.0, -LN3])
    expected = (-math.log(0.5) - math.log(0.75)) / 2 * 2
    assert float(discriminator_loss(expert_logits, policy_logits)) == pytest.approx(expected, rel=1e-6)


def test_discriminator_loss_is_not_symmetric_in_its_labels():
    # Swapping the sides must change the loss: expert pairs are pushed to D -> 1, policy to D -> 0.
    confident = discriminator_loss(tf.constant([4.0]), tf.constant([-4.0]))
    swapped = discriminator_loss(tf.constant([-4.0]), tf.constant([4.0]))
    assert float(confident) < 0.05 < 8.0 < float(swapped)


def test_absorbing_loss_weights_the_absorbing_logit_by_frequency():
    expert_logits = tf.constant([0.0, LN3])
    policy_logits = tf.constant([0.0, -LN3])
    real_term = (-math.log(0.5) - math.log(0.75)) / 2
    loss = absorbing_discriminator_loss(expert_logits, policy_logits, tf.constant(0.0),
                                        tf.constant(0.5), tf.constant(0.25))
    expected = (0.5 * real_term + 0.5 * LN2) + (0.75 * real_term + 0.25 * LN2)
    assert float(loss) == pytest.approx(expected, rel=1e-6)
    no_absorbing = absorbing_discriminator_loss(expert_logits, policy_logits, tf.constant(3.0),
                                                tf.constant(0.0), tf.constant(0.0))
    assert float(no_absorbing) == pytest.approx(2 * real_term)


def test_absorbing_loss_hand_example_with_a_nonzero_absorbing_logit():
    """The absorbing logit 1.5 (not 0, where the two labels give the same softplus): catches the
    absorbing state labelled as expert on the policy side or as policy on the expert side, and
    the two sides' fractions swapped.

    Real pairs: expert logits 0, ln 3 -> mean softplus(-x) = (ln 2 + ln 4/3) / 2; policy logits
    0, -ln 3 -> mean softplus(x) = the same. Absorbing: expert side -log D = softplus(-1.5) with
    weight .2, policy side -log(1 - D) = softplus(1.5) with weight .4.
    """
    real_term = (LN2 + math.log(4.0 / 3.0)) / 2
    softplus_minus, softplus_plus = math.log1p(math.exp(-1.5)), math.log1p(math.exp(1.5))
    expected = (0.8 * real_term + 0.2 * softplus_minus) + (0.6 * real_term + 0.4 * softplus_plus)
    loss = absorbing_discriminator_loss(tf.constant([0.0, LN3]), tf.constant([0.0, -LN3]), tf.constant(1.5),
                                        tf.constant(0.2), tf.constant(0.4))
    assert float(loss) == pytest.approx(expected, rel=1e-6)
    # The numbers tell the bugs apart: labels swapped, or fractions swapped.
    swapped_labels = (0.8 * real_term + 0.2 * softplus_plus) + (0.6 * real_term + 0.4 * softplus_minus)
    swapped_fractions = (0.6 * real_term + 0.4 * softplus_minus) + (0.8 * real_term + 0.2 * softplus_plus)
    assert abs(swapped_labels - expected) > 0.1 and abs(swapped_fractions - expected) > 0.1


@pytest.mark.parametrize("kind, expected", [
    ("log_d", [math.log(0.5), math.log(0.75)]),     # log D
    ("neg_log_1m_d", [LN2, math.log(4.0)]),         # -log(1 - D): 1 - D = .5, .25
    ("logit", [0.0, LN3]),                          # log D - log(1 - D)
])
def test_learned_reward_formulas(kind, expected):
    rewards = learned_reward(tf.constant([0.0, LN3]), kind).numpy()
    np.testing.assert_allclose(rewards, expected, rtol=1e-6)


def test_learned_reward_rejects_unknown_kind():
    with pytest.raises(ValueError, match="unknown reward kind"):
        learned_reward(tf.constant([0.0]), "bogus")


def _rollout(observations: np.ndarray, actions: np.ndarray) -> Rollout:
    steps, envs = actions.shape
    return Rollout(observations=observations, actions=actions,
                   env_rewards=np.zeros((steps, envs), np.float32),
                   terminated=np.zeros((steps, envs), bool), truncated=np.zeros((steps, envs), bool),
                   final_observations=np.zeros_like(observations),
                   last_observations=np.zeros_like(observations[0]))


def test_trained_discriminator_prefers_expert_actions_on_the_same_states():
    """Expert and policy visit the same states; only the actions differ (expert 0, policy 1).

    If the policy side were fed the expert's actions (a real bug in a well-known TF2 GAIL),
    D could not separate the sides; if the labels were swapped, the policy would be preferred.
    """
    rng = np.random.default_rng(0)
    spec = EnvSpec("toy", (3,), Discrete(2))
    states = rng.normal(size=(512, 3)).astype(np.float32)
    discriminator = build_discriminator(spec, (32, 32, 32), seed=0)
    # No gradient penalty: it bounds how steep D may be, and this test wants D as sharp as the
    # data allow (two actions on the same states are one unit apart in D's input).
    config = DiscriminatorConfig(disc_learning_rate=3e-3, disc_epochs=4, disc_minibatch_size=128,
                                 disc_grad_penalty=0.0)
    trainer = DiscriminatorTrainer(discriminator, states, np.zeros(512, np.int64), expert_terminations=0,
                                   config=config, gamma=0.99)
    rollout = _rollout(states.reshape(64, 8, 3), np.ones((64, 8), np.int64))
    for _ in range(15):
        learned = trainer.update_and_reward(rollout, rng)
    expert_rewards, _ = trainer.reward(states, np.zeros(512, np.int64))
    policy_rewards = learned.rewards.reshape(-1)
    assert expert_rewards.mean() > -0.2          # log D near 0 on expert pairs
    assert policy_rewards.mean() < -2.0          # log D very negative on policy pairs
    assert learned.metrics["gail/expert_accuracy"] > 0.95
    assert learned.metrics["gail/policy_accuracy"] > 0.95


def test_separable_states_expert_pairs_get_higher_reward():
    rng = np.random.default_rng(1)
    spec = EnvSpec("toy", (2,), Discrete(2))
    expert_obs = (rng.normal(size=(400, 2)) + 2.0).astype(np.float32)
    policy_obs = (rng.normal(size=(400, 2)) - 2.0).astype(np.float32)
    actions = rng.integers(0, 2, size=400)
    trainer = DiscriminatorTrainer(build_discriminator(spec, (16, 16, 16), seed=1), expert_obs, actions, 0,
                                   DiscriminatorConfig(disc_learning_rate=3e-3, disc_epochs=5,
                                                       disc_minibatch_size=100), gamma=0.99)
    for _ in range(5):
        trainer.update(policy_obs, actions, 0.0, rng)
    expert_rewards, _ = trainer.reward(expert_obs, actions)
    policy_rewards, _ = trainer.reward(policy_obs, actions)
    assert expert_rewards.mean() > policy_rewards.mean() + 1.0


def test_absorbing_state_is_penalised_when_only_the_policy_terminates():
    rng = np.random.default_rng(2)
    spec = EnvSpec("toy", (2,), Discrete(2))
    observations = rng.normal(size=(256, 2)).astype(np.float32)
    actions = rng.integers(0, 2, size=256)
    trainer = DiscriminatorTrainer(build_discriminator(spec, (16, 16, 16), seed=2), observations, actions,
                                   expert_terminations=0,
                                   config=DiscriminatorConfig(disc_learning_rate=3e-3, disc_epochs=5),
                                   gamma=0.9)
    rollout = _rollout(observations.reshape(32, 8, 2), actions.reshape(32, 8))
    rollout.terminated[::4] = True  # the policy ends an episode every few steps; the expert never does
    for _ in range(20):
        learned = trainer.update_and_reward(rollout, rng)
    absorbing_reward = learned.metrics["gail/absorbing_reward"]
    assert absorbing_reward < -1.0
    assert learned.terminal_value == pytest.approx(absorbing_reward / (1 - 0.9), rel=1e-5)


def test_without_absorbing_states_the_terminal_value_is_zero():
    rng = np.random.default_rng(3)
    spec = EnvSpec("toy", (2,), Discrete(2))
    observations = rng.normal(size=(64, 2)).astype(np.float32)
    actions = rng.integers(0, 2, size=64)
    trainer = DiscriminatorTrainer(build_discriminator(spec, (8, 8, 8), seed=3), observations, actions, 0,
                                   DiscriminatorConfig(absorbing=False), gamma=0.9)
    rollout = _rollout(observations.reshape(8, 8, 2), actions.reshape(8, 8))
    rollout.terminated[0] = True
    learned = trainer.update_and_reward(rollout, rng)
    assert learned.terminal_value == 0.0
    assert "gail/absorbing_reward" not in learned.metrics


def test_gradient_penalty_hand_example():
    # Row norms 5 and 0: (5 - 1)^2 = 16 and (0 - 1)^2 = 1, mean 8.5.
    from algo.gail import gradient_penalty

    assert float(gradient_penalty(tf.constant([[3.0, 4.0], [0.0, 0.0]]))) == pytest.approx(8.5, rel=1e-5)


def test_gradient_penalty_keeps_the_discriminator_smooth_between_expert_and_policy():
    rng = np.random.default_rng(4)
    spec = EnvSpec("toy", (2,), Discrete(2))
    expert_obs = (rng.normal(size=(400, 2)) * 0.1 + 1.0).astype(np.float32)
    policy_obs = (rng.normal(size=(400, 2)) * 0.1 - 1.0).astype(np.float32)
    actions = rng.integers(0, 2, size=400)

    def trained(penalty: float) -> tuple[DiscriminatorTrainer, float]:
        trainer = DiscriminatorTrainer(build_discriminator(spec, (32, 32, 32), seed=4), expert_obs, actions, 0,
                                       DiscriminatorConfig(disc_learning_rate=3e-3, disc_epochs=10,
                                                           disc_minibatch_size=100, disc_grad_penalty=penalty),
                                       gamma=0.99)
        for _ in range(5):
            trainer.update(policy_obs, actions, 0.0, np.random.default_rng(5))
        mixed = tf.constant(0.5 * expert_obs + 0.5 * policy_obs)
        inputs = trainer.discriminator.inputs(mixed, tf.constant(actions))
        with tf.GradientTape() as tape:
            tape.watch(inputs)
            logits = trainer.discriminator.logits(inputs)
        norms = tf.norm(tape.gradient(logits, inputs), axis=-1)
        return trainer, float(tf.reduce_mean(tf.abs(norms - 1.0)))

    unpenalised, distance_without = trained(0.0)
    penalised, distance_with = trained(10.0)
    assert distance_with < 0.5 * distance_without
    expert_rewards, _ = penalised.reward(expert_obs, actions)
    policy_rewards, _ = penalised.reward(policy_obs, actions)
    assert expert_rewards.mean() > policy_rewards.mean() + 0.5  # still tells the two apart
