"""One discriminator update of DiscriminatorTrainer on a fixed batch, against an independent
computation: which expert and policy pairs it draws, the absorbing-state loss with each side's
absorbing fraction, the gradient penalty on mixed inputs, the Adam step, the metrics; and the
learning-rate schedule. (test_gail_math.py checks the loss and reward formulas by hand and what
a trained discriminator prefers.)"""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from gymnasium.spaces import Discrete

from algo.batching import shuffled_minibatch_indices
from algo.config import DiscriminatorConfig
from algo.gail import DiscriminatorTrainer
from common.envs import EnvSpec
from common.rollout import Rollout
from network_models.factory import build_discriminator
from test_ppo_update import adam_first_step, max_difference

SPEC = EnvSpec("toy", (3,), Discrete(2))
KERAS_ADAM_EPSILON = 1e-7  # the discriminator's Adam keeps Keras's default
NUM_EXPERT, NUM_POLICY = 5, 8
EXPERT_TERMINATIONS = 2


def make_trainer(jit_compile: bool = False, **config: object) -> DiscriminatorTrainer:
    rng = np.random.default_rng(0)
    expert_obs = rng.normal(size=(NUM_EXPERT, 3)).astype(np.float32)
    expert_actions = rng.integers(0, 2, size=NUM_EXPERT)
    settings = {"disc_epochs": 1, "disc_minibatch_size": NUM_POLICY, "disc_learning_rate": 1e-2, **config}
    return DiscriminatorTrainer(build_discriminator(SPEC, (8,), seed=0), expert_obs, expert_actions,
                                EXPERT_TERMINATIONS, DiscriminatorConfig(**settings), gamma=0.9,
                                jit_compile=jit_compile)


def policy_batch() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    return rng.normal(size=(NUM_POLICY, 3)).astype(np.float32) + 0.5, rng.integers(0, 2, size=NUM_POLICY)


def independent_step(trainer: DiscriminatorTrainer, policy_obs: np.ndarray, policy_actions: np.ndarray,
                     policy_absorbing_fraction: float, seed: int,
                     mix_sign: float = 1.0) -> tuple[list[np.ndarray], dict[str, float], np.random.Generator]:
    """The same draws from the same seed, the loss written out here; returns the Adam step of the
    first minibatch for every trainable variable, the metrics, and the generator after the draws."""
    config = trainer.config
    rng = np.random.default_rng(seed)
    policy_indices = shuffled_minibatch_indices(rng, NUM_POLICY, config.disc_minibatch_size, config.disc_epochs)
    expert_indices = rng.integers(0, NUM_EXPERT, size=policy_indices.shape)
    mix = rng.random(policy_indices.shape + (1,)).astype(np.float32) if config.disc_grad_penalty > 0 else None
    steps = [minibatch_step(trainer, policy_obs[policy_indices[k]], policy_actions[policy_indices[k]],
                            expert_indices[k], None if mix is None else mix[k], policy_absorbing_fraction, mix_sign)
             for k in range(policy_indices.shape[0])]
    # The first minibatch's step; the metrics are the mean over the minibatches (exact for one; for
    # several, only while the steps leave the weights as good as unchanged: a tiny learning rate).
    metrics = {name: float(np.mean([step_metrics[name] for _, step_metrics in steps])) for name in steps[0][1]}
    return steps[0][0], metrics, rng


