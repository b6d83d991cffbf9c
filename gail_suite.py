"""The GAIL suite from Python: train, load a policy and act, bring demonstrations in and out.

    import gail_suite as gs

    result = gs.train_gail(gs.GailRunConfig(env="CartPole-v1", demo_dir="trajectory/CartPole-v1",
                                            total_env_steps=50_000, save_dir="runs/gail"))
    policy = gs.Policy.load(result.save_dir)        # the run's best policy (checkpoint="last": its last)
    action = policy.predict(observation)            # one observation [obs_dim] -> one action
    actions = policy.predict(observations)          # a batch [B, obs_dim] -> [B] or [B, action_dim]
    demos = policy.sample_demonstrations(episodes=10)
    gs.save_demonstrations(demos, "trajectory/mine")
    demos = gs.convert_demonstrations("expert.npz", env="CartPole-v1")   # or "minari:<id>", a directory
    policy.export("exported/cartpole")              # a SavedModel that needs only TensorFlow

The five scripts are this API's command line: each parses its flags into the same config object
(``--help`` lists its fields) and calls the function here. Bad input raises ``UsageError`` with
the one-line message the scripts print; a run stopped by SIGINT/SIGTERM raises ``StopRequested``
after saving its checkpoint (continue it with ``dataclasses.replace(config, resume=True)``).
"""

from __future__ import annotations

from common.startup import start_tensorflow

start_tensorflow()  # before anything below imports it: quietly, with a one-line Ctrl-C

import dataclasses  # noqa: E402
from pathlib import Path  # noqa: E402

import gymnasium as gym  # noqa: E402
import numpy as np  # noqa: E402

from algo.behavior_clone import BehaviorCloneTraining, warm_start  # noqa: E402
from algo.config import (BehaviorCloneRunConfig, DiscriminatorConfig, GailRunConfig,  # noqa: E402,F401
                         PPOConfig, PPORunConfig)
from algo.gail import DiscriminatorTrainer  # noqa: E402
from algo.on_policy import OnPolicyTraining  # noqa: E402
from algo.ppo import PPOTrainer  # noqa: E402
from algo.reward_scaling import EnvRewardScaler, RewardScaler, ScaledRewardLearner  # noqa: E402
from common.checkpoints import load_actor_critic, policy_dir  # noqa: E402
from common.config import resolve_config  # noqa: E402
from common.demo_formats import from_arrays, from_minari, load_arrays, to_minari  # noqa: E402
from common.demonstrations import (METADATA_FILE, Demonstrations,  # noqa: E402,F401
                                   demo_set_digest, demonstrations_from_episodes, describe_fidelity_reference,
                                   save_demonstrations)
from common.demonstrations import load_demonstrations as _load_demonstrations  # noqa: E402
from common.envs import EnvSpec, make_vec_env, probe_env_spec  # noqa: E402
from common.errors import UsageError  # noqa: E402,F401
from common.export import export_policy  # noqa: E402
from common.logger import EvalRecord  # noqa: E402
from common.rollout import run_episodes  # noqa: E402
from common.script_configs import CHECKPOINT_CHOICES  # noqa: E402
from common.seeding import seed_everything  # noqa: E402
from common.training_run import StopRequested, TrainingRun  # noqa: E402,F401
from network_models.factory import build_actor_critic, build_discriminator, discriminator_normalizer  # noqa: E402
from network_models.policy import ActorCritic  # noqa: E402

__all__ = ["BehaviorCloneRunConfig", "Demonstrations", "DiscriminatorConfig", "GailRunConfig", "PPOConfig",
           "PPORunConfig", "Policy", "StopRequested",
           "TrainingResult", "UsageError", "convert_demonstrations", "export_to_minari", "load_demonstrations",
           "save_demonstrations", "train_behavior_clone", "train_gail", "train_ppo"]


# --- training ---------------------------------------------------------------------------------

SUBSAMPLE_STREAM = 2  # with the seed, the generator that picks the subsampled demonstration pairs


@dataclasses.dataclass
class TrainingResult:
    """What a finished training run gives back."""

    save_dir: Path                  # its checkpoints: Policy.load(save_dir) is its best policy
    log_dir: Path                   # TensorBoard scalars and evaluations.json
    evaluations: list[EvalRecord]   # every evaluation of the run, the final one last

    @property
    def final_return(self) -> float:
        """Mean true return of the final deterministic evaluation."""
        return self.evaluations[-1].return_mean


def ppo_training(config: PPORunConfig) -> OnPolicyTraining:
    """The PPO run ``config`` describes (already resolved: see ``train_ppo``), ready to ``run()``."""
    seed_everything(config.seed)
    model = build_actor_critic(probe_env_spec(config.env), config.hidden_sizes, config.seed,
                               config.normalize_observations, config.activation, config.log_std_init)
    trainer = PPOTrainer(model, config, config.jit_compile)
    if not config.scale_reward:
        return OnPolicyTraining(config, model, trainer, algo_name="ppo")
    reward_scaler = EnvRewardScaler(config.num_envs, config.gamma)  # checkpointed with the run
    return OnPolicyTraining(config, model, trainer, algo_name="ppo", reward_learner=reward_scaler,
                            reward_scaler=reward_scaler)


