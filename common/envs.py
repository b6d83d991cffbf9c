"""Vectorised gymnasium environments, made the same way by every script."""

from __future__ import annotations

import dataclasses
import os
import warnings

import gymnasium as gym

from common.errors import UsageError, first_line

# MuJoCo renders offscreen through EGL, which needs no display (headless servers, CI); a user's own
# choice (glfw with a display, osmesa) is kept. Set before any MuJoCo env imports its renderer.
os.environ.setdefault("MUJOCO_GL", "egl")


# MuJoCo 4 warns, each time it compiles the model, that gymnasium's own half_cheetah.xml uses a
# deprecated attribute: nothing a user can act on, printed for every env made (7 times a run).
KNOWN_MUJOCO_NOISE = ("compiler attribute 'settotalmass' is deprecated",)


def pass_mujoco_warnings_to_python(env_id: str) -> None:
    """Before making a MuJoCo env: MuJoCo's warnings become Python warnings (shown once each and
    filterable, like any other), but for the known noise above, which is dropped. MuJoCo itself
    is only imported for MuJoCo envs."""
    try:
        entry_point = str(gym.spec(env_id).entry_point)
    except gym.error.Error:
        return  # an unknown id: make_vec_env refuses it
    if not entry_point.startswith("gymnasium.envs.mujoco"):
        return
    import mujoco

    def forward(message: str) -> None:
        if not message.startswith(KNOWN_MUJOCO_NOISE):
            warnings.warn(f"MuJoCo: {message}", RuntimeWarning, stacklevel=2)

    mujoco.set_mju_user_warning(forward)


class StepInfoDropped(gym.Wrapper):
    """Returns an empty info dict from ``step``. Nothing here reads a sub-env's per-step info, and
    SyncVectorEnv merges it key by key into the vector's info at every step: on Hopper (six keys:
    positions, velocities, reward terms) this wrapper and ``copy=False`` gave PPO ~5% more env
    steps per second in back-to-back timings (experiments/NOTES-mujoco.md). The vector env's own
    ``final_obs`` is not affected."""

    def step(self, action):
        observation, reward, terminated, truncated, _ = self.env.step(action)
        return observation, reward, terminated, truncated, {}


@dataclasses.dataclass(frozen=True)
class EnvSpec:
    """What the networks and the demonstration checks need to know about an env."""

    env_id: str
    observation_shape: tuple[int, ...]
    action_space: gym.spaces.Discrete | gym.spaces.Box

    @property
    def is_discrete(self) -> bool:
        return isinstance(self.action_space, gym.spaces.Discrete)

    @property
    def num_actions(self) -> int:
        """Discrete envs only: how many actions there are."""
        return int(self.action_space.n)

    @property
    def action_shape(self) -> tuple[int, ...]:
        """() for discrete actions, (action_dim,) for continuous ones."""
        return tuple(self.action_space.shape)


def describe_space(space: gym.Space) -> str:
    """A space in a few words, on one line (a Box's repr can print whole bound arrays)."""
    if isinstance(space, gym.spaces.Box):
        bounds = "" if space.is_bounded() else ", not bounded"
        return f"Box of shape {tuple(space.shape)} ({space.dtype}{bounds})"
    return " ".join(str(space).split()) if len(str(space)) <= 80 else type(space).__name__


def make_vec_env(env_id: str, num_envs: int, render: bool = False) -> gym.vector.VectorEnv:
    """``num_envs`` copies of ``env_id`` stepping in lock-step (reset them with a seed before use).

    Same-step autoreset: when a sub-env ends, ``step`` already returns the next episode's first
    observation and puts the real last one in ``info["final_obs"]``, which truncation needs
    for bootstrapping; the sub-envs' own step infos are dropped (``StepInfoDropped``). This works
    for every registered env id, unlike the per-env vector entry points, which only offer
    next-step autoreset. ``render=True`` makes ``render()`` return RGB frames.

    Every script makes (or probes) its env here before writing anything, so an env the networks
    cannot take is refused with a UsageError naming --env: observations must be a 1-D Box, actions
    Discrete or a bounded 1-D Box.
    """
    render_kwargs = {"render_mode": "rgb_array"} if render else {}
    if render:
        # Offscreen frames need no display or sound; without these SDL complains on headless machines.
        os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
        os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
    # Warnings while making the env (e.g. "out of date, use v1") are shown only if it can be made,
    # so that an error stays one line.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")
        pass_mujoco_warnings_to_python(env_id)
        try:
            # copy=False: step and reset return the vector env's own observation buffer, which the
            # next step overwrites; every caller copies it (astype) before stepping again.
            envs = gym.make_vec(env_id, num_envs=num_envs, vectorization_mode="sync",
                                vector_kwargs={"autoreset_mode": gym.vector.AutoresetMode.SAME_STEP, "copy": False},
                                wrappers=[StepInfoDropped], **render_kwargs)
        except gym.error.Error as error:
            raise UsageError(f"--env {env_id}: {first_line(error)}") from None
        except ImportError as error:  # the env's module, or a package it needs, is not installed
            missing = f"package {error.name!r} is not installed" if error.name else first_line(error)
            raise UsageError(f"--env {env_id}: cannot make this env: {missing}") from None
    for warning in caught:  # through the filters again, so that a caller can silence them
        warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
    action_space = envs.single_action_space
    supported_box = (isinstance(action_space, gym.spaces.Box) and len(action_space.shape) == 1
                     and action_space.is_bounded())
    if not (isinstance(action_space, gym.spaces.Discrete) or supported_box):
        envs.close()
        raise UsageError(f"--env {env_id}: action space {describe_space(action_space)} is not supported "
                         "(Discrete, or a bounded 1-D Box)")
    if isinstance(action_space, gym.spaces.Discrete) and int(action_space.start) != 0:
        envs.close()
        raise UsageError(f"--env {env_id}: action space {describe_space(action_space)} starts at "
                         f"{int(action_space.start)}; only Discrete spaces starting at 0 are supported (wrap the "
                         "env to shift its actions)")
    observation_space = envs.single_observation_space
    if not (isinstance(observation_space, gym.spaces.Box) and len(observation_space.shape) == 1):
        envs.close()
        raise UsageError(f"--env {env_id}: observation space {describe_space(observation_space)} is not "
                         "supported (the networks take a flat vector, a 1-D Box; not images or other "
                         "multi-dimensional observations)")
    return envs


def env_spec(envs: gym.vector.VectorEnv, env_id: str) -> EnvSpec:
    return EnvSpec(env_id=env_id, observation_shape=tuple(envs.single_observation_space.shape),
                   action_space=envs.single_action_space)


def probe_env_spec(env_id: str) -> EnvSpec:
    """The spec of ``env_id`` without keeping an env around (for checks before training)."""
    envs = make_vec_env(env_id, num_envs=1)
    try:
        return env_spec(envs, env_id)
    finally:
        envs.close()
