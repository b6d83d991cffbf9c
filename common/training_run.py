"""What every training script shares around its loop: output directories, the checkpoint store,
refusing to overwrite a run or resuming it, config.json, SIGINT/SIGTERM, NaN-checked saves and
evaluations.json. The loops themselves live with their learning rules in algo/."""

from __future__ import annotations

import contextlib
import math
import signal
import sys
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import gymnasium as gym
import numpy as np

from common.checkpoints import (DEMOS_IDENTITY, BestPolicy, CheckpointStore, holds_checkpoint_files,
                                refuse_another_run)
from common.config import config_to_dict, load_config_dict, save_config
from common.errors import UsageError
from common.files import DirectoryLock, check_writable_dir, ensure_writable_dir
from common.demonstrations import Demonstrations
from common.envs import env_spec, make_vec_env
from common.fidelity import measure_fidelity
from common.logger import EvalRecord, read_evaluations, write_evaluations
from common.rollout import EVAL_SEED_OFFSET, Rollout, run_episodes
from network_models.policy import NumpyActor


class StopRequested(Exception):
    """Raised inside a loop after SIGINT/SIGTERM, once a checkpoint has been saved."""


class TrainingDiverged(Exception):
    """A loss or a parameter became NaN or inf; the last good checkpoint is left in place."""


def check_finite(metrics: dict[str, float], where: str, save_dir: Path) -> None:
    bad = [name for name, value in metrics.items() if not math.isfinite(value)]
    if bad:
        raise TrainingDiverged(f"training diverged: {', '.join(bad)} became NaN or inf at {where}; "
                               f"the last good checkpoint in {save_dir} is kept")


