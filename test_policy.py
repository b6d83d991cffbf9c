"""Evaluate saved policies (ppo, gail, bc, or a random baseline) on the true environment reward.

Example: python test_policy.py --algos ppo,gail,bc,random --episodes 10
Prints a table of the mean ± std true return; logs per-episode returns to --log-dir.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from common.checkpoints import load_actor_critic
from common.config import format_path, option, parse_config, save_config
from common.envs import make_vec_env, probe_env_spec
from common.errors import UsageError, cli_main
from common.files import check_writable_dir, ensure_writable_dir
from common.logger import RunLogger
from common.rollout import Episodes, run_episodes
from network_models.policy import RandomActor

ALGOS = ("ppo", "gail", "bc", "random")


@dataclasses.dataclass
class TestConfig:
    algos: str = option("ppo", f"comma-separated policies to evaluate, from {', '.join(ALGOS)}")
    env: str = option("CartPole-v1", "env id; must match each policy's checkpoint")
    model_dir: str = option("trained_models/{algo}/{env}", "checkpoint directory ({algo}, {env} filled in)")
    episodes: int = option(10, "episodes per policy", "positive")
    stochastic: bool = option(False, "sample actions instead of taking the most likely")
    seed: int = option(0, "seed of the initial states (and of sampling with --stochastic)", "non_negative")
    num_envs: int = option(10, "parallel envs", "positive")
    log_dir: str = option("log/test/{algo}/{env}", "TensorBoard directory ({algo}, {env} filled in)")

    def validate(self) -> None:
        unknown = [algo for algo in self.algo_list if algo not in ALGOS]
        if unknown or not self.algo_list:
            raise UsageError(f"--algos {self.algos}: expected a comma-separated list from {', '.join(ALGOS)}")

    @property
    def algo_list(self) -> list[str]:
        return [algo.strip() for algo in self.algos.split(",") if algo.strip()]


def evaluate_policy(config: TestConfig, algo: str) -> Episodes:
    """Run ``config.episodes`` episodes of one saved policy (or of uniform random actions)."""
    if algo == "random":
        actor = RandomActor(probe_env_spec(config.env).action_space, config.seed)
    else:
        model_dir = format_path(config.model_dir, "--model-dir", algo=algo)
        model, _ = load_actor_critic(model_dir, config.env)
        actor = model.actor_snapshot()
    rng = np.random.default_rng(config.seed) if config.stochastic else None
    envs = make_vec_env(config.env, min(config.num_envs, config.episodes))
    try:
        return run_episodes(envs, actor, config.episodes, config.seed, rng)
    finally:
        envs.close()


@cli_main
def main(argv: list[str] | None = None) -> None:
    config = parse_config(TestConfig, __doc__, argv)
    mode = "stochastic" if config.stochastic else "deterministic"
    for algo in config.algo_list:
        check_writable_dir(format_path(config.log_dir, "--log-dir", algo=algo), "--log-dir")
    # Every policy is loaded and run before any log is written, so a bad one leaves no partial logs.
    results = {algo: evaluate_policy(config, algo) for algo in config.algo_list}
    rows = []
    for algo, episodes in results.items():
        log_dir = ensure_writable_dir(format_path(config.log_dir, "--log-dir", algo=algo), "--log-dir")
        save_config(config, log_dir)
        logger = RunLogger(log_dir, config.episodes, "test", show_progress=False)
        for index, (episode_return, length) in enumerate(zip(episodes.returns, episodes.lengths)):
            logger.scalars(index, {"test/episode_return": episode_return, "test/episode_length": length})
        logger.scalars(0, {"test/return_mean": episodes.returns.mean(), "test/return_std": episodes.returns.std()})
        logger.close()
        rows.append((algo, episodes.returns.mean(), episodes.returns.std()))
    print(f"True return on {config.env}, {config.episodes} {mode} episodes each (random always samples):")
    print("| policy | true return (mean ± std) |")
    print("|---|---|")
    for algo, mean, std in rows:
        print(f"| {algo} | {mean:.1f} ± {std:.1f} |")


if __name__ == "__main__":
    main()
