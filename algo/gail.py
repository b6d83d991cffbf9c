"""GAIL's reward learning: the discriminator loss, the learned reward, and its trainer.

D(s, a) = sigmoid(logit) is the probability that (s, a) came from the expert. The
discriminator maximises E_expert[log D] + E_policy[log(1 - D)]; PPO then maximises the
learned reward, which replaces the environment reward (that one is only logged).

Termination. log D <= 0 makes every step cost something, so with the usual "value 0 after a
terminal step" a policy is paid to end episodes early (on CartPole: to drop the pole). With
``absorbing`` on (the default) a terminal step leads to an absorbing state that D judges like
any other pair (Kostrikov et al., 2019, "Discriminator-Actor-Critic"); its reward r_abs repeats
forever, so the value after a terminal step is r_abs / (1 - gamma) instead of 0. If the expert
never ends episodes, D learns that ending is un-expert-like and the learned reward says so.
"""

from __future__ import annotations

import dataclasses

import keras
import numpy as np
import tensorflow as tf

from algo.batching import named_metrics, shuffled_minibatch_indices
from algo.config import REWARD_KINDS, DiscriminatorConfig
from common.rollout import Rollout
from network_models.discriminator import Discriminator

@dataclasses.dataclass
class LearnedRewards:
    """What the reward learner hands the PPO loop for one rollout."""

    rewards: np.ndarray      # [T, N] float32, learned reward of each (s_t, a_t)
    terminal_value: float    # value of the state after a terminal step (0 without absorbing states)
    metrics: dict[str, float]


# --- the maths ------------------------------------------------------------------------------

def absorbing_discriminator_loss(expert_logits: tf.Tensor, policy_logits: tf.Tensor, absorbing_logit: tf.Tensor,
                                 expert_absorbing_fraction: tf.Tensor,
                                 policy_absorbing_fraction: tf.Tensor) -> tf.Tensor:
    """Binary cross-entropy with expert = 1, policy = 0, -E_E[log D] - E_pi[log(1 - D)], when a
    fraction of each side's pairs are the absorbing state (0 and 0: the plain GAIL loss).

    Written with softplus so it stays finite when D saturates: -log sigmoid(x) = softplus(-x)
    and -log(1 - sigmoid(x)) = softplus(x). All absorbing pairs share one input, hence one logit:
    instead of copying it into the batches, its loss term is weighted by how often it occurs
    (fractions in [0, 1]).
    """
    expert_term = ((1.0 - expert_absorbing_fraction) * tf.reduce_mean(tf.nn.softplus(-expert_logits))
                   + expert_absorbing_fraction * tf.nn.softplus(-absorbing_logit))
    policy_term = ((1.0 - policy_absorbing_fraction) * tf.reduce_mean(tf.nn.softplus(policy_logits))
                   + policy_absorbing_fraction * tf.nn.softplus(absorbing_logit))
    return expert_term + policy_term


def gradient_penalty(input_gradients: tf.Tensor) -> tf.Tensor:
    """E[(||g||_2 - 1)^2] over rows of the gradients [B, input_dim] of D's logit with respect to
    its inputs (Gulrajani et al. 2017; used for GAIL's discriminator by Kostrikov et al. 2019):
    keeps D smooth, so its reward does not jump between nearby pairs."""
    norms = tf.sqrt(tf.reduce_sum(tf.square(input_gradients), axis=-1) + 1e-12)
    return tf.reduce_mean(tf.square(norms - 1.0))


def learned_reward(logits: tf.Tensor, kind: str) -> tf.Tensor:
    """The reward PPO maximises, from discriminator logits:
    log_d: log D (always <= 0); neg_log_1m_d: -log(1 - D) (always >= 0); logit: log D - log(1 - D).
    """
    if kind == "log_d":
        return -tf.nn.softplus(-logits)
    if kind == "neg_log_1m_d":
        return tf.nn.softplus(logits)
    if kind == "logit":
        return logits
    raise ValueError(f"unknown reward kind {kind!r}; expected one of {REWARD_KINDS}")


# --- the trainer ----------------------------------------------------------------------------

