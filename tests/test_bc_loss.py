"""Behavioural cloning's loss by hand, and one BehaviorCloneTrainer step against an independent
gradient and Adam step. Catches the entropy bonus with the wrong sign (a penalty instead of a
bonus), the log-likelihood with the wrong sign, and BC training the value net."""

from __future__ import annotations

import math

import numpy as np
import pytest
import tensorflow as tf
from gymnasium.spaces import Discrete

from algo.behavior_clone import BehaviorCloneTrainer, behavior_clone_loss
from algo.config import BehaviorCloneConfig
from common.envs import EnvSpec
from network_models.factory import build_actor_critic
from network_models.policy import ActorCritic

BATCH_SIZE = 12
ADAM_BETA_1, ADAM_BETA_2, KERAS_ADAM_EPSILON = 0.9, 0.999, 1e-7  # BC uses Keras Adam's defaults


def test_behavior_clone_loss_hand_example() -> None:
    """loss = -mean(log pi(a_E|s_E)) - coef * mean(H): log-probs ln .5 and ln .25, entropies
    ln 2 and 0.5, coef 0.1 -> (ln 2 + ln 4) / 2 - 0.1 * (ln 2 + 0.5) / 2."""
    logp = tf.constant([math.log(0.5), math.log(0.25)])
    entropy = tf.constant([math.log(2.0), 0.5])
    expected = (math.log(2.0) + math.log(4.0)) / 2 - 0.1 * (math.log(2.0) + 0.5) / 2
    assert float(behavior_clone_loss(logp, entropy, 0.1)) == pytest.approx(expected, rel=1e-6)
    # The entropy term lowers the loss: more entropy is better (a bonus, not a penalty).
    assert float(behavior_clone_loss(logp, entropy * 2, 0.1)) < float(behavior_clone_loss(logp, entropy, 0.1))
    assert float(behavior_clone_loss(logp, entropy, 0.0)) == pytest.approx((math.log(2.0) + math.log(4.0)) / 2)


def make_model() -> ActorCritic:
    """Tiny actor-critic with a far-from-uniform policy (where the entropy has a gradient)."""
    model = build_actor_critic(EnvSpec("toy", (4,), Discrete(2)), (8,), seed=0)
    output_kernel = model.policy_net.kernels[-1]
    output_kernel.assign(np.random.default_rng(3).normal(scale=1.5, size=output_kernel.shape).astype(np.float32))
    return model


def independent_bc_loss(model: ActorCritic, observations: np.ndarray, actions: np.ndarray,
                        entropy_coef: float) -> tuple[tf.Tensor, tf.Tensor]:
    """-mean log-softmax(logits)[a] - entropy_coef * mean entropy, written out from the formulas."""
    logits = model.policy_net(tf.constant(observations))
    log_probs = logits - tf.reduce_logsumexp(logits, axis=1, keepdims=True)
    logp = tf.reduce_sum(log_probs * tf.one_hot(actions, 2), axis=1)
    entropy = tf.reduce_mean(-tf.reduce_sum(tf.exp(log_probs) * log_probs, axis=1))
    return -tf.reduce_mean(logp) - entropy_coef * entropy, entropy


def expected_adam_step(model: ActorCritic, observations: np.ndarray, actions: np.ndarray, entropy_coef: float,
                       learning_rate: float) -> tuple[list[np.ndarray], float]:
    """Change of each policy variable after Keras Adam's first step, and the loss before it."""
    variables = model.policy_variables
    with tf.GradientTape() as tape:
        loss, _ = independent_bc_loss(model, observations, actions, entropy_coef)
    changes = []
    for gradient in tape.gradient(loss, variables):
        gradient = gradient.numpy().astype(np.float64)
        alpha = learning_rate * np.sqrt(1 - ADAM_BETA_2) / (1 - ADAM_BETA_1)
        changes.append(-alpha * (1 - ADAM_BETA_1) * gradient
                       / (np.sqrt((1 - ADAM_BETA_2) * gradient ** 2) + KERAS_ADAM_EPSILON))
    return changes, float(loss)


def test_one_training_step_matches_the_independent_loss_and_adam_step() -> None:
    """One minibatch = the whole set, so one Adam step: the policy moves as the independent loss
    says, the value net does not move, and the reported loss and entropy are the hand ones.
    With entropy_coef 2 and a sharp policy the entropy term decides the sign of some gradients,
    so a flipped entropy sign moves those weights the other way (Adam's first step is ~ lr * sign)."""
    config = BehaviorCloneConfig(hidden_sizes=(8,), normalize_observations=False, learning_rate=1e-2, epochs=1,
                                 minibatch_size=BATCH_SIZE, entropy_coef=2.0)
    model = make_model()
    rng = np.random.default_rng(0)
    observations = rng.normal(size=(BATCH_SIZE, 4)).astype(np.float32)
    actions = rng.integers(0, 2, size=BATCH_SIZE).astype(np.int64)
    expected, expected_loss = expected_adam_step(model, observations, actions, config.entropy_coef,
                                                 config.learning_rate)
    flipped, flipped_loss = expected_adam_step(model, observations, actions, -config.entropy_coef,
                                               config.learning_rate)
    tolerance = 1e-4 * config.learning_rate
    assert max(float(np.max(np.abs(a - b))) for a, b in zip(flipped, expected)) > 1.0 * config.learning_rate
    assert abs(flipped_loss - expected_loss) > 0.1
    _, entropy = independent_bc_loss(model, observations, actions, config.entropy_coef)
    policy_before = [variable.numpy().astype(np.float64) for variable in model.policy_variables]
    value_before = [variable.numpy() for variable in model.value_net.trainable_variables]

    metrics = BehaviorCloneTrainer(model, config).train_epoch(observations, actions, np.random.default_rng(0))

    for variable, before, change in zip(model.policy_variables, policy_before, expected):
        np.testing.assert_allclose(variable.numpy() - before, change, rtol=1e-4, atol=tolerance,
                                   err_msg=variable.name)
    for variable, before in zip(model.value_net.trainable_variables, value_before):
        np.testing.assert_array_equal(variable.numpy(), before)
    assert metrics["bc/loss"] == pytest.approx(expected_loss, rel=1e-5)
    assert metrics["bc/entropy"] == pytest.approx(float(entropy), rel=1e-5)


def test_the_epoch_metrics_are_the_mean_over_its_minibatches() -> None:
    """Two minibatches and a zero learning rate (the weights never move): the mean of the two
    minibatch losses is the loss of the whole set. (Written for the mutation run: a sum, or a
    product with the number of minibatches, looks the same with one minibatch.)"""
    config = BehaviorCloneConfig(hidden_sizes=(8,), normalize_observations=False, learning_rate=0.0, epochs=1,
                                 minibatch_size=BATCH_SIZE // 2, entropy_coef=2.0)
    model = make_model()
    rng = np.random.default_rng(1)
    observations = rng.normal(size=(BATCH_SIZE, 4)).astype(np.float32)
    actions = rng.integers(0, 2, size=BATCH_SIZE).astype(np.int64)
    loss, entropy = independent_bc_loss(model, observations, actions, config.entropy_coef)
    metrics = BehaviorCloneTrainer(model, config).train_epoch(observations, actions, np.random.default_rng(0))
    assert metrics["bc/loss"] == pytest.approx(float(loss), rel=1e-5)
    assert metrics["bc/entropy"] == pytest.approx(float(entropy), rel=1e-5)
