"""The style benchmark: does GAIL imitate experts whose behaviour is not what the reward alone gives?

    python experiments/styles.py demos           # record 20 episodes of each style -> trajectory/styles/<style>
    python experiments/styles.py run             # GAIL and BC x styles x 1 and 10 episodes x 5 seeds (make styles)
    python experiments/styles.py run --quick     # tiny budgets, 1 seed (CI smoke)
    python experiments/styles.py report          # table and figure from the runs finished so far

The experts are hand-written controllers (experiments/style_experts.py): CartPole held at x = +1
or -1 or rocked from side to side; Pendulum held 0.2 rad either side of upright, or spun. A policy
that just maximises the true reward does none of this. Each run trains on the first 1 or 10
episodes of a style's set with run_gail.py / run_behavior_clone.py at their defaults (plus the
per-env PPO flags of the classic-control experiment, experiments/paper.py), then its *best* policy
(kept by fidelity against the held-out episodes, as the scripts do by default) plays 20 fresh
deterministic episodes, scored by
  - the style's statistic and pass criterion (style_experts.py; the table states each), and
  - the imitation-fidelity measures (common/fidelity.py) against episodes 10-19 of the set,
    which no run trains on.
Outputs in --out: results.json (every run), styles.md (the table), styles.png. Finished runs are
reused when their command and the config it gives today (defaults included) are unchanged, so an
interrupted benchmark continues where it stopped and a changed default reruns what it changes;
--fresh reruns everything.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shlex
import sys
import time
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(REPO_ROOT / "experiments"))

from common.errors import UsageError, cli_main  # noqa: E402
from common.files import atomic_write_bytes  # noqa: E402
from paper import SETTINGS, demos_digest, reusable_result  # noqa: E402
from sweep import Executor, add_executor_flags, make_executor, positive_int, run_all  # noqa: E402
from style_experts import STYLES, Style, record_style  # noqa: E402

DEMO_ROOT = Path("trajectory") / "styles"
NUM_EPISODES_RECORDED = 20
HELD_OUT = (10, 20)  # episodes 10-19: the fidelity reference, never trained on
NUM_DEMOS = (1, 10)
EVAL_EPISODES = 20
QUICK_FLAGS = {"gail": ("--total-env-steps", "2048", "--eval-every", "1024", "--eval-episodes", "2"),
               "bc": ("--epochs", "4", "--eval-every", "2", "--eval-episodes", "2")}


@dataclasses.dataclass(frozen=True)
class StyleRun:
    style: str
    algo: str  # "gail" or "bc"
    num_demos: int
    seed: int
    extra_flags: tuple[str, ...] = ()  # added to the training script's flags (a variant study)

    def directory(self, out: Path) -> Path:
        return out / "runs" / self.style / self.algo / f"n{self.num_demos}_seed{self.seed}"

    def train_command(self, out: Path, quick: bool) -> list[str]:
        style = STYLES[self.style]
        setting = SETTINGS[style.env]
        script, flags = (("run_gail.py", setting.gail_flags) if self.algo == "gail"
                         else ("run_behavior_clone.py", setting.bc_flags))
        return [script, "--env", style.env, "--seed", str(self.seed), "--num-demos", str(self.num_demos),
                "--demo-dir", str(DEMO_ROOT / self.style), *flags, *(QUICK_FLAGS[self.algo] if quick else ()),
                "--no-progress", "--save-dir", str(self.directory(out) / "model"),
                "--log-dir", str(self.directory(out) / "log"), *self.extra_flags]

    def evaluate_command(self, out: Path, episodes: int) -> list[str]:
        return ["experiments/styles.py", "evaluate", "--style", self.style, "--model-dir",
                str(self.directory(out) / "model"), "--episodes", str(episodes),
                "--out", str(self.directory(out) / "style_eval.json")]


# --- evaluation of one trained policy (a subprocess of its own, like the training) -------------------

def episode_statistics(style: Style, observations: list[np.ndarray]) -> list[float]:
    return [style.statistic(episode) for episode in observations]


def mean_statistic(statistics: list[float]) -> float:
    """The mean over episodes that have the statistic (NaN: the episode ended before step 100);
    NaN when none does."""
    finite = [value for value in statistics if np.isfinite(value)]
    return float(np.mean(finite)) if finite else float("nan")


def expert_reference(style: Style) -> dict:
    """The demonstrations' mean statistic and episode length (all 20 episodes)."""
    from common.demonstrations import load_demonstrations

    demos = load_demonstrations(REPO_ROOT / DEMO_ROOT / style.name)
    episodes = np.split(demos.observations, np.cumsum(demos.episode_lengths)[:-1])
    return {"statistic": float(np.mean(episode_statistics(style, episodes))),
            "length": float(demos.episode_lengths.mean()), "return": float(demos.episode_returns.mean())}


