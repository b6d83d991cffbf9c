"""experiments/paper.py: the normalised-score maths, and the whole experiment in --quick mode."""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from common.demonstrations import load_demonstrations, save_demonstrations
from conftest import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / "experiments"))
import paper  # noqa: E402
import sweep  # noqa: E402


def test_normalised_return_is_zero_for_random_and_one_for_the_expert():
    reference = {"expert": -100.0, "random": -500.0}
    assert paper.normalised(-500.0, reference) == 0.0
    assert paper.normalised(-100.0, reference) == 1.0
    assert paper.normalised(-200.0, reference) == pytest.approx(0.75)


def test_summary_rows_average_over_seeds_and_keep_the_worst():
    references = {"Acrobot-v1": {"expert": -100.0, "random": -500.0}}
    results = [{"env": "Acrobot-v1", "algo": "gail", "num_trajectories": 1, "seed": seed, "final_return": value}
               for seed, value in enumerate([-100.0, -200.0, -300.0])]
    (row,) = paper.summarise(results, references)
    assert row["seeds"] == 3 and row["return_mean"] == pytest.approx(-200.0)
    assert row["normalised_mean"] == pytest.approx(0.75)
    assert row["normalised_worst"] == pytest.approx(0.5)
    assert row["normalised_std"] == pytest.approx(0.204124, rel=1e-5)  # population std of (1, .75, .5)
    table = paper.markdown_table([row], references)
    assert "| Acrobot-v1 | -100.0 / -500.0 | 1 | 0.75 ± 0.20 (0.50) | -200.0 | - | - | - | - | - | - |" in table
    # With each run's final fidelity: the mean and the worst (largest) energy distance.
    for result, energy in zip(results, (0.1, 0.2, 0.6)):
        result["final_fidelity"] = {"energy_distance": energy}
    (row,) = paper.summarise(results, references)
    assert row["energy_mean"] == pytest.approx(0.3) and row["energy_worst"] == 0.6
    assert "| -200.0 | 0.300 (0.600) | - | - | - | - | - |" in paper.markdown_table([row], references)
    # The best policies' returns: normalised mean and worst, only when every seed has one.
    for result, best in zip(results, (-100.0, -100.0, None)):
        result["best_return"] = best
    assert paper.summarise(results, references)[0]["best_normalised_mean"] is None
    results[2]["best_return"] = -400.0
    (row,) = paper.summarise(results, references)
    assert row["best_normalised_mean"] == pytest.approx(0.75) and row["best_normalised_worst"] == pytest.approx(0.25)
    assert "| 0.300 (0.600) | 0.75 (0.25) | - | - | - | - |" in paper.markdown_table([row], references)


def test_a_cell_with_fewer_seeds_than_the_others_says_so_in_the_table():
    references = {"CartPole-v1": {"expert": 500.0, "random": 23.4}}
    results = [{"env": "CartPole-v1", "algo": algo, "num_trajectories": num, "seed": seed, "final_return": 500.0}
               for algo in ("gail", "bc") for num, seeds in ((1, 3), (4, 1)) for seed in range(seeds)]
    table = paper.markdown_table(paper.summarise(results, references), references)
    assert "| CartPole-v1 | 500.0 / 23.4 | 1 | 1.00" in table
    assert "| CartPole-v1 | 500.0 / 23.4 | 4 (1 of 3 seeds) | 1.00" in table


def test_kept_best_policy_reads_the_evaluation_that_kept_it(tmp_path):
    assert paper.kept_best_policy(tmp_path) == {"best_step": None, "best_return": None, "best_fidelity": None}
    (tmp_path / "model" / "best").mkdir(parents=True)
    (tmp_path / "log").mkdir()
    (tmp_path / "model" / "best" / "best.json").write_text(json.dumps({"step": 2048, "score": -0.1}))
    (tmp_path / "log" / "evaluations.json").write_text(json.dumps({"evaluations": [
        {"step": 1024, "return_mean": 10.0, "fidelity": {"energy_distance": 0.5}},
        {"step": 2048, "return_mean": 30.0, "fidelity": {"energy_distance": 0.1}},
        {"step": 3072, "return_mean": 50.0, "fidelity": {"energy_distance": 0.2}}]}))
    assert paper.kept_best_policy(tmp_path) == {"best_step": 2048, "best_return": 30.0,
                                                "best_fidelity": {"energy_distance": 0.1}}


