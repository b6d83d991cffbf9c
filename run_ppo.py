"""Train an expert with PPO on the true environment reward.

Example: python run_ppo.py --env CartPole-v1 --seed 0
Checkpoints go to --save-dir, TensorBoard scalars to --log-dir.
"""

from __future__ import annotations

import common.startup  # noqa: F401  (first: TensorFlow starts quietly, Ctrl-C prints one line)
from algo.on_policy import OnPolicyRunConfig, OnPolicyTraining
from algo.ppo import PPOTrainer
from common.config import parse_config
from common.envs import probe_env_spec
from common.errors import cli_main
from common.seeding import seed_everything
from common.training_run import report
from network_models.factory import build_actor_critic


@cli_main
def main(argv: list[str] | None = None) -> None:
    config = parse_config(OnPolicyRunConfig, __doc__, argv)
    seed_everything(config.seed)
    model = build_actor_critic(probe_env_spec(config.env), config.hidden_sizes, config.seed,
                               config.normalize_observations)
    training = OnPolicyTraining(config, model, PPOTrainer(model, config), algo_name="ppo")
    report(training, training.run)


if __name__ == "__main__":
    main()
