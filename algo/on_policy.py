"""The on-policy training loop shared by run_ppo.py and run_gail.py.

One loop, read top to bottom: collect a rollout, (GAIL: learn the reward), GAE, PPO update,
log, evaluate, checkpoint. GAIL differs from PPO only by the ``reward_learner`` it passes in.
"""

from __future__ import annotations

import dataclasses
import math
import signal
import sys
import time
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import tensorflow as tf

from algo.gail import LearnedRewards
from algo.ppo import PPOConfig, PPOTrainer, compute_gae, next_state_values
from common.checkpoints import CheckpointStore
from common.config import config_to_dict, flag_name, load_config_dict, option, save_config
from common.envs import make_vec_env
from common.errors import UsageError
from common.files import check_writable_dir, ensure_writable_dir
from common.logger import EvalRecord, RunLogger, read_evaluations, write_evaluations
from common.rollout import EVAL_SEED_OFFSET, Rollout, RolloutCollector, run_episodes
from network_models.policy import ActorCritic


@dataclasses.dataclass
class RunConfig:
    """Run-level flags shared by the training scripts."""

    env: str = option("CartPole-v1", "gymnasium env id (discrete actions)")
    seed: int = option(0, "seed of networks, envs and sampling (runs are reproducible on CPU)", "non_negative")
    num_envs: int = option(8, "parallel training envs", "positive")
    total_env_steps: int = option(70_000, "training budget in env steps", "positive")
    eval_every: int = option(10_000, "env steps between deterministic evaluations", "positive")
    eval_episodes: int = option(10, "episodes per evaluation", "positive")
    checkpoint_every: int = option(10_000, "env steps between checkpoints (one is also saved at the end)",
                                   "positive")
    save_dir: str = option("trained_models/ppo/{env}", "checkpoint directory ({env}, {seed} are filled in)")
    log_dir: str = option("log/train/ppo/{env}/seed{seed}", "TensorBoard directory ({env}, {seed} filled in)")
    resume: bool = option(False, "continue from the latest checkpoint in --save-dir")
    progress: bool = option(True, "show a progress bar")


@dataclasses.dataclass
class OnPolicyRunConfig(RunConfig, PPOConfig):
    """The flags of run_ppo.py; run_gail.py adds the discriminator's."""

    def validate(self) -> None:
        self.validate_batch(self.num_envs)


class RewardLearner(Protocol):
    """What GAIL plugs into the loop: learn from a rollout, return the rewards PPO should use."""

    def set_progress(self, fraction_done: float) -> None:
        ...

    def update_and_reward(self, rollout: Rollout, rng: np.random.Generator) -> LearnedRewards:
        ...


class StopRequested(Exception):
    """Raised inside the loop after SIGINT/SIGTERM, once a checkpoint has been saved."""


class TrainingDiverged(Exception):
    """A loss or a parameter became NaN or inf; the last good checkpoint is left in place."""


def check_finite(metrics: dict[str, float], env_steps: int, save_dir: Path) -> None:
    bad = [name for name, value in metrics.items() if not math.isfinite(value)]
    if bad:
        raise TrainingDiverged(f"training diverged: {', '.join(bad)} became NaN or inf at env step "
                               f"{env_steps}; the last good checkpoint in {save_dir} is kept")


