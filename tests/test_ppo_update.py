"""One ``PPOTrainer.update`` against an independently written loss, gradient and Adam step.

The loss is written out again here (log-softmax, entropy, advantage normalisation, clipped
surrogate, value MSE, global-norm clipping, Keras Adam's first step) so that a planted change
in algo/ppo.py's trainer moves the trained weights or the returned metrics away from it:

* the entropy bonus with the wrong sign,
* the value net regressed onto the advantages instead of the GAE returns,
* the global gradient-norm clip removed (``max_grad_norm`` is tiny here, so the clip is active
  and decides how big Adam's first step is),
* advantage normalisation skipped (or applied when switched off).
"""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from gymnasium.spaces import Discrete

from algo.config import PPOConfig
from algo.ppo import PPOTrainer
from common.envs import EnvSpec
from network_models.factory import build_actor_critic
from network_models.policy import ActorCritic

BATCH_SIZE = 16
ADAM_BETA_1, ADAM_BETA_2, PPO_ADAM_EPSILON = 0.9, 0.999, 1e-5  # Keras defaults; PPOTrainer sets epsilon 1e-5


def make_config(**overrides: object) -> PPOConfig:
    """Every value the update relies on, spelled out (the defaults may change)."""
    values = dict(hidden_sizes=(8,), normalize_observations=False, learning_rate=1e-2, anneal_lr=False,
                  rollout_steps=BATCH_SIZE, num_epochs=1, minibatch_size=BATCH_SIZE, gamma=0.99,
                  gae_lambda=0.95, clip_range=0.2, entropy_coef=0.5, value_coef=0.5, max_grad_norm=1e-4,
                  normalize_advantages=True)
    values.update(overrides)
    return PPOConfig(**values)


def make_model() -> ActorCritic:
    """A tiny actor-critic (obs dim 4, Discrete(2), hidden (8,)) whose policy is far from uniform.

    The policy net's output layer is initialised with gain 0.01, i.e. a nearly uniform policy,
    where the entropy's gradient vanishes; a larger output layer lets the entropy bonus matter.
    """
    model = build_actor_critic(EnvSpec("toy", (4,), Discrete(2)), (8,), seed=0)
    rng = np.random.default_rng(10)
    output_kernel = model.policy_net.kernels[-1]
    output_kernel.assign(rng.normal(scale=1.5, size=output_kernel.shape).astype(np.float32))
    return model


def make_batch(model: ActorCritic) -> dict[str, np.ndarray]:
    """A fixed batch whose advantages have mean 2 and std 3 (so normalising them matters), whose
    returns are unrelated to the advantages, and whose old log-probabilities differ from the
    current ones by up to +-0.4 (so some ratios are clipped and some are not)."""
    rng = np.random.default_rng(0)
    observations = rng.normal(size=(BATCH_SIZE, 4)).astype(np.float32)
    actions = rng.integers(0, 2, size=BATCH_SIZE).astype(np.int64)
    logits = model.head_params(tf.constant(observations)).numpy().astype(np.float64)
    log_probs = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    logp_current = log_probs[np.arange(BATCH_SIZE), actions]
    logp_old = (logp_current + rng.uniform(-0.4, 0.4, size=BATCH_SIZE)).astype(np.float32)
    advantages = (2.0 + 3.0 * rng.normal(size=BATCH_SIZE)).astype(np.float32)
    returns = (2.0 * rng.normal(size=BATCH_SIZE)).astype(np.float32)
    return dict(observations=observations, actions=actions, policy_logp_old=logp_old, advantages=advantages,
                returns=returns)


def independent_loss_terms(model: ActorCritic, batch: dict[str, np.ndarray], config: PPOConfig,
                           value_targets: np.ndarray, entropy_sign: float = 1.0,
                           normalize_advantages: bool | None = None) -> tuple[tf.Tensor, dict[str, tf.Tensor]]:
    """The PPO loss written out from the formulas (call inside a GradientTape).

    loss = -mean(min(r A, clip(r, 1 - eps, 1 + eps) A)) + value_coef * mean((V - targets)^2)
           - entropy_sign * entropy_coef * mean(H), with A normalised to mean 0, std 1 when asked.
    ``value_targets`` and ``entropy_sign`` let the test build what a planted bug would compute.
    """
    if normalize_advantages is None:
        normalize_advantages = config.normalize_advantages
    inputs = tf.constant(batch["observations"])
    logits = model.policy_net(inputs)
    values = tf.squeeze(model.value_net(inputs), axis=-1)
    log_probs = logits - tf.reduce_logsumexp(logits, axis=1, keepdims=True)
    logp_new = tf.reduce_sum(log_probs * tf.one_hot(batch["actions"], 2), axis=1)
    entropy = -tf.reduce_sum(tf.exp(log_probs) * log_probs, axis=1)
    advantages = batch["advantages"].astype(np.float64)
    if normalize_advantages:
        advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
    advantages = tf.constant(advantages.astype(np.float32))
    ratio = tf.exp(logp_new - batch["policy_logp_old"])
    surrogate = tf.minimum(ratio * advantages,
                           tf.clip_by_value(ratio, 1 - config.clip_range, 1 + config.clip_range) * advantages)
    policy_loss = -tf.reduce_mean(surrogate)
    value_loss = tf.reduce_mean(tf.square(values - value_targets))
    mean_entropy = tf.reduce_mean(entropy)
    loss = policy_loss + config.value_coef * value_loss - entropy_sign * config.entropy_coef * mean_entropy
    return loss, {"policy_loss": policy_loss, "value_loss": value_loss, "entropy": mean_entropy}


