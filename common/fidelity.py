"""Imitation fidelity: how close a policy's behaviour is to the expert's, never using the reward.

On CartPole any policy that survives scores 500, whatever it does; these measures compare what
the policy *does* (the states it visits and the actions it takes) with the demonstrations.

    state_wasserstein      mean over state dimensions of the 1-D Wasserstein-1 distance between
                           the expert's and the policy's visited states, in units of the expert's
                           standard deviation per dimension (0 = same marginals; 1 = shifted by
                           one expert std)
    energy_distance        Szekely's energy distance between the standardised state-action
                           samples, i.e. the MMD with the distance kernel
                           k(x, y) = -||x - y||_2: 2 E||X - Y|| - E||X - X'|| - E||Y - Y'||,
                           0 if and only if the two distributions are equal
    action_agreement       on the expert's own states: the share of the expert's actions the policy
                           takes (discrete), or minus the mean absolute error of its deterministic
                           action in units of the action range's half-width (continuous); 1 / 0 =
                           the expert's actions exactly
    classifier_accuracy    a fresh classifier (one tanh hidden layer, trained here from scratch)
                           tries to tell policy pairs from expert pairs; its accuracy on held-out
                           pairs: 0.5 = indistinguishable, 1.0 = told apart every time

Every function is pure numpy; arrays are [num_samples, feature_dim] float unless named otherwise.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import numpy as np

from common.demonstrations import Demonstrations
from common.envs import EnvSpec
from network_models.policy import NumpyActor

STD_FLOOR = 1e-3  # a feature the expert keeps constant still gets a finite unit
MAX_ENERGY_SAMPLES = 600  # energy distance is O(n^2): subsample beyond this (with a fixed seed)
MAX_CLASSIFIER_SAMPLES = 1000  # per side (each evaluation fits one: keep it cheap)


def standardize_by(reference: np.ndarray, *others: np.ndarray) -> list[np.ndarray]:
    """Shift and scale ``reference`` and ``others`` by the reference's per-column mean and std
    (std floored at STD_FLOOR); all float64."""
    reference = np.asarray(reference, np.float64)
    mean = reference.mean(axis=0)
    std = np.maximum(reference.std(axis=0), STD_FLOOR)
    return [(np.asarray(array, np.float64) - mean) / std for array in (reference, *others)]


def wasserstein_1d(samples_a: np.ndarray, samples_b: np.ndarray) -> float:
    """W1 between two 1-D empirical distributions [N], [M]: the area between their CDFs."""
    samples_a, samples_b = np.sort(samples_a), np.sort(samples_b)
    points = np.sort(np.concatenate([samples_a, samples_b]))
    cdf_a = np.searchsorted(samples_a, points[:-1], side="right") / samples_a.size
    cdf_b = np.searchsorted(samples_b, points[:-1], side="right") / samples_b.size
    return float(np.sum(np.abs(cdf_a - cdf_b) * np.diff(points)))


def state_wasserstein(expert_obs: np.ndarray, policy_obs: np.ndarray) -> tuple[float, np.ndarray]:
    """Per-dimension W1 [obs_dim] between expert and policy states, standardised by the expert's
    mean and std, and its mean over dimensions."""
    expert, policy = standardize_by(expert_obs, policy_obs)
    per_dimension = np.array([wasserstein_1d(expert[:, d], policy[:, d]) for d in range(expert.shape[1])])
    return float(per_dimension.mean()), per_dimension


def _mean_pairwise_distance(a: np.ndarray, b: np.ndarray) -> float:
    squared = (np.sum(a * a, axis=1)[:, None] + np.sum(b * b, axis=1)[None, :] - 2.0 * a @ b.T)
    return float(np.sqrt(np.maximum(squared, 0.0)).mean())


def _subsample(samples: np.ndarray, limit: int, rng: np.random.Generator) -> np.ndarray:
    if samples.shape[0] <= limit:
        return samples
    return samples[np.sort(rng.choice(samples.shape[0], limit, replace=False))]


def energy_distance(expert_features: np.ndarray, policy_features: np.ndarray, seed: int = 0) -> float:
    """2 E||X - Y|| - E||X - X'|| - E||Y - Y'|| (V-statistic) with X expert, Y policy, after
    standardising both by the expert's mean and std. Each side beyond MAX_ENERGY_SAMPLES is
    subsampled with ``seed``. >= 0; exactly 0 for identical samples."""
    expert, policy = standardize_by(expert_features, policy_features)
    rng = np.random.default_rng(seed)
    expert = _subsample(expert, MAX_ENERGY_SAMPLES, rng)
    policy = _subsample(policy, MAX_ENERGY_SAMPLES, rng)
    distance = (2.0 * _mean_pairwise_distance(expert, policy) - _mean_pairwise_distance(expert, expert)
                - _mean_pairwise_distance(policy, policy))
    return max(distance, 0.0)  # round-off can leave -1e-16 for identical samples


def discrete_action_agreement(policy_actions: np.ndarray, expert_actions: np.ndarray) -> float:
    """Share [0, 1] of expert states where the policy's action [N] int equals the expert's [N]."""
    return float(np.mean(np.asarray(policy_actions) == np.asarray(expert_actions)))


def continuous_action_agreement(policy_actions: np.ndarray, expert_actions: np.ndarray,
                                low: np.ndarray, high: np.ndarray) -> float:
    """-mean |a_policy - a_expert| / half-width of the action range, over [N, action_dim] actions:
    0 for the expert's actions exactly, -1 for an error of a whole half-range on average."""
    half_width = (np.asarray(high, np.float64) - np.asarray(low, np.float64)) / 2.0
    error = np.abs(np.asarray(policy_actions, np.float64) - np.asarray(expert_actions, np.float64)) / half_width
    return float(-error.mean())