def test_every_env_of_every_suite_has_its_expert_and_demonstrations_shipped():
    for suite in paper.SUITES.values():
        for env in suite.envs:
            assert (REPO_ROOT / "trained_models" / "ppo" / env / "checkpoint").is_file()
            metadata = json.loads((REPO_ROOT / "trajectory" / env / "metadata.json").read_text())
            assert metadata["env_id"] == env and metadata["num_episodes"] == suite.demos_shipped
            assert suite.demos_shipped >= max(suite.num_trajectories), env


def test_unknown_env_is_a_one_line_usage_error(capsys):
    with pytest.raises(SystemExit) as stop:
        paper.main(["run", "--quick", "--envs", "CartPole-v1,Nope-v0"])
    assert stop.value.code == 2
    assert capsys.readouterr().err.strip().startswith("error: --envs CartPole-v1,Nope-v0")


@pytest.mark.parametrize("trajectories", ["4", "1,x", ""])
def test_trajectories_not_in_the_suite_are_a_one_line_usage_error(trajectories, capsys):
    with pytest.raises(SystemExit) as stop:
        paper.main(["run", "--quick", "--trajectories", trajectories])
    assert stop.value.code == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith(f"error: --trajectories {trajectories}: expected") and "\n" not in error


def test_gifs_before_the_runs_exist_is_a_one_line_usage_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        paper.main(["gifs", "--envs", "CartPole-v1", "--out", str(tmp_path)])
    assert stop.value.code == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith(f"error: {tmp_path}/runs/CartPole-v1/gail/n10_seed0/model, ") and "\n" not in error
    assert not (tmp_path / "gifs").exists()


def test_side_by_side_holds_a_short_clips_last_frame_and_keeps_every_other_pixel():
    expert = np.arange(3 * 2 * 4 * 3, dtype=np.uint8).reshape(3, 2, 4, 3)  # 3 frames of 2 x 4 pixels
    fallen = np.full((1, 2, 2, 3), 200, np.uint8)  # one frame: an episode that ended at once
    frames = paper.side_by_side([expert, fallen], num_frames=2, stride=2)
    assert frames.shape == (2, 1, 3, 3) and frames.dtype == np.uint8
    np.testing.assert_array_equal(frames[1, 0, :2], expert[1, 0, ::2])
    np.testing.assert_array_equal(frames[:, 0, 2], np.full((2, 3), 200))


def test_the_side_by_side_gif_keeps_real_time_with_fewer_frames(tmp_path, monkeypatch):
    """Frames of 20-30 ms (a 125 fps env, every 3rd step) are merged in threes, each shown for the
    three it stands for; the GIF ends after SIDE_BY_SIDE_SECONDS; the shorter episode holds its end."""
    import imageio.v3 as iio
    from PIL import Image, ImageSequence

    monkeypatch.setattr(paper, "SIDE_BY_SIDE_SECONDS", 0.2)
    durations = [20, 30, 20, 30, 20] * 4  # 500 ms in all
    gifs = []
    for name, num_frames in (("expert", 20), ("gail", 4)):
        frames = [np.full((4, 4, 3), 10 * index, np.uint8) for index in range(num_frames)]
        gifs.append(tmp_path / f"{name}.gif")
        gifs[-1].write_bytes(iio.imwrite("<bytes>", frames, extension=".gif", duration=durations[:num_frames], loop=0))
    paper.write_side_by_side(gifs, tmp_path / "side.gif")
    with Image.open(tmp_path / "side.gif") as image:
        shown = [frame.info["duration"] for frame in ImageSequence.Iterator(image)]
        assert image.size == (4, 2)
    # 20, 30, 20 | 30, 20, 20 | 30, 20, 30 ms: frames 0-8, the last one ending at 220 >= 200 ms.
    assert shown == [70, 70, 80]
    side = iio.imread(tmp_path / "side.gif")
    assert side[2, 0, 0, 0] == 60 and side[2, 0, 2, 0] == 30  # the expert's frame 6; GAIL's last, frame 3


