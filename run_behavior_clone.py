"""Behavioural cloning: the supervised baseline on the same demonstrations as GAIL.

Example: python run_behavior_clone.py --env CartPole-v1 --demo-dir trajectory/CartPole-v1
From Python: gail_suite.train_behavior_clone.
"""

from __future__ import annotations

import common.startup  # noqa: F401  (first: Ctrl-C prints one line; TensorFlow starts after the flags)
from algo.config import BehaviorCloneRunConfig
from common.config import parse_config
from common.errors import cli_main


@cli_main
def main(argv: list[str] | None = None) -> None:
    config = parse_config(BehaviorCloneRunConfig, __doc__, argv)
    import gail_suite  # TensorFlow starts here, once the flags are good (--help answers at once)
    from common.training_run import report

    training = gail_suite.behavior_clone_training(config)
    report(training, training.run)


if __name__ == "__main__":
    main()
