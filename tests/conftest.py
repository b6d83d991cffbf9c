"""Shared fixtures: the repo root on sys.path and tiny, fast configurations."""

from __future__ import annotations

import os
import sys
from pathlib import Path

# Test modules import tensorflow directly, before any of our packages could set this.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

import pytest  # noqa: E402

SHIPPED_DEMOS = REPO_ROOT / "trajectory" / "CartPole-v1"
SHIPPED_EXPERT = REPO_ROOT / "trained_models" / "ppo" / "CartPole-v1"

# Small enough to run in seconds, big enough to exercise every branch of the loop.
TINY_PPO_FLAGS = ["--num-envs", "2", "--rollout-steps", "32", "--minibatch-size", "32", "--num-epochs", "2",
                  "--total-env-steps", "256", "--eval-every", "128", "--eval-episodes", "2",
                  "--checkpoint-every", "128", "--no-progress", "--hidden-sizes", "16,16"]


@pytest.fixture
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def quick_paper_local(tmp_path_factory) -> Path:
    """The paper's quick sweep (16 runs, seed 0) run once on this machine's local pool; its --out."""
    import subprocess

    out = tmp_path_factory.mktemp("paper-quick-local")
    subprocess.run([sys.executable, "experiments/paper.py", "run", "--quick", "--out", str(out)], cwd=REPO_ROOT,
                   check=True, capture_output=True, text=True)
    return out