def classifier_accuracy(expert_features: np.ndarray, policy_features: np.ndarray, seed: int = 0,
                        hidden_size: int = 32, steps: int = 200, learning_rate: float = 0.02,
                        test_fraction: float = 0.3) -> float:
    """Held-out accuracy of a fresh classifier telling policy pairs [M, F] from expert pairs [N, F].

    Both sides are cut to the same size (at most MAX_CLASSIFIER_SAMPLES, chosen with ``seed``), so
    chance is exactly 0.5. The same positions of both sides go to the held-out part, so for two
    identical samples every held-out point appears once with each label and the accuracy is
    exactly 0.5. The classifier: standardised inputs, one tanh hidden layer, full-batch Adam on
    the logistic loss; a prediction of exactly 0.5 counts as half right.
    """
    rng = np.random.default_rng(seed)
    size = min(expert_features.shape[0], policy_features.shape[0], MAX_CLASSIFIER_SAMPLES)
    expert, policy = standardize_by(_subsample(expert_features, size, rng), _subsample(policy_features, size, rng))
    expert, policy = expert[:size], policy[:size]
    order = rng.permutation(size)
    num_test = max(1, int(round(size * test_fraction)))
    test, train = order[:num_test], order[num_test:]
    train_inputs = np.concatenate([expert[train], policy[train]])
    train_labels = np.concatenate([np.ones(train.size), np.zeros(train.size)])
    predict = _fit_classifier(train_inputs, train_labels, rng, hidden_size, steps, learning_rate)
    test_inputs = np.concatenate([expert[test], policy[test]])
    test_labels = np.concatenate([np.ones(num_test), np.zeros(num_test)])
    probabilities = predict(test_inputs)
    correct = np.where(probabilities == 0.5, 0.5, (probabilities > 0.5) == (test_labels == 1))
    return float(np.mean(correct))


