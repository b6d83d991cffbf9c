#!/usr/bin/env python3
"""Crash test (`make crashtest`): kill training and sampling with SIGKILL at random instants and
check that nothing is lost.

    python tools/crashtest.py [--kills 30] [--modes ppo,gail,bc,sample] [--seed 0] [--out FILE]

For each training mode (run_ppo.py, run_gail.py, run_behavior_clone.py) one tiny run is started,
killed at a random instant (anywhere from interpreter start-up to deep in training), checked, and
resumed with --resume, again and again: a chain of --kills kills. After each kill:
  - the latest checkpoint (if the run got as far as one) loads as a policy;
  - evaluations.json (if written) is valid, and holds every evaluation up to the latest
    checkpoint, each once, in order: no evaluation before the last completed interval is lost;
  - the next link of the chain, a --resume, must be running normally (or have finished) when it
    is killed in turn: a resume that exits with an error is a failure.
A kill before the run's first checkpoint leaves nothing to resume; the chain then starts a fresh
run in a new directory (counted as "before the first checkpoint").
For sampling, a demonstration set is replaced with `sample_trajectory.py --force` and killed at a
random instant, --kills times: afterwards a complete set (the old one or the new one) must load
from --out-dir.
Prints one line per mode (kills, losses) and writes the numbers as JSON to --out.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from common.startup import start_tensorflow  # noqa: E402

start_tensorflow()  # quietly, before the checks below import it
from common.checkpoints import latest_checkpoint, load_actor_critic  # noqa: E402
from common.demonstrations import load_demonstrations  # noqa: E402
from common.errors import UsageError  # noqa: E402

SHIPPED_DEMOS = REPO_ROOT / "trajectory" / "CartPole-v1"
SHIPPED_EXPERT = REPO_ROOT / "trained_models" / "ppo" / "CartPole-v1"
ON_POLICY_FLAGS = ["--num-envs", "2", "--rollout-steps", "32", "--minibatch-size", "32", "--num-epochs", "2",
                   "--total-env-steps", "10000000", "--eval-every", "128", "--eval-episodes", "1",
                   "--checkpoint-every", "128", "--hidden-sizes", "16,16", "--no-progress"]
STEPS_PER_CHECKPOINT = 128  # env steps (PPO, GAIL) or, for BC, epochs (eval and save every epoch)
TRAINING = {
    "ppo": ["run_ppo.py", *ON_POLICY_FLAGS],
    "gail": ["run_gail.py", *ON_POLICY_FLAGS, "--demo-dir", str(SHIPPED_DEMOS), "--num-demos", "2"],
    "bc": ["run_behavior_clone.py", "--epochs", "10000000", "--eval-every", "1", "--eval-episodes", "1",
           "--hidden-sizes", "16,16", "--num-demos", "2", "--no-progress", "--demo-dir", str(SHIPPED_DEMOS)],
}
# Kill instants: every other kill at a random instant after the process starts (start-up takes
# 4-10 s on 2 cores, so many of these fall before training), the others at a random instant after
# the run has saved a checkpoint (so that most land in the middle of training, saving, evaluating).
KILL_WINDOW = (0.2, 20.0)
AFTER_CHECKPOINT_WINDOW = (0.0, 4.0)


@dataclasses.dataclass
class ModeResult:
    mode: str
    kills: int = 0
    before_first_checkpoint: int = 0
    losses: list[str] = dataclasses.field(default_factory=list)

    def line(self) -> str:
        lost = "; ".join(self.losses[:3]) if self.losses else ""
        return (f"{self.mode}: {self.kills} kills ({self.before_first_checkpoint} before the first checkpoint), "
                f"{len(self.losses)} losses" + (f": {lost}" if lost else ""))


def run_and_kill(command: list[str], delay: float, after: Path | None = None) -> tuple[int | None, str]:
    """Start ``command`` and SIGKILL it ``delay`` s later (counted from when this process first
    writes the file ``after``, if given); (its exit status if it ended before, its stderr)."""
    started = time.time()
    with tempfile.TemporaryFile("w+") as stderr:
        process = subprocess.Popen([sys.executable, *command], cwd=REPO_ROOT, stdout=subprocess.DEVNULL,
                                   stderr=stderr, text=True)
        while after is not None and not written_since(after, started) and process.poll() is None:
            time.sleep(0.05)
        try:
            status = process.wait(timeout=delay)
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGKILL)
            process.wait()
            status = None
        stderr.seek(0)
        return status, stderr.read()


def written_since(path: Path, since: float) -> bool:
    try:
        return path.stat().st_mtime >= since
    except FileNotFoundError:
        return False


def evaluation_steps(log_dir: Path) -> list[int]:
    path = log_dir / "evaluations.json"
    if not path.exists():
        return []
    return [record["step"] for record in json.loads(path.read_text())["evaluations"]]


def checkpoint_step(save_dir: Path, mode: str) -> int | None:
    latest = latest_checkpoint(save_dir)
    if latest is None:
        return None
    iteration = int(latest.rsplit("-", 1)[1])
    return iteration if mode == "bc" else iteration * 64  # 2 envs x 32 steps per iteration


def check_training(mode: str, save_dir: Path, log_dir: Path) -> tuple[int | None, list[str]]:
    """(the step of the latest checkpoint, what was lost) after a kill."""
    try:
        step = checkpoint_step(save_dir, mode)
        if step is not None:
            load_actor_critic(save_dir)
        steps = evaluation_steps(log_dir)
    except (UsageError, ValueError, KeyError, OSError) as error:
        return None, [f"{save_dir.name}: {error}"]
    losses = []
    interval = 1 if mode == "bc" else STEPS_PER_CHECKPOINT
    if steps != sorted(set(steps)):
        losses.append(f"{log_dir}/evaluations.json: steps out of order or repeated: {steps}")
    if step is not None and [s for s in steps if s <= step] != list(range(interval, step + 1, interval)):
        losses.append(f"{log_dir}/evaluations.json: evaluations up to the checkpoint at {step} are missing: {steps}")
    return step, losses


def crash_training(mode: str, kills: int, rng: random.Random, root: Path) -> ModeResult:
    result = ModeResult(mode)
    chain = 0
    save_dir, log_dir = root / f"{mode}-{chain}", root / f"{mode}-{chain}-log"
    resume = False
    while result.kills < kills:
        command = [*TRAINING[mode], "--save-dir", str(save_dir), "--log-dir", str(log_dir)]
        if result.kills % 2:
            delay, after = rng.uniform(*AFTER_CHECKPOINT_WINDOW), save_dir / "checkpoint"
        else:
            delay, after = rng.uniform(*KILL_WINDOW), None
        status, stderr = run_and_kill(command + (["--resume"] if resume else []), delay, after)
        if status is not None:
            result.losses.append(f"{'--resume' if resume else 'a fresh run'} exited {status}: "
                                 f"{stderr.strip().splitlines()[-1] if stderr.strip() else ''}")
            break
        result.kills += 1
        step, losses = check_training(mode, save_dir, log_dir)
        result.losses.extend(losses)
        if step is None:  # killed before its first checkpoint: nothing to resume, start afresh
            result.before_first_checkpoint += 1
            chain += 1
            save_dir, log_dir = root / f"{mode}-{chain}", root / f"{mode}-{chain}-log"
            resume = False
        else:
            resume = True
    return result


def crash_sampling(kills: int, rng: random.Random, root: Path) -> ModeResult:
    result = ModeResult("sample")
    out_dir = root / "demos"
    command = ["sample_trajectory.py", "--model-dir", str(SHIPPED_EXPERT), "--episodes", "4", "--out-dir", str(out_dir)]
    subprocess.run([sys.executable, *command], cwd=REPO_ROOT, check=True, capture_output=True)
    while result.kills < kills:
        status, stderr = run_and_kill([*command, "--force", "--seed", str(result.kills + 1)], rng.uniform(0.2, 8.0))
        if status not in (None, 0):
            result.losses.append(f"sample_trajectory.py --force exited {status}: {stderr.strip()[-200:]}")
            break
        result.kills += status is None
        try:
            demos = load_demonstrations(out_dir)
            if demos.num_episodes != 4:
                result.losses.append(f"{out_dir}: {demos.num_episodes} episodes, expected 4")
        except UsageError as error:
            result.losses.append(f"{out_dir}: {error}")
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kills", type=int, default=30, help="SIGKILLs per mode")
    parser.add_argument("--modes", default="ppo,gail,bc,sample", help="comma-separated: ppo, gail, bc, sample")
    parser.add_argument("--seed", type=int, default=0, help="seed of the kill instants")
    parser.add_argument("--out", default=None, help="write the results as JSON to this file")
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    root = Path(tempfile.mkdtemp(prefix="crashtest-"))
    results = []
    started = time.perf_counter()
    try:
        for mode in args.modes.split(","):
            result = (crash_sampling(args.kills, rng, root) if mode == "sample"
                      else crash_training(mode, args.kills, rng, root))
            print(result.line(), flush=True)
            results.append(result)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    summary = {"command": " ".join(["python", "tools/crashtest.py", *(argv or sys.argv[1:])]), "seed": args.seed,
               "minutes": round((time.perf_counter() - started) / 60, 1),
               "modes": [dataclasses.asdict(result) for result in results]}
    if args.out:
        Path(args.out).write_text(json.dumps(summary, indent=1) + "\n")
    total_losses = sum(len(result.losses) for result in results)
    print(f"{sum(result.kills for result in results)} kills, {total_losses} losses in {summary['minutes']} min")
    return 1 if total_losses or any(result.kills < args.kills for result in results) else 0


if __name__ == "__main__":
    sys.exit(main())