class DiscriminatorTrainer:
    """Updates D on each policy rollout against the expert pairs, then rewards the rollout."""

    METRICS = ("gail/discriminator_loss", "gail/expert_accuracy", "gail/policy_accuracy")

    def __init__(self, discriminator: Discriminator, expert_obs: np.ndarray, expert_actions: np.ndarray,
                 expert_terminations: float, config: DiscriminatorConfig, gamma: float,
                 jit_compile: bool = False) -> None:
        """expert_obs [M, obs_dim], expert_actions [M]; expert_terminations = how many of the
        expert episodes ended in a terminal state (each is followed by one absorbing pair),
        divided by the subsampling factor when only every k-th expert pair is kept."""
        self.discriminator = discriminator
        self.config = config
        self.gamma = gamma
        self.expert_obs = tf.constant(expert_obs, tf.float32)
        self.expert_actions = tf.constant(expert_actions)
        # Without absorbing states both sides simply have none (fraction 0 on either side).
        expert_terminations = expert_terminations if config.absorbing else 0
        self.expert_absorbing_fraction = expert_terminations / (expert_obs.shape[0] + expert_terminations)
        self.optimizer = keras.optimizers.Adam(learning_rate=config.disc_learning_rate)
        self.optimizer.build(discriminator.trainable_variables)
        self._update = tf.function(self._update_graph, jit_compile=jit_compile)

    def set_progress(self, fraction_done: float) -> None:
        if self.config.disc_anneal_lr:
            self.optimizer.learning_rate.assign(self.config.disc_learning_rate * (1.0 - fraction_done))

    def update_and_reward(self, rollout: Rollout, rng: np.random.Generator) -> LearnedRewards:
        """The GAIL step of the training loop: update D on the rollout, then reward it."""
        policy_obs = rollout.flat(rollout.observations)
        policy_actions = rollout.flat(rollout.actions)
        num_terminations = int(rollout.terminated.sum()) if self.config.absorbing else 0
        policy_absorbing_fraction = num_terminations / (policy_obs.shape[0] + num_terminations)
        metrics = self.update(policy_obs, policy_actions, policy_absorbing_fraction, rng)
        rewards, absorbing_reward = self.reward(policy_obs, policy_actions)
        metrics["gail/mean_learned_reward"] = float(rewards.mean())
        terminal_value = 0.0
        if self.config.absorbing:
            terminal_value = absorbing_reward / (1.0 - self.gamma)
            metrics["gail/absorbing_reward"] = absorbing_reward
        return LearnedRewards(rewards.reshape(rollout.env_rewards.shape), terminal_value, metrics)

    def update(self, policy_obs: np.ndarray, policy_actions: np.ndarray, policy_absorbing_fraction: float,
               rng: np.random.Generator) -> dict[str, float]:
        """Minibatch Adam steps on the policy pairs, each against as many random expert pairs;
        ``policy_absorbing_fraction`` is the share of absorbing pairs on the policy side."""
        policy_indices = shuffled_minibatch_indices(rng, policy_obs.shape[0], self.config.disc_minibatch_size,
                                                    self.config.disc_epochs)
        expert_indices = rng.integers(0, self.expert_obs.shape[0], size=policy_indices.shape).astype(np.int32)
        # Where each penalty input lies between its expert and its policy pair; drawn only when
        # the penalty is on, so that runs without it keep their random stream.
        mix_weights = np.zeros(policy_indices.shape + (1,), np.float32)
        if self.config.disc_grad_penalty > 0:
            mix_weights = rng.random(mix_weights.shape).astype(np.float32)
        metrics = self._update(tf.constant(policy_obs), tf.constant(policy_actions),
                               tf.constant(policy_indices), tf.constant(expert_indices), tf.constant(mix_weights),
                               tf.constant(self.expert_absorbing_fraction, tf.float32),
                               tf.constant(policy_absorbing_fraction, tf.float32))
        return named_metrics(self.METRICS, metrics)

    def _update_graph(self, policy_obs, policy_actions, policy_indices, expert_indices, mix_weights,
                      expert_absorbing_fraction, policy_absorbing_fraction):
        discriminator = self.discriminator
        totals = tf.zeros(len(self.METRICS))
        for step in tf.range(tf.shape(policy_indices)[0]):
            policy_inputs = discriminator.inputs(tf.gather(policy_obs, policy_indices[step]),
                                                 tf.gather(policy_actions, policy_indices[step]))
            expert_inputs = discriminator.inputs(tf.gather(self.expert_obs, expert_indices[step]),
                                                 tf.gather(self.expert_actions, expert_indices[step]))
            with tf.GradientTape() as tape:
                expert_logits = discriminator.logits(expert_inputs)
                policy_logits = discriminator.logits(policy_inputs)
                loss = absorbing_discriminator_loss(expert_logits, policy_logits, discriminator.absorbing_logit(),
                                                    expert_absorbing_fraction, policy_absorbing_fraction)
                if self.config.disc_grad_penalty > 0:
                    mixed_inputs = mix_weights[step] * expert_inputs + (1.0 - mix_weights[step]) * policy_inputs
                    with tf.GradientTape() as input_tape:
                        input_tape.watch(mixed_inputs)
                        mixed_logits = discriminator.logits(mixed_inputs)
                    loss += self.config.disc_grad_penalty * gradient_penalty(
                        input_tape.gradient(mixed_logits, mixed_inputs))
            gradients = tape.gradient(loss, self.discriminator.trainable_variables)
            self.optimizer.apply_gradients(zip(gradients, self.discriminator.trainable_variables))
            expert_accuracy = tf.reduce_mean(tf.cast(expert_logits > 0.0, tf.float32))
            policy_accuracy = tf.reduce_mean(tf.cast(policy_logits < 0.0, tf.float32))
            totals += tf.stack([loss, expert_accuracy, policy_accuracy])
        return totals / tf.cast(tf.shape(policy_indices)[0], tf.float32)

    def reward(self, observations: np.ndarray, actions: np.ndarray) -> tuple[np.ndarray, float]:
        """Learned reward [B] float32 of flat (observation, action) pairs, and of the absorbing state."""
        rewards, absorbing_reward = self._reward(tf.constant(observations), tf.constant(actions))
        return rewards.numpy(), float(absorbing_reward)

    @tf.function
    def _reward(self, observations, actions):
        return (learned_reward(self.discriminator(observations, actions), self.config.reward),
                learned_reward(self.discriminator.absorbing_logit(), self.config.reward))
