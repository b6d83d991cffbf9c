"""GIFs of a policy's episode (test_policy.py --record) that play in real time.

The frames are rendered in a child process that never imports TensorFlow, by replaying the
episode's actions on the same env with the same seed (envs are deterministic given both).
MuJoCo renders offscreen through Mesa's EGL, whose llvmpipe driver and TensorFlow load clashing
LLVM libraries: in one process, whichever comes second crashes the interpreter (a segfault,
seen on Hopper-v5). Replaying keeps every env, MuJoCo or not, on one path.

Run as ``python -m common.gif ACTIONS.npz FRAMES.npz`` only by ``episode_frames``.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

import gymnasium as gym
import numpy as np

from common.envs import make_vec_env
from common.errors import USAGE_EXIT_STATUS, UsageError, first_line

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


def replay_frames(env_id: str, seed: int, actions: np.ndarray) -> tuple[np.ndarray, object]:
    """In this process: reset ``env_id`` with ``seed``, step it through ``actions`` [T, ...] (as the
    env executed them) and keep every stride-th frame before each step, at half resolution, the
    stride from the env's render_fps (``gif_timing``). No actions: just the first frame, which
    checks that the env renders at all. Returns (frames uint8 [F, H/2, W/2, 3], render_fps)."""
    envs = None
    try:
        with warnings.catch_warnings():  # e.g. "rgb_array is not in the possible render modes": said below
            warnings.simplefilter("ignore")
            envs = make_vec_env(env_id, 1, render=True)
        follow_the_body(envs)
        render_fps = envs.metadata.get("render_fps")
        frame_every, _, _ = gif_timing(render_fps)
        envs.reset(seed=seed)
        frames = []
        for step in range(max(len(actions), 1)):
            if step % frame_every == 0:
                frames.append(rgb_frame(envs.render(), env_id)[::2, ::2])
            if step < len(actions):
                envs.step(actions[step][None])
    except UsageError:
        raise
    except Exception as error:  # whatever the env or its renderer raises: it cannot record here
        raise UsageError(f"--record: {env_id} cannot render frames here ({first_line(error)})") from None
    finally:
        if envs is not None:
            envs.close()
    return np.stack(frames), render_fps


def follow_the_body(envs: gym.vector.VectorEnv) -> None:
    """Point a MuJoCo env's renderer at its model's "track" camera, which follows the body's centre
    of mass (mode="trackcom"); other envs, and a camera the user chose, are left as they are.

    gymnasium renders MuJoCo envs through a free camera set by each env's DEFAULT_CAMERA_CONFIG; its
    "trackbodyid" only takes effect on a tracking camera, so the free camera stays where the
    episode began and the Hopper, the walker and the cheetah leave the frame within seconds."""
    for env in getattr(envs, "envs", ()):
        renderer = getattr(env.unwrapped, "mujoco_renderer", None)
        if renderer is None or renderer.camera_id != -1:
            continue
        import mujoco  # only MuJoCo envs get here

        track_camera_id = mujoco.mj_name2id(renderer.model, mujoco.mjtObj.mjOBJ_CAMERA, "track")
        if track_camera_id != -1:
            renderer.camera_id = track_camera_id


def rgb_frame(rendered: object, env_id: str) -> np.ndarray:
    """The first env's frame from a vector env's render(), refused unless it is RGB(A) [H, W, 3|4]."""
    frame = rendered[0] if isinstance(rendered, (tuple, list)) and rendered else rendered
    if not (isinstance(frame, np.ndarray) and frame.ndim == 3 and frame.shape[-1] in (3, 4)):
        raise UsageError(f"--record: {env_id} does not render RGB frames (render_mode 'rgb_array' gave "
                         f"{type(frame).__name__})")
    return frame[..., :3]


def episode_frames(env_id: str, seed: int, actions: np.ndarray) -> tuple[np.ndarray, object]:
    """``replay_frames`` in a child process without TensorFlow; its refusal is raised here as the
    same one-line UsageError. The env's registration goes with it, so an env registered at run
    time by a module path works too; one registered with a class or function (which cannot leave
    this process) is rendered here, which works for every renderer but Mesa's EGL (MuJoCo)."""
    try:
        spec_json = gym.spec(env_id).to_json()
    except Exception:  # gymnasium cannot serialise a callable entry point
        return replay_frames(env_id, seed, actions)
    with tempfile.TemporaryDirectory(prefix="gail-suite-gif-") as scratch:
        request, reply = Path(scratch) / "actions.npz", Path(scratch) / "frames.npz"
        np.savez(request, env_id=env_id, spec_json=spec_json, seed=seed, actions=actions)
        package_root = str(Path(__file__).resolve().parents[1])
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")]))}
        child = subprocess.run([sys.executable, "-m", "common.gif", str(request), str(reply)], env=env,
                               capture_output=True, text=True)
        if child.returncode == USAGE_EXIT_STATUS and child.stderr.startswith("error: "):
            raise UsageError(child.stderr.strip().splitlines()[0].removeprefix("error: "))
        if child.returncode != 0:
            raise RuntimeError(f"rendering {env_id} failed (exit {child.returncode}): {child.stderr.strip()[-2000:]}")
        with np.load(reply, allow_pickle=False) as loaded:
            render_fps = loaded["render_fps"].item() if loaded["render_fps"].size else None
            return loaded["frames"], render_fps  # a float, None, or the text of whatever else it was


def _child(request: Path, reply: Path) -> None:
    with np.load(request, allow_pickle=False) as loaded:
        env_id, seed, actions = str(loaded["env_id"]), int(loaded["seed"]), loaded["actions"]
        spec = gym.envs.registration.EnvSpec.from_json(str(loaded["spec_json"]))
    if env_id not in gym.registry:  # registered at run time in the parent
        gym.registry[env_id] = spec
    try:
        frames, render_fps = replay_frames(env_id, seed, actions)
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        raise SystemExit(USAGE_EXIT_STATUS) from None
    if render_fps is None:
        fps = np.array([], np.float64)
    elif isinstance(render_fps, (int, float)) and not isinstance(render_fps, bool):
        fps = np.array(float(render_fps))
    else:  # not a number: its text, so that gif_timing's note can show it
        fps = np.array(str(render_fps))
    np.savez(reply, frames=frames, render_fps=fps)


if __name__ == "__main__":
    _child(Path(sys.argv[1]), Path(sys.argv[2]))
