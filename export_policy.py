"""Export a trained policy as a TensorFlow SavedModel that runs without this project.

Example: python export_policy.py --model-dir trained_models/gail/CartPole-v1 --out-dir exported/gail
Then, anywhere with TensorFlow:
    policy = tf.saved_model.load("exported/gail")
    policy.action(observations)["action"]                 # deterministic, [B] or [B, action_dim]
    policy.sample_action(observations, seed=[1, 2])["action"]  # sampled, reproducible per seed
observations: float32 [B, obs_dim], raw from the env (the normaliser is inside). See common/export.py.
From Python: gail_suite.Policy.load(...).export(...).
"""

from __future__ import annotations

import common.startup  # noqa: F401  (first: Ctrl-C prints one line; TensorFlow starts after the flags)
from common.config import parse_config
from common.errors import cli_main
from common.script_configs import ExportConfig


@cli_main
def main(argv: list[str] | None = None) -> None:
    config = parse_config(ExportConfig, __doc__, argv)
    import gail_suite  # TensorFlow starts here, once the flags are good (--help answers at once)

    policy = gail_suite.Policy.load(config.model_dir, config.checkpoint, env=config.env)
    out_dir = policy.export(config.out_dir, overwrite=config.force)
    print(f"exported the policy in {policy.directory} to {out_dir} (SavedModel; signatures action, sample_action)")


if __name__ == "__main__":
    main()
