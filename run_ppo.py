"""Train an expert with PPO on the true environment reward.

Example: python run_ppo.py --env CartPole-v1 --seed 0
Checkpoints go to --save-dir, TensorBoard scalars to --log-dir. From Python: gail_suite.train_ppo.
"""

from __future__ import annotations

import common.startup  # noqa: F401  (first: Ctrl-C prints one line; TensorFlow starts after the flags)
from algo.config import PPORunConfig
from common.config import parse_config
from common.errors import cli_main


@cli_main
def main(argv: list[str] | None = None) -> None:
    config = parse_config(PPORunConfig, __doc__, argv)
    import gail_suite  # TensorFlow starts here, once the flags are good (--help answers at once)
    from common.training_run import report

    training = gail_suite.ppo_training(config)
    report(training, training.run)


if __name__ == "__main__":
    main()
