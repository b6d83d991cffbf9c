"""Behavioural cloning: maximise log pi(a_E | s_E) on the expert pairs (supervised baseline)."""

from __future__ import annotations

import dataclasses

import keras
import numpy as np
import tensorflow as tf

from algo.batching import named_metrics, shuffled_minibatch_indices
from common.config import option
from network_models.policy import ActorCritic


@dataclasses.dataclass
class BehaviorCloneConfig:
    learning_rate: float = option(1e-3, "Adam learning rate", "positive")
    epochs: int = option(200, "passes over the demonstrations", "positive")
    minibatch_size: int = option(256, "expert pairs per gradient step", "positive")
    entropy_coef: float = option(1e-3, "entropy bonus weight (keeps the policy from collapsing early)",
                                 "non_negative")
    hidden_sizes: tuple = option((64, 64), "hidden layer widths of the policy net", "all_positive")


def behavior_clone_loss(logp_expert_actions: tf.Tensor, entropy: tf.Tensor, entropy_coef: float) -> tf.Tensor:
    """Negative log-likelihood of the expert's actions minus an entropy bonus; inputs [B]."""
    return -tf.reduce_mean(logp_expert_actions) - entropy_coef * tf.reduce_mean(entropy)


class BehaviorCloneTrainer:
    """Trains only the policy half of an ActorCritic, so test_policy loads every algorithm alike."""

    METRICS = ("bc/loss", "bc/action_error", "bc/entropy")

    def __init__(self, model: ActorCritic, config: BehaviorCloneConfig) -> None:
        self.model = model
        self.config = config
        self.optimizer = keras.optimizers.Adam(learning_rate=config.learning_rate)
        self.optimizer.build(model.policy_variables)

    def train_epoch(self, expert_obs: np.ndarray, expert_actions: np.ndarray,
                    rng: np.random.Generator) -> dict[str, float]:
        """One shuffled pass over the demonstrations in a single compiled call."""
        indices = shuffled_minibatch_indices(rng, expert_obs.shape[0], self.config.minibatch_size, num_epochs=1)
        metrics = self._train_epoch(tf.constant(expert_obs), tf.constant(expert_actions), tf.constant(indices))
        return named_metrics(self.METRICS, metrics)

    @tf.function
    def _train_epoch(self, expert_obs, expert_actions, minibatch_indices):
        totals = tf.zeros(len(self.METRICS))
        variables = self.model.policy_variables
        for indices in minibatch_indices:
            actions = tf.gather(expert_actions, indices)
            with tf.GradientTape() as tape:
                params = self.model.policy_net(tf.gather(expert_obs, indices))
                entropy = self.model.head.entropy(params)
                loss = behavior_clone_loss(self.model.head.log_prob(params, actions), entropy,
                                           self.config.entropy_coef)
            self.optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
            action_error = self.model.head.action_error(params, actions)
            totals += tf.stack([loss, action_error, tf.reduce_mean(entropy)])
        return totals / tf.cast(tf.shape(minibatch_indices)[0], tf.float32)