def minibatch_step(trainer: DiscriminatorTrainer, policy_obs: np.ndarray, policy_actions: np.ndarray,
                   expert_indices: np.ndarray, mix: np.ndarray | None, policy_absorbing_fraction: float,
                   mix_sign: float) -> tuple[list[np.ndarray], dict[str, float]]:
    config, discriminator = trainer.config, trainer.discriminator
    expert_inputs = discriminator.inputs(tf.gather(trainer.expert_obs, expert_indices),
                                         tf.gather(trainer.expert_actions, expert_indices))
    policy_inputs = discriminator.inputs(tf.constant(policy_obs), tf.constant(policy_actions))
    expert_fraction = EXPERT_TERMINATIONS / (NUM_EXPERT + EXPERT_TERMINATIONS) if config.absorbing else 0.0
    with tf.GradientTape() as tape:
        expert_logits = discriminator.logits(expert_inputs)
        policy_logits = discriminator.logits(policy_inputs)
        absorbing_logit = discriminator.absorbing_logit()
        # -log D on expert pairs and -log(1 - D) on policy pairs, the absorbing state weighted by
        # how often each side reaches it.
        loss = ((1 - expert_fraction) * tf.reduce_mean(-tf.math.log(tf.sigmoid(expert_logits)))
                + expert_fraction * -tf.math.log(tf.sigmoid(absorbing_logit))
                + (1 - policy_absorbing_fraction) * tf.reduce_mean(-tf.math.log(1 - tf.sigmoid(policy_logits)))
                + policy_absorbing_fraction * -tf.math.log(1 - tf.sigmoid(absorbing_logit)))
        if mix is not None:
            mixed = mix * expert_inputs + (1.0 - mix_sign * mix) * policy_inputs
            with tf.GradientTape() as input_tape:
                input_tape.watch(mixed)
                mixed_logits = discriminator.logits(mixed)
            norms = tf.norm(input_tape.gradient(mixed_logits, mixed), axis=-1)
            loss += config.disc_grad_penalty * tf.reduce_mean(tf.square(norms - 1.0))
    gradients = [g.numpy().astype(np.float64) for g in tape.gradient(loss, discriminator.trainable_variables)]
    metrics = {"gail/discriminator_loss": float(loss),
               "gail/expert_accuracy": float(np.mean(expert_logits.numpy() > 0)),
               "gail/policy_accuracy": float(np.mean(policy_logits.numpy() < 0))}
    return adam_first_step(gradients, config.disc_learning_rate, KERAS_ADAM_EPSILON), metrics


def run_update(trainer: DiscriminatorTrainer, policy_obs: np.ndarray, policy_actions: np.ndarray,
               policy_absorbing_fraction: float,
               seed: int) -> tuple[list[np.ndarray], dict[str, float], np.random.Generator]:
    variables = trainer.discriminator.trainable_variables
    before = [variable.numpy().astype(np.float64) for variable in variables]
    rng = np.random.default_rng(seed)
    metrics = trainer.update(policy_obs, policy_actions, policy_absorbing_fraction, rng)
    return [variable.numpy().astype(np.float64) - old for variable, old in zip(variables, before)], metrics, rng


@pytest.mark.parametrize("jit_compile", [False, True], ids=["graph", "xla"])
@pytest.mark.parametrize("penalty", [0.0, 0.5, 10.0], ids=["plain", "small_gradient_penalty", "gradient_penalty"])
@pytest.mark.parametrize("absorbing", [True, False])
def test_one_update_matches_the_independent_loss_and_adam_step(penalty: float, absorbing: bool,
                                                               jit_compile: bool) -> None:
    """Also: the mixing weights of the penalty are drawn from the run's generator only when the
    penalty is on (runs without it keep their random stream); with TensorFlow's graph and with
    XLA (--jit-compile) alike."""
    policy_obs, policy_actions = policy_batch()
    trainer = make_trainer(jit_compile, disc_grad_penalty=penalty, absorbing=absorbing)
    policy_fraction = 3 / (NUM_POLICY + 3) if absorbing else 0.0
    expected, expected_metrics, expected_rng = independent_step(trainer, policy_obs, policy_actions,
                                                                policy_fraction, seed=7)
    if penalty:  # a penalty on other mixes (1 + w instead of 1 - w) gives a clearly different step
        other, _, _ = independent_step(trainer, policy_obs, policy_actions, policy_fraction, seed=7, mix_sign=-1.0)
        assert max_difference(other, expected) > 1e-4
    changes, metrics, rng = run_update(trainer, policy_obs, policy_actions, policy_fraction, seed=7)
    for change, expected_change in zip(changes, expected):
        np.testing.assert_allclose(change, expected_change, rtol=1e-3, atol=1e-6)
    assert metrics == pytest.approx(expected_metrics, rel=1e-4, abs=1e-6)
    assert 0 < expected_metrics["gail/expert_accuracy"] < 1 or 0 < expected_metrics["gail/policy_accuracy"] < 1
    assert rng.random() == expected_rng.random()


