"""Behavioural cloning: maximise log pi(a_E | s_E) on the expert pairs (supervised baseline)."""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
import tensorflow as tf

from algo.batching import named_metrics, shuffled_minibatch_indices
from algo.config import BehaviorCloneConfig
from common.demonstrations import Demonstrations
from common.logger import EvalRecord, RunLogger
from common.training_run import StopRequested, TrainingRun, check_finite
from network_models.policy import ActorCritic


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
                params = self.model.head_params(tf.gather(expert_obs, indices))
                entropy = self.model.head.entropy(params)
                loss = behavior_clone_loss(self.model.head.log_prob(params, actions), entropy,
                                           self.config.entropy_coef)
            self.optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
            action_error = self.model.head.action_error(params, actions)
            totals += tf.stack([loss, action_error, tf.reduce_mean(entropy)])
        return totals / tf.cast(tf.shape(minibatch_indices)[0], tf.float32)


def warm_start(model: ActorCritic, demos: Demonstrations, epochs: int, seed: int) -> dict[str, float]:
    """Behavioural cloning of the policy on ``demos`` for ``epochs`` (BC's default settings),
    before another learner takes over (GAIL's --bc-init-epochs). Returns the last epoch's metrics."""
    trainer = BehaviorCloneTrainer(model, BehaviorCloneConfig())
    rng = np.random.default_rng(seed)  # its own stream: the run's generator is left untouched
    metrics: dict[str, float] = {}
    for _ in range(epochs):
        metrics = trainer.train_epoch(demos.observations, demos.actions, rng)
    return metrics


class BehaviorCloneTraining(TrainingRun):
    """Epochs of BC over the demonstrations, with periodic evaluation on the true reward;
    checkpoints, resume, SIGINT/SIGTERM and the NaN guard come from TrainingRun."""

    def __init__(self, config: Any, model: ActorCritic, demos: Demonstrations,
                 fidelity_demos: Demonstrations | None = None, demos_sha256: str | None = None) -> None:
        self.trainer = BehaviorCloneTrainer(model, config)
        super().__init__(config, "bc", "epochs", fidelity_demos, demos_sha256, policy=model,
                         optimizer=self.trainer.optimizer)
        self.model = model
        self.demos = demos

    def run(self) -> list[EvalRecord]:
        config = self.config
        start_epoch = self.start(config.epochs, "--epochs")
        eval_envs = self.make_eval_envs()
        logger = RunLogger(self.log_dir, config.epochs, f"bc {config.env}", config.progress,
                           initial=start_epoch, unit="epoch")
        try:
            with self.stop_signals():
                for epoch in range(start_epoch + 1, config.epochs + 1):
                    metrics = self.trainer.train_epoch(self.demos.observations, self.demos.actions, self.rng)
                    check_finite(metrics, self.where(0, epoch), self.save_dir)
                    stopping = self.stopping(epoch - 1, config.epochs)
                    if epoch % config.eval_every == 0 or epoch == config.epochs:
                        record = self.evaluate(eval_envs, self.model.actor_snapshot(), epoch,
                                               final=epoch == config.epochs)
                        metrics.update(record.scalars())
                    logger.scalars(epoch, metrics)
                    if stopping or epoch % config.eval_every == 0 or epoch == config.epochs:
                        self.save(0, epoch)
                    logger.advance(1, {"loss": metrics["bc/loss"], "action_error": metrics["bc/action_error"]})
                    if stopping:
                        raise StopRequested(self.resume_hint(0, epoch))
        finally:
            self.finish()
            logger.close()
            eval_envs.close()
        return self.eval_history