def _fit_classifier(inputs: np.ndarray, labels: np.ndarray, rng: np.random.Generator, hidden_size: int,
                    steps: int, learning_rate: float) -> Callable[[np.ndarray], np.ndarray]:
    """A one-hidden-layer tanh network fitted by full-batch Adam to the logistic loss; returns
    its P(label 1 | input) [B]."""
    params = [rng.normal(0.0, 1.0 / np.sqrt(inputs.shape[1]), (inputs.shape[1], hidden_size)),
              np.zeros(hidden_size), rng.normal(0.0, 1.0 / np.sqrt(hidden_size), hidden_size), np.zeros(())]
    first_moments = [np.zeros_like(p) for p in params]
    second_moments = [np.zeros_like(p) for p in params]
    for step in range(1, steps + 1):
        kernel, bias, out_kernel, out_bias = params
        hidden = np.tanh(inputs @ kernel + bias)
        probabilities = 1.0 / (1.0 + np.exp(-(hidden @ out_kernel + out_bias)))
        error = (probabilities - labels) / labels.size  # d(mean logistic loss) / d logit
        hidden_error = np.outer(error, out_kernel) * (1.0 - hidden ** 2)
        gradients = [inputs.T @ hidden_error, hidden_error.sum(axis=0), hidden.T @ error, error.sum()]
        for index, gradient in enumerate(gradients):
            first_moments[index] = 0.9 * first_moments[index] + 0.1 * gradient
            second_moments[index] = 0.999 * second_moments[index] + 0.001 * gradient ** 2
            corrected_first = first_moments[index] / (1.0 - 0.9 ** step)
            corrected_second = second_moments[index] / (1.0 - 0.999 ** step)
            params[index] = params[index] - learning_rate * corrected_first / (np.sqrt(corrected_second) + 1e-8)

    def predict(batch: np.ndarray) -> np.ndarray:
        kernel, bias, out_kernel, out_bias = params
        return 1.0 / (1.0 + np.exp(-(np.tanh(batch @ kernel + bias) @ out_kernel + out_bias)))

    return predict


@dataclasses.dataclass
class Fidelity:
    """All the measures for one policy against one demonstration set (see the module docstring)."""

    state_wasserstein: float
    energy_distance: float
    action_agreement: float
    classifier_accuracy: float | None = None  # None when not measured (it costs ~0.3 s)

    def as_dict(self, prefix: str = "") -> dict[str, float]:
        """The measured values (a measure left out is absent, not None), names prefixed."""
        return {prefix + key: value for key, value in dataclasses.asdict(self).items() if value is not None}


def action_features(actions: np.ndarray, spec: EnvSpec) -> np.ndarray:
    """Actions as features [N, F] float64: one-hot for discrete actions [N], as-is for continuous
    ones [N, action_dim] (executed, i.e. clipped, actions)."""
    if spec.is_discrete:
        return np.eye(spec.num_actions)[np.asarray(actions, np.int64)]
    return np.asarray(actions, np.float64).reshape(len(actions), -1)


def measure_fidelity(actor: NumpyActor, policy_obs: np.ndarray, policy_actions: np.ndarray,
                     demos: Demonstrations, spec: EnvSpec, seed: int = 0, with_classifier: bool = True) -> Fidelity:
    """Every measure for ``actor``, whose own episodes visited ``policy_obs`` [M, obs_dim] and took
    the executed ``policy_actions`` [M] or [M, action_dim], against ``demos``; the classifier's
    only ``with_classifier`` (training loops fit one at their final evaluation only)."""
    expert_pairs = np.concatenate([demos.observations, action_features(demos.actions, spec)], axis=1)
    policy_pairs = np.concatenate([policy_obs, action_features(policy_actions, spec)], axis=1)
    actions_on_expert_states = actor.to_env(actor.act(demos.observations.astype(np.float32), None))
    if spec.is_discrete:
        agreement = discrete_action_agreement(actions_on_expert_states, demos.actions)
    else:
        agreement = continuous_action_agreement(actions_on_expert_states, demos.actions,
                                                spec.action_space.low, spec.action_space.high)
    return Fidelity(state_wasserstein=state_wasserstein(demos.observations, policy_obs)[0],
                    energy_distance=energy_distance(expert_pairs, policy_pairs, seed),
                    action_agreement=agreement,
                    classifier_accuracy=(classifier_accuracy(expert_pairs, policy_pairs, seed)
                                         if with_classifier else None))
