"""GAIL: imitate expert demonstrations with PPO on a learned reward.

Example: python run_gail.py --env CartPole-v1 --demo-dir trajectory/CartPole-v1 --seed 0
The discriminator D(s, a) learns to tell expert pairs from policy pairs; PPO maximises the
learned reward (log D by default). The true env reward is never learned from, only logged.
From Python: gail_suite.train_gail.
"""

from __future__ import annotations

import common.startup  # noqa: F401  (first: Ctrl-C prints one line; TensorFlow starts after the flags)
from algo.config import GailRunConfig
from common.config import parse_config
from common.errors import cli_main


@cli_main
def main(argv: list[str] | None = None) -> None:
    config = parse_config(GailRunConfig, __doc__, argv)
    import gail_suite  # TensorFlow starts here, once the flags are good (--help answers at once)
    from common.training_run import report

    training = gail_suite.gail_training(config)
    report(training, training.run)


if __name__ == "__main__":
    main()
