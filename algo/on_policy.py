"""The on-policy training loop shared by run_ppo.py and run_gail.py.

One loop, read top to bottom: collect a rollout, (GAIL: learn the reward), GAE, PPO update,
log, evaluate, checkpoint. GAIL differs from PPO only by the ``reward_learner`` it passes in.
"""

from __future__ import annotations

import math
import time
from typing import Any, Protocol

import numpy as np
import tensorflow as tf

from algo.gail import LearnedRewards
from algo.ppo import PPOTrainer, compute_gae, explained_variance, next_state_values
from common.demonstrations import Demonstrations
from common.envs import make_vec_env
from common.logger import EvalRecord, RunLogger, describe
from common.rollout import CollectorProcess, Rollout, RolloutCollector
from common.training_run import StopRequested, TrainingRun, check_finite
from network_models.policy import ActorCritic


class RewardLearner(Protocol):
    """What replaces the env reward as PPO's learning signal: learn from a rollout, return the
    rewards PPO should use (GAIL's discriminator; or the env reward rescaled, algo.reward_scaling)."""

    def set_progress(self, fraction_done: float) -> None:
        ...

    def update_and_reward(self, rollout: Rollout, rng: np.random.Generator) -> LearnedRewards:
        ...


class OnPolicyTraining(TrainingRun):
    """Trains ``model`` with PPO on the env reward, or on ``reward_learner``'s reward (GAIL)."""

    def __init__(self, config: Any, model: ActorCritic, trainer: PPOTrainer, algo_name: str,
                 reward_learner: RewardLearner | None = None, fidelity_demos: Demonstrations | None = None,
                 demos_sha256: str | None = None, **extra_trackables: Any) -> None:
        super().__init__(config, algo_name, "env_steps", fidelity_demos, demos_sha256, policy=model,
                         optimizer=trainer.optimizer, **extra_trackables)
        self.model = model
        self.trainer = trainer
        self.algo_name = algo_name
        self.reward_learner = reward_learner
        self.batch_size = config.rollout_steps * config.num_envs
        self.total_iterations = math.ceil(config.total_env_steps / self.batch_size)
        self.envs = make_vec_env(config.env, config.num_envs)
        self.eval_envs = self.make_eval_envs()

    # --- the loop ---------------------------------------------------------------------------
    def run(self) -> list[EvalRecord]:
        config = self.config
        start_iteration = self.start(self.total_iterations, "--total-env-steps")
        env_steps = first_env_steps = int(self.store.env_steps.numpy())
        collecting_ahead = config.collect_while_learning
        # The rollouts' actions come from the run's generator, or collecting ahead (in another
        # process) from one of their own, seeded like the envs by where the run (re)starts.
        collection_rng = np.random.default_rng([config.seed, start_iteration]) if collecting_ahead else self.rng
        collector = RolloutCollector(self.envs, config.rollout_steps, seed=config.seed + start_iteration,
                                     rng=collection_rng, record_log_probs=collecting_ahead)
        if collecting_ahead:
            collector = CollectorProcess(collector)
        logger = RunLogger(self.log_dir, config.total_env_steps, f"{self.algo_name} {config.env}",
                           config.progress, initial=env_steps)
        start_time = time.perf_counter()
        next_eval = (env_steps // config.eval_every + 1) * config.eval_every
        next_checkpoint = (env_steps // config.checkpoint_every + 1) * config.checkpoint_every
        rollout: Rollout | None = None  # collected ahead, during the last update
        try:
            with self.stop_signals():
                for iteration in range(start_iteration, self.total_iterations):
                    self.trainer.set_progress(iteration / self.total_iterations)
                    if self.reward_learner is not None:
                        self.reward_learner.set_progress(iteration / self.total_iterations)
                    if rollout is None:
                        rollout = collector.collect(self.model.actor_snapshot())
                    env_steps += self.batch_size
                    self.check_observations(rollout, env_steps)
                    episode_returns, episode_lengths = collector.drain_episode_stats()
                    ahead = collecting_ahead and iteration < self.total_iterations - 1
                    if ahead:  # the next rollout, acted by the policy this update starts from
                        collector.start(self.model.actor_snapshot())
                    metrics = self._learn(rollout)
                    rollout = collector.wait() if ahead else None
                    check_finite(metrics, self.where(env_steps, iteration + 1), self.save_dir)

                    # Tag names as in CleanRL's ppo.py, so curves compare side by side.
                    if episode_returns:
                        metrics["charts/episodic_return"] = float(np.mean(episode_returns))
                        metrics["charts/episodic_length"] = float(np.mean(episode_lengths))
                    metrics["charts/learning_rate"] = float(self.trainer.optimizer.learning_rate.numpy())
                    metrics["charts/SPS"] = (env_steps - first_env_steps) / (time.perf_counter() - start_time)
                    logger.scalars(env_steps, metrics)

                    if env_steps >= next_eval or iteration == self.total_iterations - 1:
                        next_eval += config.eval_every
                        record = self.evaluate(self.eval_envs, self.model.actor_snapshot(), env_steps,
                                               final=iteration == self.total_iterations - 1)
                        logger.scalars(env_steps, record.scalars())
                        logger.message(f"eval at {env_steps} env steps: {describe(record)}")
                    stopping = self.stopping(iteration, self.total_iterations)
                    # One save per iteration: rewriting the latest checkpoint in place is the one
                    # write a crash could damage.
                    if stopping or env_steps >= next_checkpoint or iteration == self.total_iterations - 1:
                        next_checkpoint += config.checkpoint_every
                        self.save(env_steps, iteration + 1)
                    logger.advance(self.batch_size, self._status(metrics))
                    if stopping:
                        raise StopRequested(self.resume_hint(env_steps, iteration + 1))
        finally:
            if collecting_ahead:
                collector.close()
            self.finish()
            logger.close()
            self.envs.close()
            self.eval_envs.close()
        return self.eval_history

    def _learn(self, rollout: Rollout) -> dict[str, float]:
        """Rewards (env or learned), GAE, then one PPO update. Returns TensorBoard scalars.

        PPO's ratio is taken against the policy that acted: the model as it is, or, where the
        rollout recorded them (collected ahead, by the policy before the last update), the
        rollout's log-probabilities."""
        config = self.config
        num_steps, num_envs = rollout.env_rewards.shape
        observations = rollout.flat(rollout.observations)
        actions = rollout.flat(rollout.actions)
        if rollout.policy_logp is None:
            policy_logp_old, values = self.trainer.logp_and_values(tf.constant(observations), tf.constant(actions))
            policy_logp_old = policy_logp_old.numpy()
        else:  # recorded as the actions were drawn: the model's own would be the wrong policy's
            policy_logp_old = rollout.flat(rollout.policy_logp)
            values = self.trainer.values(tf.constant(observations))
        # One call for both bootstrap sources: real final observations and the post-rollout ones.
        bootstrap_obs = np.concatenate([rollout.flat(rollout.final_observations), rollout.last_observations])
        bootstrap_values = self.trainer.values(tf.constant(bootstrap_obs)).numpy()
        values = values.numpy().reshape(num_steps, num_envs)
        final_obs_values = bootstrap_values[:-num_envs].reshape(num_steps, num_envs)
        last_values = bootstrap_values[-num_envs:]

        if self.reward_learner is None:
            learned = LearnedRewards(rollout.env_rewards, terminal_value=0.0, metrics={})
        else:
            learned = self.reward_learner.update_and_reward(rollout, self.rng)
        metrics = dict(learned.metrics)
        next_values = next_state_values(values, last_values, final_obs_values,
                                        rollout.terminated, rollout.truncated, learned.terminal_value)
        advantages, returns = compute_gae(learned.rewards, values, next_values, rollout.episode_ends,
                                          config.gamma, config.gae_lambda)
        losses = self.trainer.update(observations, actions, policy_logp_old,
                                     advantages.reshape(-1), returns.reshape(-1), self.rng)
        metrics.update({f"losses/{name}": value for name, value in losses.items()})
        value_fit = explained_variance(values, returns)
        if math.isfinite(value_fit):  # undefined when every return is the same: then not logged
            metrics["losses/explained_variance"] = value_fit
        # After the update, so the rollout was acted on, scored and learned from with one set of statistics.
        if self.model.normalizer is not None:
            self.model.normalizer.update(observations)
        return metrics

    @staticmethod
    def _status(metrics: dict[str, float]) -> dict[str, float]:
        keys = {"charts/episodic_return": "return", "losses/policy_loss": "pi_loss",
                "losses/value_loss": "v_loss", "gail/discriminator_loss": "d_loss"}
        return {short: metrics[key] for key, short in keys.items() if key in metrics}