def _imitation_start(config: GailRunConfig | BehaviorCloneRunConfig) -> tuple[
        EnvSpec, ActorCritic, Demonstrations, Demonstrations, bool]:
    """What GAIL and BC start from: the env's spec, the checked demonstrations split into the
    training episodes and those that measure fidelity (and whether any are held out), and a fresh
    policy whose observation normaliser, if any, starts from the expert's statistics."""
    seed_everything(config.seed)
    spec = probe_env_spec(config.env)
    demos, fidelity_demos, held_out = _load_demonstrations(config.demo_dir, spec).split_held_out(config.num_demos)
    # Its own generator, so that subsampling leaves the run's random stream as it was.
    demos = demos.subsampled(config.demo_subsample, np.random.default_rng([config.seed, SUBSAMPLE_STREAM]))
    model = build_actor_critic(spec, config.hidden_sizes, config.seed, config.normalize_observations,
                               config.activation, config.log_std_init)
    if model.normalizer is not None:
        model.normalizer.update(demos.observations)
    return spec, model, demos, fidelity_demos, held_out


def gail_training(config: GailRunConfig) -> OnPolicyTraining:
    """The GAIL run ``config`` describes: loads and checks the demonstrations, builds the policy and
    the discriminator, warm-starts with BC if asked; ready to ``run()``."""
    spec, model, demos, fidelity_demos, held_out = _imitation_start(config)
    normalizer = discriminator_normalizer(model, demos.observations, config.disc_standardize)
    discriminator = build_discriminator(spec, config.disc_hidden_sizes, config.seed, normalizer)
    # Subsampling keeps one pair in demo_subsample, and so (in expectation) as few absorbing ones.
    reward_learner = DiscriminatorTrainer(discriminator, demos.observations, demos.actions,
                                          demos.episode_terminated.sum() / config.demo_subsample, config,
                                          config.gamma, config.jit_compile)
    trackables = {"discriminator": discriminator, "discriminator_optimizer": reward_learner.optimizer}
    if config.scale_reward:
        scaler = RewardScaler(config.num_envs, config.gamma)
        reward_learner = ScaledRewardLearner(reward_learner, scaler)
        trackables["reward_scaler"] = scaler  # checkpointed with the run, as PPO's is
    training = OnPolicyTraining(config, model, PPOTrainer(model, config, config.jit_compile), algo_name="gail",
                                reward_learner=reward_learner, fidelity_demos=fidelity_demos,
                                demos_sha256=demo_set_digest(config.demo_dir), **trackables)
    print(f"imitating {demos.num_episodes} expert episodes ({demos.describe_pairs()}, "
          f"expert return {demos.episode_returns.mean():.1f}) from {config.demo_dir}; "
          + describe_fidelity_reference(fidelity_demos, held_out))
    if config.bc_init_epochs and not config.resume:
        metrics = warm_start(model, demos, config.bc_init_epochs, config.seed)
        print(f"warm-started the policy with {config.bc_init_epochs} epochs of behavioural cloning "
              f"(loss {metrics['bc/loss']:.3f}, action error {metrics['bc/action_error']:.3f})")
    return training


def behavior_clone_training(config: BehaviorCloneRunConfig) -> BehaviorCloneTraining:
    """The behavioural-cloning run ``config`` describes, ready to ``run()``."""
    _, model, demos, fidelity_demos, held_out = _imitation_start(config)
    training = BehaviorCloneTraining(config, model, demos, fidelity_demos, demo_set_digest(config.demo_dir))
    print(f"cloning {demos.num_episodes} expert episodes ({demos.describe_pairs()}) from {config.demo_dir}; "
          + describe_fidelity_reference(fidelity_demos, held_out))
    return training


def _train(training: TrainingRun) -> TrainingResult:
    history = training.run()
    return TrainingResult(training.save_dir, training.log_dir, history)


def train_ppo(config: PPORunConfig) -> TrainingResult:
    """Train an expert with PPO on the env's reward (run_ppo.py)."""
    return _train(ppo_training(resolve_config(config)))


def train_gail(config: GailRunConfig) -> TrainingResult:
    """Imitate ``config.demo_dir``'s demonstrations with GAIL (run_gail.py)."""
    return _train(gail_training(resolve_config(config)))


def train_behavior_clone(config: BehaviorCloneRunConfig) -> TrainingResult:
    """Imitate ``config.demo_dir``'s demonstrations by behavioural cloning (run_behavior_clone.py)."""
    return _train(behavior_clone_training(resolve_config(config)))


# --- policies ---------------------------------------------------------------------------------