def test_quick_experiment_writes_table_figure_and_reuses_finished_runs(quick_paper_local):
    out = quick_paper_local  # the quick sweep, run once for this test and the Ray one
    command = [sys.executable, "experiments/paper.py", "run", "--quick", "--out", str(out)]
    summary = json.loads((out / "results.json").read_text())
    # 4 envs x 2 trajectory counts x 2 algorithms, seed 0
    assert len(summary["runs"]) == 16 and summary["reused_runs"] == 0
    assert {row["env"] for row in summary["rows"]} == set(paper.SUITES["classic"].envs)
    for env, reference in summary["references"].items():
        assert reference["expert"] > reference["random"], env
    table = (out / "results.md").read_text()
    assert table.count("\n") == 2 + 4 * 2  # header, rule, one line per env and trajectory count
    assert (out / "paper.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    for run in summary["runs"]:
        assert run["final_fidelity"]["classifier_accuracy"] >= 0.0  # every GAIL and BC run measures fidelity
        assert run["best_return"] is not None and run["best_fidelity"]["energy_distance"] >= 0.0

    again = subprocess.run(command, cwd=REPO_ROOT, check=True, capture_output=True, text=True)
    assert json.loads((out / "results.json").read_text())["reused_runs"] == 16
    assert "16 runs (16 reused)" in again.stdout


def test_rerunning_some_envs_keeps_the_other_envs_in_the_table(quick_paper_local, tmp_path):
    out = tmp_path / "paper"
    shutil.copytree(quick_paper_local, out)
    # A CartPole run that is no longer valid (another script made it) is left out, not rerun.
    stale = paper.RunSpec("CartPole-v1", "bc", 1, 0).directory(out) / "result.json"
    stale.write_text(json.dumps({**json.loads(stale.read_text()), "command": ["run_ppo.py"]}))
    again = subprocess.run([sys.executable, "experiments/paper.py", "run", "--quick", "--envs", "Acrobot-v1",
                            "--out", str(out)], cwd=REPO_ROOT, check=True, capture_output=True, text=True)
    assert "4 runs (4 reused)" in again.stdout
    summary = json.loads((out / "results.json").read_text())
    assert len(summary["runs"]) == 15 and set(summary["references"]) == set(paper.SUITES["classic"].envs)
    assert (out / "results.md").read_text().count("\n") == 2 + 4 * 2
    assert json.loads(stale.read_text())["command"] == ["run_ppo.py"]  # not run again
    # --trajectories picks cells the same way: Acrobot with 10 trajectories runs, the rest is kept.
    again = subprocess.run([sys.executable, "experiments/paper.py", "run", "--quick", "--envs", "Acrobot-v1",
                            "--trajectories", "10", "--out", str(out)], cwd=REPO_ROOT, check=True,
                           capture_output=True, text=True)
    assert "2 runs (2 reused)" in again.stdout
    assert len(json.loads((out / "results.json").read_text())["runs"]) == 15


def test_quick_reward_variants_table_has_every_reward_with_and_without_absorbing(tmp_path, capsys):
    paper.main(["variants", "--quick", "--envs", "CartPole-v1", "--out", str(tmp_path)])
    table = (tmp_path / "variants-CartPole-v1.md").read_text()
    for reward in ("log_d", "neg_log_1m_d", "logit"):
        assert f"| `--reward {reward}` |" in table
        assert f"| `--reward {reward} --no-absorbing` |" in table
    runs = json.loads((tmp_path / "variants-CartPole-v1.json").read_text())["runs"]
    assert len(runs) == 6 and all("--no-absorbing" in run["command"] for run in runs
                                  if run["label"].endswith("--no-absorbing"))


def test_variant_flags_are_spelt_one_way_whichever_way_they_were_typed():
    assert paper.split_flags("--disc-epochs=2 --reward 'log_d'") == ("--disc-epochs", "2", "--reward", "log_d")
    assert paper.split_flags("--no-absorbing") == ("--no-absorbing",) and paper.split_flags("") == ()


def test_a_reused_result_gains_its_best_policy_score_without_running_again(tmp_path):
    spec = paper.RunSpec("CartPole-v1", "gail", 1, 3)
    run_dir, command = spec.directory(tmp_path), spec.command(tmp_path, quick=False)
    (run_dir / "model" / "best").mkdir(parents=True)
    (run_dir / "log").mkdir()
    (run_dir / "model" / "best" / "best.json").write_text(json.dumps({"step": 2048}))
    (run_dir / "log" / "evaluations.json").write_text(json.dumps({"evaluations": [
        {"step": 2048, "return_mean": 480.0, "fidelity": None}, {"step": 4096, "return_mean": 200.0}]}))
    (run_dir / "result.json").write_text(json.dumps({
        "command": command, "final_return": 200.0, "final_fidelity": {"energy_distance": 1.0},
        "config": paper.resolved_config(command), "demos_sha256": paper.demos_digest(command)}))

    class NoRuns:
        def run(self, *args):
            raise AssertionError("a finished run was run again")

    result = paper.execute(spec, tmp_path, quick=False, fresh=False, executor=NoRuns())
    assert result["reused"] and result["best_return"] == 480.0 and result["final_return"] == 200.0
    saved = json.loads((run_dir / "result.json").read_text())
    assert saved["best_step"] == 2048 and saved["best_return"] == 480.0 and "reused" not in saved


def test_a_finished_run_is_reused_only_with_the_config_its_command_gives_today(tmp_path):
    """A changed default does not change the command, so the config the run really ran with
    (its result.json's, or the config.json beside its model) must match today's resolution."""
    command = ["run_gail.py", "--env", "CartPole-v1", "--seed", "3", "--save-dir", str(tmp_path / "model"),
               "--log-dir", str(tmp_path / "log")]
    today = paper.resolved_config(command)
    assert today["seed"] == 3 and today["disc_epochs"] == 10 and today["total_env_steps"] == 300_000
    result = {"command": command, "final_fidelity": {"energy_distance": 0.1}}

    def write(**fields):
        (tmp_path / "result.json").write_text(json.dumps({**result, **fields}))

    write(config=today)
    assert paper.reusable_result(tmp_path, command, fresh=False, required=("final_fidelity",))["reused"]
    assert paper.reusable_result(tmp_path, command, fresh=True) is None
    assert paper.reusable_result(tmp_path, command + ["--seed", "4"], fresh=False) is None  # another run
    # The same run asked for with its defaults spelt out, or by another script, is not another run / is.
    assert paper.reusable_result(tmp_path, command + ["--disc-epochs", "10"], fresh=False)["reused"]
    assert paper.reusable_result(tmp_path, ["run_ppo.py", *command[1:]], fresh=False) is None
    write(config={**today, "disc_epochs": 2})  # run before the default changed
    assert paper.reusable_result(tmp_path, command, fresh=False) is None
    write()  # an older result.json: the model's config.json says what it ran with
    assert paper.reusable_result(tmp_path, command, fresh=False) is None
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "config.json").write_text(json.dumps({**today, "algo": "gail"}))
    assert paper.reusable_result(tmp_path, command, fresh=False)["config"]["algo"] == "gail"


