"""The style benchmark (experiments/styles.py, style_experts.py): the experts really have their
style, the pass criteria and the summary are right, and a quick run goes end to end."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from conftest import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / "experiments"))
import styles  # noqa: E402
from style_experts import STYLES, record_style  # noqa: E402

from common.demonstrations import load_demonstrations  # noqa: E402

TARGETS = {"cart-right": 1.0, "cart-left": -1.0, "pendulum-tilt-pos": 0.2, "pendulum-tilt-neg": -0.2}


def test_at_least_six_styles_on_two_envs():
    assert len(STYLES) >= 6 and len({style.env for style in STYLES.values()}) >= 2


@pytest.mark.parametrize("name", list(STYLES))
def test_shipped_demonstrations_show_the_style_and_match_the_controller(name):
    style = STYLES[name]
    demos = load_demonstrations(REPO_ROOT / styles.DEMO_ROOT / name)
    assert demos.num_episodes == styles.NUM_EPISODES_RECORDED and demos.env_id == style.env
    # Re-recording gives the same set: the controllers and their noise are seeded. Equal to float
    # round-off, not bit for bit: numpy's sin and cos take other code paths on CPUs with AVX-512
    # (seen: Pendulum's observations 5e-7 apart from those recorded on another machine).
    again = record_style(style, 2, seed=0)
    np.testing.assert_allclose(again.observations, demos.episodes(0, 2).observations, rtol=1e-5, atol=1e-5)
    statistics = [style.statistic(episode)
                  for episode in np.split(demos.observations, np.cumsum(demos.episode_lengths)[:-1])]
    if name in TARGETS:
        np.testing.assert_allclose(statistics, TARGETS[name], atol=0.1)
    elif name == "cart-rock":
        assert min(statistics) > 0.4  # a cart held still has std ~0
    elif name == "pendulum-spin":
        assert min(statistics) > 6.0  # rad/s, counter-clockwise on every episode
    if style.survives:
        assert (demos.episode_lengths == 500).all()


def test_the_true_reward_alone_does_not_give_the_styles():
    """The shipped PPO experts (trained on the true reward) fail every style's criterion."""
    from common.checkpoints import load_actor_critic
    from common.envs import make_vec_env
    from common.rollout import EVAL_SEED_OFFSET, run_episodes

    for name, style in STYLES.items():
        model, _ = load_actor_critic(REPO_ROOT / "trained_models" / "ppo" / style.env)
        envs = make_vec_env(style.env, 5)
        played = run_episodes(envs, model.actor_snapshot(), 5, EVAL_SEED_OFFSET, record=True)
        envs.close()
        statistic = styles.mean_statistic([style.statistic(episode) for episode in played.observations])
        reference = styles.expert_reference(style)
        assert not styles.passes(style, statistic, float(played.lengths.mean()), reference), name


def test_pass_criterion():
    style = STYLES["cart-right"]
    reference = {"statistic": 1.0, "length": 500.0}
    assert styles.passes(style, 1.2, 500.0, reference)
    assert not styles.passes(style, 1.3, 500.0, reference)      # beyond the 0.25 tolerance
    assert not styles.passes(style, 1.0, 470.0, reference)      # falls before 95% of the length
    assert not styles.passes(style, float("nan"), 500.0, reference)
    spin = STYLES["pendulum-spin"]                              # no survival requirement
    assert styles.passes(spin, 6.0, 10.0, {"statistic": 7.2, "length": 200.0})


def fake_run(style: str, algo: str, seed: int, statistic: float, energy: float, passed: bool) -> dict:
    return {"style": style, "algo": algo, "num_demos": 1, "seed": seed, "statistic": statistic, "passed": passed,
            "length": 500.0, "fidelity": {"energy_distance": energy, "classifier_accuracy": 0.6},
            "reference": {"statistic": 1.0, "length": 500.0}}


def test_summary_counts_passes_and_keeps_the_worst_seed():
    results = [fake_run("cart-right", "gail", 0, 1.1, 0.2, True), fake_run("cart-right", "gail", 1, 0.4, 0.6, False),
               fake_run("cart-right", "gail", 2, float("nan"), 1.0, False),
               fake_run("cart-right", "bc", 0, 0.9, 0.3, True)]
    (row,) = styles.summarise(results)
    gail = row["gail"]
    assert (gail["passed"], gail["seeds"]) == (1, 3)
    assert gail["statistic_mean"] == pytest.approx(0.75)   # NaN seed left out of the mean...
    assert np.isnan(gail["statistic_worst"])                # ...but it is the worst seed
    assert gail["energy_mean"] == pytest.approx(0.6) and gail["energy_worst"] == 1.0
    table = styles.markdown_table([row])
    assert "| cart-right | CartPole-v1 |" in table and "| 1 | 1/3 | 1/1 |" in table


def test_unknown_style_is_a_one_line_usage_error(capsys):
    with pytest.raises(SystemExit) as stop:
        styles.main(["run", "--quick", "--styles", "cart-right,nope"])
    assert stop.value.code == 2
    assert capsys.readouterr().err.strip().startswith("error: --styles cart-right,nope")


def test_quick_benchmark_end_to_end_and_reuse(tmp_path):
    # One style keeps the suite fast; its continuous actions take the longer path (the discrete
    # styles' runs are the same scripts, checked by the unit tests above).
    command = [sys.executable, "experiments/styles.py", "run", "--quick", "--styles", "pendulum-spin",
               "--out", str(tmp_path)]
    subprocess.run(command, cwd=REPO_ROOT, check=True, capture_output=True)
    summary = json.loads((tmp_path / "results.json").read_text())
    assert len(summary["runs"]) == 4 and summary["reused_runs"] == 0  # 1 and 10 demos x GAIL, BC
    for run in summary["runs"]:
        assert run["policy"].endswith("/model/best")  # the best policy is what gets scored
        assert set(run["fidelity"]) == {"state_wasserstein", "energy_distance", "action_agreement",
                                        "classifier_accuracy"}
    assert (tmp_path / "styles.md").read_text().count("\n") == 2 + 2
    assert (tmp_path / "styles.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    again = subprocess.run(command, cwd=REPO_ROOT, check=True, capture_output=True, text=True)
    assert json.loads((tmp_path / "results.json").read_text())["reused_runs"] == 4
    assert "4 runs (4 reused)" in again.stdout

    # report: the same table from the finished runs alone, e.g. while a benchmark is stopped.
    table = (tmp_path / "styles.md").read_text()
    (tmp_path / "styles.md").unlink()
    styles.main(["report", "--out", str(tmp_path)])
    assert (tmp_path / "styles.md").read_text() == table


def test_report_without_finished_runs_is_a_one_line_usage_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        styles.main(["report", "--out", str(tmp_path)])
    assert stop.value.code == 2 and "no finished runs" in capsys.readouterr().err
