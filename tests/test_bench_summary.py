"""The benchmark's bookkeeping on synthetic runs with known answers (no training involved).

bench.run_training turns one run's evaluations.json into a record (steps and seconds to the
FIRST evaluation >= 475, the final evaluation, throughput), bench.summarise turns a task's
records into the table row (how many runs reached 475, medians over the runs that did, final
returns >= 475), bench.markdown prints it. Catches: the best or last evaluation taken instead
of the first one >= 475, > instead of >=, medians over runs that never got there (or counting
them as 0), and the table printing the wrong field in a column.
"""

from __future__ import annotations

import importlib.util
import textwrap
from pathlib import Path

from conftest import REPO_ROOT


def load_bench_script():
    """bench/bench.py as a module (bench/ is a folder of scripts, not a package)."""
    spec = importlib.util.spec_from_file_location("bench_script", REPO_ROOT / "bench" / "bench.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


bench = load_bench_script()


def run_record(seed: int, steps_to_475: int | None, seconds_to_475: float | None, final_return: float,
               env_steps_per_second: int | None, startup_seconds: float, peak_rss_mb: int) -> dict:
    return {"seed": seed, "step_unit": "env_steps", "steps_to_475": steps_to_475, "seconds_to_475": seconds_to_475,
            "final_return": final_return, "final_step": 70_000, "train_seconds": 10.0,
            "env_steps_per_second": env_steps_per_second, "startup_seconds": startup_seconds,
            "peak_rss_mb": peak_rss_mb, "evaluations": [final_return], "best_return": final_return,
            "final_energy_distance": None}


SYNTHETIC_RUNS = [
    run_record(0, 10_000, 5.0, 500.0, 1_000, 4.0, 100),
    run_record(1, None, None, 300.0, 3_000, 6.0, 300),    # never reached 475
    run_record(2, 20_000, 9.0, 475.0, 2_000, 5.0, 200),   # final exactly 475 counts as solved
]


def test_summarise_counts_and_takes_medians_over_the_runs_that_reached_475() -> None:
    row = bench.summarise("ppo", SYNTHETIC_RUNS)
    assert row["task"] == "ppo" and row["step_unit"] == "env_steps" and row["seeds"] == [0, 1, 2]
    assert row["reached_475"] == 2
    assert row["median_steps_to_475"] == 15_000      # median of 10,000 and 20,000 (run 1 left out)
    assert row["median_seconds_to_475"] == 7.0
    assert row["final_at_least_475"] == 2              # 500 and 475, not 300
    assert row["final_returns"] == [500.0, 300.0, 475.0]
    assert row["median_env_steps_per_second"] == 2_000
    assert row["median_startup_seconds"] == 5.0
    assert row["max_peak_rss_mb"] == 300


def test_summarise_when_no_run_reached_475() -> None:
    runs = [run_record(seed, None, None, 100.0 + seed, None, 4.0, 50) for seed in range(4)]
    row = bench.summarise("bc_1_demo", runs)
    assert row["reached_475"] == 0 and row["final_at_least_475"] == 0
    assert row["median_steps_to_475"] is None and row["median_seconds_to_475"] is None
    assert row["median_env_steps_per_second"] is None


def test_median_or_none() -> None:
    assert bench.median_or_none([40, None, 10, 30, 20]) == 25
    assert bench.median_or_none([None, None]) is None
    assert bench.median_or_none([]) is None


def test_markdown_row_shows_each_summary_field_in_its_column() -> None:
    results = {"machine": "test machine", "command": "python bench/bench.py", "make_demo_seconds": None,
               "summary": [bench.summarise("ppo", SYNTHETIC_RUNS)],
               "rollout_throughput": {"num_envs": 8, "env_steps": 4096, "env_steps_per_second": 1234},
               "help_repeats": 5, "help_seconds": {"run_ppo.py": 0.31, "run_gail.py": 0.42, "test_policy.py": 0.25}}
    lines = bench.markdown(results).splitlines()
    header = [cell.strip() for cell in lines[2].strip("|").split("|")]
    (row_line,) = [line for line in lines if line.startswith("| ppo |")]
    row = dict(zip(header, (cell.strip() for cell in row_line.strip("|").split("|"))))
    assert row == {"task": "ppo", "seeds": "0,1,2", "reached 475": "2/3", "median steps to 475": "15000.0 env steps",
                   "median s to 475": "7.0", "final >= 475": "2/3", "final returns": "500, 300, 475",
                   "best policy >= 475 (100 ep.)": "2/3", "best policy returns": "500, 300, 475",
                   "final energy distance (median)": "-",
                   "env steps/s": "2000", "start-up s": "5.0", "peak RSS MB": "300"}
    assert "1234 env steps/s over 4096 steps" in lines[-2]
    assert lines[-1] == ("`--help` (median of 5 runs per script, interpreter start included): 0.25-0.42 s "
                         "(slowest: run_gail.py).")


FAKE_TRAINING_SCRIPT = textwrap.dedent("""
    import json, sys
    from pathlib import Path
    log_dir = Path(sys.argv[sys.argv.index("--log-dir") + 1])
    log_dir.mkdir(parents=True)
    evaluations = [{"step": step, "return_mean": mean, "return_std": 0.0, "seconds": seconds}
                   for step, mean, seconds in [(5000, 200.0, 1.0), (10000, 475.0, 2.5), (15000, 470.0, 3.5),
                                               (20000, 500.0, 4.0)]]
    (log_dir / "evaluations.json").write_text(json.dumps(
        {"env": "CartPole-v1", "seed": 0, "step_unit": "env_steps", "train_seconds": 4.0,
         "evaluations": evaluations}))
""")


def test_run_training_records_the_first_evaluation_at_or_above_475(tmp_path: Path) -> None:
    """A stand-in training script writes a known evaluations.json: 200, 475, 470, 500."""
    script = tmp_path / "fake_training.py"
    script.write_text(FAKE_TRAINING_SCRIPT)
    record = bench.run_training(str(script), [], seed=3, workdir=tmp_path / "work")
    assert record["seed"] == 3 and record["step_unit"] == "env_steps"
    assert record["steps_to_475"] == 10_000 and record["seconds_to_475"] == 2.5  # first >= 475, not the best
    assert record["final_return"] == 500.0 and record["final_step"] == 20_000
    assert record["train_seconds"] == 4.0
    assert record["env_steps_per_second"] == 5_000                                # 20,000 steps / 4 s
    assert record["evaluations"] == [200.0, 475.0, 470.0, 500.0]
    assert record["peak_rss_mb"] > 0


def test_first_evaluation_at_the_normalised_target():
    """Random policy 100, demonstrations 300: 0.9 normalised is a return of 280. The first record
    at or above it counts (280 itself), not a later, higher one; none above it gives None."""
    reference = {"random": 100.0, "expert": 300.0}
    records = [{"step": 1, "return_mean": 279.9}, {"step": 2, "return_mean": 280.0},
               {"step": 3, "return_mean": 350.0}]
    assert bench.first_at_target(records, reference, 0.9)["step"] == 2
    assert bench.first_at_target(records[:1], reference, 0.9) is None
    assert bench.first_at_target(records, reference, 1.2)["step"] == 3  # 340