def test_a_run_made_before_a_flag_existed_is_reused_only_if_the_flag_is_at_its_default(tmp_path):
    """A flag added since (here --demo-subsample) is missing from the run's config: at its default
    it changes nothing the run did; given another value it does."""
    command = ["run_gail.py", "--env", "CartPole-v1", "--save-dir", str(tmp_path / "model"),
               "--log-dir", str(tmp_path / "log")]
    before_the_flag = {name: value for name, value in paper.resolved_config(command).items()
                       if name != "demo_subsample"}
    (tmp_path / "result.json").write_text(json.dumps({"command": command, "config": before_the_flag}))
    assert paper.reusable_result(tmp_path, command, fresh=False)["reused"]
    subsampled = command + ["--demo-subsample", "20"]
    (tmp_path / "result.json").write_text(json.dumps({"command": subsampled, "config": before_the_flag}))
    assert paper.reusable_result(tmp_path, subsampled, fresh=False) is None


def test_a_finished_run_recorded_at_another_location_is_reused(tmp_path):
    """A results tree from a clone at another path (or a git worktree) records other --save-dir and
    --log-dir values; they say where the files went, not what was computed."""
    command = ["run_gail.py", "--env", "CartPole-v1", "--seed", "3", "--save-dir", str(tmp_path / "model"),
               "--log-dir", str(tmp_path / "log")]
    elsewhere = [part.replace(str(tmp_path), "/elsewhere/run") for part in command]
    config = {**paper.resolved_config(command), "save_dir": "/elsewhere/run/model", "log_dir": "/elsewhere/run/log"}
    (tmp_path / "result.json").write_text(json.dumps({"command": elsewhere, "config": config}))
    assert paper.reusable_result(tmp_path, command, fresh=False)["reused"]
    (tmp_path / "result.json").write_text(json.dumps({"command": elsewhere[:3] + ["Acrobot-v1"] + elsewhere[4:],
                                                      "config": {**config, "env": "Acrobot-v1"}}))
    assert paper.reusable_result(tmp_path, command, fresh=False) is None  # but not another run


