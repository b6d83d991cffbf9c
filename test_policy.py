"""Evaluate saved policies (ppo, gail, bc, or a random baseline): true return and imitation fidelity.

Example: python test_policy.py --algos ppo,gail,bc,random --episodes 10 --demo-dir trajectory/CartPole-v1
Prints a table of the mean ± std true return and, with --demo-dir, how closely each policy's
behaviour matches the demonstrations (common/fidelity.py); logs per-episode returns to --log-dir;
with --record videos/{algo}.gif also writes a GIF of each policy's first episode.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import imageio
import numpy as np

from common.checkpoints import CHECKPOINT_CHOICES, load_actor_critic, policy_dir
from common.config import format_path, option, parse_config, save_config
from common.demonstrations import Demonstrations, load_demonstrations
from common.envs import make_vec_env, probe_env_spec
from common.errors import UsageError, cli_main
from common.files import atomic_write_bytes, check_writable_dir, ensure_writable_dir
from common.fidelity import Fidelity, measure_fidelity
from common.logger import RunLogger
from common.rollout import Episodes, run_episodes
from network_models.policy import NumpyActor, RandomActor

ALGOS = ("ppo", "gail", "bc", "random")


@dataclasses.dataclass
class TestConfig:
    algos: str = option("ppo", f"comma-separated policies to evaluate, from {', '.join(ALGOS)}")
    env: str = option("CartPole-v1", "env id; must match each policy's checkpoint")
    model_dir: str = option("trained_models/{algo}/{env}", "checkpoint directory ({algo}, {env} filled in)")
    checkpoint: str = option("best", "which policy of a run: best (kept by its evaluations: the most faithful "
                             "for GAIL/BC, the highest return for PPO; the last if the run kept none) or last",
                             choices=CHECKPOINT_CHOICES)
    demo_dir: str = option("", "demonstrations to measure imitation fidelity against ({env} filled in; "
                           "empty = true return only)")
    episodes: int = option(10, "episodes per policy", "positive")
    stochastic: bool = option(False, "sample actions instead of taking the most likely")
    seed: int = option(0, "seed of the initial states (and of sampling with --stochastic)", "non_negative")
    num_envs: int = option(10, "parallel envs", "positive")
    log_dir: str = option("log/test/{algo}/{env}", "TensorBoard directory ({algo}, {env} filled in)")
    record: str = option("", "also write a GIF of each policy's first episode to this .gif path "
                         "({algo}, {env} filled in; empty = no GIF)")

    def validate(self) -> None:
        unknown = [algo for algo in self.algo_list if algo not in ALGOS]
        if unknown or not self.algo_list:
            raise UsageError(f"--algos {self.algos}: expected a comma-separated list from {', '.join(ALGOS)}")
        if self.record and not self.record.endswith(".gif"):
            raise UsageError(f"--record {self.record}: expected a path ending in .gif")

    def gif_path(self, algo: str) -> Path:
        return Path(format_path(self.record, "--record", algo=algo, env=self.env))

    @property
    def algo_list(self) -> list[str]:
        return [algo.strip() for algo in self.algos.split(",") if algo.strip()]


def load_actor(config: TestConfig, algo: str) -> NumpyActor | RandomActor:
    """The saved policy of ``algo`` (or uniform random actions)."""
    if algo == "random":
        return RandomActor(probe_env_spec(config.env).action_space, config.seed)
    directory, note = policy_dir(format_path(config.model_dir, "--model-dir", algo=algo), config.checkpoint)
    if note:
        print(note)
    model, _ = load_actor_critic(directory, config.env)
    return model.actor_snapshot()


def play(config: TestConfig, actor: NumpyActor | RandomActor, num_envs: int, num_episodes: int,
         frames: list[np.ndarray] | None = None) -> Episodes:
    rng = np.random.default_rng(config.seed) if config.stochastic else None
    envs = make_vec_env(config.env, num_envs, render=frames is not None)
    try:
        return run_episodes(envs, actor, num_episodes, config.seed, rng, record=bool(config.demo_dir), frames=frames)
    finally:
        envs.close()


def fidelity_of(actor: NumpyActor | RandomActor, episodes: Episodes, demos: Demonstrations | None,
                config: TestConfig) -> Fidelity | None:
    if demos is None:
        return None
    return measure_fidelity(actor, np.concatenate(episodes.observations), np.concatenate(episodes.actions), demos,
                            probe_env_spec(config.env), seed=config.seed)


FIDELITY_COLUMNS = ("state W1 (0 = same) | energy distance (0 = same) | action agreement (1 / 0 = same) "
                    "| classifier accuracy (0.5 = same)")


def results_table(results: dict[str, Episodes], fidelities: dict[str, Fidelity | None]) -> str:
    """Markdown: one row per policy, true return and (when measured) the four fidelity measures."""
    with_fidelity = any(fidelity is not None for fidelity in fidelities.values())
    lines = ["| policy | true return (mean ± std) |" + (f" {FIDELITY_COLUMNS} |" if with_fidelity else ""),
             "|---|---|" + ("---|" * 4 if with_fidelity else "")]
    for algo, episodes in results.items():
        row = f"| {algo} | {episodes.returns.mean():.1f} ± {episodes.returns.std():.1f} |"
        fidelity = fidelities[algo]
        if fidelity is not None:
            row += (f" {fidelity.state_wasserstein:.3f} | {fidelity.energy_distance:.3f} | "
                    f"{fidelity.action_agreement:.3f} | {fidelity.classifier_accuracy:.3f} |")
        lines.append(row)
    return "\n".join(lines)


def record_gif(config: TestConfig, actor: NumpyActor | RandomActor, path: Path) -> int:
    """Play the first test episode again with rendering; write it as a GIF. Returns the frames."""
    frames: list[np.ndarray] = []
    play(config, actor, num_envs=1, num_episodes=1, frames=frames)
    # Every 2nd step of a 50 Hz env: 40 ms per frame plays it in real time.
    atomic_write_bytes(path, imageio.v3.imwrite("<bytes>", frames, extension=".gif", duration=40, loop=0))
    return len(frames)


@cli_main
def main(argv: list[str] | None = None) -> None:
    config = parse_config(TestConfig, __doc__, argv)
    mode = "stochastic" if config.stochastic else "deterministic"
    for algo in config.algo_list:
        check_writable_dir(format_path(config.log_dir, "--log-dir", algo=algo), "--log-dir")
        if config.record:
            check_writable_dir(config.gif_path(algo).parent, "--record")
    demos = None
    if config.demo_dir:
        demos = load_demonstrations(format_path(config.demo_dir, "--demo-dir", env=config.env),
                                    probe_env_spec(config.env))
    # Every policy is loaded and run before any log is written, so a bad one leaves no partial logs.
    actors = {algo: load_actor(config, algo) for algo in config.algo_list}
    results = {algo: play(config, actor, min(config.num_envs, config.episodes), config.episodes)
               for algo, actor in actors.items()}
    fidelities = {algo: fidelity_of(actors[algo], episodes, demos, config) for algo, episodes in results.items()}
    for algo, episodes in results.items():
        log_dir = ensure_writable_dir(format_path(config.log_dir, "--log-dir", algo=algo), "--log-dir")
        save_config(config, log_dir)
        logger = RunLogger(log_dir, config.episodes, "test", show_progress=False)
        for index, (episode_return, length) in enumerate(zip(episodes.returns, episodes.lengths)):
            logger.scalars(index, {"test/episode_return": episode_return, "test/episode_length": length})
        logger.scalars(0, {"test/return_mean": episodes.returns.mean(), "test/return_std": episodes.returns.std(),
                           **(fidelities[algo].as_dict("imitation/") if demos is not None else {})})
        logger.close()
    print(f"{config.env}, {config.episodes} {mode} episodes each (random always samples)"
          + (f"; fidelity against the {demos.num_episodes} episodes in {config.demo_dir}:" if demos else ":"))
    print(results_table(results, fidelities))
    if config.record:
        for algo, actor in actors.items():
            path = config.gif_path(algo)
            print(f"wrote {record_gif(config, actor, path)} frames of {algo}'s first episode to {path}")


if __name__ == "__main__":
    main()
