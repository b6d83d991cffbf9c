"""Benchmark: PPO expert and GAIL (10 and 1 demonstrations) on CartPole-v1, N seeds each.

    python bench/bench.py              # 5 seeds, default budgets: the README's table
    python bench/bench.py --quick      # 1 seed, tiny budgets: keeps this script working in CI

Each training run is a fresh process with its default hyperparameters plus an evaluation
(10 deterministic episodes) every 5,000 env steps. Recorded per run: env steps and seconds to
the first evaluation >= 475, the final evaluation, env steps per second, start-up seconds
(process wall time minus the training loop: interpreter, TensorFlow import, model building),
and peak RSS. Training seconds count from the first env step and include graph compilation.
Also measured: rollout throughput with the policy in the loop, PPO's env steps per second with
learning on Hopper-v5 beside one Hopper env's raw rate in the same run (as the experts train,
with XLA, with XLA and 4 or 8 envs, and with XLA, 8 envs and the rollouts collected while PPO
learns), the env steps and seconds one GAIL run of the MuJoCo table (Hopper-v5, 4 trajectories,
seed 0) takes to first reach 0.9 normalised (with the table's settings, in the fast setting, and
collecting ahead), each script's `--help` wall time, and `make demo` wall time.
Writes <out>/bench.json and <out>/bench.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

SOLVED_RETURN = 475.0
RL_FLAGS = ["--eval-every", "5000"]
RL_QUICK_FLAGS = ["--total-env-steps", "2048", "--eval-every", "1024", "--eval-episodes", "2"]
BC_FLAGS = ["--eval-every", "20"]
BC_QUICK_FLAGS = ["--epochs", "4", "--eval-every", "2", "--eval-episodes", "2"]
BEST_POLICY_EPISODES = 100
TASKS = {  # name -> (script, flags, flags added by --quick)
    "ppo": ("run_ppo.py", RL_FLAGS, RL_QUICK_FLAGS),
    # The shortest budget the expert must cope with: its best policy must still score >= 475.
    "ppo_30k": ("run_ppo.py", RL_FLAGS + ["--total-env-steps", "30000"], RL_QUICK_FLAGS),
    "gail_10_demos": ("run_gail.py", RL_FLAGS + ["--num-demos", "10"], RL_QUICK_FLAGS),
    "gail_1_demo": ("run_gail.py", RL_FLAGS + ["--num-demos", "1"], RL_QUICK_FLAGS),
    "bc_10_demos": ("run_behavior_clone.py", BC_FLAGS + ["--num-demos", "10"], BC_QUICK_FLAGS),
    "bc_1_demo": ("run_behavior_clone.py", BC_FLAGS + ["--num-demos", "1"], BC_QUICK_FLAGS),
    # Not run by default: the learned-reward variants, for the README's termination-bias table.
    "gail_no_absorbing": ("run_gail.py", RL_FLAGS + ["--no-absorbing"], RL_QUICK_FLAGS),
    "gail_neg_log_1m_d": ("run_gail.py", RL_FLAGS + ["--reward", "neg_log_1m_d", "--no-absorbing"],
                          RL_QUICK_FLAGS),
    # Not run by default either: whether observation normalisation would help CartPole.
    "ppo_normalized": ("run_ppo.py", RL_FLAGS + ["--normalize-observations"], RL_QUICK_FLAGS),
    "gail_normalized": ("run_gail.py", RL_FLAGS + ["--num-demos", "10", "--normalize-observations"],
                        RL_QUICK_FLAGS),
}
DEFAULT_TASKS = ("ppo", "ppo_30k", "gail_10_demos", "gail_1_demo", "bc_10_demos", "bc_1_demo")


def run_training(script: str, flags: list[str], seed: int, workdir: Path) -> dict:
    log_dir = workdir / "log"
    command = [sys.executable, script, "--seed", str(seed), "--no-progress",
               "--save-dir", str(workdir / "ckpt"), "--log-dir", str(log_dir), *flags]
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    output = process.stdout.read().decode(errors="replace")
    _, status, usage = os.wait4(process.pid, 0)
    wall_seconds = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"benchmark run failed: {' '.join(command)}\n{output[-3000:]}")
    history = json.loads((log_dir / "evaluations.json").read_text())
    evaluations = history["evaluations"]
    solved = next((record for record in evaluations if record["return_mean"] >= SOLVED_RETURN), None)
    final = evaluations[-1]
    env_steps = history["step_unit"] == "env_steps"
    return {
        "seed": seed,
        "step_unit": history["step_unit"],
        "steps_to_475": solved["step"] if solved else None,
        "seconds_to_475": round(solved["seconds"], 2) if solved else None,
        "final_return": final["return_mean"],
        "final_step": final["step"],
        "train_seconds": round(history["train_seconds"], 2),
        "env_steps_per_second": round(final["step"] / history["train_seconds"]) if env_steps else None,
        "startup_seconds": round(wall_seconds - history["train_seconds"], 2),
        "peak_rss_mb": round(usage.ru_maxrss / 1024),  # Linux reports KiB
        "evaluations": [round(record["return_mean"], 1) for record in evaluations],
        # GAIL and BC: imitation fidelity of the last evaluation against the held-out demonstrations.
        "final_energy_distance": (final.get("fidelity") or {}).get("energy_distance"),
    }


def best_policy_return(save_dir: Path, episodes: int) -> float:
    """Mean true return of the run's best policy (what sample_trajectory.py and test_policy.py load
    by default) over ``episodes`` deterministic episodes on the evaluation seeds."""
    from common.checkpoints import load_actor_critic, policy_dir
    from common.envs import make_vec_env
    from common.rollout import EVAL_SEED_OFFSET, run_episodes

    model, config = load_actor_critic(policy_dir(save_dir, "best")[0])
    envs = make_vec_env(config["env"], 10)
    try:
        return float(run_episodes(envs, model.actor_snapshot(), episodes, EVAL_SEED_OFFSET).returns.mean())
    finally:
        envs.close()


def rollout_throughput(env_steps: int) -> dict:
    """Env steps per second of the training rollout alone (policy in the loop, default num_envs)."""
    import numpy as np

    from algo.config import PPOConfig, RunConfig
    from common.envs import env_spec, make_vec_env
    from common.rollout import RolloutCollector
    from network_models.factory import build_actor_critic

    run_defaults, ppo_defaults = RunConfig(), PPOConfig()
    envs = make_vec_env(run_defaults.env, run_defaults.num_envs)
    model = build_actor_critic(env_spec(envs, run_defaults.env), ppo_defaults.hidden_sizes, seed=0)
    collector = RolloutCollector(envs, ppo_defaults.rollout_steps, seed=0, rng=np.random.default_rng(0))
    steps_per_rollout = ppo_defaults.rollout_steps * run_defaults.num_envs
    rollouts = max(1, env_steps // steps_per_rollout)
    started = time.perf_counter()
    for _ in range(rollouts):
        collector.collect(model.actor_snapshot())
    seconds = time.perf_counter() - started
    envs.close()
    return {"num_envs": run_defaults.num_envs, "env_steps": rollouts * steps_per_rollout,
            "env_steps_per_second": round(rollouts * steps_per_rollout / seconds)}


MUJOCO_ENV = "Hopper-v5"


def mujoco_expert_flags() -> list[str]:
    """run_ppo.py flags of the MuJoCo experts (experiments/paper.py SETTINGS), less their budget
    and evaluation schedule."""
    sys.path.insert(0, str(REPO_ROOT / "experiments"))
    from paper import SETTINGS

    flags, kept = list(SETTINGS[MUJOCO_ENV].expert_flags), []
    while flags:
        flag = flags.pop(0)
        if flag in ("--total-env-steps", "--eval-every"):
            flags.pop(0)
        else:
            kept.append(flag)
    return kept


# PPO's learning throughput on MuJoCo with the settings its expert trains with (experiments/paper.py:
# one env, 2048-step batches, 10 epochs of 64-pair minibatches), over 200 batches (409,600 env
# steps: the table's GAIL runs take 1M, and compiling, a fixed ~2.5 s, would weigh four times as
# much in a run a quarter as long); no evaluation until the end. As the experts were trained; with
# the updates compiled by XLA (--jit-compile); with XLA and the same batches from 4 envs of 512
# steps (one policy forward pass per 4 env steps: the fast setting) or from 8 envs of 256 steps
# (GAIL learns as well with either: experiments/NOTES-mujoco.md); and with XLA, 8 envs and each
# rollout collected in another process while PPO learns from the last (--collect-while-learning).
MUJOCO_PPO_FLAGS = ["--env", MUJOCO_ENV, *mujoco_expert_flags(), "--total-env-steps", "409600",
                    "--eval-every", "100000000", "--eval-episodes", "1"]
MUJOCO_QUICK_FLAGS = ["--total-env-steps", "4096"]  # two batches: one after the compiled first
MUJOCO_THROUGHPUT_VARIANTS = {
    "graph": [], "xla": ["--jit-compile"],
    "xla_4_envs": ["--jit-compile", "--num-envs", "4", "--rollout-steps", "512"],
    "xla_8_envs": ["--jit-compile", "--num-envs", "8", "--rollout-steps", "256"],
    "xla_8_envs_ahead": ["--jit-compile", "--num-envs", "8", "--rollout-steps", "256", "--collect-while-learning"]}


def steady_env_steps_per_second(log_dir: Path) -> float | None:
    """Env steps per second from the end of a run's first batch to the end of its last, from the
    wall times of its per-batch TensorBoard scalars: the rate once the graphs are compiled (the
    first batch's update includes compiling them); None with fewer than two batches."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(log_dir), size_guidance={"tensors": 0})
    events.Reload()
    batches = events.Tensors("charts/SPS")  # written once per batch, after its update
    if len(batches) < 2:
        return None
    first, last = batches[0], batches[-1]
    return round((last.step - first.step) / (last.wall_time - first.wall_time))


def mujoco_physics_rate(env_steps: int) -> dict:
    """Env steps per second of one Hopper env with random actions and no policy: gymnasium's
    ``step`` (the wrappers, the observation and the reward included), and MuJoCo's own ``mj_step``
    for the same simulated time (frame_skip physics steps per env step)."""
    import gymnasium as gym
    import mujoco
    import numpy as np

    env = gym.make(MUJOCO_ENV)
    env.reset(seed=0)
    actions = np.random.default_rng(0).uniform(env.action_space.low, env.action_space.high,
                                               (env_steps, *env.action_space.shape)).astype(np.float32)
    started = time.perf_counter()
    for action in actions:
        _, _, terminated, truncated, _ = env.step(action)
        if terminated or truncated:
            env.reset()
    gymnasium_seconds = time.perf_counter() - started
    physics = env.unwrapped
    started = time.perf_counter()
    for _ in range(env_steps):
        mujoco.mj_step(physics.model, physics.data, nstep=physics.frame_skip)
    mj_step_seconds = time.perf_counter() - started
    env.close()
    return {"env": MUJOCO_ENV, "env_steps": env_steps,
            "gymnasium_steps_per_second": round(env_steps / gymnasium_seconds),
            "mj_step_steps_per_second": round(env_steps / mj_step_seconds)}


def mujoco_throughput(quick: bool, workdir: Path) -> dict:
    """PPO's env steps per second with learning on Hopper-v5 (MUJOCO_THROUGHPUT_VARIANTS), over the
    whole run and once compiled, beside the raw single-env physics rate measured in the same run,
    and their ratios (the issue's goal: at least 70%).

    The raw rate is the median of samples taken before the first run and after each: six
    consecutive samples of the same seeded 20k steps on this 2-core machine, idle, ranged over
    10.4k-13.1k steps/s, so one sample could move every ratio by a fifth."""
    physics_steps = 2_000 if quick else 20_000
    physics_samples = [mujoco_physics_rate(physics_steps)]
    flags = MUJOCO_PPO_FLAGS + (MUJOCO_QUICK_FLAGS if quick else [])
    runs = {}
    for variant, extra_flags in MUJOCO_THROUGHPUT_VARIANTS.items():
        runs[variant] = run_training("run_ppo.py", flags + extra_flags, 0, workdir / variant)
        physics_samples.append(mujoco_physics_rate(physics_steps))
    gymnasium_rates = [sample["gymnasium_steps_per_second"] for sample in physics_samples]
    raw_rate = round(statistics.median(gymnasium_rates))
    results = {"env": MUJOCO_ENV, "env_steps": physics_steps, "gymnasium_steps_per_second": raw_rate,
               "gymnasium_steps_per_second_samples": gymnasium_rates,
               "mj_step_steps_per_second": round(statistics.median(
                   sample["mj_step_steps_per_second"] for sample in physics_samples)),
               "ppo_flags": flags}
    for variant, extra_flags in MUJOCO_THROUGHPUT_VARIANTS.items():
        run = runs[variant]
        steady = steady_env_steps_per_second(workdir / variant / "log")
        results[variant] = {"extra_flags": extra_flags, "env_steps": run["final_step"],
                            "train_seconds": run["train_seconds"],
                            "steps_per_second": run["env_steps_per_second"],
                            "fraction_of_gymnasium_rate": round(run["env_steps_per_second"] / raw_rate, 2),
                            "steady_steps_per_second": steady,
                            "steady_fraction_of_gymnasium_rate": steady and round(steady / raw_rate, 2)}
    return results


# One GAIL run of the MuJoCo table (experiments/paper.py: Hopper-v5, 4 trajectories, seed 0, its
# 1M-env-step budget) evaluated every 50k env steps: when it first reaches 0.9 normalised.
MUJOCO_GAIL_TARGET = 0.9
MUJOCO_GAIL_NUM_DEMOS = 4
MUJOCO_GAIL_EVAL_FLAGS = ["--eval-every", "50000", "--eval-episodes", "10"]
MUJOCO_GAIL_QUICK_FLAGS = ["--total-env-steps", "4096", "--eval-every", "2048", "--eval-episodes", "1"]


def first_at_target(evaluations: list[dict], reference: dict[str, float], target: float) -> dict | None:
    """The first evaluation whose mean return is at least ``target`` on the normalised scale
    (``reference``: the random policy's return 0, the demonstrations' 1); None if none is."""
    from paper import normalised

    return next((record for record in evaluations if normalised(record["return_mean"], reference) >= target), None)


# The same GAIL run in the fast setting (the third throughput row's flags), and collecting ahead (the last's).
MUJOCO_FAST_FLAGS = MUJOCO_THROUGHPUT_VARIANTS["xla_4_envs"]
MUJOCO_AHEAD_FLAGS = MUJOCO_THROUGHPUT_VARIANTS["xla_8_envs_ahead"]


def mujoco_gail_to_target(quick: bool, workdir: Path, extra_flags: Sequence[str] = ()) -> dict:
    """Env steps and training seconds for one MuJoCo GAIL run of the table (with ``extra_flags``
    on top) to first reach 0.9 normalised (None if it does not within its budget)."""
    from paper import SETTINGS, reference_returns

    flags = [*SETTINGS[MUJOCO_ENV].gail_flags, "--env", MUJOCO_ENV, "--demo-dir", f"trajectory/{MUJOCO_ENV}",
             "--num-demos", str(MUJOCO_GAIL_NUM_DEMOS), *MUJOCO_GAIL_EVAL_FLAGS,
             *(MUJOCO_GAIL_QUICK_FLAGS if quick else []), *extra_flags]
    run = run_training("run_gail.py", flags, 0, workdir)
    reference = reference_returns(MUJOCO_ENV)
    history = json.loads((workdir / "log" / "evaluations.json").read_text())
    reached = first_at_target(history["evaluations"], reference, MUJOCO_GAIL_TARGET)
    return {"env": MUJOCO_ENV, "num_demos": MUJOCO_GAIL_NUM_DEMOS, "seed": 0, "target": MUJOCO_GAIL_TARGET,
            "extra_flags": list(extra_flags), "reference": reference,
            "env_steps_to_target": reached["step"] if reached else None,
            "seconds_to_target": round(reached["seconds"], 1) if reached else None,
            "final_return": run["final_return"], "final_step": run["final_step"],
            "train_seconds": run["train_seconds"], "env_steps_per_second": run["env_steps_per_second"]}


HELP_SCRIPTS = ("run_ppo.py", "sample_trajectory.py", "run_gail.py", "run_behavior_clone.py", "test_policy.py",
                "export_policy.py", "convert_demos.py")


def help_seconds(repeats: int) -> dict[str, float]:
    """Wall seconds of `python <script> --help` (interpreter start included), median of ``repeats``
    runs per script: what a user waits for before the flags are listed."""
    seconds: dict[str, float] = {}
    for script in HELP_SCRIPTS:
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            subprocess.run([sys.executable, script, "--help"], cwd=REPO_ROOT, check=True, stdout=subprocess.DEVNULL)
            times.append(time.perf_counter() - started)
        seconds[script] = round(statistics.median(times), 2)
    return seconds


def make_demo_seconds() -> float:
    started = time.perf_counter()
    subprocess.run(["make", "demo"], cwd=REPO_ROOT, check=True, stdout=subprocess.DEVNULL)
    return round(time.perf_counter() - started, 1)


def median_or_none(values: list) -> float | None:
    present = [value for value in values if value is not None]
    return statistics.median(present) if present else None


def summarise(name: str, runs: list[dict]) -> dict:
    return {
        "task": name,
        "step_unit": runs[0]["step_unit"],
        "seeds": [run["seed"] for run in runs],
        "reached_475": sum(run["steps_to_475"] is not None for run in runs),
        "median_steps_to_475": median_or_none([run["steps_to_475"] for run in runs]),
        "median_seconds_to_475": median_or_none([run["seconds_to_475"] for run in runs]),
        "final_at_least_475": sum(run["final_return"] >= SOLVED_RETURN for run in runs),
        "final_returns": [run["final_return"] for run in runs],
        "median_env_steps_per_second": median_or_none([run["env_steps_per_second"] for run in runs]),
        "median_startup_seconds": median_or_none([run["startup_seconds"] for run in runs]),
        "max_peak_rss_mb": max(run["peak_rss_mb"] for run in runs),
        "best_at_least_475": (sum(run["best_return"] >= SOLVED_RETURN for run in runs)
                              if all(run.get("best_return") is not None for run in runs) else None),
        "best_returns": [run.get("best_return") for run in runs],
        "median_final_energy_distance": median_or_none([run.get("final_energy_distance") for run in runs]),
    }


def cell(value: object, unit: str = "") -> str:
    return "-" if value is None else f"{value}{unit}"


def markdown(results: dict) -> str:
    lines = [f"Machine: {results['machine']}. Command: `{results['command']}`.", "",
             "| task | seeds | reached 475 | median steps to 475 | median s to 475 | final >= 475 "
             f"| final returns | best policy >= 475 ({BEST_POLICY_EPISODES} ep.) | best policy returns "
             "| final energy distance (median) | env steps/s | start-up s | peak RSS MB |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for row in results["summary"]:
        seeds = len(row["seeds"])
        lines.append(
            f"| {row['task']} | {','.join(map(str, row['seeds']))} | {row['reached_475']}/{seeds} "
            f"| {cell(row['median_steps_to_475'], ' ' + row['step_unit'].replace('_', ' '))} "
            f"| {cell(row['median_seconds_to_475'])} | {row['final_at_least_475']}/{seeds} "
            f"| {', '.join(f'{r:.0f}' for r in row['final_returns'])} "
            f"| {cell(row['best_at_least_475'], f'/{seeds}')} "
            f"| {', '.join('-' if r is None else f'{r:.0f}' for r in row['best_returns'])} "
            f"| {cell(row['median_final_energy_distance'] and round(row['median_final_energy_distance'], 3))} "
            f"| {cell(row['median_env_steps_per_second'])} "
            f"| {row['median_startup_seconds']} | {row['max_peak_rss_mb']} |")
    throughput = results["rollout_throughput"]
    lines += ["", f"Rollout throughput (policy in the loop, {throughput['num_envs']} envs): "
                  f"{throughput['env_steps_per_second']} env steps/s over {throughput['env_steps']} steps."]
    if results.get("mujoco"):
        mujoco = results["mujoco"]
        lines.append(f"{mujoco['env']}: PPO with learning ({' '.join(mujoco['ppo_flags'])}), env steps/s over "
                     f"the whole run (compilation included) and once compiled (from the end of the first batch), "
                     f"against one env's raw rate measured in the same run ({mujoco['gymnasium_steps_per_second']} "
                     f"steps/s through gymnasium with random actions, the median of samples "
                     f"{', '.join(map(str, mujoco['gymnasium_steps_per_second_samples']))} taken before the "
                     f"first run and after each; MuJoCo's mj_step alone {mujoco['mj_step_steps_per_second']}):")
        for variant in MUJOCO_THROUGHPUT_VARIANTS:
            row = mujoco[variant]
            steady = ("-" if row["steady_steps_per_second"] is None else
                      f"{row['steady_steps_per_second']} ({row['steady_fraction_of_gymnasium_rate']:.0%})")
            lines.append(f"- {' '.join(row['extra_flags']) or 'as the experts'}: {row['steps_per_second']} "
                         f"({row['fraction_of_gymnasium_rate']:.0%}) over {row['env_steps']} env steps; "
                         f"once compiled {steady}.")
    for key in ("mujoco_gail", "mujoco_gail_fast", "mujoco_gail_ahead"):
        if not results.get(key):
            continue
        gail = results[key]
        reached = (f"first reached {gail['target']} normalised at {gail['env_steps_to_target']} env steps, "
                   f"{gail['seconds_to_target']} s of training" if gail["env_steps_to_target"] is not None
                   else f"did not reach {gail['target']} normalised")
        setting = " plus " + " ".join(gail["extra_flags"]) if gail.get("extra_flags") else ""
        lines.append(f"{gail['env']} GAIL ({gail['num_demos']} trajectories, seed {gail['seed']}, the MuJoCo "
                     f"table's settings{setting}): {reached}; final return {gail['final_return']:.1f} at "
                     f"{gail['final_step']} env steps ({gail['env_steps_per_second']} env steps/s; normalised "
                     f"scale: random {gail['reference']['random']:.1f}, demonstrations "
                     f"{gail['reference']['expert']:.1f}).")
    if results.get("help_seconds"):
        slowest = max(results["help_seconds"], key=results["help_seconds"].get)
        lines.append(f"`--help` (median of {results['help_repeats']} runs per script, interpreter start included): "
                     f"{min(results['help_seconds'].values())}-{results['help_seconds'][slowest]} s "
                     f"(slowest: {slowest}).")
    if results.get("make_demo_seconds") is not None:
        lines.append(f"`make demo` (after install): {results['make_demo_seconds']} s.")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=5, help="seeds 0..N-1 per task")
    parser.add_argument("--quick", action="store_true", help="1 seed, tiny budgets, no make demo (CI smoke)")
    parser.add_argument("--tasks", default=",".join(DEFAULT_TASKS),
                        help="comma-separated, from " + ",".join(TASKS))
    parser.add_argument("--no-demo", action="store_true", help="skip timing `make demo`")
    parser.add_argument("--no-mujoco", action="store_true", help=f"skip the {MUJOCO_ENV} rows (throughput, "
                        "GAIL's time to 0.9)")
    parser.add_argument("--out", default=str(REPO_ROOT / "bench" / "results"), help="output directory")
    args = parser.parse_args()
    seeds = range(1 if args.quick else args.seeds)
    results = {"machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
                          f"Python {platform.python_version()}",
               "command": " ".join(["python bench/bench.py", *sys.argv[1:]]),
               "runs": {}, "summary": []}
    with tempfile.TemporaryDirectory() as scratch:
        for name in args.tasks.split(","):
            script, flags, quick_flags = TASKS[name]
            runs = []
            for seed in seeds:
                workdir = Path(scratch) / f"{name}-{seed}"
                run = run_training(script, flags + (quick_flags if args.quick else []), seed, workdir)
                run["best_return"] = best_policy_return(workdir / "ckpt", 2 if args.quick else BEST_POLICY_EPISODES)
                print(f"{name} seed {seed}: {json.dumps(run)}", flush=True)
                runs.append(run)
            results["runs"][name] = runs
            results["summary"].append(summarise(name, runs))
        results["rollout_throughput"] = rollout_throughput(5_000 if args.quick else 200_000)
        if not args.no_mujoco:
            results["mujoco"] = mujoco_throughput(args.quick, Path(scratch) / "mujoco")
            results["mujoco_gail"] = mujoco_gail_to_target(args.quick, Path(scratch) / "mujoco-gail")
            results["mujoco_gail_fast"] = mujoco_gail_to_target(args.quick, Path(scratch) / "mujoco-gail-fast",
                                                                MUJOCO_FAST_FLAGS)
            results["mujoco_gail_ahead"] = mujoco_gail_to_target(args.quick, Path(scratch) / "mujoco-gail-ahead",
                                                                 MUJOCO_AHEAD_FLAGS)
    results["help_repeats"] = 1 if args.quick else 5
    results["help_seconds"] = help_seconds(results["help_repeats"])
    results["make_demo_seconds"] = None if args.quick or args.no_demo else make_demo_seconds()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench.json").write_text(json.dumps(results, indent=1))
    (out / "bench.md").write_text(markdown(results))
    print(markdown(results))


if __name__ == "__main__":
    main()
