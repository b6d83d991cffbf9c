"""The imitation-fidelity measures against hand-computed values (common/fidelity.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from gymnasium.spaces import Box, Discrete

from common.demonstrations import Demonstrations
from common.envs import EnvSpec
from common.fidelity import (classifier_accuracy, continuous_action_agreement, discrete_action_agreement,
                             energy_distance, measure_fidelity, state_wasserstein, wasserstein_1d)


def test_wasserstein_1d_by_hand():
    assert wasserstein_1d(np.array([0.0, 1.0]), np.array([1.0, 0.0])) == 0.0
    assert wasserstein_1d(np.array([0.0]), np.array([3.0])) == pytest.approx(3.0)
    # CDFs of {0, 2} and {1}: |0.5 - 0| on [0, 1] plus |0.5 - 1| on [1, 2] = 1 (= E|X - 1|).
    assert wasserstein_1d(np.array([0.0, 2.0]), np.array([1.0])) == pytest.approx(1.0)
    # Unequal sizes: {0, 0, 0, 4} against {1}: 3/4 * 1 + 1/4 * 3 = 1.5 (= E|X - 1|).
    assert wasserstein_1d(np.array([0.0, 0.0, 0.0, 4.0]), np.array([1.0])) == pytest.approx(1.5)


def test_state_wasserstein_is_in_units_of_the_experts_std():
    expert = np.array([[0.0, 10.0], [2.0, 10.0]])   # dim 0: mean 1, std 1; dim 1: constant
    policy = np.array([[1.0, 10.0], [3.0, 10.0]])   # dim 0 shifted by one expert std
    mean, per_dimension = state_wasserstein(expert, policy)
    np.testing.assert_allclose(per_dimension, [1.0, 0.0])
    assert mean == pytest.approx(0.5)
    assert state_wasserstein(expert, expert)[0] == 0.0


def test_energy_distance_by_hand():
    expert = np.array([[0.0], [2.0]])   # standardised: -1, +1
    policy = np.array([[3.0]])          # standardised: +2
    # 2 E|X - Y| - E|X - X'| - E|Y - Y'| = 2 * (3 + 1) / 2 - (0 + 2 + 2 + 0) / 4 - 0 = 3
    assert energy_distance(expert, policy) == pytest.approx(3.0)
    samples = np.random.default_rng(0).normal(size=(50, 3))
    assert energy_distance(samples, samples) == 0.0


def test_energy_distance_grows_with_the_shift():
    rng = np.random.default_rng(1)
    expert = rng.normal(size=(400, 2))
    distances = [energy_distance(expert, rng.normal(size=(400, 2)) + [shift, 0.0]) for shift in (0.0, 1.0, 3.0)]
    assert distances[0] < 0.05 < distances[1] < distances[2]


def test_classifier_accuracy_is_one_half_on_identical_samples():
    samples = np.random.default_rng(2).normal(size=(300, 4))
    assert classifier_accuracy(samples, samples.copy()) == 0.5


def test_classifier_accuracy_on_a_known_shift():
    rng = np.random.default_rng(3)
    expert = rng.normal(size=(2000, 1))
    policy = rng.normal(size=(2000, 1)) + 3.0
    bayes_accuracy = 0.5 * (1.0 + math.erf(1.5 / math.sqrt(2.0)))  # Phi(1.5) = 0.933
    assert classifier_accuracy(expert, policy) == pytest.approx(bayes_accuracy, abs=0.03)
    assert classifier_accuracy(expert, policy + 20.0) == 1.0


def test_classifier_sees_more_than_the_mean():
    """Same mean, different spread: a linear classifier could not tell them apart; this one must."""
    rng = np.random.default_rng(4)
    expert = rng.normal(size=(2000, 1))
    policy = rng.normal(size=(2000, 1)) * 4.0
    assert classifier_accuracy(expert, policy) > 0.7


def test_action_agreement_by_hand():
    assert discrete_action_agreement(np.array([0, 1, 1, 0]), np.array([0, 1, 0, 0])) == 0.75
    # |0.5 - (-0.5)| = 1 over a half-width of 2, and 0 on the second dim: mean -0.25.
    assert continuous_action_agreement(np.array([[0.5, 1.0]]), np.array([[-0.5, 1.0]]),
                                       low=np.array([-2.0, -1.0]), high=np.array([2.0, 1.0])) == -0.25


class SignActor:
    """Pushes towards the sign of the first observation: a stand-in for a trained policy."""

    def act(self, observations: np.ndarray, rng: np.random.Generator | None) -> np.ndarray:
        return (observations[:, 0] > 0).astype(np.int64)

    def to_env(self, actions: np.ndarray) -> np.ndarray:
        return actions


def sign_demonstrations(observations: np.ndarray) -> Demonstrations:
    return Demonstrations(env_id="CartPole-v1", observations=observations.astype(np.float32),
                          actions=SignActor().act(observations, None), episode_lengths=np.array([len(observations)]),
                          episode_returns=np.array([float(len(observations))]),
                          episode_terminated=np.array([True]))


def test_measure_fidelity_of_a_policy_that_is_the_expert():
    spec = EnvSpec("CartPole-v1", (4,), Discrete(2))
    observations = np.random.default_rng(5).normal(size=(400, 4))
    demos = sign_demonstrations(observations)
    fidelity = measure_fidelity(SignActor(), demos.observations, demos.actions, demos, spec)
    assert fidelity.as_dict() == {"state_wasserstein": 0.0, "energy_distance": 0.0, "action_agreement": 1.0,
                                  "classifier_accuracy": 0.5}


def test_measure_fidelity_of_a_policy_elsewhere():
    spec = EnvSpec("CartPole-v1", (4,), Discrete(2))
    rng = np.random.default_rng(6)
    demos = sign_demonstrations(rng.normal(size=(400, 4)))
    policy_obs = rng.normal(size=(400, 4)) + [2.0, 0.0, 0.0, 0.0]
    always_left = np.zeros(400, np.int64)
    fidelity = measure_fidelity(SignActor(), policy_obs, always_left, demos, spec)
    assert fidelity.state_wasserstein == pytest.approx(0.5, abs=0.1)  # 2 std on one of four dims
    assert fidelity.energy_distance > 0.5
    assert fidelity.classifier_accuracy > 0.9
    assert fidelity.action_agreement == 1.0  # measured on the expert's states, where it agrees


def test_measure_fidelity_continuous():
    spec = EnvSpec("Pendulum-v1", (3,), Box(-2.0, 2.0, (1,), np.float32))

    class HalfTorque:
        def act(self, observations, rng):
            return observations[:, :1] * 0.5

        def to_env(self, actions):
            return np.clip(actions, -2.0, 2.0)

    observations = np.random.default_rng(7).uniform(-1, 1, size=(100, 3)).astype(np.float32)
    demos = Demonstrations(env_id="Pendulum-v1", observations=observations, actions=observations[:, :1].copy(),
                           episode_lengths=np.array([100]), episode_returns=np.array([0.0]),
                           episode_terminated=np.array([False]))
    fidelity = measure_fidelity(HalfTorque(), observations, observations[:, :1], demos, spec)
    # The policy's action is half the expert's: error mean |0.5 x| / 2 with x ~ U(-1, 1), i.e. 0.125.
    assert fidelity.action_agreement == pytest.approx(-np.mean(np.abs(observations[:, 0])) / 4)
    assert fidelity.energy_distance == 0.0
