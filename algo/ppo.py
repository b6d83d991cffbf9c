"""PPO: clipped surrogate, GAE(gamma, lambda), value loss, entropy bonus, minibatch epochs.

The pure functions at the top are the maths (each tested against a hand-computed example);
``PPOTrainer`` applies them, with every epoch and minibatch of one update fused into a single
compiled TensorFlow call, because at this network size the cost is dispatch, not arithmetic.
"""

from __future__ import annotations


import keras
import numpy as np
import tensorflow as tf

from algo.batching import named_metrics, shuffled_minibatch_indices
from algo.config import PPOConfig
from network_models.policy import ActorCritic


# --- the maths ------------------------------------------------------------------------------

def next_state_values(values: np.ndarray, last_values: np.ndarray, final_obs_values: np.ndarray,
                      terminated: np.ndarray, truncated: np.ndarray, terminal_value: float = 0.0) -> np.ndarray:
    """Value of the state after each step [T, N], the target GAE bootstraps from.

    values [T, N]: V(s_t). last_values [N]: V of the observation after the last step.
    final_obs_values [T, N]: V of the episode's real last observation (used where truncated).
    A terminated episode is worth ``terminal_value`` after its last step (0 for the env reward;
    GAIL's absorbing state may set another); a truncated one (time limit) is worth
    V(final observation), since the task itself had not ended.
    """
    following = np.concatenate([values[1:], last_values[None]], axis=0)
    following = np.where(truncated, final_obs_values, following)
    return np.where(terminated, terminal_value, following).astype(np.float32)


def compute_gae(rewards: np.ndarray, values: np.ndarray, next_values: np.ndarray,
                episode_ends: np.ndarray, gamma: float, gae_lambda: float) -> tuple[np.ndarray, np.ndarray]:
    """Generalised advantage estimation over a [T, N] rollout.

    delta_t = r_t + gamma * next_values_t - V(s_t)
    A_t = delta_t + gamma * lambda * A_{t+1}, the recursion cut where an episode ended at t.
    Returns (advantages [T, N], returns = advantages + values [T, N]), float32.
    """
    deltas = rewards + gamma * next_values - values
    continues = 1.0 - episode_ends.astype(np.float32)
    advantages = np.zeros_like(deltas, dtype=np.float32)
    running = np.zeros(deltas.shape[1], dtype=np.float32)
    for step in reversed(range(deltas.shape[0])):
        running = deltas[step] + gamma * gae_lambda * continues[step] * running
        advantages[step] = running
    return advantages, (advantages + values).astype(np.float32)


def explained_variance(values: np.ndarray, returns: np.ndarray) -> float:
    """1 - Var[returns - values] / Var[returns] over a batch (any equal shapes): 1 when the value
    net predicts the GAE returns exactly, 0 when it does no better than their mean, below 0 when
    worse. NaN when the returns do not vary (nothing to explain); CleanRL's definition."""
    returns_variance = float(np.var(returns))
    if returns_variance == 0.0:
        return float("nan")
    return 1.0 - float(np.var(returns - values)) / returns_variance


def ppo_clipped_loss(logp_new: tf.Tensor, logp_old: tf.Tensor, advantages: tf.Tensor,
                     clip_range: float) -> tf.Tensor:
    """-E[min(r A, clip(r, 1-eps, 1+eps) A)], r = exp(logp_new - logp_old); all inputs [B]."""
    ratio = tf.exp(logp_new - logp_old)
    unclipped = ratio * advantages
    clipped = tf.clip_by_value(ratio, 1.0 - clip_range, 1.0 + clip_range) * advantages
    return -tf.reduce_mean(tf.minimum(unclipped, clipped))


def normalize(values: tf.Tensor) -> tf.Tensor:
    mean, variance = tf.nn.moments(values, axes=[0])
    return (values - mean) / (tf.sqrt(variance) + 1e-8)


# --- the trainer ----------------------------------------------------------------------------

