"""Seeded learning check: GAIL on the shipped demonstrations clearly beats a random policy, and
its critic has learned the discounted learned return.

The return bar catches GAE bugs that break learning (recursion not cut at episode ends: seed 0
ends at ~190; terminal or bootstrap values lost: ~9). It cannot catch a critic trained on the
wrong target: with "returns = advantages" seed 0 still ends at ~480 (CartPole is forgiving, the
critic only serves as a baseline), so the critic is checked directly.
"""

from __future__ import annotations

import json

import gymnasium as gym
import numpy as np
import pytest
import tensorflow as tf
from gymnasium.spaces import Discrete

import run_gail
from common.checkpoints import load_actor_critic
from common.envs import make_vec_env
from common.rollout import EVAL_SEED_OFFSET, run_episodes
from conftest import SHIPPED_DEMOS
from network_models.policy import RandomActor


# Collecting ahead, each update learns from a rollout acted by the policy one update old.
@pytest.mark.parametrize("extra_flags", [[], ["--collect-while-learning"]], ids=["", "collecting-ahead"])
def test_gail_from_shipped_demonstrations_beats_random_within_20k_steps(tmp_path, extra_flags):
    # Without the discriminator's gradient penalty, whatever its default: it slows the first steps
    # (with weight 1 seed 0 is at 197 after 20k steps), and this test is about the learning rules'
    # plumbing (GAE, value targets, the learned reward), which must show within a small budget.
    run_gail.main(["--seed", "0", "--total-env-steps", "20000", "--eval-every", "10000", "--no-progress",
                   "--disc-grad-penalty", "0", "--demo-dir", str(SHIPPED_DEMOS), "--save-dir", str(tmp_path / "gail"),
                   "--log-dir", str(tmp_path / "log"), *extra_flags])
    evaluations = json.loads((tmp_path / "log" / "evaluations.json").read_text())["evaluations"]
    gail_return = evaluations[-1]["return_mean"]

    envs = make_vec_env("CartPole-v1", 10)
    random_return = run_episodes(envs, RandomActor(Discrete(2), seed=0), 10, seed=EVAL_SEED_OFFSET).returns.mean()
    envs.close()
    assert random_return < 40
    # Seed 0 ends at 424-494 (depending on the code version); a GAE bug that breaks learning
    # ends at <= 200. 350 keeps a margin on both sides and is ~15x the random policy. Collecting
    # ahead, the one update's lag slows these first 20k steps a little: seed 0 ends at 382 (seed 1
    # at 448), so 300 there.
    bar = 300 if extra_flags else 350
    assert gail_return >= bar and gail_return >= 5 * random_return, (gail_return, random_return)

    # The critic predicts the discounted learned return. The learned reward log D is about -0.5
    # to -1 per step (D ~ 0.4-0.6 once the policy imitates) over an effective horizon of
    # 1 / (1 - gamma) = 100 steps, and the policy survives: seed 0 gives V(s_0) ~ -58. A critic
    # regressed onto the advantages (value target = advantages) gives ~ -7, a critic that never
    # sees the learned reward ~ 0.
    model, _ = load_actor_critic(tmp_path / "gail", "CartPole-v1")
    env = gym.make("CartPole-v1")
    initial_states = np.array([env.reset(seed=EVAL_SEED_OFFSET + index)[0] for index in range(20)], np.float32)
    env.close()
    initial_values = model.values(tf.constant(initial_states)).numpy()
    assert initial_values.mean() <= -30, initial_values
