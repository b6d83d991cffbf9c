"""GAIL: imitate expert demonstrations with PPO on a learned reward.

Example: python run_gail.py --env CartPole-v1 --demo-dir trajectory/CartPole-v1 --seed 0
The discriminator D(s, a) learns to tell expert pairs from policy pairs; PPO maximises the
learned reward (log D by default). The true env reward is never learned from, only logged.
"""

from __future__ import annotations

import common.startup  # noqa: F401  (first: TensorFlow starts quietly, Ctrl-C prints one line)
import dataclasses

from algo.behavior_clone import warm_start
from algo.gail import DiscriminatorConfig, DiscriminatorTrainer
from algo.on_policy import OnPolicyRunConfig, OnPolicyTraining
from algo.ppo import PPOTrainer
from common.config import option, parse_config
from common.demonstrations import describe_fidelity_reference, load_demonstrations
from common.envs import probe_env_spec
from common.errors import UsageError, cli_main
from common.seeding import seed_everything
from common.training_run import report
from network_models.factory import build_actor_critic, build_discriminator, discriminator_normalizer


@dataclasses.dataclass
class GailRunConfig(OnPolicyRunConfig, DiscriminatorConfig):
    total_env_steps: int = option(300_000, "training budget in env steps", "positive")
    save_dir: str = option("trained_models/gail/{env}", "checkpoint directory ({env}, {seed} are filled in)")
    log_dir: str = option("log/train/gail/{env}/seed{seed}", "TensorBoard directory ({env}, {seed} filled in)")
    demo_dir: str = option("trajectory/{env}", "expert demonstrations written by sample_trajectory.py")
    num_demos: int = option(10, "use the first N demonstration episodes (0 = all)", "non_negative")
    bc_init_epochs: int = option(0, "warm-start the policy with this many epochs of behavioural cloning "
                                 "on the demonstrations (0 = off; skipped on --resume)", "non_negative")

    def validate(self) -> None:
        super().validate()
        if self.absorbing and self.gamma >= 1.0:
            raise UsageError("--gamma 1 leaves the absorbing state's value r_abs / (1 - gamma) undefined; "
                             "use --gamma < 1 or --no-absorbing")


@cli_main
def main(argv: list[str] | None = None) -> None:
    config = parse_config(GailRunConfig, __doc__, argv)
    seed_everything(config.seed)
    spec = probe_env_spec(config.env)
    demos, fidelity_demos, held_out = load_demonstrations(config.demo_dir, spec).split_held_out(config.num_demos)
    model = build_actor_critic(spec, config.hidden_sizes, config.seed, config.normalize_observations)
    if model.normalizer is not None:
        model.normalizer.update(demos.observations)  # the running statistics start from the expert's
    normalizer = discriminator_normalizer(model, demos.observations, config.disc_standardize)
    discriminator = build_discriminator(spec, config.disc_hidden_sizes, config.seed, normalizer)
    reward_learner = DiscriminatorTrainer(discriminator, demos.observations, demos.actions,
                                          int(demos.episode_terminated.sum()), config, config.gamma)
    training = OnPolicyTraining(config, model, PPOTrainer(model, config), algo_name="gail",
                                reward_learner=reward_learner, fidelity_demos=fidelity_demos,
                                discriminator=discriminator,
                                discriminator_optimizer=reward_learner.optimizer)
    print(f"imitating {demos.num_episodes} expert episodes ({demos.actions.shape[0]} pairs, "
          f"expert return {demos.episode_returns.mean():.1f}) from {config.demo_dir}; "
          + describe_fidelity_reference(fidelity_demos, held_out))
    if config.bc_init_epochs and not config.resume:
        metrics = warm_start(model, demos, config.bc_init_epochs, config.seed)
        print(f"warm-started the policy with {config.bc_init_epochs} epochs of behavioural cloning "
              f"(loss {metrics['bc/loss']:.3f}, action error {metrics['bc/action_error']:.3f})")
    report(training, training.run)


if __name__ == "__main__":
    main()