def passes(style: Style, statistic: float, length: float, reference: dict) -> bool:
    """The style's criterion (Style.criterion() says it in words)."""
    close = abs(statistic - reference["statistic"]) <= style.tolerance
    return bool(close and (not style.survives or length >= 0.95 * reference["length"]))


def evaluate(style_name: str, model_dir: str, episodes: int, out: str) -> None:
    from common.checkpoints import load_actor_critic, policy_dir
    from common.demonstrations import load_demonstrations
    from common.envs import make_vec_env, probe_env_spec
    from common.fidelity import measure_fidelity
    from common.rollout import EVAL_SEED_OFFSET, run_episodes

    style = STYLES[style_name]
    spec = probe_env_spec(style.env)
    directory, _ = policy_dir(model_dir, "best")
    model, _ = load_actor_critic(directory, style.env)
    actor = model.actor_snapshot()
    envs = make_vec_env(style.env, min(10, episodes))
    played = run_episodes(envs, actor, episodes, EVAL_SEED_OFFSET, record=True)
    envs.close()
    held_out = load_demonstrations(REPO_ROOT / DEMO_ROOT / style.name, spec).episodes(*HELD_OUT)
    fidelity = measure_fidelity(actor, np.concatenate(played.observations), np.concatenate(played.actions),
                                held_out, spec)
    statistics = episode_statistics(style, played.observations)
    reference = expert_reference(style)
    statistic = mean_statistic(statistics)
    length = float(played.lengths.mean())
    result = {"policy": str(directory), "statistic": statistic, "statistics": statistics, "length": length,
              "return": float(played.returns.mean()), "fidelity": fidelity.as_dict(),
              "passed": passes(style, statistic, length, reference), "reference": reference}
    atomic_write_bytes(Path(out), json.dumps(result, indent=1).encode())


# --- the benchmark -----------------------------------------------------------------------------------

def execute(run: StyleRun, out: Path, quick: bool, fresh: bool, executor: Executor) -> dict:
    """Train and evaluate ``run`` (or reuse its finished result)."""
    run_dir = run.directory(out)
    eval_episodes = 2 if quick else EVAL_EPISODES
    command = run.train_command(out, quick)
    previous = reusable_result(run_dir, command, fresh)
    if previous is not None:
        return previous
    demos_sha256 = demos_digest(command)
    train_seconds = executor.run([(command, "output.txt"),
                                  (run.evaluate_command(out, eval_episodes), "evaluate_output.txt")], run_dir)
    evaluation = json.loads((run_dir / "style_eval.json").read_text())
    result = {**dataclasses.asdict(run), **evaluation, "wall_seconds": round(train_seconds, 1), "command": command,
              "demos_sha256": demos_sha256, "config": json.loads((run_dir / "model" / "config.json").read_text())}
    atomic_write_bytes(run_dir / "result.json", json.dumps(result, indent=1).encode())
    return {**result, "reused": False}