def test_a_finished_run_is_not_reused_once_its_demonstrations_were_replaced(tmp_path):
    """Retraining an expert rewrites its demonstrations under the same --demo-dir: the runs that
    learnt from the old set are other runs, whatever their flags."""
    demo_dir = tmp_path / "demos"
    demos = load_demonstrations(paper.REPO_ROOT / "trajectory" / "CartPole-v1")
    save_demonstrations(demos, demo_dir)
    command = ["run_gail.py", "--env", "CartPole-v1", "--demo-dir", str(demo_dir), "--save-dir",
               str(tmp_path / "model"), "--log-dir", str(tmp_path / "log")]
    result = {"command": command, "config": paper.resolved_config(command)}
    (tmp_path / "result.json").write_text(json.dumps({**result, "demos_sha256": paper.demos_digest(command)}))
    assert paper.reusable_result(tmp_path, command, fresh=False)["reused"]
    save_demonstrations(demos.episodes(1, demos.num_episodes), demo_dir, overwrite=True)  # resampled
    assert paper.reusable_result(tmp_path, command, fresh=False) is None
    (tmp_path / "result.json").write_text(json.dumps(result))  # a record that does not say
    assert paper.reusable_result(tmp_path, command, fresh=False) is None


def test_a_variant_run_whose_flags_became_the_setting_is_reused_as_the_papers_run(tmp_path):
    """A variant study's run copied into the paper's run directory once its flags became the env's
    setting computed the same thing: it is reused, and recorded as the paper's run."""
    spec = paper.RunSpec("CartPole-v1", "gail", 1, 0)
    command = spec.command(tmp_path, quick=True)
    variant = paper.RunSpec("CartPole-v1", "gail", 1, 0, ("--scale-reward",))
    spec.directory(tmp_path).mkdir(parents=True)
    (spec.directory(tmp_path) / "result.json").write_text(json.dumps({
        **dataclasses.asdict(variant), "label": variant.label, "command": command,
        "config": paper.resolved_config(command), "demos_sha256": paper.demos_digest(command), "final_return": 500.0,
        "final_fidelity": {"energy_distance": 0.3}, "best_return": 500.0}))
    result = paper.finished_result(spec, tmp_path, quick=True)
    assert result["reused"] and result["final_return"] == 500.0
    assert (tuple(result["variant"]), result["label"]) == ((), "gail")


class RecordingExecutor:
    """Runs nothing: records each run's commands and writes what a finished training run leaves."""

    continues_interrupted_runs = True
    workers = 1

    def __init__(self) -> None:
        self.calls: list[tuple[list[str], bool]] = []

    def run(self, commands, run_dir, keep_run_dir=False):
        ((command, _),) = commands
        self.calls.append((command, keep_run_dir))
        (run_dir / "log").mkdir(parents=True, exist_ok=True)
        (run_dir / "log" / "evaluations.json").write_text(json.dumps({"train_seconds": 1234.5, "evaluations": [
            {"step": 2048, "seconds": 1.0, "return_mean": 20.0, "return_std": 1.0, "fidelity": {"energy_distance": 0.5}}]}))
        return 7.0


def interrupted_attempt_at(spec, out, **changed):
    """What a stopped attempt at ``spec`` leaves: a checkpoint and the config it ran with."""
    command = spec.command(out, quick=True)
    model_dir = spec.directory(out) / "model"
    model_dir.mkdir(parents=True)
    (model_dir / "checkpoint").write_text('model_checkpoint_path: "ckpt-1"\n')
    (model_dir / "config.json").write_text(json.dumps({**paper.resolved_config(command), **changed}))
    return command


def test_an_interrupted_run_is_continued_with_resume_not_started_again(tmp_path):
    spec = paper.RunSpec("CartPole-v1", "gail", 1, 0)
    command = interrupted_attempt_at(spec, tmp_path, resume=True)
    assert paper.interrupted_attempt(spec.directory(tmp_path), command)
    executor = RecordingExecutor()
    result = paper.execute(spec, tmp_path, quick=True, fresh=False, executor=executor)
    assert executor.calls == [([*command, "--resume"], True)]
    assert result["resumed"] and result["wall_seconds"] == 1234.5  # the run's own clock, across attempts
    assert result["command"] == command
    # The resumed run's result is reused like any other (its config says resume: true).
    assert paper.finished_result(spec, tmp_path, quick=True)["reused"]


