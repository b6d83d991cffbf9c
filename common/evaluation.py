"""test_policy.py's work: run saved policies, measure their true return and imitation fidelity,
log them, print the table, record GIFs. Its flags are common.script_configs.TestConfig."""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import imageio
import numpy as np

from common.checkpoints import load_actor_critic, policy_dir
from common.config import format_path, save_config
from common.demonstrations import Demonstrations, load_demonstrations
from common.envs import EnvSpec, make_vec_env, probe_env_spec
from common.errors import UsageError, first_line
from common.files import atomic_write_bytes, check_writable_dir, ensure_writable_dir
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
        return run_episodes(envs, actor, num_episodes, config.seed, rng, record=bool(config.demo_dir))
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


# GIF viewers (browsers) show a frame of less than 20 ms for 100 ms, so no frame is shorter.
GIF_MIN_FRAME_MS = 20
# An env without metadata["render_fps"] is assumed to run at gymnasium's RecordVideo default.
FALLBACK_RENDER_FPS = 30


def gif_timing(render_fps: object) -> tuple[int, float, str | None]:
    """(frame stride, milliseconds per GIF frame, note) that play an env rendering at
    ``render_fps`` frames per second in real time: every 2nd frame for 2000 / render_fps ms
    (40 ms for CartPole's 50 fps, 133.3 ms for Acrobot's 15), a larger stride only above 100 fps.
    A missing or unusable ``render_fps`` falls back to FALLBACK_RENDER_FPS, with a note saying so."""
    note = None
    try:
        fps = float(render_fps)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        fps = math.nan
    if not (math.isfinite(fps) and fps > 0):
        note = (f"metadata['render_fps'] is {render_fps!r}, not a frame rate; the GIF assumes "
                f"{FALLBACK_RENDER_FPS} fps")
        fps = float(FALLBACK_RENDER_FPS)
    frame_every = max(2, math.ceil(GIF_MIN_FRAME_MS * fps / 1000 - 1e-9))
    return frame_every, frame_every * 1000.0 / fps, note


def gif_durations(num_frames: int, frame_ms: float) -> list[int]:
    """Per-frame GIF delays in ms. A GIF stores whole centiseconds, so each frame ends at its true
    time rounded to 10 ms (133.3 ms frames become 130, 130, 140, ...): the GIF as a whole plays
    in real time, and no frame is off by 10 ms or more."""
    ends = np.round(np.arange(1, num_frames + 1) * frame_ms / 10.0).astype(np.int64) * 10
    return np.diff(ends, prepend=0).tolist()


def record_gif(config: TestConfig, actor: NumpyActor | RandomActor, path: Path) -> str:
    """Play the first test episode again with rendering and write it as a real-time GIF at half
    resolution; returns what was written, for the console."""
    rng = np.random.default_rng(config.seed) if config.stochastic else None
    envs = make_vec_env(config.env, 1, render=True)
    try:
        frame_every, frame_ms, note = gif_timing(envs.metadata.get("render_fps"))
        frames: list[np.ndarray] = []
        run_episodes(envs, actor, 1, config.seed, rng, frames=frames, frame_every=frame_every)
    finally:
        envs.close()
    durations = gif_durations(len(frames), frame_ms)
    atomic_write_bytes(path, imageio.v3.imwrite("<bytes>", frames, extension=".gif", duration=durations, loop=0))
    return (f"{len(frames)} frames (every {frame_every} steps, {frame_ms:.1f} ms each"
            + (f"; {note}" if note else "") + ")")


def check_renders(env_id: str) -> None:
    """Refuse --record before anything runs or is written if ``env_id`` gives no RGB frames."""
    probe_env_spec(env_id)  # an env the networks cannot take is refused as such first
    envs = None
    try:
        with warnings.catch_warnings():  # e.g. "rgb_array is not in the possible render modes": said below
            warnings.simplefilter("ignore")
            envs = make_vec_env(env_id, 1, render=True)
        envs.reset(seed=0)
        frames = envs.render()
    except UsageError:
        raise
    except Exception as error:  # whatever the env or its renderer raises: it cannot record here
        raise UsageError(f"--record: {env_id} cannot render frames here ({first_line(error)})") from None
    finally:
        if envs is not None:
            envs.close()
    frame = frames[0] if isinstance(frames, (tuple, list)) and frames else frames
    if not (isinstance(frame, np.ndarray) and frame.ndim == 3 and frame.shape[-1] in (3, 4)):
        raise UsageError(f"--record: {env_id} does not render RGB frames (render_mode 'rgb_array' gave "
                         f"{type(frame).__name__})")


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
        for algo, actor in actors.items():
            path = config.gif_path(algo)
            print(f"wrote {record_gif(config, actor, path)} of {algo}'s first episode to {path}")