def summarise(results: list[dict]) -> list[dict]:
    """One row per style and number of demonstrations, GAIL and BC side by side."""
    rows = []
    for style_name in STYLES:
        for num in sorted({r["num_demos"] for r in results if r["style"] == style_name}):
            row = {"style": style_name, "num_demos": num}
            for algo in ("gail", "bc"):
                runs = [r for r in results if (r["style"], r["num_demos"], r["algo"]) == (style_name, num, algo)]
                if not runs:
                    continue
                statistics = np.array([r["statistic"] for r in runs])
                energies = np.array([r["fidelity"]["energy_distance"] for r in runs])
                classifier = np.array([r["fidelity"]["classifier_accuracy"] for r in runs])
                reference = runs[0]["reference"]["statistic"]
                # The worst seed: the farthest from the expert, or one with no statistic at all.
                distance = np.where(np.isfinite(statistics), np.abs(statistics - reference), np.inf)
                row[algo] = {"passed": sum(r["passed"] for r in runs), "seeds": len(runs),
                             "statistic_mean": mean_statistic(list(statistics)),
                             "statistic_worst": float(statistics[np.argmax(distance)]),
                             "energy_mean": float(energies.mean()), "energy_worst": float(energies.max()),
                             "classifier_mean": float(classifier.mean()),
                             "length_mean": float(np.mean([r["length"] for r in runs]))}
            row["reference"] = next(r["reference"] for r in results if r["style"] == style_name)
            rows.append(row)
    return rows


