"""Rollouts and evaluation episodes: the one env loop every script uses."""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import multiprocessing
import multiprocessing.connection
import signal
import traceback

import gymnasium as gym
import numpy as np
import threadpoolctl

from network_models.policy import NumpyActor

# Evaluation episodes start from seeds far from the training envs' (seed, seed + 1, ...), so
# a policy is never scored on the very initial states it trained from.
EVAL_SEED_OFFSET = 1_000_000


@dataclasses.dataclass
class Rollout:
    """A [T, N] block of transitions from N envs. Arrays are reused by the next ``collect``."""

    observations: np.ndarray         # [T, N, *obs_shape] float32, s_t
    actions: np.ndarray              # [T, N] int64 or [T, N, action_dim] float32 (unclipped), a_t
    env_rewards: np.ndarray          # [T, N] float32, the true reward (GAIL only logs it)
    terminated: np.ndarray           # [T, N] bool, the episode ended in a terminal state at t
    truncated: np.ndarray            # [T, N] bool, the episode was cut by a time limit at t
    final_observations: np.ndarray   # [T, N, *obs_shape] float32, real last obs where truncated
    last_observations: np.ndarray    # [N, *obs_shape] float32, obs after the last step
    policy_logp: np.ndarray | None = None  # [T, N] float32, log pi(a_t|s_t) of the acting policy, if recorded

    @property
    def episode_ends(self) -> np.ndarray:
        return self.terminated | self.truncated

    def flat(self, array: np.ndarray) -> np.ndarray:
        """Merge the time and env axes: [T, N, ...] -> [T * N, ...]."""
        return array.reshape((-1,) + array.shape[2:])


class RolloutCollector:
    """Steps the training envs with a numpy snapshot of the policy, into preallocated arrays.

    Also keeps the true return and length of each episode as it finishes, for logging. With
    ``record_log_probs`` the rollout also holds the acting policy's log-probabilities of its actions.
    """

    def __init__(self, envs: gym.vector.VectorEnv, rollout_steps: int, seed: int,
                 rng: np.random.Generator, record_log_probs: bool = False) -> None:
        self.envs = envs
        self.rng = rng
        num_envs = envs.num_envs
        obs_shape = envs.single_observation_space.shape
        action_space = envs.single_action_space
        action_dtype = np.int64 if isinstance(action_space, gym.spaces.Discrete) else np.float32
        self.rollout = Rollout(
            observations=np.zeros((rollout_steps, num_envs) + obs_shape, np.float32),
            actions=np.zeros((rollout_steps, num_envs) + action_space.shape, action_dtype),
            env_rewards=np.zeros((rollout_steps, num_envs), np.float32),
            terminated=np.zeros((rollout_steps, num_envs), bool),
            truncated=np.zeros((rollout_steps, num_envs), bool),
            final_observations=np.zeros((rollout_steps, num_envs) + obs_shape, np.float32),
            last_observations=np.zeros((num_envs,) + obs_shape, np.float32),
            policy_logp=np.zeros((rollout_steps, num_envs), np.float32) if record_log_probs else None,
        )
        observations, _ = envs.reset(seed=seed)
        self.current_observations = observations.astype(np.float32)
        self.running_returns = np.zeros(num_envs, np.float64)
        self.running_lengths = np.zeros(num_envs, np.int64)
        self.finished_returns: list[float] = []
        self.finished_lengths: list[int] = []

    def collect(self, actor: NumpyActor) -> Rollout:
        rollout = self.rollout
        for step in range(rollout.observations.shape[0]):
            rollout.observations[step] = self.current_observations
            if rollout.policy_logp is None:
                actions = actor.act(self.current_observations, self.rng)
            else:
                actions, rollout.policy_logp[step] = actor.sample_with_log_prob(self.current_observations, self.rng)
            next_observations, rewards, terminated, truncated, info = self.envs.step(actor.to_env(actions))
            rollout.actions[step] = actions
            rollout.env_rewards[step] = rewards
            rollout.terminated[step] = terminated
            rollout.truncated[step] = truncated
            if truncated.any():
                # Same-step autoreset: next_observations already holds the new episode's start.
                rollout.final_observations[step][truncated] = np.stack(info["final_obs"][truncated])
            self.current_observations = next_observations.astype(np.float32)
        rollout.last_observations[:] = self.current_observations
        # Once per rollout, not per step: on MuJoCo every microsecond beside the ~100 us physics
        # step is lost throughput (bench.py's Hopper rows).
        self._track_episodes(rollout.env_rewards, rollout.episode_ends)
        return rollout

    def _track_episodes(self, rewards: np.ndarray, episode_ends: np.ndarray) -> None:
        """Adds the rollout's rewards [T, N] to each env's running episode, keeping the true
        return and length of each episode that ended in it (``episode_ends`` [T, N])."""
        for env_index in range(rewards.shape[1]):
            env_rewards = rewards[:, env_index].astype(np.float64)
            start = 0
            for end in np.flatnonzero(episode_ends[:, env_index]):
                self.finished_returns.append(float(self.running_returns[env_index] + env_rewards[start:end + 1].sum()))
                self.finished_lengths.append(int(self.running_lengths[env_index] + end + 1 - start))
                self.running_returns[env_index], self.running_lengths[env_index] = 0.0, 0
                start = end + 1
            self.running_returns[env_index] += env_rewards[start:].sum()
            self.running_lengths[env_index] += rewards.shape[0] - start

    def drain_episode_stats(self) -> tuple[list[float], list[int]]:
        """True returns and lengths of episodes finished since the last call."""
        returns, lengths = self.finished_returns, self.finished_lengths
        self.finished_returns, self.finished_lengths = [], []
        return returns, lengths


