"""test_policy.py's work: run saved policies, measure their true return and imitation fidelity,
log them, print the table, record GIFs. Its flags are common.script_configs.TestConfig."""

from __future__ import annotations

from pathlib import Path

import imageio
import numpy as np

from common.checkpoints import load_actor_critic, policy_dir
from common.config import format_path, save_config
from common.demonstrations import Demonstrations, load_demonstrations
from common.envs import EnvSpec, make_vec_env, probe_env_spec
from common.files import atomic_write_bytes, check_writable_dir, ensure_writable_dir
from common.gif import episode_frames, gif_durations, gif_timing
from common.fidelity import Fidelity, measure_fidelity
from common.logger import RunLogger
from common.rollout import Episodes, run_episodes
from common.script_configs import TestConfig
from network_models.policy import NumpyActor, RandomActor


def load_actor(config: TestConfig, algo: str) -> NumpyActor | RandomActor:
    """The saved policy of ``algo`` (or uniform random actions)."""
    if algo == "random":
        return RandomActor(probe_env_spec(config.env).action_space, config.seed)
    directory, note = policy_dir(format_path(config.model_dir, "--model-dir", algo=algo), config.checkpoint)
    if note:
        print(note)
    model, _ = load_actor_critic(directory, config.env)
    return model.actor_snapshot()


def play(config: TestConfig, actor: NumpyActor | RandomActor, num_envs: int, num_episodes: int) -> Episodes:
    rng = np.random.default_rng(config.seed) if config.stochastic else None
    envs = make_vec_env(config.env, num_envs)
    try:
        # Recorded for the fidelity measures, and for --record: the GIF replays the first episode.
        return run_episodes(envs, actor, num_episodes, config.seed, rng, record=bool(config.demo_dir or config.record))
    finally:
        envs.close()


def fidelity_of(actor: NumpyActor | RandomActor, episodes: Episodes, demos: Demonstrations | None,
                spec: EnvSpec, seed: int) -> Fidelity | None:
    if demos is None:
        return None
    return measure_fidelity(actor, np.concatenate(episodes.observations), np.concatenate(episodes.actions), demos,
                            spec, seed=seed)


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


def record_gif(env_id: str, seed: int, first_episode_actions: np.ndarray, path: Path) -> str:
    """Render the first test episode from its actions (common/gif.py: in a process without
    TensorFlow; env 0 of the test envs was reset with ``seed``) and write it as a real-time GIF at
    half resolution; returns what was written, for the console."""
    frames, render_fps = episode_frames(env_id, seed, first_episode_actions)
    frame_every, frame_ms, note = gif_timing(render_fps)
    durations = gif_durations(len(frames), frame_ms)
    atomic_write_bytes(path, imageio.v3.imwrite("<bytes>", list(frames), extension=".gif", duration=durations,
                                                loop=0))
    return (f"{len(frames)} frames (every {frame_every} steps, {frame_ms:.1f} ms each"
            + (f"; {note}" if note else "") + ")")


def check_renders(env_id: str) -> None:
    """Refuse --record before anything runs or is written if ``env_id`` gives no RGB frames."""
    probe_env_spec(env_id)  # an env the networks cannot take is refused as such first
    episode_frames(env_id, seed=0, actions=np.zeros((0,)))


def evaluate_policies(config: TestConfig) -> None:
    """Everything test_policy.py does, for a resolved ``config``."""
    mode = "stochastic" if config.stochastic else "deterministic"
    for algo in config.algo_list:
        check_writable_dir(format_path(config.log_dir, "--log-dir", algo=algo), "--log-dir")
        if config.record:
            check_writable_dir(config.gif_path(algo).parent, "--record")
    if config.record:
        check_renders(config.env)
    demos, spec = None, None
    if config.demo_dir:
        spec = probe_env_spec(config.env)  # once: probing makes an env
        demos = load_demonstrations(config.demo_dir, spec)
    # Every policy is loaded and run before any log is written, so a bad one leaves no partial logs.
    actors = {algo: load_actor(config, algo) for algo in config.algo_list}
    results = {algo: play(config, actor, min(config.num_envs, config.episodes), config.episodes)
               for algo, actor in actors.items()}
    fidelities = {algo: fidelity_of(actors[algo], episodes, demos, spec, config.seed)
                  for algo, episodes in results.items()}
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
        for algo, episodes in results.items():
            path = config.gif_path(algo)
            print(f"wrote {record_gif(config.env, config.seed, episodes.actions[0], path)} of {algo}'s first "
                  f"episode to {path}")