def markdown_table(rows: list[dict]) -> str:
    lines = ["| style | env | pass criterion | expert | demos | GAIL passed | BC passed | GAIL statistic mean "
             "(worst) | BC statistic mean (worst) | GAIL energy distance mean (worst) | BC energy distance mean "
             "(worst) | GAIL / BC classifier acc. |", "|" + "---|" * 12]
    previous_style = None
    for row in rows:
        style = STYLES[row["style"]]
        first = row["style"] != previous_style  # the criterion once per style, not per row
        previous_style = row["style"]
        cells = [style.name, style.env, style.criterion() if first else "〃", f"{row['reference']['statistic']:.2f}",
                 str(row["num_demos"])]
        for algo in ("gail", "bc"):
            cells.append(f"{row[algo]['passed']}/{row[algo]['seeds']}" if algo in row else "-")
        for algo in ("gail", "bc"):
            cells.append(f"{row[algo]['statistic_mean']:.2f} ({row[algo]['statistic_worst']:.2f})" if algo in row
                         else "-")
        for algo in ("gail", "bc"):
            cells.append(f"{row[algo]['energy_mean']:.3f} ({row[algo]['energy_worst']:.3f})" if algo in row else "-")
        cells.append(" / ".join(f"{row[algo]['classifier_mean']:.2f}" if algo in row else "-"
                                for algo in ("gail", "bc")))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def plot(results: list[dict], path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    styles = [name for name in STYLES if any(r["style"] == name for r in results)]
    figure, axes = plt.subplots(1, len(styles), figsize=(2.9 * len(styles), 3.3), squeeze=False)
    for axis, name in zip(axes[0], styles):
        style = STYLES[name]
        runs = [r for r in results if r["style"] == name]
        reference = runs[0]["reference"]["statistic"]
        axis.axhspan(reference - style.tolerance, reference + style.tolerance, color="tab:green", alpha=0.15,
                     label="pass band")
        axis.axhline(reference, color="tab:green", linewidth=1.0, label="expert")
        for offset, (algo, marker, colour) in enumerate((("gail", "o", "tab:blue"), ("bc", "s", "tab:orange"))):
            for num_index, num in enumerate(sorted({r["num_demos"] for r in runs})):
                values = [r["statistic"] for r in runs if (r["algo"], r["num_demos"]) == (algo, num)]
                x = num_index + (offset - 0.5) * 0.3
                axis.scatter([x] * len(values), values, marker=marker, color=colour, s=18,
                             label=algo.upper() if num_index == 0 else None)
        axis.set_xticks(range(len({r["num_demos"] for r in runs})))
        axis.set_xticklabels([f"{num} ep." for num in sorted({r["num_demos"] for r in runs})])
        axis.set_title(name, fontsize=9)
        axis.set_ylabel(style.statistic_name, fontsize=8)
    axes[0][0].legend(fontsize=7, loc="best")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def parse_list(text: str, allowed: tuple[str, ...], flag: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names or any(name not in allowed for name in names):
        raise UsageError(f"{flag} {text}: expected a comma-separated list from {', '.join(allowed)}")
    return names


def parse_styles(text: str) -> list[str]:
    return parse_list(text, tuple(STYLES), "--styles")


def record_demos(names: list[str], force: bool) -> None:
    from common.demonstrations import save_demonstrations

    for name in names:
        demos = record_style(STYLES[name], NUM_EPISODES_RECORDED, seed=0)
        directory = save_demonstrations(demos, REPO_ROOT / DEMO_ROOT / name, overwrite=force)
        print(f"{name}: {demos.num_episodes} episodes, mean length {demos.episode_lengths.mean():.0f}, "
              f"true return {demos.episode_returns.mean():.1f} -> {directory.relative_to(REPO_ROOT)}")


def run_benchmark(args: argparse.Namespace) -> None:
    out = Path(args.out)
    names = parse_styles(args.styles)
    seeds = range(1 if args.quick else args.seeds)
    for name in names:
        if not (REPO_ROOT / DEMO_ROOT / name / "metadata.json").is_file():
            raise UsageError(f"{DEMO_ROOT / name}: no demonstrations; run python experiments/styles.py demos")
    algos = parse_list(args.algos, ("gail", "bc"), "--algos")
    demo_counts = [int(num) for num in parse_list(args.num_demos, tuple(map(str, NUM_DEMOS)), "--num-demos")]
    extra = {"gail": tuple(shlex.split(args.gail_flags)), "bc": tuple(shlex.split(args.bc_flags))}
    runs = [StyleRun(name, algo, num, seed, extra[algo]) for name in names for num in demo_counts
            for seed in seeds for algo in algos]
    start = time.perf_counter()
    executor = make_executor(args)

    def report(result: dict, done: int, total: int) -> None:
        timing = "reused" if result["reused"] else f"{result['wall_seconds']:.0f} s"
        print(f"[{done}/{total}] {result['style']} {result['algo']} n={result['num_demos']} "
              f"seed {result['seed']}: {STYLES[result['style']].statistic_name} {result['statistic']:.2f} "
              f"(expert {result['reference']['statistic']:.2f}), length {result['length']:.0f}, energy "
              f"{result['fidelity']['energy_distance']:.3f}: {'PASS' if result['passed'] else 'fail'} ({timing})",
              flush=True)

    try:
        results = run_all(lambda run: execute(run, out, args.quick, args.fresh, executor), runs, executor.workers,
                          report)
    finally:
        executor.close()
    write_outputs(results, out, {"command": " ".join(sys.argv), "workers": executor.workers,
                                 "ray_address": args.ray_address, "quick": args.quick,
                                 "wall_seconds": round(time.perf_counter() - start, 1)})


def report(args: argparse.Namespace) -> None:
    """Table and figure from the runs finished so far (a benchmark still under way, or stopped)."""
    out = Path(args.out)
    results = [{**json.loads(path.read_text()), "reused": True} for path in sorted(out.glob("runs/*/*/*/result.json"))]
    if not results:
        raise UsageError(f"--out {out}: no finished runs (runs/*/*/*/result.json) to report")
    write_outputs(results, out, {"command": " ".join(sys.argv), "workers": None, "quick": False,
                                 "wall_seconds": None})


def write_outputs(results: list[dict], out: Path, timing: dict) -> None:
    """results.json, styles.md and styles.png in ``out``, and the table on the console."""
    results.sort(key=lambda r: (list(STYLES).index(r["style"]), r["algo"], r["num_demos"], r["seed"]))
    rows = summarise(results)
    gail_runs = [r for r in results if r["algo"] == "gail"]
    summary = {**timing, "reused_runs": sum(r["reused"] for r in results),
               "gail_passed": sum(r["passed"] for r in gail_runs), "gail_runs": len(gail_runs),
               "bc_passed": sum(r["passed"] for r in results if r["algo"] == "bc"),
               "bc_runs": len(results) - len(gail_runs), "rows": rows, "runs": results}
    out.mkdir(parents=True, exist_ok=True)
    table = markdown_table(rows)
    atomic_write_bytes(out / "results.json", json.dumps(summary, indent=1).encode())
    atomic_write_bytes(out / "styles.md", table.encode())
    plot(results, out / "styles.png")
    print(table)
    took = "" if timing["wall_seconds"] is None else f" in {timing['wall_seconds'] / 60:.1f} min"
    print(f"GAIL passed {summary['gail_passed']}/{summary['gail_runs']} runs, BC {summary['bc_passed']}/"
          f"{summary['bc_runs']}; {len(results)} runs ({summary['reused_runs']} reused){took}; "
          f"wrote {out}/styles.md, results.json and styles.png")


@cli_main
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    demos = commands.add_parser("demos", help=f"record {NUM_EPISODES_RECORDED} episodes of each style")
    demos.add_argument("--styles", default=",".join(STYLES), help="comma-separated styles (default: all)")
    demos.add_argument("--force", action="store_true", help="replace demonstration sets that exist")
    run = commands.add_parser("run", help="GAIL and BC on every style; table and figure",
                              formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    run.add_argument("--styles", default=",".join(STYLES), help="comma-separated styles")
    run.add_argument("--seeds", type=positive_int, default=5, help="seeds 0..N-1 per setting")
    run.add_argument("--algos", default="gail,bc", help="comma-separated: gail, bc")
    run.add_argument("--num-demos", default=",".join(map(str, NUM_DEMOS)),
                     help="comma-separated numbers of training episodes, from " + ", ".join(map(str, NUM_DEMOS)))
    run.add_argument("--gail-flags", default="", help="extra run_gail.py flags for every GAIL run (a variant "
                     "study; give it its own --out)")
    run.add_argument("--bc-flags", default="", help="extra run_behavior_clone.py flags for every BC run")
    add_executor_flags(run)
    run.add_argument("--quick", action="store_true", help="tiny budgets and seed 0 only")
    run.add_argument("--fresh", action="store_true", help="rerun runs whose results are already in --out")
    run.add_argument("--out", default=None, help="output directory (default: experiments/results/styles, or "
                     "runs/styles-quick with --quick)")
    report_parser = commands.add_parser("report", help="table and figure from the runs finished so far")
    report_parser.add_argument("--out", default=str(REPO_ROOT / "experiments/results/styles"),
                               help="the benchmark's output directory")
    evaluate_parser = commands.add_parser("evaluate", help="score one trained policy (used by run)")
    evaluate_parser.add_argument("--style", required=True, choices=list(STYLES))
    evaluate_parser.add_argument("--model-dir", required=True)
    evaluate_parser.add_argument("--episodes", type=positive_int, default=EVAL_EPISODES)
    evaluate_parser.add_argument("--out", required=True, help="JSON file to write")
    args = parser.parse_args(argv)
    if args.command == "demos":
        record_demos(parse_styles(args.styles), args.force)
    elif args.command == "evaluate":
        evaluate(args.style, args.model_dir, args.episodes, args.out)
    elif args.command == "report":
        report(args)
    else:
        if args.out is None:
            args.out = str(REPO_ROOT / ("runs/styles-quick" if args.quick else "experiments/results/styles"))
        run_benchmark(args)


if __name__ == "__main__":
    main()