class CollectorProcess:
    """A RolloutCollector in a child process, so that the next rollout is collected while this
    process learns from the last one (``--collect-while-learning``): ``start`` hands it the policy
    to act with, ``wait`` returns what it collected. ``collect`` and ``drain_episode_stats`` are
    RolloutCollector's.

    A process, not a thread: beside a learner thread the collector's many short numpy and MuJoCo
    calls queue for the GIL (on Hopper a rollout took 15% longer with the update in a thread, for
    the same CPU time). The child is forked from a collector whose envs are already reset, so it
    needs no TensorFlow of its own and knows the env ids registered at run time.
    """

    def __init__(self, collector: RolloutCollector) -> None:
        context = multiprocessing.get_context("fork")
        self.connection, child_connection = context.Pipe()
        self.process = context.Process(target=_collect_on_request, args=(collector, child_connection, self.connection),
                                       name="rollout-collector")
        self.process.start()
        child_connection.close()
        # A parent exiting without close() (an error before it) would otherwise wait for the child at
        # exit forever: multiprocessing joins it, and the child, ignoring SIGTERM, waits for a policy.
        atexit.register(self.close)
        self.finished_returns: list[float] = []
        self.finished_lengths: list[int] = []
        self.collecting = False

    def start(self, actor: NumpyActor) -> None:
        """Collect the next rollout with ``actor``, in the child, while this process goes on."""
        try:
            self.connection.send(actor)
        except OSError:
            raise self._ended() from None
        self.collecting = True

    def wait(self) -> Rollout:
        """The rollout ``start`` asked for, with its log-probabilities (a copy: it stays intact
        while the next is collected)."""
        try:
            message = self.connection.recv()
            self.collecting = False
        except (EOFError, OSError):  # OSError: a connection reset, when the child died with our policy unread
            raise self._ended() from None
        if isinstance(message, str):
            raise RuntimeError(f"rollout collection failed in its process:\n{message}")
        rollout, returns, lengths = message
        self.finished_returns += returns
        self.finished_lengths += lengths
        return rollout

    def collect(self, actor: NumpyActor) -> Rollout:
        self.start(actor)
        return self.wait()

    def drain_episode_stats(self) -> tuple[list[float], list[int]]:
        """True returns and lengths of episodes finished in the rollouts ``wait`` returned since the last call."""
        returns, lengths = self.finished_returns, self.finished_lengths
        self.finished_returns, self.finished_lengths = [], []
        return returns, lengths

    def close(self) -> None:
        """Stop the child: told to, when idle (it closes its envs); killed, when a rollout nobody
        will read is on its way (a run stopping or failing mid-iteration)."""
        atexit.unregister(self.close)
        if self.connection.closed:
            return
        if not self.collecting:
            with contextlib.suppress(OSError):
                self.connection.send(None)
            self.process.join(timeout=10)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()
        self.connection.close()

    def _ended(self) -> RuntimeError:
        self.process.join(timeout=1)
        return RuntimeError(f"the rollout collector's process ended unexpectedly (exit code {self.process.exitcode})")


