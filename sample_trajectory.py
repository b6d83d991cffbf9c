"""Run a trained policy and save its episodes as expert demonstrations (.npy files).

Example: python sample_trajectory.py --model-dir trained_models/ppo/CartPole-v1 --episodes 10
Writes observations.npy, actions.npy, episode_lengths.npy, episode_returns.npy,
episode_terminated.npy and metadata.json to --out-dir; an existing set is only replaced
with --force.
"""

from __future__ import annotations

import common.startup  # noqa: F401  (first: TensorFlow starts quietly, Ctrl-C prints one line)
import dataclasses

import numpy as np

from common.checkpoints import CHECKPOINT_CHOICES, load_actor_critic, policy_dir
from common.config import option, parse_config
from common.demonstrations import check_out_dir, demonstrations_from_episodes, save_demonstrations
from common.envs import make_vec_env
from common.errors import cli_main
from common.rollout import run_episodes


@dataclasses.dataclass
class SampleConfig:
    env: str = option("CartPole-v1", "env id; must match the policy's checkpoint")
    model_dir: str = option("trained_models/ppo/{env}", "directory of the expert's checkpoint "
                            "({env}, {seed} filled in)")
    checkpoint: str = option("best", "which policy of the run: best (kept by its evaluations; the last if the "
                             "run kept none) or last", choices=CHECKPOINT_CHOICES)
    episodes: int = option(10, "episodes to record", "positive")
    out_dir: str = option("trajectory/{env}", "where the demonstration files are written ({env}, {seed} filled in)")
    seed: int = option(0, "seed of the episodes' initial states (and of sampling with --stochastic)",
                       "seed")
    stochastic: bool = option(False, "sample actions from the policy instead of taking the most likely")
    num_envs: int = option(10, "parallel envs", "positive")
    force: bool = option(False, "replace demonstrations already in --out-dir")


@cli_main
def main(argv: list[str] | None = None) -> None:
    config = parse_config(SampleConfig, __doc__, argv)
    check_out_dir(config.out_dir, overwrite=config.force)  # before spending time on the episodes
    directory, note = policy_dir(config.model_dir, config.checkpoint)
    if note:
        print(note)
    model, _ = load_actor_critic(directory, config.env)
    envs = make_vec_env(config.env, min(config.num_envs, config.episodes))
    rng = np.random.default_rng(config.seed) if config.stochastic else None
    episodes = run_episodes(envs, model.actor_snapshot(), config.episodes, config.seed, rng, record=True)
    envs.close()
    demos = demonstrations_from_episodes(
        config.env, episodes,
        metadata={"policy_dir": str(directory), "seed": config.seed, "stochastic": config.stochastic})
    out_dir = save_demonstrations(demos, config.out_dir, overwrite=config.force)
    print(f"wrote {demos.num_episodes} episodes ({demos.actions.shape[0]} pairs) to {out_dir}; "
          f"true return {episodes.returns.mean():.1f} ± {episodes.returns.std():.1f}")


if __name__ == "__main__":
    main()