class PPOTrainer:
    """Owns the optimizer; ``update`` runs all epochs and minibatches in one compiled call."""

    # CleanRL's names, and how far the Gaussian means overshoot the action bounds (0 for Discrete)
    METRICS = ("policy_loss", "value_loss", "entropy", "approx_kl", "clipfrac", "mean_overshoot")

    def __init__(self, model: ActorCritic, config: PPOConfig, jit_compile: bool = False) -> None:
        self.model = model
        self.config = config
        self.optimizer = keras.optimizers.Adam(learning_rate=config.learning_rate, epsilon=1e-5)
        self.optimizer.build(model.trainable_variables)
        self._update = tf.function(self._update_graph, jit_compile=jit_compile)

    def set_progress(self, fraction_done: float) -> None:
        """Linear learning-rate decay, when enabled."""
        if self.config.anneal_lr:
            self.optimizer.learning_rate.assign(self.config.learning_rate * (1.0 - fraction_done))

    @tf.function
    def logp_and_values(self, observations: tf.Tensor, actions: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """log pi(a|s) [B] and V(s) [B] for a flat batch (the 'old' policy before an update)."""
        params, values = self.model(observations)
        return self.model.head.log_prob(params, actions), values

    @tf.function
    def values(self, observations: tf.Tensor) -> tf.Tensor:
        return self.model.values(observations)

    def update(self, observations: np.ndarray, actions: np.ndarray, policy_logp_old: np.ndarray,
               advantages: np.ndarray, returns: np.ndarray, rng: np.random.Generator) -> dict[str, float]:
        """One PPO update on a flat batch [B, ...]; returns metrics averaged over minibatches."""
        # Shuffles come from the run's numpy generator so a seed fixes them.
        minibatch_indices = shuffled_minibatch_indices(rng, observations.shape[0], self.config.minibatch_size,
                                                       self.config.num_epochs)
        metrics = self._update(tf.constant(observations), tf.constant(actions), tf.constant(policy_logp_old),
                               tf.constant(advantages), tf.constant(returns), tf.constant(minibatch_indices))
        named = named_metrics(self.METRICS, metrics)
        if not self.model.head.BOUNDED:
            del named["mean_overshoot"]  # always 0: not worth a TensorBoard chart
        return named

    def _update_graph(self, observations, actions, policy_logp_old, advantages, returns, minibatch_indices):
        config = self.config
        totals = tf.zeros(len(self.METRICS))
        for indices in minibatch_indices:  # AutoGraph turns this into one in-graph loop
            obs_batch = tf.gather(observations, indices)
            logp_old_batch = tf.gather(policy_logp_old, indices)
            advantage_batch = tf.gather(advantages, indices)
            if config.normalize_advantages:
                advantage_batch = normalize(advantage_batch)
            with tf.GradientTape() as tape:
                params, values = self.model(obs_batch)
                logp_new = self.model.head.log_prob(params, tf.gather(actions, indices))
                policy_loss = ppo_clipped_loss(logp_new, logp_old_batch, advantage_batch, config.clip_range)
                value_loss = tf.reduce_mean(tf.square(values - tf.gather(returns, indices)))
                entropy = tf.reduce_mean(self.model.head.entropy(params))
                overshoot = tf.reduce_mean(self.model.head.out_of_bounds(params))
                loss = policy_loss + config.value_coef * value_loss - config.entropy_coef * entropy
                if config.action_bound_coef > 0.0:  # a Python branch: off, the graph is the one before the flag
                    loss += config.action_bound_coef * overshoot
            gradients = tape.gradient(loss, self.model.trainable_variables)
            gradients, _ = tf.clip_by_global_norm(gradients, config.max_grad_norm)
            self.optimizer.apply_gradients(zip(gradients, self.model.trainable_variables))
            log_ratio = logp_new - logp_old_batch
            approx_kl = tf.reduce_mean(tf.exp(log_ratio) - 1.0 - log_ratio)
            clip_fraction = tf.reduce_mean(tf.cast(tf.abs(tf.exp(log_ratio) - 1.0) > config.clip_range, tf.float32))
            totals += tf.stack([policy_loss, value_loss, entropy, approx_kl, clip_fraction, overshoot])
        return totals / tf.cast(tf.shape(minibatch_indices)[0], tf.float32)