def _collect_on_request(collector: RolloutCollector, connection: multiprocessing.connection.Connection,
                        parent_end: multiprocessing.connection.Connection) -> None:
    """The child's loop: a policy in, a rollout and its finished episodes' stats out, until told
    to stop or the parent is gone."""
    # The fork copied the parent's end of the pipe too: closed here, the parent's exit (even a
    # SIGKILL) leaves the pipe with no writer, and recv() ends with EOFError instead of waiting forever.
    parent_end.close()
    # A Ctrl-C or SIGTERM to the process group is for the parent: it saves, then closes this child.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    # One core for the envs, the other for the parent's learning: numpy's BLAS threads (which
    # spin a while after each product, e.g. of HalfCheetah's 256-wide layers) would take both.
    threadpoolctl.threadpool_limits(1, user_api="blas")
    try:
        while (actor := connection.recv()) is not None:
            try:
                rollout = collector.collect(actor)
            except Exception:
                connection.send(traceback.format_exc())
                return
            connection.send((rollout, *collector.drain_episode_stats()))
    except (EOFError, OSError):
        return  # the parent is gone
    finally:
        collector.envs.close()


@dataclasses.dataclass
class Episodes:
    """Whole episodes, in a fixed order (not the order they happened to finish)."""

    returns: np.ndarray                    # [E] float64, true undiscounted returns
    lengths: np.ndarray                    # [E] int64
    terminated: np.ndarray                 # [E] bool, ended in a terminal state (not a time limit)
    observations: list[np.ndarray] | None  # E arrays [length, *obs_shape], when recorded
    actions: list[np.ndarray] | None       # E arrays [length, *action_shape] as executed, when recorded


def run_episodes(envs: gym.vector.VectorEnv, actor: NumpyActor, num_episodes: int, seed: int,
                 rng: np.random.Generator | None = None, record: bool = False) -> Episodes:
    """Run exactly ``num_episodes`` episodes on ``envs``; ``rng=None`` acts deterministically.

    Env i plays episodes i, i + n, i + 2n, ...: fixing the assignment in advance avoids the
    bias of keeping whichever episodes finish first (the short ones).
    """
    num_envs = envs.num_envs
    quota = np.array([len(range(env_index, num_episodes, num_envs)) for env_index in range(num_envs)])
    played = np.zeros(num_envs, np.int64)
    returns = np.zeros(num_episodes, np.float64)
    lengths = np.zeros(num_episodes, np.int64)
    episode_terminated = np.zeros(num_episodes, bool)
    episode_obs: list[list[np.ndarray]] = [[] for _ in range(num_envs)]
    episode_actions: list[list[np.ndarray]] = [[] for _ in range(num_envs)]
    recorded_obs: list[np.ndarray | None] = [None] * num_episodes
    recorded_actions: list[np.ndarray | None] = [None] * num_episodes

    observations, _ = envs.reset(seed=seed)
    while (played < quota).any():
        observations = observations.astype(np.float32)
        actions = actor.to_env(actor.act(observations, rng))
        next_observations, rewards, terminated, truncated, _ = envs.step(actions)
        active = played < quota
        episode_index = played * num_envs + np.arange(num_envs)
        active_index = episode_index[active]
        returns[active_index] += rewards[active]
        lengths[active_index] += 1
        if record:
            for env_index in np.flatnonzero(active):
                episode_obs[env_index].append(observations[env_index])
                episode_actions[env_index].append(actions[env_index])
        episode_terminated[active_index] = terminated[active]
        for env_index in np.flatnonzero((terminated | truncated) & active):
            if record:
                recorded_obs[episode_index[env_index]] = np.stack(episode_obs[env_index])
                recorded_actions[episode_index[env_index]] = np.stack(episode_actions[env_index])
                episode_obs[env_index], episode_actions[env_index] = [], []
            played[env_index] += 1
        observations = next_observations
    return Episodes(returns=returns, lengths=lengths, terminated=episode_terminated,
                    observations=recorded_obs if record else None,
                    actions=recorded_actions if record else None)