def independent_gradients(model: ActorCritic, batch: dict[str, np.ndarray], config: PPOConfig,
                          **variant: object) -> tuple[list[np.ndarray], dict[str, float]]:
    """Gradients of the independent loss [float64 arrays, one per trainable variable] and its terms."""
    value_targets = variant.pop("value_targets", batch["returns"])
    with tf.GradientTape() as tape:
        loss, terms = independent_loss_terms(model, batch, config, value_targets, **variant)
    gradients = tape.gradient(loss, model.trainable_variables)
    return ([gradient.numpy().astype(np.float64) for gradient in gradients],
            {name: float(value) for name, value in terms.items()})


def clip_by_global_norm(gradients: list[np.ndarray], max_norm: float) -> tuple[list[np.ndarray], float]:
    norm = float(np.sqrt(sum(np.sum(gradient ** 2) for gradient in gradients)))
    scale = max_norm / max(norm, max_norm)
    return [gradient * scale for gradient in gradients], norm


def adam_first_step(gradients: list[np.ndarray], learning_rate: float, epsilon: float) -> list[np.ndarray]:
    """The parameter change of Keras Adam's first step, from zero moments (bias-corrected)."""
    changes = []
    for gradient in gradients:
        momentum = (1 - ADAM_BETA_1) * gradient
        velocity = (1 - ADAM_BETA_2) * gradient ** 2
        alpha = learning_rate * np.sqrt(1 - ADAM_BETA_2) / (1 - ADAM_BETA_1)
        changes.append(-alpha * momentum / (np.sqrt(velocity) + epsilon))
    return changes


def expected_weight_changes(model: ActorCritic, batch: dict[str, np.ndarray], config: PPOConfig,
                            **variant: object) -> tuple[list[np.ndarray], float, dict[str, float]]:
    gradients, terms = independent_gradients(model, batch, config, **variant)
    clipped, raw_norm = clip_by_global_norm(gradients, config.max_grad_norm)
    return adam_first_step(clipped, config.learning_rate, PPO_ADAM_EPSILON), raw_norm, terms


def run_update(model: ActorCritic, batch: dict[str, np.ndarray], config: PPOConfig,
               jit_compile: bool = False) -> tuple[list[np.ndarray], dict]:
    """One PPOTrainer.update; returns the change of every trainable variable and the metrics."""
    before = [variable.numpy().astype(np.float64) for variable in model.trainable_variables]
    metrics = PPOTrainer(model, config, jit_compile).update(batch["observations"], batch["actions"], batch["policy_logp_old"],
                                               batch["advantages"], batch["returns"], np.random.default_rng(0))
    after = [variable.numpy().astype(np.float64) for variable in model.trainable_variables]
    return [new - old for new, old in zip(after, before)], metrics


def max_difference(first: list[np.ndarray], second: list[np.ndarray]) -> float:
    return max(float(np.max(np.abs(a - b))) for a, b in zip(first, second))


@pytest.mark.parametrize("jit_compile", [False, True], ids=["graph", "xla"])
@pytest.mark.parametrize("normalize_advantages", [True, False])
def test_one_update_matches_the_independent_loss_gradient_clip_and_adam_step(normalize_advantages: bool,
                                                                             jit_compile: bool) -> None:
    """Catches: entropy sign flipped, value target = advantages, gradient clip removed, and
    advantage normalisation skipped (True) or applied although switched off (False); with
    TensorFlow's graph and with XLA (--jit-compile) alike."""
    config = make_config(normalize_advantages=normalize_advantages)
    model = make_model()
    batch = make_batch(model)
    expected, raw_norm, terms = expected_weight_changes(model, batch, config)
    # The clip is active, and by far: without it Adam's first step would be ~lr per weight.
    assert raw_norm > 100 * config.max_grad_norm, raw_norm
    # Each planted bug gives a clearly different step, far outside the tolerance used below.
    tolerance = 1e-4 * config.learning_rate  # float32 rounding is ~5e-6 of lr here
    bug_variants = {
        "entropy bonus sign flipped": dict(entropy_sign=-1.0),
        "value target = advantages": dict(value_targets=batch["advantages"]),
        "advantage normalisation toggled": dict(normalize_advantages=not normalize_advantages),
    }
    for name, variant in bug_variants.items():
        buggy, _, _ = expected_weight_changes(model, batch, config, **variant)
        assert max_difference(buggy, expected) > 50 * tolerance, name
    unclipped = adam_first_step(independent_gradients(model, batch, config)[0], config.learning_rate,
                                PPO_ADAM_EPSILON)
    assert max_difference(unclipped, expected) > 50 * tolerance

    changes, metrics = run_update(model, batch, config, jit_compile)

    for change, expected_change, variable in zip(changes, expected, model.trainable_variables):
        np.testing.assert_allclose(change, expected_change, rtol=1e-4, atol=tolerance, err_msg=variable.name)
    assert metrics["policy_loss"] == pytest.approx(terms["policy_loss"], rel=1e-4, abs=1e-5)
    assert metrics["value_loss"] == pytest.approx(terms["value_loss"], rel=1e-4)
    assert metrics["entropy"] == pytest.approx(terms["entropy"], rel=1e-4)


