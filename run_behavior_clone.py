"""Behavioural cloning: the supervised baseline on the same demonstrations as GAIL.

Example: python run_behavior_clone.py --env CartPole-v1 --demo-dir trajectory/CartPole-v1
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np

from algo.behavior_clone import BehaviorCloneConfig, BehaviorCloneTrainer
from common.checkpoints import CheckpointStore
from common.config import option, parse_config, save_config
from common.demonstrations import load_demonstrations
from common.envs import make_vec_env, probe_env_spec
from common.errors import UsageError, cli_main
from common.files import check_writable_dir, ensure_writable_dir
from common.logger import EvalRecord, RunLogger, write_evaluations
from common.rollout import EVAL_SEED_OFFSET, run_episodes
from common.seeding import seed_everything
from network_models.factory import build_actor_critic


@dataclasses.dataclass
class BehaviorCloneRunConfig(BehaviorCloneConfig):
    env: str = option("CartPole-v1", "gymnasium env id (discrete actions)")
    seed: int = option(0, "seed of the network and the shuffling", "non_negative")
    demo_dir: str = option("trajectory/{env}", "expert demonstrations written by sample_trajectory.py")
    num_demos: int = option(10, "use the first N demonstration episodes (0 = all)", "non_negative")
    eval_every: int = option(50, "epochs between evaluations", "positive")
    eval_episodes: int = option(10, "episodes per evaluation", "positive")
    save_dir: str = option("trained_models/bc/{env}", "checkpoint directory ({env}, {seed} are filled in)")
    log_dir: str = option("log/train/bc/{env}/seed{seed}", "TensorBoard directory ({env}, {seed} filled in)")
    progress: bool = option(True, "show a progress bar")


@cli_main
def main(argv: list[str] | None = None) -> None:
    config = parse_config(BehaviorCloneRunConfig, __doc__, argv)
    seed_everything(config.seed)
    spec = probe_env_spec(config.env)
    demos = load_demonstrations(config.demo_dir, spec).first_episodes(config.num_demos)
    save_dir = check_writable_dir(config.save_dir, "--save-dir")  # created once the checks below pass
    log_dir = check_writable_dir(config.log_dir, "--log-dir")
    model = build_actor_critic(spec, config.hidden_sizes, config.seed)
    trainer = BehaviorCloneTrainer(model, config)
    store = CheckpointStore(save_dir, policy=model, optimizer=trainer.optimizer)
    if store.manager.latest_checkpoint is not None:
        raise UsageError(f"--save-dir {save_dir} already holds a checkpoint; choose another --save-dir")
    ensure_writable_dir(save_dir, "--save-dir")
    ensure_writable_dir(log_dir, "--log-dir")
    save_config(config, save_dir)
    save_config(config, log_dir)

    rng = np.random.default_rng(config.seed)
    eval_envs = make_vec_env(config.env, min(config.eval_episodes, 16))
    logger = RunLogger(log_dir, config.epochs, f"bc {config.env}", config.progress, unit="epoch")
    evaluations: list[EvalRecord] = []
    start_time = time.perf_counter()
    for epoch in range(1, config.epochs + 1):
        metrics = trainer.train_epoch(demos.observations, demos.actions, rng)
        if epoch % config.eval_every == 0 or epoch == config.epochs:
            episodes = run_episodes(eval_envs, model.actor_snapshot(), config.eval_episodes,
                                    seed=config.seed + EVAL_SEED_OFFSET)
            evaluations.append(EvalRecord(epoch, time.perf_counter() - start_time,
                                          float(episodes.returns.mean()), float(episodes.returns.std())))
            metrics["eval/return_mean"] = evaluations[-1].return_mean
            metrics["eval/return_std"] = evaluations[-1].return_std
        logger.scalars(epoch, metrics)
        logger.advance(1, {"loss": metrics["bc/loss"], "action_error": metrics["bc/action_error"]})
    store.save(env_steps=0, iteration=config.epochs, rng=rng)
    write_evaluations(log_dir, config, "epochs", evaluations, time.perf_counter() - start_time)
    logger.close()
    eval_envs.close()
    final = evaluations[-1]
    print(f"bc: final deterministic eval {final.return_mean:.1f} ± {final.return_std:.1f} over "
          f"{config.eval_episodes} episodes after {config.epochs} epochs on {demos.num_episodes} expert "
          f"episodes ({demos.actions.shape[0]} pairs); checkpoint in {save_dir}")


if __name__ == "__main__":
    main()
