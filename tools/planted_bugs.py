#!/usr/bin/env python3
"""The nine bugs a spot-check once planted in this code unnoticed, planted again, one at a time,
each against the test named to catch it (`make planted-bugs`, about 5 minutes on 2 cores).
The named tests first run once with no bug planted and must pass.

    python tools/planted_bugs.py            # every bug; writes tests/mutation/planted.md
    python tools/planted_bugs.py --list     # the bugs and their tests, nothing run

Each bug is a text substitution in one file of a copy of the repository (the working tree is
never touched); the named tests run there with `pytest -x` and must fail. A substitution whose
text is no longer in the file is reported as such, so a refactor cannot make a bug silently
"caught". Exit status 1 if any bug survives its tests or no longer applies.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from mutation import copy_repository  # the same copy of the working tree that mutation testing uses

REPO = Path(__file__).resolve().parents[1]
REPORT = REPO / "tests" / "mutation" / "planted.md"


@dataclasses.dataclass(frozen=True)
class PlantedBug:
    name: str
    path: str      # the file it is planted in
    original: str  # text that must appear exactly once
    planted: str
    tests: tuple[str, ...]


BUGS = (
    PlantedBug("GAIL learns from its learned reward plus the env reward", "algo/on_policy.py",
               "compute_gae(learned.rewards, values,", "compute_gae(learned.rewards + rollout.env_rewards, values,",
               ("tests/test_gae_edges.py::test_training_loop_feeds_ppo_the_independently_computed_gae",
                "tests/test_gail_reward_source.py::test_gail_weights_are_bit_identical_when_the_env_reward_is_scaled")),
    PlantedBug("PPO: entropy bonus sign flipped", "algo/ppo.py",
               "- config.entropy_coef * entropy", "+ config.entropy_coef * entropy",
               ("tests/test_ppo_update.py::test_one_update_matches_the_independent_loss_gradient_clip_and_adam_step",)),
    PlantedBug("PPO: value target set to the advantages instead of the returns", "algo/on_policy.py",
               "advantages.reshape(-1), returns.reshape(-1), self.rng)",
               "advantages.reshape(-1), advantages.reshape(-1), self.rng)",
               ("tests/test_gae_edges.py::test_training_loop_feeds_ppo_the_independently_computed_gae",)),
    PlantedBug("PPO: gradient-norm clipping removed", "algo/ppo.py",
               "gradients, _ = tf.clip_by_global_norm(gradients, config.max_grad_norm)",
               "gradients = list(gradients)",
               ("tests/test_ppo_update.py::test_one_update_matches_the_independent_loss_gradient_clip_and_adam_step",)),
    PlantedBug("BC: entropy sign flipped in its loss", "algo/behavior_clone.py",
               "- entropy_coef * tf.reduce_mean(entropy)", "+ entropy_coef * tf.reduce_mean(entropy)",
               ("tests/test_bc_loss.py::test_behavior_clone_loss_hand_example",)),
    PlantedBug("GAE: a step both terminated and truncated bootstraps from V(final obs)", "algo/ppo.py",
               "    following = np.where(truncated, final_obs_values, following)\n"
               "    return np.where(terminated, terminal_value, following).astype(np.float32)",
               "    following = np.where(terminated, terminal_value, following)\n"
               "    return np.where(truncated, final_obs_values, following).astype(np.float32)",
               ("tests/test_gae_edges.py::test_a_step_both_terminated_and_truncated_bootstraps_from_the_terminal_value",)),
    PlantedBug("the policy's time-limit truncations counted as absorbing transitions", "algo/gail.py",
               "int(rollout.terminated.sum())", "int(rollout.episode_ends.sum())",
               ("tests/test_gae_edges.py::test_discriminator_counts_only_terminated_steps_as_absorbing",)),
    PlantedBug("demonstrations: no lower-bound check on continuous actions", "common/demonstrations.py",
               "outside = (actions < spec.action_space.low).any() or ", "outside = ",
               ("tests/test_demo_checks.py::test_continuous_actions_outside_either_bound_are_refused",)),
    PlantedBug("demonstrations: zero-length episodes accepted", "common/demonstrations.py",
               "(lengths <= 0).any()", "(lengths < 0).any()",
               ("tests/test_demo_checks.py::test_zero_length_episodes_are_refused",)),
)


def run_tests(tests: tuple[str, ...], copy: Path) -> subprocess.CompletedProcess:
    # The copy's own modules first, whatever an editable install of the working tree says.
    environment = {**os.environ, "PYTHONPATH": str(copy)}
    return subprocess.run([sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *tests],
                          cwd=copy, env=environment, capture_output=True, text=True)


def plant_and_test(bug: PlantedBug, copy: Path) -> tuple[str, float]:
    """("caught", "SURVIVED" or "does not apply: ..."), seconds."""
    target = copy / bug.path
    source = target.read_text()
    if source.count(bug.original) != 1:
        return f"does not apply: the text to change appears {source.count(bug.original)} times in {bug.path}", 0.0
    target.write_text(source.replace(bug.original, bug.planted))
    started = time.perf_counter()
    try:
        finished = run_tests(bug.tests, copy)
    finally:
        target.write_text(source)
    seconds = time.perf_counter() - started
    if finished.returncode == 1:
        return "caught", seconds
    if finished.returncode == 0:
        return "SURVIVED", seconds
    return f"does not apply: pytest exited with {finished.returncode}: {finished.stdout[-300:]}", seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--list", action="store_true", help="list the bugs and their tests, run nothing")
    args = parser.parse_args()
    if args.list:
        for bug in BUGS:
            print(f"{bug.name}  ({bug.path})\n    " + "\n    ".join(bug.tests))
        return 0
    rows = []
    with tempfile.TemporaryDirectory(prefix="planted-") as scratch:
        copy = Path(scratch)
        copy_repository(copy)
        # Without a bug every named test must pass, or a failure below would prove nothing.
        baseline = run_tests(tuple(dict.fromkeys(test for bug in BUGS for test in bug.tests)), copy)
        if baseline.returncode != 0:
            print(f"the named tests fail with no bug planted:\n{baseline.stdout[-2000:]}", file=sys.stderr)
            return 1
        for bug in BUGS:
            verdict, seconds = plant_and_test(bug, copy)
            print(f"{verdict:>8}  {bug.name} ({seconds:.0f} s)", flush=True)
            rows.append((bug, verdict, seconds))
    lines = ["# The nine planted bugs", "",
             "Written by `make planted-bugs` (`tools/planted_bugs.py`): each bug planted alone in a copy of the "
             "repository, then its tests run; *caught* means they failed.", "",
             "| bug | where | planted | tests | verdict |", "| --- | --- | --- | --- | --- |"]
    for bug, verdict, _ in rows:
        change = f"`{bug.original.strip().splitlines()[0]}` → `{bug.planted.strip().splitlines()[0]}`"
        tests = "<br>".join(f"`{test.split('/')[-1]}`" for test in bug.tests)
        lines.append(f"| {bug.name} | {bug.path} | {change} | {tests} | {verdict} |")
    REPORT.write_text("\n".join(lines) + "\n")
    return 0 if all(verdict == "caught" for _, verdict, _ in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
