"""The config objects of the training scripts and of the Python API, importable without TensorFlow.

One dataclass per script (``PPORunConfig``, ``GailRunConfig``, ``BehaviorCloneRunConfig``), built
from the hyperparameter blocks of each learning rule. Every field carries its ``--help`` text,
its default and its range check (``common.config.option``); ``FLAG_GROUP`` names the block in
``--help``. Nothing here imports TensorFlow, so ``--help`` and a bad flag answer at once.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

from common.config import option
from common.errors import UsageError

REWARD_KINDS = ("log_d", "neg_log_1m_d", "logit")
ACTIVATION_NAMES = ("tanh", "relu")  # network_models.mlp.ACTIVATIONS, without importing TensorFlow


@dataclasses.dataclass
class RunConfig:
    """Run-level flags shared by the training scripts."""

    FLAG_GROUP: ClassVar[str] = "run"

    env: str = option("CartPole-v1", "gymnasium env id (Discrete or bounded Box actions)")
    seed: int = option(0, "seed of networks, envs and sampling (runs are reproducible on CPU)", "seed")
    num_envs: int = option(8, "parallel training envs", "positive")
    total_env_steps: int = option(70_000, "training budget in env steps", "positive")
    save_dir: str = option("trained_models/ppo/{env}", "checkpoint directory ({env}, {seed} are filled in)")
    log_dir: str = option("log/train/ppo/{env}/seed{seed}", "TensorBoard directory ({env}, {seed} filled in)")
    resume: bool = option(False, "continue from the latest checkpoint in --save-dir")
    progress: bool = option(True, "show a progress bar")
    jit_compile: bool = option(False, "compile PPO's update (and GAIL's discriminator update) with XLA: "
                               "2-4x faster updates on CPU with many minibatches (MuJoCo's settings), a "
                               "second or two more to compile, and a different round-off from the default")
    collect_while_learning: bool = option(False, "collect each rollout while PPO (and GAIL's discriminator) "
                                          "learn from the one before, with the policy as it was before that "
                                          "update; PPO's ratio is then taken against that acting policy, "
                                          "one update old. The env and the learning share the cores (MuJoCo: "
                                          "bench.py's throughput rows)")


@dataclasses.dataclass
class EvaluationConfig:
    """How often a training run is evaluated and checkpointed."""

    FLAG_GROUP: ClassVar[str] = "evaluation and checkpoints"

    eval_every: int = option(10_000, "env steps between deterministic evaluations", "positive")
    eval_episodes: int = option(10, "episodes per evaluation", "positive")
    checkpoint_every: int = option(10_000, "env steps between checkpoints (one is also saved at the end)",
                                   "positive")


@dataclasses.dataclass
class PolicyNetworkConfig:
    """The policy network's shape, shared by every script that trains one."""

    FLAG_GROUP: ClassVar[str] = "policy network"

    hidden_sizes: tuple = option((64, 64), "hidden layer widths of the policy and value nets", "all_positive")
    normalize_observations: bool = option(False, "normalise observations by a running mean and std, saved with "
                                          "the policy (GAIL: shared with the discriminator, started from "
                                          "the demonstrations; BC: fitted to them)")
    activation: str = option("tanh", "hidden-layer activation of the policy and value nets (relu: "
                             "rl-baselines3-zoo's tuned MuJoCo experts)", choices=ACTIVATION_NAMES)
    log_std_init: float = option(0.0, "initial log standard deviation of a Gaussian policy (continuous "
                                 "actions; rl-baselines3-zoo starts its MuJoCo experts at -2)")


@dataclasses.dataclass
class PPOConfig(PolicyNetworkConfig):
    """PPO hyperparameters, shared by run_ppo.py and run_gail.py (the GAIL generator)."""

    FLAG_GROUP: ClassVar[str] = "PPO"

    learning_rate: float = option(1e-3, "Adam learning rate of the policy and value nets", "positive")
    anneal_lr: bool = option(True, "decay the learning rate linearly to 0 over the run")
    rollout_steps: int = option(32, "env steps per env between updates (batch = rollout_steps * num_envs)",
                                "positive")
    num_epochs: int = option(20, "passes over each batch", "positive")
    minibatch_size: int = option(256, "transitions per gradient step", "positive")
    gamma: float = option(0.99, "discount factor", "unit_interval")
    gae_lambda: float = option(0.95, "GAE lambda", "unit_interval")
    clip_range: float = option(0.2, "PPO ratio clip epsilon", "positive")
    entropy_coef: float = option(0.0, "entropy bonus weight", "non_negative")
    value_coef: float = option(0.5, "weight of the value loss (mean squared error to the GAE returns)",
                               "non_negative")
    max_grad_norm: float = option(10.0, "global gradient-norm clip (policy and value gradients together, "
                                  "so a tight clip lets value errors starve the policy)", "positive")
    normalize_advantages: bool = option(True, "normalise advantages per minibatch")
    action_bound_coef: float = option(0.0, "weight of a penalty on Gaussian means beyond the action bounds "
                                      "(squared, in half-ranges; continuous actions): a mean far past a "
                                      "bound has every sample clipped to it, and PPO cannot bring it back",
                                      "non_negative")

    def validate_batch(self, num_envs: int) -> None:
        batch_size = self.rollout_steps * num_envs
        if batch_size < self.minibatch_size:
            raise UsageError(f"--minibatch-size {self.minibatch_size} is larger than the batch "
                             f"(--rollout-steps {self.rollout_steps} x --num-envs {num_envs} = {batch_size})")


@dataclasses.dataclass
class PPORunConfig(RunConfig, EvaluationConfig, PPOConfig):
    """The flags of run_ppo.py; run_gail.py adds the discriminator's."""

    scale_reward: bool = option(False, "learn from the env reward divided by a running std of the discounted "
                                "return (gymnasium's NormalizeReward; for MuJoCo's large rewards)", group="PPO")

    def validate(self) -> None:
        self.validate_batch(self.num_envs)


