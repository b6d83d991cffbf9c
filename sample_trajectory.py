"""Run a trained policy and save its episodes as expert demonstrations (.npy files).

Example: python sample_trajectory.py --model-dir trained_models/ppo/CartPole-v1 --episodes 10
Writes observations.npy, actions.npy, episode_lengths.npy, episode_returns.npy,
episode_terminated.npy and metadata.json to --out-dir; an existing set is only replaced
with --force. From Python: gail_suite.Policy.load(...).sample_demonstrations(...).
"""

from __future__ import annotations

import common.startup  # noqa: F401  (first: Ctrl-C prints one line; TensorFlow starts after the flags)
from common.config import parse_config
from common.errors import cli_main
from common.script_configs import SampleConfig


@cli_main
def main(argv: list[str] | None = None) -> None:
    config = parse_config(SampleConfig, __doc__, argv)
    import gail_suite  # TensorFlow starts here, once the flags are good (--help answers at once)
    from common.demonstrations import check_out_dir

    check_out_dir(config.out_dir, overwrite=config.force)  # before spending time on the episodes
    policy = gail_suite.Policy.load(config.model_dir, config.checkpoint, env=config.env)
    demos = policy.sample_demonstrations(config.episodes, config.seed, config.stochastic, config.num_envs)
    out_dir = gail_suite.save_demonstrations(demos, config.out_dir, overwrite=config.force)
    print(f"wrote {demos.num_episodes} episodes ({demos.actions.shape[0]} pairs) to {out_dir}; "
          f"true return {demos.episode_returns.mean():.1f} ± {demos.episode_returns.std():.1f}")


if __name__ == "__main__":
    main()