class Policy:
    """A trained policy (of PPO, GAIL or BC alike), to act with, sample demonstrations or export."""

    def __init__(self, model: ActorCritic, spec: EnvSpec, directory: Path) -> None:
        self.model = model
        self.spec = spec
        self.directory = directory  # the checkpoint directory it was loaded from
        self._actor = model.actor_snapshot()

    @classmethod
    def load(cls, model_dir: str | Path, checkpoint: str = "best", env: str | None = None) -> "Policy":
        """The policy saved in a run's ``model_dir``: its ``best`` one (the last if the run kept
        none, with a note) or its ``last``. With ``env``, refuse a policy trained on another env."""
        if checkpoint not in CHECKPOINT_CHOICES:
            raise UsageError(f"--checkpoint {checkpoint}: expected one of {', '.join(CHECKPOINT_CHOICES)}")
        directory, note = policy_dir(model_dir, checkpoint)
        if note:
            print(note)
        model, saved_config = load_actor_critic(directory, env)
        return cls(model, probe_env_spec(saved_config["env"]), directory)

    @property
    def env_id(self) -> str:
        return self.spec.env_id

    @property
    def action_space(self) -> gym.spaces.Discrete | gym.spaces.Box:
        return self.spec.action_space

    def predict(self, observation: np.ndarray, deterministic: bool = True,
                rng: np.random.Generator | None = None) -> np.ndarray:
        """The action(s) to step the env with, for one observation [obs_dim] or a batch [B, obs_dim]:
        an int (Discrete) or a float32 [action_dim] vector clipped to the bounds (Box), batched
        alike. ``deterministic=False`` samples from ``rng`` (a fresh unseeded one if None)."""
        observations = np.asarray(observation, dtype=np.float32)
        single = observations.shape == self.spec.observation_shape
        batch = observations[None] if single else observations
        if batch.ndim != 2 or batch.shape[1:] != self.spec.observation_shape:
            raise ValueError(f"observation shape {observations.shape}: {self.env_id} takes "
                             f"{self.spec.observation_shape} or a batch [B, {self.spec.observation_shape[0]}]")
        sampler = None if deterministic else (rng if rng is not None else np.random.default_rng())
        actions = self._actor.to_env(self._actor.act(batch, sampler))
        return actions[0] if single else actions

    def sample_demonstrations(self, episodes: int = 10, seed: int = 0, stochastic: bool = False,
                              num_envs: int = 10) -> Demonstrations:
        """Run ``episodes`` episodes (initial states from ``seed``) and keep them as demonstrations
        (sample_trajectory.py); ``stochastic`` samples the actions, seeded by ``seed`` too."""
        envs = make_vec_env(self.env_id, min(num_envs, episodes))
        try:
            rng = np.random.default_rng(seed) if stochastic else None
            recorded = run_episodes(envs, self._actor, episodes, seed, rng, record=True)
        finally:
            envs.close()
        return demonstrations_from_episodes(self.env_id, recorded, metadata={
            "policy_dir": str(self.directory), "seed": seed, "stochastic": stochastic})

    def export(self, out_dir: str | Path, overwrite: bool = False) -> Path:
        """Write this policy as a TensorFlow SavedModel (export_policy.py; see common/export.py)."""
        return export_policy(self.model, self.spec, out_dir, overwrite=overwrite)


# --- demonstrations ---------------------------------------------------------------------------

def load_demonstrations(directory: str | Path, env: str | None = None) -> Demonstrations:
    """A set in this toolkit's format (README: "The demonstration format"), checked; with ``env``,
    also against that env's spaces."""
    return _load_demonstrations(directory, probe_env_spec(env) if env else None)


def convert_demonstrations(source: str | Path, env: str | None = None, download: bool = False) -> Demonstrations:
    """Demonstrations from another tool (convert_demos.py --source): ``minari:<dataset id>`` (the
    local Minari store; ``download`` fetches it), a Minari dataset's directory, an .npz file or a
    directory of .npy files with the common key names (``env`` names their env), or a set of ours."""
    if str(source).startswith("minari:"):
        return from_minari(str(source).removeprefix("minari:"), probe_env_spec, download)
    path = Path(source)
    if not path.exists():
        raise UsageError(f"--source {path}: no such file or directory")
    if path.is_dir() and (path / METADATA_FILE).is_file():
        return _load_demonstrations(path, flag="--source")
    if path.is_dir() and ((path / "data").is_dir() or any(path.glob("*.hdf5"))):
        return from_minari(str(path), probe_env_spec)
    if not env:
        raise UsageError(f"--source {path}: plain arrays do not say their env; pass --env")
    return from_arrays(load_arrays(path), probe_env_spec(env), str(path))


def export_to_minari(demos: Demonstrations, dataset_id: str) -> Path:
    """Write ``demos`` as the Minari dataset ``dataset_id`` in the local store; returns its path."""
    env = gym.make(demos.env_id)
    try:
        return to_minari(demos, dataset_id, env)
    finally:
        env.close()