def test_the_metrics_are_the_mean_over_the_minibatches() -> None:
    """Four minibatches (two epochs of two); a learning rate so small that the weights stay put,
    so each minibatch's metrics are those of the initial discriminator."""
    policy_obs, policy_actions = policy_batch()
    trainer = make_trainer(disc_epochs=2, disc_minibatch_size=NUM_POLICY // 2, disc_learning_rate=1e-12)
    _, expected_metrics, _ = independent_step(trainer, policy_obs, policy_actions, 0.25, seed=3)
    _, metrics, _ = run_update(trainer, policy_obs, policy_actions, 0.25, seed=3)
    assert metrics == pytest.approx(expected_metrics, rel=1e-5, abs=1e-6)


def test_expert_pairs_are_drawn_from_the_whole_set() -> None:
    """Every expert pair can be drawn (index 0 and the last one included), as many as policy pairs."""
    trainer = make_trainer(disc_epochs=50)
    captured = {}

    def capture(policy_obs, policy_actions, policy_indices, expert_indices, *rest):
        captured.update(policy=policy_indices.numpy(), expert=expert_indices.numpy())
        return tf.zeros(3)

    trainer._update = capture
    trainer.update(*policy_batch(), 0.0, np.random.default_rng(0))
    assert captured["expert"].shape == captured["policy"].shape == (50, NUM_POLICY)
    assert set(captured["expert"].ravel()) == set(range(NUM_EXPERT))


@pytest.mark.parametrize("absorbing", [True, False])
def test_each_sides_absorbing_fraction_counts_terminations_only_with_absorbing_on(absorbing: bool) -> None:
    trainer = make_trainer(absorbing=absorbing)
    expected_expert = EXPERT_TERMINATIONS / (NUM_EXPERT + EXPERT_TERMINATIONS) if absorbing else 0.0
    assert trainer.expert_absorbing_fraction == pytest.approx(expected_expert)
    seen = {}

    def capture(policy_obs, policy_actions, policy_absorbing_fraction, rng):
        seen["fraction"] = policy_absorbing_fraction
        return {}

    trainer.update = capture
    observations, actions = policy_batch()
    terminated = np.zeros((4, 2), bool)
    terminated[1, 0] = terminated[3, 1] = terminated[2, 1] = True
    rollout = Rollout(observations=observations.reshape(4, 2, 3), actions=actions.reshape(4, 2),
                      env_rewards=np.zeros((4, 2), np.float32), terminated=terminated,
                      truncated=np.zeros((4, 2), bool), final_observations=np.zeros((4, 2, 3), np.float32),
                      last_observations=np.zeros((2, 3), np.float32))
    trainer.update_and_reward(rollout, np.random.default_rng(0))
    assert seen["fraction"] == pytest.approx(3 / (NUM_POLICY + 3) if absorbing else 0.0)


@pytest.mark.parametrize("anneal", [True, False])
def test_the_discriminator_learning_rate_decays_linearly_to_zero_only_when_asked(anneal: bool) -> None:
    trainer = make_trainer(disc_learning_rate=0.004, disc_anneal_lr=anneal)
    for fraction_done in (0.0, 0.25, 0.9):
        trainer.set_progress(fraction_done)
        expected = 0.004 * (1.0 - fraction_done) if anneal else 0.004
        assert float(trainer.optimizer.learning_rate.numpy()) == pytest.approx(expected, rel=1e-6)
