"""The same --seed twice on CPU gives identical weights and returns; another seed differs."""

from __future__ import annotations

import json

import numpy as np
import pytest

import run_ppo
from common.checkpoints import load_actor_critic
from conftest import TINY_PPO_FLAGS


def train(tmp_path, name: str, seed: int, extra_flags: list[str]) -> tuple[list[np.ndarray], list[float]]:
    run_ppo.main(TINY_PPO_FLAGS + extra_flags + ["--seed", str(seed), "--save-dir", str(tmp_path / name),
                                                 "--log-dir", str(tmp_path / f"{name}-log")])
    model, _ = load_actor_critic(tmp_path / name)
    evaluations = json.loads((tmp_path / f"{name}-log" / "evaluations.json").read_text())["evaluations"]
    return [v.numpy() for v in model.trainable_variables], [e["return_mean"] for e in evaluations]


# Collecting ahead, the rollouts come from another process, while the update runs: still reproducible.
@pytest.mark.parametrize("extra_flags", [[], ["--collect-while-learning"]], ids=["", "collecting-ahead"])
def test_same_seed_gives_identical_weights_and_evaluations(tmp_path, extra_flags):
    first_weights, first_returns = train(tmp_path, "first", 3, extra_flags)
    second_weights, second_returns = train(tmp_path, "second", 3, extra_flags)
    other_weights, _ = train(tmp_path, "other", 4, extra_flags)
    assert all(np.array_equal(a, b) for a, b in zip(first_weights, second_weights))
    assert first_returns == second_returns
    assert not all(np.array_equal(a, b) for a, b in zip(first_weights, other_weights))
