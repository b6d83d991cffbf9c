"""Keeps the benchmark script working (quick mode); its timings are not checked here."""

from __future__ import annotations

import json
import subprocess
import sys

from conftest import REPO_ROOT


def test_bench_quick_mode_writes_json_and_markdown(tmp_path):
    subprocess.run([sys.executable, "bench/bench.py", "--quick", "--out", str(tmp_path)], cwd=REPO_ROOT,
                   check=True, capture_output=True, timeout=600)
    results = json.loads((tmp_path / "bench.json").read_text())
    assert [row["task"] for row in results["summary"]] == ["ppo", "ppo_30k", "gail_10_demos", "gail_1_demo",
                                                           "bc_10_demos", "bc_1_demo"]
    for name, runs in results["runs"].items():
        (run,) = runs
        assert run["seed"] == 0 and run["peak_rss_mb"] > 0 and run["train_seconds"] > 0
        assert 0 <= run["final_return"] <= 500 and 0 <= run["best_return"] <= 500
        assert (run["final_energy_distance"] is None) == name.startswith("ppo")
        expected_step = 4 if name.startswith("bc") else 2048
        assert run["final_step"] == expected_step
    assert results["rollout_throughput"]["env_steps_per_second"] > 0
    mujoco = results["mujoco"]
    assert mujoco["env"] == "Hopper-v5"
    assert mujoco["gymnasium_steps_per_second"] > 0 and mujoco["mj_step_steps_per_second"] > 0
    # One raw-rate sample before the first run and one after each of the five; their median is the rate.
    samples = sorted(mujoco["gymnasium_steps_per_second_samples"])
    assert len(samples) == 6 and mujoco["gymnasium_steps_per_second"] == round((samples[2] + samples[3]) / 2)
    assert mujoco["graph"]["extra_flags"] == [] and mujoco["xla"]["extra_flags"] == ["--jit-compile"]
    assert mujoco["xla_4_envs"]["extra_flags"] == ["--jit-compile", "--num-envs", "4", "--rollout-steps", "512"]
    assert mujoco["xla_8_envs"]["extra_flags"] == ["--jit-compile", "--num-envs", "8", "--rollout-steps", "256"]
    assert mujoco["xla_8_envs_ahead"]["extra_flags"] == mujoco["xla_8_envs"]["extra_flags"] + ["--collect-while-learning"]
    for variant in ("graph", "xla", "xla_4_envs", "xla_8_envs", "xla_8_envs_ahead"):
        row = mujoco[variant]
        assert row["env_steps"] == 4096 and row["steady_steps_per_second"] > 0
        raw_rate = mujoco["gymnasium_steps_per_second"]
        assert row["fraction_of_gymnasium_rate"] == round(row["steps_per_second"] / raw_rate, 2)
        assert row["steady_fraction_of_gymnasium_rate"] == round(row["steady_steps_per_second"] / raw_rate, 2)
    for key, extra_flags in (("mujoco_gail", []),
                             ("mujoco_gail_fast", ["--jit-compile", "--num-envs", "4", "--rollout-steps", "512"]),
                             ("mujoco_gail_ahead", ["--jit-compile", "--num-envs", "8", "--rollout-steps", "256",
                                                    "--collect-while-learning"])):
        gail = results[key]
        assert (gail["env"], gail["num_demos"], gail["seed"], gail["final_step"]) == ("Hopper-v5", 4, 0, 4096)
        assert gail["extra_flags"] == extra_flags
        assert gail["reference"]["expert"] > gail["reference"]["random"]
        assert (gail["env_steps_to_target"] is None) == (gail["seconds_to_target"] is None)
    assert set(results["help_seconds"]) == {path.name for path in REPO_ROOT.glob("*.py")} - {"gail_suite.py"} and all(
        0 < seconds < 60 for seconds in results["help_seconds"].values())
    table = (tmp_path / "bench.md").read_text()
    assert "| gail_1_demo | 0 |" in table and "Rollout throughput" in table and "`--help` (median of 1" in table
    assert "Hopper-v5: PPO with learning" in table and "- --jit-compile --num-envs 4 --rollout-steps 512:" in table
    assert "Hopper-v5 GAIL (4 trajectories, seed 0" in table
    assert "table's settings plus --jit-compile --num-envs 4 --rollout-steps 512)" in table