@dataclasses.dataclass
class DiscriminatorConfig:
    """GAIL's reward learner: the discriminator D(s, a) and its updates."""

    FLAG_GROUP: ClassVar[str] = "discriminator (GAIL's learned reward)"

    reward: str = option("log_d", "learned reward: log_d = log D (the design card's), neg_log_1m_d = "
                         "-log(1-D), logit = log D - log(1-D)", choices=REWARD_KINDS)
    absorbing: bool = option(True, "let D judge episode ends through an absorbing state (removes the "
                             "termination bias of log D)")
    # Off by default (classic control's table was made without it); the MuJoCo table uses it, as
    # its experts' PPO settings were tuned on scaled rewards (experiments/NOTES-mujoco.md).
    scale_reward: bool = option(False, "divide the learned reward by a running std of its discounted return "
                                "(run_ppo.py's --scale-reward, applied to D's reward)")
    disc_hidden_sizes: tuple = option((64, 64, 64), "hidden tanh layer widths of the discriminator",
                                      "all_positive")
    disc_standardize: bool = option(True, "standardise the discriminator's observations by the expert "
                                    "data's fixed mean and std (with --normalize-observations D uses "
                                    "the policy's normaliser instead)")
    disc_learning_rate: float = option(1e-3, "Adam learning rate of the discriminator", "positive")
    disc_anneal_lr: bool = option(True, "decay the discriminator's learning rate linearly to 0 with the "
                                  "policy's, so the learned reward settles once imitation is reached")
    disc_epochs: int = option(10, "passes over each policy batch per discriminator update", "positive")
    disc_minibatch_size: int = option(256, "policy pairs (and as many expert pairs) per gradient step",
                                      "positive")
    # Off by default: weight 1 fixes one-trajectory CartPole and Pendulum in the paper's table but
    # makes the cart-rocking style fall (experiments/README.md, the small-expert-set study).
    disc_grad_penalty: float = option(0.0, "weight of a gradient penalty E[(|grad D| - 1)^2] on random "
                                      "mixes of expert and policy inputs (0 = off)", "non_negative")


@dataclasses.dataclass
class DemonstrationsConfig:
    """Which demonstrations an imitation script learns from."""

    FLAG_GROUP: ClassVar[str] = "demonstrations"

    demo_dir: str = option("trajectory/{env}", "expert demonstrations written by sample_trajectory.py or "
                           "convert_demos.py ({env}, {seed} filled in)")
    num_demos: int = option(10, "use the first N demonstration episodes (0 = all; the rest, if any, "
                            "are held out to measure fidelity)", "non_negative")
    demo_subsample: int = option(1, "learn from every Nth state-action pair of each of those episodes, "
                                 "from a random offset (the GAIL paper's MuJoCo protocol: 20; 1 = all "
                                 "pairs); fidelity is still measured against whole episodes", "positive")


@dataclasses.dataclass
class GailRunConfig(RunConfig, DemonstrationsConfig, EvaluationConfig, PPOConfig, DiscriminatorConfig):
    """The flags of run_gail.py: PPO's, the discriminator's and the demonstrations'."""

    total_env_steps: int = option(300_000, "training budget in env steps", "positive")
    save_dir: str = option("trained_models/gail/{env}", "checkpoint directory ({env}, {seed} are filled in)")
    log_dir: str = option("log/train/gail/{env}/seed{seed}", "TensorBoard directory ({env}, {seed} filled in)")
    bc_init_epochs: int = option(0, "warm-start the policy with this many epochs of behavioural cloning "
                                 "on the demonstrations (0 = off; skipped on --resume)", "non_negative",
                                 group="demonstrations")

    def validate(self) -> None:
        self.validate_batch(self.num_envs)
        if self.absorbing and self.gamma >= 1.0:
            raise UsageError("--gamma 1 leaves the absorbing state's value r_abs / (1 - gamma) undefined; "
                             "use --gamma < 1 or --no-absorbing")


@dataclasses.dataclass
class BehaviorCloneConfig(PolicyNetworkConfig):
    """Behavioural cloning's hyperparameters (also GAIL's --bc-init-epochs warm start)."""

    FLAG_GROUP: ClassVar[str] = "behavioural cloning"

    learning_rate: float = option(1e-3, "Adam learning rate", "positive")
    epochs: int = option(200, "passes over the demonstrations", "positive")
    minibatch_size: int = option(256, "expert pairs per gradient step", "positive")
    entropy_coef: float = option(1e-3, "entropy bonus weight (keeps the policy from collapsing early)",
                                 "non_negative")


@dataclasses.dataclass
class BehaviorCloneRunConfig(DemonstrationsConfig, BehaviorCloneConfig):
    """The flags of run_behavior_clone.py."""

    env: str = option("CartPole-v1", "gymnasium env id (Discrete or bounded Box actions)", group="run")
    seed: int = option(0, "seed of the network and the shuffling", "seed", group="run")
    save_dir: str = option("trained_models/bc/{env}", "checkpoint directory ({env}, {seed} are filled in)",
                           group="run")
    log_dir: str = option("log/train/bc/{env}/seed{seed}", "TensorBoard directory ({env}, {seed} filled in)",
                          group="run")
    resume: bool = option(False, "continue from the latest checkpoint in --save-dir", group="run")
    progress: bool = option(True, "show a progress bar", group="run")
    eval_every: int = option(50, "epochs between evaluations (and checkpoints)", "positive",
                             group="evaluation and checkpoints")
    eval_episodes: int = option(10, "episodes per evaluation", "positive", group="evaluation and checkpoints")