def test_returned_metrics_are_the_losses_of_the_batch_before_the_step() -> None:
    """Catches: value loss measured against the advantages, advantages left unnormalised in the
    policy loss, and the metrics averaged over the wrong count (the metrics are computed by hand
    in numpy here, independently of TensorFlow)."""
    config = make_config()
    model = make_model()
    batch = make_batch(model)
    inputs = tf.constant(batch["observations"])
    logits = model.policy_net(inputs).numpy().astype(np.float64)
    values = model.values(inputs).numpy().astype(np.float64)
    log_probs = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    logp_new = log_probs[np.arange(BATCH_SIZE), batch["actions"]]
    ratio = np.exp(logp_new - batch["policy_logp_old"])
    advantages = batch["advantages"].astype(np.float64)
    advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
    policy_loss = -np.mean(np.minimum(ratio * advantages, np.clip(ratio, 0.8, 1.2) * advantages))
    value_loss = np.mean((values - batch["returns"]) ** 2)
    entropy = np.mean(-np.sum(np.exp(log_probs) * log_probs, axis=1))
    log_ratio = logp_new - batch["policy_logp_old"]
    approx_kl = np.mean(np.exp(log_ratio) - 1 - log_ratio)
    clip_fraction = np.mean(np.abs(ratio - 1) > 0.2)
    assert 0 < clip_fraction < 1  # the batch has both clipped and unclipped ratios

    _, metrics = run_update(model, batch, config)

    assert metrics["policy_loss"] == pytest.approx(policy_loss, rel=1e-4, abs=1e-5)
    assert metrics["value_loss"] == pytest.approx(value_loss, rel=1e-4)
    assert metrics["entropy"] == pytest.approx(entropy, rel=1e-4)
    assert metrics["approx_kl"] == pytest.approx(approx_kl, rel=1e-3, abs=1e-6)
    assert metrics["clipfrac"] == pytest.approx(clip_fraction)
    # Sanity: the bugs these numbers must catch give clearly different values.
    assert abs(np.mean((values - batch["advantages"]) ** 2) - value_loss) > 1.0
    raw_advantages = batch["advantages"].astype(np.float64)
    assert abs(-np.mean(np.minimum(ratio * raw_advantages, np.clip(ratio, 0.8, 1.2) * raw_advantages))
               - policy_loss) > 1.0


def test_metrics_are_the_mean_over_the_minibatches_not_their_sum() -> None:
    """Two passes over the batch with a learning rate too small to move anything: both minibatches
    have the losses of the single pass, and so must their mean (a sum, or a product with the count,
    would double them)."""
    batch = make_batch(make_model())
    _, one_pass = run_update(make_model(), batch, make_config(learning_rate=1e-12))
    _, two_passes = run_update(make_model(), batch, make_config(learning_rate=1e-12, num_epochs=2))
    for name, value in one_pass.items():
        assert two_passes[name] == pytest.approx(value, rel=1e-4, abs=1e-7), name
    assert one_pass["value_loss"] > 0.1  # a doubled value would show


def test_without_clipping_the_first_step_is_the_plain_adam_step() -> None:
    """With a loose clip the update is plain Adam on the full gradient: catches a clip applied
    with the wrong threshold (e.g. a hard-coded one) or to the wrong gradients."""
    config = make_config(max_grad_norm=1e6, learning_rate=1e-3)
    model = make_model()
    batch = make_batch(model)
    expected, raw_norm, _ = expected_weight_changes(model, batch, config)
    assert raw_norm < config.max_grad_norm
    changes, _ = run_update(model, batch, config)
    for change, expected_change in zip(changes, expected):
        np.testing.assert_allclose(change, expected_change, rtol=1e-4, atol=1e-4 * config.learning_rate)


@pytest.mark.parametrize("anneal", [True, False])
def test_the_learning_rate_decays_linearly_to_zero_only_when_asked(anneal: bool) -> None:
    config = make_config(learning_rate=0.003, anneal_lr=anneal)
    trainer = PPOTrainer(make_model(), config)
    for fraction_done in (0.0, 0.5, 0.99):
        trainer.set_progress(fraction_done)
        expected = 0.003 * (1.0 - fraction_done) if anneal else 0.003
        assert float(trainer.optimizer.learning_rate.numpy()) == pytest.approx(expected, rel=1e-6)
