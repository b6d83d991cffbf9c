"""export_policy.py: a SavedModel that a process without this project's code loads with
tf.saved_model.load and that acts exactly as the project's own policy."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import export_policy
from common.checkpoints import load_actor_critic
from common.envs import probe_env_spec
from common.export import export_policy as export
from conftest import SHIPPED_EXPERT
from network_models.factory import build_actor_critic

# Loads the SavedModel with TensorFlow alone and writes its actions for the observations in argv[2].
LOADER = """
import sys, json
import numpy as np
import tensorflow as tf
policy = tf.saved_model.load(sys.argv[1])
observations = tf.constant(np.load(sys.argv[2]), tf.float32)
deterministic = policy.action(observations)["action"].numpy()
sampled = policy.sample_action(observations, tf.constant([1, 2], tf.int32))["action"].numpy()
again = policy.sample_action(observations, tf.constant([1, 2], tf.int32))["action"].numpy()
serving = policy.signatures["action"](observation=observations)["action"].numpy()
info = {key: value.numpy().decode() for key, value in policy.policy_info().items()}
np.savez(sys.argv[3], deterministic=deterministic, sampled=sampled, again=again, serving=serving)
print(json.dumps({"modules": sorted(name for name in sys.modules if name.split(".")[0] in
                  ("common", "algo", "network_models")), **info}))
"""


def load_elsewhere(model_dir: Path, observations: np.ndarray, tmp_path: Path) -> tuple[dict, dict]:
    """Run LOADER in a fresh interpreter, from another directory, with no PYTHONPATH."""
    workdir = tmp_path / "elsewhere"
    workdir.mkdir()
    np.save(workdir / "observations.npy", observations)
    (workdir / "load.py").write_text(LOADER)
    environment = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    environment["TF_CPP_MIN_LOG_LEVEL"] = "3"
    result = subprocess.run([sys.executable, "load.py", str(model_dir), "observations.npy", "actions.npz"],
                            cwd=workdir, env=environment, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1]), dict(np.load(workdir / "actions.npz"))


def test_the_exported_expert_acts_like_the_project_on_1000_observations(tmp_path, capsys):
    out_dir = tmp_path / "exported"
    export_policy.main(["--model-dir", str(SHIPPED_EXPERT), "--checkpoint", "last", "--out-dir", str(out_dir)])
    assert "signatures action, sample_action" in capsys.readouterr().out
    observations = np.random.default_rng(0).uniform(-2.0, 2.0, (1000, 4)).astype(np.float32)
    info, actions = load_elsewhere(out_dir, observations, tmp_path)
    model, _ = load_actor_critic(SHIPPED_EXPERT)
    actor = model.actor_snapshot()
    np.testing.assert_array_equal(actions["deterministic"], actor.act(observations, rng=None))
    np.testing.assert_array_equal(actions["serving"], actions["deterministic"])
    assert info == {"modules": [], "env_id": "CartPole-v1", "action_space": "Discrete(2)"}
    # Sampling: reproducible for a seed, within the space, and not always the mode.
    np.testing.assert_array_equal(actions["sampled"], actions["again"])
    assert set(np.unique(actions["sampled"])) <= {0, 1}


def test_a_continuous_policy_exports_with_its_normaliser_and_clipping(tmp_path):
    spec = probe_env_spec("Pendulum-v1")
    model = build_actor_critic(spec, (16,), seed=3, normalize_observations=True)
    rng = np.random.default_rng(1)
    model.normalizer.update(rng.normal([0.5, -0.5, 3.0], [0.2, 0.3, 2.0], (500, 3)).astype(np.float32))
    for variable in model.policy_net.trainable_variables:  # outputs beyond the bounds, to see the clip
        variable.assign(variable * 300.0)
    export(model, spec, tmp_path / "pendulum")
    observations = rng.normal(0.0, 2.0, (1000, 3)).astype(np.float32)
    info, actions = load_elsewhere(tmp_path / "pendulum", observations, tmp_path)
    actor = model.actor_snapshot()
    expected = actor.to_env(actor.act(observations, rng=None))
    assert np.abs(expected).max() == 2.0  # some means were clipped
    np.testing.assert_allclose(actions["deterministic"], expected, atol=1e-5)
    assert actions["sampled"].shape == (1000, 1) and np.abs(actions["sampled"]).max() <= 2.0
    assert not np.allclose(actions["sampled"], actions["deterministic"])
    assert info["env_id"] == "Pendulum-v1" and info["action_space"].startswith("Box of shape (1,)")


def test_an_existing_export_is_replaced_only_with_force(tmp_path, capsys):
    out_dir = tmp_path / "exported"
    argv = ["--model-dir", str(SHIPPED_EXPERT), "--out-dir", str(out_dir)]
    export_policy.main(argv)
    before = sorted(str(path.relative_to(out_dir)) for path in out_dir.rglob("*"))
    with pytest.raises(SystemExit) as exit_info:
        export_policy.main(argv)
    assert exit_info.value.code == 2
    assert "already holds files; pass --force" in capsys.readouterr().err
    export_policy.main(argv + ["--force"])
    assert sorted(str(path.relative_to(out_dir)) for path in out_dir.rglob("*")) == before
    assert sorted(path.name for path in tmp_path.iterdir()) == ["exported"]  # no staging left behind
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(SystemExit):
        export_policy.main(["--model-dir", str(SHIPPED_EXPERT), "--out-dir", str(tmp_path / "other"), "--force"])
    assert "not a SavedModel" in capsys.readouterr().err
    assert (tmp_path / "other" / "notes.txt").read_text() == "mine"
