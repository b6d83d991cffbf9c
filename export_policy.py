"""Export a trained policy as a TensorFlow SavedModel that runs without this project.

Example: python export_policy.py --model-dir trained_models/gail/CartPole-v1 --out-dir exported/gail
Then, anywhere with TensorFlow:
    policy = tf.saved_model.load("exported/gail")
    policy.action(observations)["action"]                 # deterministic, [B] or [B, action_dim]
    policy.sample_action(observations, seed=[1, 2])["action"]  # sampled, reproducible per seed
observations: float32 [B, obs_dim], raw from the env (the normaliser is inside). See common/export.py.
"""

from __future__ import annotations

import common.startup  # noqa: F401  (first: TensorFlow starts quietly, Ctrl-C prints one line)
import dataclasses

from common.checkpoints import CHECKPOINT_CHOICES, load_actor_critic, policy_dir
from common.config import option, parse_config
from common.envs import probe_env_spec
from common.errors import cli_main
from common.export import export_policy


@dataclasses.dataclass
class ExportConfig:
    env: str = option("CartPole-v1", "env id; must match the policy's checkpoint")
    model_dir: str = option("trained_models/ppo/{env}", "directory of the run to export ({env} filled in)")
    checkpoint: str = option("best", "which policy of the run: best (kept by its evaluations; the last if the "
                             "run kept none) or last", choices=CHECKPOINT_CHOICES)
    out_dir: str = option("exported/{env}", "where the SavedModel is written ({env} filled in)")
    force: bool = option(False, "replace a SavedModel already in --out-dir")


@cli_main
def main(argv: list[str] | None = None) -> None:
    config = parse_config(ExportConfig, __doc__, argv)
    directory, note = policy_dir(config.model_dir, config.checkpoint)
    if note:
        print(note)
    model, _ = load_actor_critic(directory, config.env)
    out_dir = export_policy(model, probe_env_spec(config.env), config.out_dir, overwrite=config.force)
    print(f"exported the policy in {directory} to {out_dir} (SavedModel; signatures action, sample_action)")


if __name__ == "__main__":
    main()
