"""Evaluate saved policies (ppo, gail, bc, or a random baseline): true return and imitation fidelity.

Example: python test_policy.py --algos ppo,gail,bc,random --episodes 10 --demo-dir trajectory/CartPole-v1
Prints a table of the mean ± std true return and, with --demo-dir, how closely each policy's
behaviour matches the demonstrations (common/fidelity.py); logs per-episode returns to --log-dir;
with --record videos/{algo}.gif also writes a GIF of each policy's first episode, timed from the
env's metadata["render_fps"] so that it plays in real time.
"""

from __future__ import annotations

import common.startup  # noqa: F401  (first: Ctrl-C prints one line; TensorFlow starts after the flags)
from common.config import parse_config
from common.errors import cli_main
from common.script_configs import TestConfig


@cli_main
def main(argv: list[str] | None = None) -> None:
    config = parse_config(TestConfig, __doc__, argv)
    common.startup.start_tensorflow()  # once the flags are good (--help answers at once)
    from common.evaluation import evaluate_policies

    evaluate_policies(config)


if __name__ == "__main__":
    main()