class OnPolicyTraining:
    """Trains ``model`` with PPO on the env reward, or on ``reward_learner``'s reward (GAIL)."""

    def __init__(self, config: Any, model: ActorCritic, trainer: PPOTrainer, algo_name: str,
                 reward_learner: RewardLearner | None = None, **extra_trackables: Any) -> None:
        self.config = config
        self.model = model
        self.trainer = trainer
        self.algo_name = algo_name
        self.reward_learner = reward_learner
        self.batch_size = config.rollout_steps * config.num_envs
        self.total_iterations = math.ceil(config.total_env_steps / self.batch_size)
        self.rng = np.random.default_rng(config.seed)
        # Only checked here; _start creates them once --resume and the checkpoint agree.
        self.save_dir = check_writable_dir(config.save_dir, "--save-dir")
        self.log_dir = check_writable_dir(config.log_dir, "--log-dir")
        self.store = CheckpointStore(self.save_dir, policy=model, optimizer=trainer.optimizer, **extra_trackables)
        self.envs = make_vec_env(config.env, config.num_envs)
        self.eval_envs = make_vec_env(config.env, min(config.eval_episodes, 16))
        self.eval_history: list[EvalRecord] = []
        self.stop_signal: int | None = None
        self.first_env_steps = 0   # where this process started (differs from 0 on --resume)
        self.train_seconds = 0.0   # this process's time in the loop, from the first env step
        self.earlier_train_seconds = 0.0  # the time of the processes before a --resume

    # --- the loop ---------------------------------------------------------------------------
    def run(self) -> list[EvalRecord]:
        config = self.config
        start_iteration, env_steps = self._start()
        collector = RolloutCollector(self.envs, config.rollout_steps, seed=config.seed + start_iteration,
                                     rng=self.rng)
        logger = RunLogger(self.log_dir, config.total_env_steps, f"{self.algo_name} {config.env}",
                           config.progress, initial=env_steps)
        previous_handlers = self._catch_stop_signals()
        start_time = time.perf_counter()
        next_eval = (env_steps // config.eval_every + 1) * config.eval_every
        next_checkpoint = (env_steps // config.checkpoint_every + 1) * config.checkpoint_every
        try:
            for iteration in range(start_iteration, self.total_iterations):
                self.trainer.set_progress(iteration / self.total_iterations)
                if self.reward_learner is not None:
                    self.reward_learner.set_progress(iteration / self.total_iterations)
                rollout = collector.collect(self.model.actor_snapshot())
                env_steps += self.batch_size
                metrics = self._learn(rollout)
                check_finite(metrics, env_steps, self.save_dir)

                episode_returns, episode_lengths = collector.drain_episode_stats()
                if episode_returns:
                    metrics["charts/episode_return"] = float(np.mean(episode_returns))
                    metrics["charts/episode_length"] = float(np.mean(episode_lengths))
                metrics["charts/learning_rate"] = float(self.trainer.optimizer.learning_rate.numpy())
                metrics["charts/steps_per_second"] = (env_steps - self.first_env_steps) / (
                    time.perf_counter() - start_time)
                logger.scalars(env_steps, metrics)

                if env_steps >= next_eval or iteration == self.total_iterations - 1:
                    next_eval += config.eval_every
                    record = self.evaluate(env_steps, time.perf_counter() - start_time)
                    logger.scalars(env_steps, {"eval/return_mean": record.return_mean,
                                               "eval/return_std": record.return_std})
                    logger.message(f"eval at {env_steps} env steps: true return "
                                   f"{record.return_mean:.1f} ± {record.return_std:.1f}")
                # A stop during the last iteration just lets the run finish: nothing would be left to resume.
                stopping = self.stop_signal is not None and iteration < self.total_iterations - 1
                # One save per iteration: rewriting the latest checkpoint in place is the one write
                # a crash could damage.
                if stopping or env_steps >= next_checkpoint or iteration == self.total_iterations - 1:
                    next_checkpoint += config.checkpoint_every
                    self._save(env_steps, iteration + 1)
                logger.advance(self.batch_size, self._status(metrics))
                if stopping:
                    raise StopRequested(self._resume_hint(env_steps))
        finally:
            self.train_seconds = time.perf_counter() - start_time
            self._restore_signals(previous_handlers)
            write_evaluations(self.log_dir, self.config, "env_steps", self.eval_history,
                              self.earlier_train_seconds + self.train_seconds)
            logger.close()
            self.envs.close()
            self.eval_envs.close()
        return self.eval_history

    def _learn(self, rollout: Rollout) -> dict[str, float]:
        """Rewards (env or learned), GAE, then one PPO update. Returns TensorBoard scalars."""
        config = self.config
        num_steps, num_envs = rollout.env_rewards.shape
        observations = rollout.flat(rollout.observations)
        actions = rollout.flat(rollout.actions)
        policy_logp_old, values = self.trainer.logp_and_values(tf.constant(observations), tf.constant(actions))
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
        losses = self.trainer.update(observations, actions, policy_logp_old.numpy(),
                                     advantages.reshape(-1), returns.reshape(-1), self.rng)
        metrics.update({f"losses/{name}": value for name, value in losses.items()})
        return metrics

    def evaluate(self, env_steps: int, seconds: float) -> EvalRecord:
        episodes = run_episodes(self.eval_envs, self.model.actor_snapshot(), self.config.eval_episodes,
                                seed=self.config.seed + EVAL_SEED_OFFSET)
        record = EvalRecord(env_steps, seconds, float(episodes.returns.mean()), float(episodes.returns.std()))
        self.eval_history.append(record)
        return record

    def _save(self, env_steps: int, iteration: int) -> None:
        """Checkpoint, unless a parameter went NaN/inf: then stop and keep the last good one."""
        parameters = {f"parameter {variable.name}": float(np.sum(variable.numpy()))
                      for variable in self.store.network_variables()}
        check_finite(parameters, env_steps, self.save_dir)
        self.store.save(env_steps, iteration, self.rng)

    # --- start, resume, signals ---------------------------------------------------------------
    def _start(self) -> tuple[int, int]:
        """(iteration, env_steps) to start from: 0 for a new run, the checkpoint's on --resume."""
        has_checkpoint = self.store.manager.latest_checkpoint is not None
        if self.config.resume:
            self._check_resume_config()
            if not self.store.restore_latest(self.rng):
                raise UsageError(f"--resume: no checkpoint in --save-dir {self.save_dir}")
            restored_steps = int(self.store.env_steps.numpy())
            # evaluations.json keeps the whole run's history across resumes.
            self.eval_history, self.earlier_train_seconds = read_evaluations(self.log_dir, restored_steps)
            if int(self.store.iteration.numpy()) >= self.total_iterations:
                raise UsageError(f"--resume: the checkpoint in {self.save_dir} is already at "
                                 f"{int(self.store.env_steps.numpy())} env steps; pass a larger "
                                 f"--total-env-steps (now {self.config.total_env_steps}) to train on")
        elif has_checkpoint:
            raise UsageError(f"--save-dir {self.save_dir} already holds a checkpoint; pass --resume to "
                             "continue it or choose another --save-dir")
        ensure_writable_dir(self.save_dir, "--save-dir")
        ensure_writable_dir(self.log_dir, "--log-dir")
        save_config(self.config, self.save_dir)
        save_config(self.config, self.log_dir)
        self.first_env_steps = int(self.store.env_steps.numpy())
        return int(self.store.iteration.numpy()), self.first_env_steps

    # Flags that fix the shape of the networks or of the batch: a resume must keep them.
    # So do the flags that define GAIL's learned reward.
    RESUME_FIXED_FLAGS = ("env", "num_envs", "rollout_steps", "hidden_sizes", "disc_hidden_sizes",
                          "disc_standardize", "reward", "absorbing", "num_demos")

    def _check_resume_config(self) -> None:
        saved_path = self.save_dir / "config.json"
        if not saved_path.is_file():
            return  # no checkpoint either; restore_latest reports that
        saved = load_config_dict(self.save_dir)
        current = config_to_dict(self.config)
        for name in self.RESUME_FIXED_FLAGS:
            if name in current and name in saved and saved[name] != current[name]:
                raise UsageError(f"--resume: {flag_name(name)} is {current[name]!r} but the run in "
                                 f"{self.save_dir} used {saved[name]!r}; resume with the same value")

    def _catch_stop_signals(self) -> dict[int, Any]:
        def request_stop(signal_number: int, _frame: Any) -> None:
            self.stop_signal = signal_number

        return {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}

    @staticmethod
    def _restore_signals(previous_handlers: dict[int, Any]) -> None:
        for sig, handler in previous_handlers.items():
            signal.signal(sig, handler)

    def _resume_hint(self, env_steps: int) -> str:
        return (f"stopped at {env_steps} env steps; checkpoint saved in {self.save_dir}. "
                f"Resume with the same command plus --resume.")

    @staticmethod
    def _status(metrics: dict[str, float]) -> dict[str, float]:
        keys = {"charts/episode_return": "return", "losses/policy_loss": "pi_loss",
                "losses/value_loss": "v_loss", "gail/discriminator_loss": "d_loss"}
        return {short: metrics[key] for key, short in keys.items() if key in metrics}


def report_training(training: OnPolicyTraining) -> list[EvalRecord]:
    """Run ``training`` and print where things went; on SIGINT/SIGTERM say how to resume."""
    try:
        history = training.run()
    except StopRequested as stop:
        print(stop)
        raise SystemExit(128 + (training.stop_signal or signal.SIGINT)) from None
    except TrainingDiverged as diverged:
        print(f"error: {diverged}", file=sys.stderr)
        raise SystemExit(1) from None
    final = history[-1]
    print(f"final deterministic eval: {final.return_mean:.1f} ± {final.return_std:.1f} over "
          f"{training.config.eval_episodes} episodes at {final.step} env steps "
          f"({final.seconds:.1f} s); checkpoint in {training.save_dir}")
    return history