class TrainingRun:
    """The bookkeeping of one training run; subclasses write ``run()`` with their loop."""

    # Flags that fix the shape of what is saved (networks, normaliser, batch) or GAIL's learned
    # reward: a resume must keep them. They are saved in every checkpoint with the algorithm.
    RESUME_FIXED_FLAGS = ("env", "num_envs", "rollout_steps", "hidden_sizes", "activation", "normalize_observations",
                          "disc_hidden_sizes", "disc_standardize", "reward", "absorbing", "num_demos",
                          "demo_subsample", "scale_reward")

    def __init__(self, config: Any, algo: str, step_unit: str, fidelity_demos: Demonstrations | None = None,
                 demos_sha256: str | None = None, **trackables: Any) -> None:
        """``algo`` ("ppo", "gail", "bc") is recorded with every checkpoint; a resume by another
        algorithm is refused. ``trackables`` go into every checkpoint and must include the
        ``policy``. With ``fidelity_demos`` every evaluation also measures imitation fidelity
        against them, and the best policy is the most faithful one (lowest state-action energy
        distance); without, it is the one with the highest true return (PPO). ``demos_sha256``: the
        digest of the demonstrations GAIL or BC learns from, part of the run's identity (a resume
        on another set is refused)."""
        self.config = config
        self.algo = algo
        self.step_unit = step_unit  # "env_steps" or "epochs": what EvalRecord.step counts
        self.rng = np.random.default_rng(config.seed)
        # Only checked here; start() creates them once --resume and the checkpoint agree.
        self.save_dir = check_writable_dir(config.save_dir, "--save-dir")
        self.log_dir = check_writable_dir(config.log_dir, "--log-dir")
        saved_flags = config_to_dict(config)
        identity = {"algo": algo, **{name: saved_flags[name] for name in self.RESUME_FIXED_FLAGS
                                     if name in saved_flags}}
        if demos_sha256 is not None:
            identity[DEMOS_IDENTITY] = demos_sha256
        self.store = CheckpointStore(self.save_dir, identity, **trackables)
        self.best_policy = BestPolicy(self.save_dir, trackables["policy"], config)
        self.fidelity_demos = fidelity_demos
        self.eval_history: list[EvalRecord] = []
        self.stop_signal: int | None = None
        self.lock: DirectoryLock | None = None
        self.earlier_train_seconds = 0.0  # the run's clock at the checkpoint a --resume starts from
        self.clock_start = time.perf_counter()

    def start(self, total_iterations: int, budget_flag: str) -> int:
        """The iteration to start from: 0 for a new run, the checkpoint's on --resume (which
        also restores the networks, optimizers, counters and RNG). Everything is checked before
        anything is written; then the save directory's lock is taken (a second run stops there)
        and the configs are written."""
        if self.config.resume:
            self._restore(total_iterations, budget_flag)
        else:
            self._refuse_existing_checkpoints()
        self.lock = DirectoryLock(ensure_writable_dir(self.save_dir, "--save-dir"), "--save-dir")
        try:
            if not self.config.resume:
                self._refuse_existing_checkpoints()  # again: a run may have saved one since
            ensure_writable_dir(self.log_dir, "--log-dir")
            save_config(self.config, self.save_dir, algo=self.algo)
            save_config(self.config, self.log_dir, algo=self.algo)
        except BaseException:
            self.lock.release()
            raise
        self.clock_start = time.perf_counter()
        return int(self.store.iteration.numpy())

    def _refuse_existing_checkpoints(self) -> None:
        if holds_checkpoint_files(self.save_dir):
            raise UsageError(f"--save-dir {self.save_dir} already holds checkpoint files; pass --resume to "
                             "continue that run or choose another --save-dir")

    def _restore(self, total_iterations: int, budget_flag: str) -> None:
        self._check_resume_config()
        if not self.store.restore_latest(self.rng):
            if holds_checkpoint_files(self.save_dir):
                raise UsageError(f"--resume: --save-dir {self.save_dir} holds checkpoint files but no state file "
                                 "naming the latest (a run killed during its first save?); delete them to "
                                 "start over, or choose another --save-dir")
            raise UsageError(f"--resume: no checkpoint in --save-dir {self.save_dir}")
        self.earlier_train_seconds = float(self.store.train_seconds.numpy())
        # evaluations.json keeps the whole run's history across resumes.
        self.eval_history = read_evaluations(self.log_dir, self.restored_step())
        self.best_policy.restore_score()
        if int(self.store.iteration.numpy()) >= total_iterations:
            raise UsageError(f"--resume: the run in {self.save_dir} is already at {self.restored_step()} "
                             f"{self.step_unit.replace('_', ' ')}; pass a larger {budget_flag} to train on")

    def train_seconds(self) -> float:
        """Seconds of training in the whole run: earlier processes' (up to the checkpoint this one
        resumed from) and this one's since ``start``."""
        return self.earlier_train_seconds + time.perf_counter() - self.clock_start

    def restored_step(self) -> int:
        """Env steps for RL runs, epochs (= iterations) for BC."""
        counter = self.store.env_steps if self.step_unit == "env_steps" else self.store.iteration
        return int(counter.numpy())

    def _check_resume_config(self) -> None:
        """The checkpoint says what it is (CheckpointStore.check_identity); config.json is checked
        too, so that the message names a changed flag even where the checkpoint is unreadable."""
        if not (self.save_dir / "config.json").is_file():
            return  # no checkpoint either; restore_latest reports that
        refuse_another_run(load_config_dict(self.save_dir), self.store.identity, self.save_dir, "used")

    def save(self, env_steps: int, iteration: int) -> None:
        """Checkpoint, unless a saved value (a parameter, a normaliser statistic) went NaN/inf:
        then stop and keep the last good one."""
        values = {f"variable {variable.name}": float(np.sum(variable.numpy()))
                  for variable in self.store.saved_variables()}
        check_finite(values, self.where(env_steps, iteration), self.save_dir)
        self.store.save(env_steps, iteration, self.rng, self.train_seconds())

    def check_observations(self, rollout: Rollout, env_steps: int) -> None:
        """Stop before a NaN or inf observation reaches the normaliser or the networks."""
        for observations in (rollout.observations, rollout.final_observations, rollout.last_observations):
            if not np.isfinite(observations).all():
                raise TrainingDiverged(f"--env {self.config.env} returned a NaN or inf observation before env "
                                       f"step {env_steps}; the last good checkpoint in {self.save_dir} is kept")

    def where(self, env_steps: int, iteration: int) -> str:
        return f"env step {env_steps}" if self.step_unit == "env_steps" else f"epoch {iteration}"

    @contextlib.contextmanager
    def stop_signals(self) -> Iterator[None]:
        """While inside, SIGINT/SIGTERM only set ``stop_signal``; the loop saves and stops."""
        def request_stop(signal_number: int, _frame: Any) -> None:
            self.stop_signal = signal_number

        previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def stopping(self, iteration: int, total_iterations: int) -> bool:
        """A stop was asked for; during the last iteration the run just finishes instead."""
        return self.stop_signal is not None and iteration < total_iterations - 1

    def resume_hint(self, env_steps: int, iteration: int) -> str:
        progress = f"{env_steps} env steps" if self.step_unit == "env_steps" else f"epoch {iteration}"
        return (f"stopped at {progress}; checkpoint saved in {self.save_dir}. "
                f"Resume with the same command plus --resume.")

    def make_eval_envs(self) -> gym.vector.VectorEnv:
        """A separate set of envs for evaluation, so it never disturbs the training envs' episodes."""
        return make_vec_env(self.config.env, min(self.config.eval_episodes, 16))

    def evaluate(self, eval_envs: gym.vector.VectorEnv, actor: NumpyActor, step: int,
                 final: bool = False) -> EvalRecord:
        """Deterministic true return over ``eval_episodes`` fixed episodes (and, with demonstrations,
        the imitation fidelity of those episodes; the classifier's accuracy at the ``final``
        evaluation only, as it is the one costly measure); recorded in the history. The policy is
        kept as the best one if it scores at least as well as the best so far."""
        record_episodes = self.fidelity_demos is not None
        episodes = run_episodes(eval_envs, actor, self.config.eval_episodes,
                                seed=self.config.seed + EVAL_SEED_OFFSET, record=record_episodes)
        fidelity = None
        if record_episodes:
            fidelity = measure_fidelity(actor, np.concatenate(episodes.observations), np.concatenate(episodes.actions),
                                        self.fidelity_demos, env_spec(eval_envs, self.config.env),
                                        seed=self.config.seed, with_classifier=final).as_dict()
        record = EvalRecord(step, self.train_seconds(), float(episodes.returns.mean()), float(episodes.returns.std()), fidelity)
        self.eval_history.append(record)
        self.write_evaluations()  # now, so that a kill loses at most the evaluations to come
        if fidelity is None:
            self.best_policy.offer(record.return_mean, step, self.step_unit, "eval/return_mean (higher is better)")
        else:
            self.best_policy.offer(-fidelity["energy_distance"], step, self.step_unit,
                                   "-imitation/energy_distance against the fidelity demonstrations (higher is better)")
        return record

    def write_evaluations(self) -> None:
        write_evaluations(self.log_dir, self.config, self.step_unit, self.eval_history, self.train_seconds())

    def finish(self) -> None:
        """The loop's last word, however it ends: the evaluation history, then the directory lock."""
        self.write_evaluations()
        if self.lock is not None:
            self.lock.release()


def report(run: TrainingRun, train: Callable[[], list[EvalRecord]]) -> list[EvalRecord]:
    """Call ``train`` and print where things went; on SIGINT/SIGTERM say how to resume."""
    try:
        history = train()
    except StopRequested as stop:
        print(stop)
        raise SystemExit(128 + (run.stop_signal or signal.SIGINT)) from None
    except TrainingDiverged as diverged:
        print(f"error: {diverged}", file=sys.stderr)
        raise SystemExit(1) from None
    final = history[-1]
    print(f"final deterministic eval: {final.return_mean:.1f} ± {final.return_std:.1f} over "
          f"{run.config.eval_episodes} episodes at {final.step} {run.step_unit.replace('_', ' ')} "
          f"({final.seconds:.1f} s); checkpoint in {run.save_dir}")
    return history