@pytest.mark.parametrize("why", ["another config", "a result", "no checkpoint", "--fresh", "Ray"])
def test_an_attempt_is_started_again_when_it_cannot_be_continued(tmp_path, why):
    spec = paper.RunSpec("CartPole-v1", "gail", 1, 0)
    command = interrupted_attempt_at(spec, tmp_path, **({"disc_epochs": 99} if why == "another config" else {}))
    run_dir = spec.directory(tmp_path)
    if why == "a result":  # a finished run made with flags that are not today's
        (run_dir / "result.json").write_text(json.dumps({"command": ["run_ppo.py"]}))
    if why == "no checkpoint":
        (run_dir / "model" / "checkpoint").unlink()
    executor = RecordingExecutor()
    executor.continues_interrupted_runs = why != "Ray"
    result = paper.execute(spec, tmp_path, quick=True, fresh=why == "--fresh", executor=executor)
    assert executor.calls == [(command, False)]
    assert not result["resumed"] and result["wall_seconds"] == 7.0


def test_a_resumed_attempt_stopped_again_keeps_its_checkpoint(tmp_path):
    spec = paper.RunSpec("CartPole-v1", "gail", 1, 0)
    interrupted_attempt_at(spec, tmp_path)
    executor = RecordingExecutor()

    def stopped_again(commands, run_dir, keep_run_dir=False):
        executor.calls.append((commands[0][0], keep_run_dir))
        raise sweep.RunFailed("run_gail.py ... exited with 130", 130)

    executor.run = stopped_again
    with pytest.raises(sweep.RunFailed):
        paper.execute(spec, tmp_path, quick=True, fresh=False, executor=executor)
    assert len(executor.calls) == 1 and executor.calls[0][1]  # not started again from scratch
    assert (spec.directory(tmp_path) / "model" / "checkpoint").is_file()
    assert not (spec.directory(tmp_path) / "result.json").exists()


def test_an_attempt_that_cannot_resume_is_run_again_from_scratch(tmp_path):
    """A run that finished training but not its result.json: --resume refuses it (exit 2), so
    the run starts again and gets its result."""
    spec = paper.RunSpec("CartPole-v1", "bc", 1, 0)
    command = spec.command(tmp_path, quick=True)
    subprocess.run([sys.executable, *command], cwd=REPO_ROOT, check=True, capture_output=True)
    assert paper.interrupted_attempt(spec.directory(tmp_path), command)
    calls = []

    class Local(sweep.LocalExecutor):
        def run(self, commands, run_dir, keep_run_dir=False):
            calls.append((commands[0][0][-1], keep_run_dir))
            return super().run(commands, run_dir, keep_run_dir)

    result = paper.execute(spec, tmp_path, quick=True, fresh=False, executor=Local(1))
    assert calls == [("--resume", True), (command[-1], False)]
    assert not result["resumed"] and result["final_return"] > 0


def test_a_failed_run_is_what_run_all_raises_not_the_runs_it_skipped():
    """Several workers: the runs queued behind a failure are skipped, and the failure itself (not
    a skipped run) is raised, with every run that had started before it finished."""
    import threading

    first_failed = threading.Event()

    def execute(item):
        if item == 0:
            first_failed.set()
            raise sweep.RunFailed("run_gail.py ... exited with 1", 1)
        first_failed.wait(10)
        return {"item": item}

    with pytest.raises(sweep.RunFailed, match="exited with 1"):
        sweep.run_all(execute, range(20), workers=3, report=lambda *_: None)


@pytest.mark.parametrize("stop", ["a failed run", "Ctrl-C"])
def test_run_all_starts_no_further_run_after_a_failure_or_ctrl_c(stop):
    """Ctrl-C on `make paper-mujoco` reaches the runs under way (they save their checkpoints) and
    the runner: what is queued must not start then."""
    import os
    import signal
    import threading

    started = []
    interrupted = threading.Event()

    def on_sigint(signum, frame):  # Python's own handler, plus a note that the main thread got it
        interrupted.set()
        raise KeyboardInterrupt

    def execute(item):
        started.append(item)
        if item == 0:
            if stop == "Ctrl-C":
                threading.Event().wait(0.2)  # every item queued, the main thread waiting for results
                os.kill(os.getpid(), signal.SIGINT)  # Python raises it in the main thread
                # The run under way ends (exit 130) only after the runner has the interrupt, however
                # loaded the machine is (a fixed wait was a race).
                assert interrupted.wait(30)
                threading.Event().wait(0.1)
            raise sweep.RunFailed("run_gail.py ... exited with 130", 130)
        return {"item": item}

    previous_handler = signal.signal(signal.SIGINT, on_sigint)
    try:
        with pytest.raises(KeyboardInterrupt if stop == "Ctrl-C" else sweep.RunFailed):
            sweep.run_all(execute, range(5), workers=1, report=lambda *_: None)
    finally:
        signal.signal(signal.SIGINT, previous_handler)
    assert started == [0]
