"""Behavioural cloning: the supervised baseline on the same demonstrations as GAIL.

Example: python run_behavior_clone.py --env CartPole-v1 --demo-dir trajectory/CartPole-v1
"""

from __future__ import annotations

import common.startup  # noqa: F401  (first: TensorFlow starts quietly, Ctrl-C prints one line)
import dataclasses

from algo.behavior_clone import BehaviorCloneConfig, BehaviorCloneTraining
from common.config import option, parse_config
from common.demonstrations import describe_fidelity_reference, load_demonstrations
from common.envs import probe_env_spec
from common.errors import cli_main
from common.seeding import seed_everything
from common.training_run import report
from network_models.factory import build_actor_critic


@dataclasses.dataclass
class BehaviorCloneRunConfig(BehaviorCloneConfig):
    env: str = option("CartPole-v1", "gymnasium env id (Discrete or bounded Box actions)")
    seed: int = option(0, "seed of the network and the shuffling", "seed")
    demo_dir: str = option("trajectory/{env}", "expert demonstrations written by sample_trajectory.py")
    num_demos: int = option(10, "use the first N demonstration episodes (0 = all)", "non_negative")
    eval_every: int = option(50, "epochs between evaluations (and checkpoints)", "positive")
    eval_episodes: int = option(10, "episodes per evaluation", "positive")
    save_dir: str = option("trained_models/bc/{env}", "checkpoint directory ({env}, {seed} are filled in)")
    log_dir: str = option("log/train/bc/{env}/seed{seed}", "TensorBoard directory ({env}, {seed} filled in)")
    resume: bool = option(False, "continue from the latest checkpoint in --save-dir")
    progress: bool = option(True, "show a progress bar")


@cli_main
def main(argv: list[str] | None = None) -> None:
    config = parse_config(BehaviorCloneRunConfig, __doc__, argv)
    seed_everything(config.seed)
    spec = probe_env_spec(config.env)
    demos, fidelity_demos, held_out = load_demonstrations(config.demo_dir, spec).split_held_out(config.num_demos)
    model = build_actor_critic(spec, config.hidden_sizes, config.seed, config.normalize_observations)
    if model.normalizer is not None:
        model.normalizer.update(demos.observations)
    training = BehaviorCloneTraining(config, model, demos, fidelity_demos)
    print(f"cloning {demos.num_episodes} expert episodes ({demos.actions.shape[0]} pairs) from {config.demo_dir}; "
          + describe_fidelity_reference(fidelity_demos, held_out))
    report(training, training.run)


if __name__ == "__main__":
    main()
