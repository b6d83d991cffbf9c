"""Hand-written experts with a style of their own, and the behaviour statistic that tells each style.

The true reward of CartPole only asks to survive, and Pendulum's to stand upright at rest; these
controllers do something else (hold the cart off-centre, rock it, hold the pendulum tilted, spin
it), so a policy that merely maximises the true reward does *not* imitate them. Each ``Style``
pairs a controller with a statistic of an episode's states and a tolerance: a policy imitates the
style when its statistic, averaged over evaluation episodes, is within the tolerance of the
demonstrations' (and, where the expert survives, it survives as long).

Controllers act on one observation at a time, with the step index (the rocking target moves with
time) and a numpy generator (the Pendulum controllers add torque noise, so their demonstrations
are not a curve a = mu(s) that no sampled action hits; see the README's Pendulum note).
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Callable

import gymnasium as gym
import numpy as np

if TYPE_CHECKING:
    from common.demonstrations import Demonstrations

Controller = Callable[[np.ndarray, int, np.random.Generator], np.ndarray | int]


def cartpole_tracker(target_x: Callable[[int], float], position_gain: float = 0.6,
                     velocity_gain: float = 1.0) -> Controller:
    """Bang-bang state feedback that balances the pole while steering the cart to ``target_x(t)``.

    Push right when k_x (x - x*) + k_v v + 12 theta + 2 omega > 0. The position and velocity gains
    are positive: to move right the cart first pushes left, so the pole leans right and pulling
    it back up carries the cart right (the cart-pole is non-minimum phase)."""
    def act(observation: np.ndarray, step: int, rng: np.random.Generator) -> int:
        x, velocity, angle, angular_velocity = observation
        push = (position_gain * (x - target_x(step)) + velocity_gain * velocity + 12.0 * angle
                + 2.0 * angular_velocity)
        return int(push > 0)
    return act


PENDULUM_MAX_TORQUE = 2.0


def pendulum_holder(target_angle: float, torque_noise: float = 0.3) -> Controller:
    """Swing up by pumping energy, then hold the pendulum at ``target_angle`` (0 = upright) with a
    PD law plus gravity compensation: u = -5 sin(theta) - 8 (theta - theta*) - 2 omega, clipped to
    +-2 (theta'' = 15 sin(theta) + 3 u for Pendulum-v1), with Gaussian torque noise."""
    def act(observation: np.ndarray, step: int, rng: np.random.Generator) -> np.ndarray:
        cos_angle, sin_angle, angular_velocity = observation
        angle = np.arctan2(sin_angle, cos_angle)
        energy = 0.5 * angular_velocity ** 2 + 15.0 * cos_angle  # 15 = upright at rest
        error = (angle - target_angle + np.pi) % (2 * np.pi) - np.pi
        if abs(error) < 0.6 and abs(angular_velocity) < 4.0:
            torque = -5.0 * sin_angle - 8.0 * error - 2.0 * angular_velocity
        elif energy < 15.0:
            torque = PENDULUM_MAX_TORQUE * (1.0 if angular_velocity >= 0 else -1.0)
        else:
            torque = -PENDULUM_MAX_TORQUE * np.sign(angular_velocity) if energy > 16.0 else 0.0
        torque += torque_noise * rng.standard_normal()
        return np.clip([torque], -PENDULUM_MAX_TORQUE, PENDULUM_MAX_TORQUE).astype(np.float32)
    return act


def pendulum_spinner(direction: float, torque_noise: float = 0.3) -> Controller:
    """Pump energy until the swing is large, then always push towards ``direction`` (+1 counter-
    clockwise): it brakes a swing the wrong way and drives the right way up to the env's speed
    limit, so it spins in one direction only."""
    def act(observation: np.ndarray, step: int, rng: np.random.Generator) -> np.ndarray:
        cos_angle, _, angular_velocity = observation
        energy = 0.5 * angular_velocity ** 2 + 15.0 * cos_angle
        if energy < 12.0:
            torque = PENDULUM_MAX_TORQUE * (1.0 if angular_velocity >= 0 else -1.0)
        else:
            # Turning the wrong way: brake, so it swings back rather than going over the top.
            torque = PENDULUM_MAX_TORQUE * direction
        torque += torque_noise * rng.standard_normal()
        return np.clip([torque], -PENDULUM_MAX_TORQUE, PENDULUM_MAX_TORQUE).astype(np.float32)
    return act


# --- behaviour statistics: one number per episode, from its observations [T, obs_dim] ----------

def mean_cart_position_after_100(observations: np.ndarray) -> float:
    """Where the cart is held: the mean of x over steps 100.. (the first 100 steps get it there)."""
    return float(observations[100:, 0].mean()) if len(observations) > 100 else float("nan")


def cart_position_std(observations: np.ndarray) -> float:
    """How far the cart rocks: the standard deviation of x over the episode."""
    return float(observations[:, 0].std())


def mean_pendulum_angle_after_100(observations: np.ndarray) -> float:
    """The angle the pendulum is held at (0 = upright), averaged over steps 100..199."""
    return float(np.arctan2(observations[100:, 1], observations[100:, 0]).mean())


def mean_angular_velocity_after_100(observations: np.ndarray) -> float:
    """Spin: the mean angular velocity over steps 100..199 (rad/s, + = counter-clockwise)."""
    return float(observations[100:, 2].mean())


@dataclasses.dataclass(frozen=True)
class Style:
    name: str
    env: str
    description: str
    controller: Controller
    statistic: Callable[[np.ndarray], float]
    statistic_name: str
    tolerance: float          # |policy's mean statistic - demonstrations'| must be <= this
    survives: bool            # the expert never ends an episode early: the imitator must not either

    def criterion(self) -> str:
        survive = "; and mean episode length >= 95% of the demonstrations'" if self.survives else ""
        return f"{self.statistic_name} within ±{self.tolerance:g} of the demonstrations'{survive}"


STYLES = {style.name: style for style in (
    Style("cart-right", "CartPole-v1", "balances with the cart held at x = +1",
          cartpole_tracker(lambda step: 1.0), mean_cart_position_after_100, "mean cart x after step 100",
          0.25, survives=True),
    Style("cart-left", "CartPole-v1", "balances with the cart held at x = -1",
          cartpole_tracker(lambda step: -1.0), mean_cart_position_after_100, "mean cart x after step 100",
          0.25, survives=True),
    Style("cart-rock", "CartPole-v1", "balances while rocking the cart from side to side (target "
          "x = sin(2 pi t / 250))", cartpole_tracker(lambda step: np.sin(2 * np.pi * step / 250), 1.5, 2.0),
          cart_position_std, "std of cart x", 0.15, survives=True),
    Style("pendulum-tilt-pos", "Pendulum-v1", "swings up and holds the pendulum at +0.2 rad from upright",
          pendulum_holder(0.2), mean_pendulum_angle_after_100, "mean angle after step 100", 0.07,
          survives=False),
    Style("pendulum-tilt-neg", "Pendulum-v1", "swings up and holds the pendulum at -0.2 rad from upright",
          pendulum_holder(-0.2), mean_pendulum_angle_after_100, "mean angle after step 100", 0.07,
          survives=False),
    Style("pendulum-spin", "Pendulum-v1", "spins the pendulum counter-clockwise without stopping",
          pendulum_spinner(+1.0), mean_angular_velocity_after_100, "mean angular velocity after step 100",
          1.5, survives=False),
)}


def record_style(style: Style, num_episodes: int, seed: int = 0) -> "Demonstrations":
    """``num_episodes`` episodes of ``style``'s controller, episode i reset with seed + i."""
    from common.demonstrations import demonstrations_from_episodes
    from common.rollout import Episodes

    env = gym.make(style.env)
    rng = np.random.default_rng(seed)
    observations, actions, returns, lengths, terminated = [], [], [], [], []
    for episode in range(num_episodes):
        observation, _ = env.reset(seed=seed + episode)
        episode_obs, episode_actions, episode_return, done = [], [], 0.0, False
        while not done:
            action = style.controller(observation, len(episode_obs), rng)
            episode_obs.append(observation.astype(np.float32))
            episode_actions.append(action)
            observation, reward, ended, truncated, _ = env.step(action)
            episode_return += float(reward)
            done = ended or truncated
        observations.append(np.stack(episode_obs))
        actions.append(np.array(episode_actions))
        returns.append(episode_return)
        lengths.append(len(episode_obs))
        terminated.append(bool(ended))
    env.close()
    episodes = Episodes(returns=np.array(returns), lengths=np.array(lengths), terminated=np.array(terminated),
                        observations=observations, actions=actions)
    return demonstrations_from_episodes(style.env, episodes, metadata={
        "policy": f"hand-written controller: {style.description} (experiments/style_experts.py)",
        "style": style.name, "seed": seed, "stochastic": style.env == "Pendulum-v1"})
