"""The GAIL paper's experiment: GAIL against behavioural cloning, by the number of expert
trajectories; one table per suite of envs (SUITES below), by default the classic-control one on
CartPole-v1, Acrobot-v1, MountainCar-v0 and Pendulum-v1.

    python experiments/paper.py experts          # PPO experts -> trajectory/<env> (make experts)
    python experiments/paper.py run              # GAIL and BC, 1/4/7/10 trajectories x 3 seeds (make paper)
    python experiments/paper.py run --quick      # tiny budgets, 1 seed, 1 and 10 trajectories (CI smoke)
    python experiments/paper.py run --envs Pendulum-v1  # one env's runs; the table keeps the others'
    python experiments/paper.py experts --suite mujoco  # the MuJoCo suite's experts (make experts-mujoco)
    python experiments/paper.py run --suite mujoco      # its table, 4/11/18/25 trajectories (make paper-mujoco)
    python experiments/paper.py gifs --suite mujoco     # the README's GIFs: expert, GAIL and BC per env
    python experiments/paper.py variants         # GAIL's reward variants x absorbing state on Acrobot-v1
    python experiments/paper.py variants --envs CartPole-v1 --flags '' --flags '--disc-epochs 2'
                                                 # any run_gail.py flags against the paper's own GAIL runs

``run`` calls run_gail.py and run_behavior_clone.py, each run a fresh process with the flags in
SETTINGS below, and writes to --out: results.json (every run), results.md (the table) and
paper.png (normalised true return, 0 = uniformly random policy, 1 = the expert's demonstrations,
mean and std over seeds), beside each run's imitation fidelity (the energy distance of its final
policy's episodes to the demonstrations it did not train on, or, with all 10, to those), and the
score of the best policy each run kept (the one sample_trajectory.py and test_policy.py load by
default: for GAIL and BC the closest to those demonstrations, chosen without the return). A run
whose result.json says it ran the same script with the config its command gives today (so a
changed default reruns it, and a flag that spells out what was the default does not) is reused: an interrupted experiment continues where it
stopped; --fresh runs everything again.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import math
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from common.errors import UsageError, cli_main  # noqa: E402
from common.files import atomic_write_bytes  # noqa: E402
from sweep import Executor, RunFailed, add_executor_flags, make_executor, positive_int, run_all  # noqa: E402

RANDOM_EPISODES = 100
# The README's side-by-side GIFs show the first seconds of each episode: the gaits, not the whole run.
SIDE_BY_SIDE_SECONDS = 10
SIDE_BY_SIDE_FRAME_MS = 60
QUICK_GAIL_FLAGS = ("--total-env-steps", "2048", "--eval-every", "1024", "--eval-episodes", "2")
QUICK_BC_FLAGS = ("--epochs", "4", "--eval-every", "2", "--eval-episodes", "2")

# MountainCar's reward only arrives at the flag: PPO finds it with normalised observations, an
# entropy bonus and a longer GAE horizon. Pendulum needs a short horizon (gamma 0.9) and larger
# batches with fewer, smaller steps per batch (rl-baselines3-zoo's choice).
MOUNTAIN_CAR_PPO = ("--normalize-observations", "--gae-lambda", "0.98", "--num-envs", "16", "--rollout-steps", "16")
PENDULUM_PPO = ("--normalize-observations", "--gamma", "0.9", "--rollout-steps", "256", "--num-epochs", "10",
                "--minibatch-size", "64")
# MuJoCo locomotion: CleanRL's ppo_continuous_action.py settings (one env, 2048-step batches, 10
# epochs of 64-pair minibatches, learning rate 3e-4 decayed to 0, gradient norm clipped at 0.5,
# normalised observations); the expert also scales the env reward (CleanRL's NormalizeReward).
MUJOCO_PPO = ("--normalize-observations", "--num-envs", "1", "--rollout-steps", "2048", "--minibatch-size", "64",
              "--num-epochs", "10", "--learning-rate", "3e-4", "--max-grad-norm", "0.5")
# HalfCheetah: rl-baselines3-zoo's tuned PPO (ReLU 256x256, log std -2, 20 epochs of 64 from
# 512-step batches, a constant learning rate of 2e-5, gamma 0.98); CleanRL's settings stop
# near 4900, below the zoo's 1M-step 5819 (experiments/NOTES-mujoco.md).
HALF_CHEETAH_PPO = ("--normalize-observations", "--num-envs", "1", "--rollout-steps", "512", "--minibatch-size", "64",
                    "--num-epochs", "20", "--learning-rate", "2.0633e-5", "--no-anneal-lr", "--gamma", "0.98",
                    "--gae-lambda", "0.92", "--clip-range", "0.1", "--entropy-coef", "0.000401762",
                    "--value-coef", "0.58096", "--max-grad-norm", "0.8", "--activation", "relu",
                    "--hidden-sizes", "256,256", "--log-std-init", "-2")
# GAIL on MuJoCo: D needs a gradient penalty (weight 10, DAC's): without it D separates the
# policy at once and nothing is learnt. And the reward is the GAIL paper's own, -log(1 - D) > 0,
# with no absorbing state: the sampled expert falls in most of its episodes, so with the absorbing
# state D rates falling about as expert-like as the policy's own pairs and falling costs nothing;
# a positive reward per step makes staying up pay, as the env's own healthy reward does
# (experiments/NOTES-mujoco.md). Demonstrations are sampled from the expert, as on Pendulum: its
# mean actions alone would let D tell any exploring policy from the expert by the action noise.
# D's reward is scaled by the running std of its discounted return, as the experts' env reward was:
# their PPO settings (the value loss, the gradient clip shared with the policy) were tuned on
# scaled rewards (HalfCheetah seed 0: 0.88 -> 1.00 normalised; NOTES-mujoco.md).
MUJOCO_GAIL = ("--total-env-steps", "1000000", "--disc-grad-penalty", "10", "--reward", "neg_log_1m_d",
               "--no-absorbing", "--scale-reward")


@dataclasses.dataclass(frozen=True)
class EnvSetting:
    """Flags for one env; everything not named here is the scripts' default."""

    env: str
    expert_flags: tuple[str, ...]  # run_ppo.py, seed 0
    gail_flags: tuple[str, ...]    # run_gail.py
    bc_flags: tuple[str, ...]      # run_behavior_clone.py
    demo_flags: tuple[str, ...] = ()  # sample_trajectory.py


SETTINGS = {
    setting.env: setting for setting in (
        # D's reward scaled (--scale-reward) on CartPole and MountainCar: with one trajectory GAIL's
        # worst seed rose from 0.23 to 1.00 and from 0.70 to 0.75 (experiments/README.md). Not
        # run_gail.py's default: on CartPole it learns more slowly in the first 40k env steps.
        EnvSetting("CartPole-v1", expert_flags=(), gail_flags=("--scale-reward",), bc_flags=()),
        # 200k env steps: at 100k and 150k some seeds ended at 0.92-0.94 (see experiments/README.md).
        EnvSetting("Acrobot-v1", expert_flags=(), gail_flags=("--total-env-steps", "200000"), bc_flags=()),
        # The expert trains 1M env steps: at 300k it was -113.5 +- 24.8 over its 10 demonstrations,
        # the first (the one-trajectory cell's) at -158, a start where it swung twice; at 1M it is
        # as steady as the GAIL paper's expert (-98.75 +- 8.71; experiments/README.md).
        # GAIL's entropy bonus is 0.03, the expert's 0.01: with 0.01 one seed in ten (7 trajectories,
        # seed 1) let its policy's entropy fall to 0.01 while D still told it apart at 97%, and it
        # ended at 0.76; with 0.03 all ten reach the expert (experiments/README.md).
        EnvSetting("MountainCar-v0", expert_flags=MOUNTAIN_CAR_PPO + ("--entropy-coef", "0.01", "--total-env-steps",
                                                                       "1000000"),
                   gail_flags=MOUNTAIN_CAR_PPO + ("--entropy-coef", "0.03", "--total-env-steps", "300000",
                                                  "--scale-reward"),
                   bc_flags=("--normalize-observations",)),
        # Stochastic demonstrations: the expert's deterministic actions lie on a curve a = mu(s) that
        # D tells apart from any sampled action, so its reward would only say "stop exploring".
        # A gradient penalty on D (weight 1): with it every seed tried imitates from one trajectory
        # and spins the right way on the style benchmark (experiments/README.md).
        # The policy's means kept inside the torque bounds (--action-bound-coef 1): without it a run
        # in ten let its mean drift to -4 (bounds +-2) on starts near the bottom, where every sample
        # is clipped to -2 and PPO cannot learn to swing back; 600k env steps, not 400k: with the
        # penalty the runs that still missed were slow swing-ups (ten seeds per cell: 1, 4, 7, 10
        # trajectories; experiments/README.md).
        EnvSetting("Pendulum-v1", expert_flags=PENDULUM_PPO + ("--total-env-steps", "200000"),
                   gail_flags=PENDULUM_PPO + ("--total-env-steps", "600000", "--disc-grad-penalty", "1",
                                              "--action-bound-coef", "1"),
                   bc_flags=("--normalize-observations",), demo_flags=("--stochastic",)),
        # Hopper's expert keeps its Gaussian means inside the action bounds (--action-bound-coef 1):
        # without it 33% of its means sat more than 2 std past a bound, and sampled with its own
        # noise it fell in 23 of 25 episodes (GAIL's worst seed then 0.69-0.73); with it 9 of 25,
        # deterministic 25 of 25 (experiments/NOTES-mujoco.md).
        # HalfCheetah's GAIL policy keeps its means inside the bounds too: without it seed 1 flipped
        # onto its back and ran there (0.78 and 0.81 normalised with 4 and 25 trajectories); with it
        # every cell's worst seed is 0.91 or more (experiments/NOTES-mujoco.md).
        *(EnvSetting(env, expert_flags=ppo_flags + expert_extra + ("--scale-reward", "--total-env-steps", "2000000",
                                                                  "--eval-every", "100000"),
                     gail_flags=ppo_flags + MUJOCO_GAIL + gail_extra, bc_flags=("--normalize-observations",),
                     demo_flags=("--stochastic",))
          for env, ppo_flags, expert_extra, gail_extra in (
              ("Hopper-v5", MUJOCO_PPO, ("--action-bound-coef", "1"), ()),
              ("Walker2d-v5", MUJOCO_PPO, (), ()),
              ("HalfCheetah-v5", HALF_CHEETAH_PPO, (), ("--action-bound-coef", "1")))),
    )
}


@dataclasses.dataclass(frozen=True)
class Suite:
    """One table of the experiment: its envs, numbers of trajectories and evaluation protocol."""

    name: str
    envs: tuple[str, ...]
    num_trajectories: tuple[int, ...]
    quick_num_trajectories: tuple[int, ...]
    demos_shipped: int     # demonstrations recorded per expert; those a run does not train on measure fidelity
    eval_episodes: int     # per evaluation; a run's score is its final evaluation's mean
    gail_eval_every: int   # env steps
    out: str               # default --out, relative to the repository


SUITES = {suite.name: suite for suite in (
    # 100 evaluation episodes: with 20, a single Acrobot episode in which the policy never swings up
    # moves a run's score by 0.05; an evaluation costs ~1 s on CartPole.
    Suite("classic", ("CartPole-v1", "Acrobot-v1", "MountainCar-v0", "Pendulum-v1"), (1, 4, 7, 10), (1, 10),
          demos_shipped=10, eval_episodes=100, gail_eval_every=25_000, out="experiments/results"),
    # The GAIL paper's MuJoCo table: 4 to 25 trajectories of 1000 steps; GAIL at most 1M env steps.
    Suite("mujoco", ("Hopper-v5", "Walker2d-v5", "HalfCheetah-v5"), (4, 11, 18, 25), (4, 25), demos_shipped=25,
          eval_episodes=10, gail_eval_every=50_000, out="experiments/results/mujoco"),
)}


def suite_of(env: str) -> Suite:
    return next(suite for suite in SUITES.values() if env in suite.envs)


# --- experts ------------------------------------------------------------------------------------

def expert_commands(setting: EnvSetting) -> list[list[str]]:
    env = setting.env
    return [
        ["run_ppo.py", "--env", env, "--seed", "0", *setting.expert_flags, "--checkpoint-every", "100000000",
         "--save-dir", f"trained_models/ppo/{env}", "--log-dir", f"log/train/ppo/{env}/seed0"],
        ["sample_trajectory.py", "--env", env, "--episodes", str(suite_of(env).demos_shipped), *setting.demo_flags,
         "--force"],
    ]


def train_experts(envs: list[str], force: bool) -> None:
    for env in envs:
        model_dir = REPO_ROOT / "trained_models" / "ppo" / env
        if model_dir.exists() and not force:
            print(f"{model_dir.relative_to(REPO_ROOT)} exists: kept (--force retrains it)")
            continue
        shutil.rmtree(model_dir, ignore_errors=True)
        shutil.rmtree(REPO_ROOT / "log" / "train" / "ppo" / env / "seed0", ignore_errors=True)
        for command in expert_commands(SETTINGS[env]):
            subprocess.run([sys.executable, *command], cwd=REPO_ROOT, check=True)


# --- one run ------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class RunSpec:
    env: str
    algo: str  # "gail" or "bc"
    num_trajectories: int
    seed: int
    variant: tuple[str, ...] = ()  # run_gail.py flags added on top of SETTINGS (the reward study)

    @property
    def label(self) -> str:
        """"gail", "bc", or the variant's flags, e.g. "--reward logit --no-absorbing"."""
        return " ".join(self.variant) if self.variant else self.algo

    def record(self) -> dict:
        """What names this run in its result record: its fields and label."""
        return {**dataclasses.asdict(self), "label": self.label}

    def directory(self, out: Path) -> Path:
        name = "_".join([self.algo, *(flag.lstrip("-") for flag in self.variant)])
        return out / "runs" / self.env / name / f"n{self.num_trajectories}_seed{self.seed}"

    def command(self, out: Path, quick: bool) -> list[str]:
        setting, suite = SETTINGS[self.env], suite_of(self.env)
        run_dir = self.directory(out)
        script, flags, quick_flags = (
            ("run_gail.py", ("--eval-every", str(suite.gail_eval_every), *setting.gail_flags), QUICK_GAIL_FLAGS)
            if self.algo == "gail" else ("run_behavior_clone.py", setting.bc_flags, QUICK_BC_FLAGS))
        return [script, "--env", self.env, "--seed", str(self.seed), "--num-demos", str(self.num_trajectories),
                "--demo-dir", f"trajectory/{self.env}", "--eval-episodes", str(suite.eval_episodes), *flags,
                *self.variant, *(quick_flags if quick else ()), "--no-progress",
                "--save-dir", str(run_dir / "model"), "--log-dir", str(run_dir / "log")]


# The config class each training script parses its flags into (module, class name).
SCRIPT_CONFIGS = {"run_gail.py": ("algo.config", "GailRunConfig"),
                  "run_behavior_clone.py": ("algo.config", "BehaviorCloneRunConfig"),
                  "run_ppo.py": ("algo.config", "PPORunConfig")}


def resolved_config(command: list[str], flags: list[str] | None = None) -> dict:
    """The config the training script of ``command`` would run with today: its flags (or
    ``flags`` instead) plus the current defaults (a changed default shows here, not in the command)."""
    import importlib

    from common.config import config_to_dict, parse_config

    module_name, class_name = SCRIPT_CONFIGS[Path(command[0]).name]
    config_class = getattr(importlib.import_module(module_name), class_name)
    return config_to_dict(parse_config(config_class, "", command[1:] if flags is None else flags))


def config_of_finished_run(previous: dict, run_dir: Path) -> dict | None:
    """The config a finished run really ran with: recorded in its result.json, or (for results
    written before that was recorded) the config.json its training script saved beside the model."""
    if "config" in previous:
        return previous["config"]
    saved = run_dir / "model" / "config.json"
    return json.loads(saved.read_text()) if saved.is_file() else None


def reusable_result(run_dir: Path, command: list[str], fresh: bool, required: tuple[str, ...] = ()) -> dict | None:
    """The result.json of a finished run of ``command``'s script that ran with the config
    ``command`` gives today (defaults included; however the flags were spelt: a run made when a
    value was the default is the run a later command asking for it by flag would make), and that
    records every ``required`` field; None: run it."""
    result_file = run_dir / "result.json"
    if fresh or not result_file.is_file():
        return None
    previous = json.loads(result_file.read_text())
    if (not isinstance(previous.get("command"), list) or Path(previous["command"][0]).name != Path(command[0]).name
            or any(previous.get(key) is None for key in required)):
        return None
    ran_with = config_of_finished_run(previous, run_dir)
    if ran_with is None:
        return None
    if not computes_the_same(ran_with, command):
        return None
    # The same flags on other demonstrations (an expert retrained, its set sampled again under the
    # same path) are another run.
    if previous.get("demos_sha256") != demos_digest(command):
        return None
    return {**previous, "config": ran_with, "reused": True}


def demos_digest(command: list[str]) -> str | None:
    """The digest of the demonstration set ``command`` learns from (its --demo-dir, from the
    repository's root; common.demonstrations.demo_set_digest), recorded in each run's result; None
    for a command without one."""
    from common.demonstrations import demo_set_digest  # loads TensorFlow, which --help need not wait for

    if "--demo-dir" not in command:
        return None
    return demo_set_digest(REPO_ROOT / command[command.index("--demo-dir") + 1])


def computes_the_same(ran_with: dict, command: list[str]) -> bool:
    """Whether a run saved with config ``ran_with`` computes what ``command`` would today. A flag
    added since the run was made is absent from its config: the run did what that flag's default
    does (a new flag's default keeps the old behaviour)."""
    defaults = resolved_config(command, flags=[])
    return all(ran_with.get(name, defaults[name]) == value for name, value in resolved_config(command).items()
               if name not in NOT_COMPUTED_FIELDS)


# Where a run wrote its checkpoints and logs (always inside its own run directory, which is what
# identifies it) is not part of what it computed: a results tree moved or cloned elsewhere, or a
# run made in a git worktree, is still reused. Nor is whether it was continued with --resume
# (a resumed run restores its networks, optimisers and random state and computes the same).
NOT_COMPUTED_FIELDS = ("save_dir", "log_dir", "resume")


def execute(spec: RunSpec, out: Path, quick: bool, fresh: bool, executor: Executor) -> dict:
    """Run ``spec`` in a fresh process (or reuse its finished result, or continue its interrupted
    attempt); returns its result record."""
    run_dir = spec.directory(out)
    command = spec.command(out, quick)
    previous = finished_result(spec, out, quick, fresh)
    if previous is not None:
        return previous
    demos_sha256 = demos_digest(command)
    resumed = not fresh and executor.continues_interrupted_runs and interrupted_attempt(run_dir, command)
    seconds = None
    if resumed:
        try:
            seconds = executor.run([([*command, "--resume"], "output.txt")], run_dir, keep_run_dir=True)
        except RunFailed as failure:
            if failure.returncode != 2:  # stopped again (its checkpoint is kept) or crashed
                raise
            # --resume refused it (e.g. its training had finished, its result.json not): start again.
    if seconds is None:
        resumed = False
        seconds = executor.run([(command, "output.txt")], run_dir)
    log = json.loads((run_dir / "log" / "evaluations.json").read_text())
    evaluations = log["evaluations"]
    result = {**spec.record(), "final_return": evaluations[-1]["return_mean"],
              "final_return_std": evaluations[-1]["return_std"], "final_fidelity": evaluations[-1].get("fidelity"),
              **kept_best_policy(run_dir),
              # A resumed run's training clock went on across its attempts (the lost minutes excepted).
              "wall_seconds": round(log["train_seconds"] if resumed else seconds, 1), "resumed": resumed,
              "command": command, "demos_sha256": demos_sha256,
              "config": json.loads((run_dir / "model" / "config.json").read_text())}
    atomic_write_bytes(run_dir / "result.json", json.dumps(result, indent=1).encode())
    return {**result, "reused": False}


def interrupted_attempt(run_dir: Path, command: list[str]) -> bool:
    """Whether ``run_dir`` holds the checkpoint of an unfinished attempt at ``command`` (no
    result.json; saved with the config ``command`` gives today), which --resume can continue
    instead of starting again: a session stopped in the middle of a 20-minute MuJoCo run loses
    minutes, not the run."""
    model_dir = run_dir / "model"
    if (run_dir / "result.json").is_file() or not (model_dir / "checkpoint").is_file():
        return False
    saved = model_dir / "config.json"
    if not saved.is_file():
        return False
    return computes_the_same(json.loads(saved.read_text()), command)


def finished_result(spec: RunSpec, out: Path, quick: bool, fresh: bool = False) -> dict | None:
    """The result of ``spec``'s finished run in ``out`` if it is still valid (reusable_result), with
    the best policy's score added to results written before that was recorded; None: run it."""
    run_dir = spec.directory(out)
    # Runs from before fidelity was measured are run again.
    previous = reusable_result(run_dir, spec.command(out, quick), fresh, required=("final_fidelity",))
    if previous is None:
        return None
    if "best_return" not in previous:
        previous = {key: value for key, value in previous.items() if key != "reused"}
        previous.update(kept_best_policy(run_dir))
        atomic_write_bytes(run_dir / "result.json", json.dumps(previous, indent=1).encode())
    # Recorded as ``spec``'s run: a variant's run copied here once its flags became the env's
    # setting computed the same thing, but its record still names the variant.
    return {**previous, **spec.record(), "reused": True}


def kept_best_policy(run_dir: Path) -> dict:
    """The evaluation at which a finished run kept its best policy (model/best/best.json: for GAIL
    and BC the one closest to the held-out demonstrations, chosen without the true return), and
    what it scored there: {"best_step", "best_return", "best_fidelity"}, all None if the run kept
    none. Evaluations run fixed seeds deterministically, so the kept policy scores exactly this again."""
    from common.checkpoints import BEST_DIR  # loads TensorFlow, which --help need not wait for

    best_file = run_dir / "model" / BEST_DIR / "best.json"
    if not best_file.is_file():
        return {"best_step": None, "best_return": None, "best_fidelity": None}
    best_step = json.loads(best_file.read_text())["step"]
    evaluations = json.loads((run_dir / "log" / "evaluations.json").read_text())["evaluations"]
    (evaluation,) = (record for record in evaluations if record["step"] == best_step)
    return {"best_step": best_step, "best_return": evaluation["return_mean"],
            "best_fidelity": evaluation.get("fidelity")}


# --- reference returns --------------------------------------------------------------------------

def reference_returns(env: str) -> dict[str, float]:
    """The two ends of the normalised scale: the demonstrations' mean return (1) and a uniformly
    random policy's over RANDOM_EPISODES evaluation episodes (0)."""
    # Imported here: they load TensorFlow, which --help and flag errors need not wait for.
    from common.demonstrations import load_demonstrations
    from common.envs import make_vec_env, probe_env_spec
    from common.rollout import EVAL_SEED_OFFSET, run_episodes
    from network_models.policy import RandomActor

    spec = probe_env_spec(env)
    demos = load_demonstrations(REPO_ROOT / "trajectory" / env, spec)
    needed = max(suite_of(env).num_trajectories)
    if demos.num_episodes < needed:
        raise UsageError(f"trajectory/{env}: {demos.num_episodes} demonstrations, need {needed} "
                         "(python experiments/paper.py experts)")
    envs = make_vec_env(env, 10)
    random_returns = run_episodes(envs, RandomActor(spec.action_space, seed=0), RANDOM_EPISODES,
                                  EVAL_SEED_OFFSET).returns
    envs.close()
    return {"expert": float(demos.episode_returns.mean()), "random": float(random_returns.mean())}


def normalised(value: float, reference: dict[str, float]) -> float:
    return (value - reference["random"]) / (reference["expert"] - reference["random"])


# --- outputs ------------------------------------------------------------------------------------

def summarise(results: list[dict], references: dict[str, dict[str, float]]) -> list[dict]:
    """One row per env, algo and number of trajectories: normalised mean, std and worst seed."""
    rows = []
    keys = sorted({(r["env"], r["algo"], r["num_trajectories"]) for r in results},
                  key=lambda key: (list(SETTINGS).index(key[0]), key[1], key[2]))
    for env, algo, num in keys:
        runs = [r for r in results if (r["env"], r["algo"], r["num_trajectories"]) == (env, algo, num)]
        returns = np.array([r["final_return"] for r in runs])
        scores = np.array([normalised(value, references[env]) for value in returns])
        energies = [(r.get("final_fidelity") or {}).get("energy_distance") for r in runs]
        has_fidelity = all(energy is not None for energy in energies)
        best_returns = [r.get("best_return") for r in runs]
        best_scores = ([normalised(value, references[env]) for value in best_returns]
                       if all(value is not None for value in best_returns) else None)
        rows.append({"env": env, "algo": algo, "num_trajectories": num, "seeds": len(scores),
                     "normalised_mean": float(scores.mean()), "normalised_std": float(scores.std()),
                     "normalised_worst": float(scores.min()), "return_mean": float(returns.mean()),
                     "energy_mean": float(np.mean(energies)) if has_fidelity else None,
                     "energy_worst": float(np.max(energies)) if has_fidelity else None,
                     "best_normalised_mean": None if best_scores is None else float(np.mean(best_scores)),
                     "best_normalised_worst": None if best_scores is None else float(np.min(best_scores))})
    return rows


def markdown_table(rows: list[dict], references: dict[str, dict[str, float]]) -> str:
    lines = ["| env | expert / random return | trajectories | GAIL normalised (worst seed) | GAIL return "
             "| GAIL energy distance (worst) | GAIL best policy normalised (worst) | BC normalised (worst seed) "
             "| BC return | BC energy distance (worst) | BC best policy normalised (worst) |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    by_key = {(row["env"], row["algo"], row["num_trajectories"]): row for row in rows}
    most_seeds = max((row["seeds"] for row in rows), default=0)
    for env, num in sorted({(row["env"], row["num_trajectories"]) for row in rows},
                           key=lambda key: (list(SETTINGS).index(key[0]), key[1])):
        # A cell still being filled says so: its "worst seed" is the worst of fewer seeds.
        seeds = min(by_key[(env, algo, num)]["seeds"] for algo in ("gail", "bc") if (env, algo, num) in by_key)
        cells = [env, f"{references[env]['expert']:.1f} / {references[env]['random']:.1f}",
                 str(num) if seeds == most_seeds else f"{num} ({seeds} of {most_seeds} seeds)"]
        for algo in ("gail", "bc"):
            row = by_key.get((env, algo, num))
            cells += (["-", "-", "-", "-"] if row is None else
                      [f"{row['normalised_mean']:.2f} ± {row['normalised_std']:.2f} ({row['normalised_worst']:.2f})",
                       f"{row['return_mean']:.1f}",
                       "-" if row.get("energy_mean") is None else
                       f"{row['energy_mean']:.3f} ({row['energy_worst']:.3f})",
                       "-" if row.get("best_normalised_mean") is None else
                       f"{row['best_normalised_mean']:.2f} ({row['best_normalised_worst']:.2f})"])
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    envs = [env for env in SETTINGS if any(row["env"] == env for row in rows)]
    with_fidelity = any(row.get("energy_mean") is not None for row in rows)
    figure, axes = plt.subplots(2 if with_fidelity else 1, len(envs), figsize=(3.6 * len(envs), 6.2 if with_fidelity
                                                                            else 3.2), squeeze=False)
    if with_fidelity:
        for axis, env in zip(axes[1], envs):
            for algo, label, marker in (("gail", "GAIL", "o"), ("bc", "BC", "s")):
                series = sorted((row for row in rows if row["env"] == env and row["algo"] == algo
                                 and row.get("energy_mean") is not None), key=lambda row: row["num_trajectories"])
                axis.plot([row["num_trajectories"] for row in series], [row["energy_mean"] for row in series],
                          marker=marker, label=label)
            axis.set_xlabel("expert trajectories")
            axis.set_xticks(sorted({row["num_trajectories"] for row in rows}))
        axes[1][0].set_ylabel("energy distance to demos (0 = same)")
    for axis, env in zip(axes[0], envs):
        for algo, label, marker in (("gail", "GAIL", "o"), ("bc", "BC", "s")):
            series = sorted((row for row in rows if row["env"] == env and row["algo"] == algo),
                            key=lambda row: row["num_trajectories"])
            axis.errorbar([row["num_trajectories"] for row in series], [row["normalised_mean"] for row in series],
                          yerr=[row["normalised_std"] for row in series], marker=marker, capsize=3, label=label)
        axis.axhline(1.0, color="gray", linestyle="--", linewidth=0.8)
        axis.axhline(0.0, color="gray", linestyle=":", linewidth=0.8)
        axis.set_title(env)
        axis.set_xlabel("expert trajectories")
        axis.set_xticks(sorted({row["num_trajectories"] for row in rows}))
    axes[0][0].set_ylabel("normalised return (expert = 1)")
    axes[0][0].legend(loc="best")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


# --- main ---------------------------------------------------------------------------------------

def execute_all(specs: list[RunSpec], args: argparse.Namespace, references: dict[str, dict[str, float]],
                executor: Executor) -> tuple[list[dict], dict]:
    """Every run, --workers at a time, reporting each as it ends; returns the results (sorted)
    and the timing record."""
    start = time.perf_counter()

    def report(result: dict, done: int, total: int) -> None:
        score = normalised(result["final_return"], references[result["env"]])
        timing = "reused" if result["reused"] else f"{result['wall_seconds']:.0f} s"
        print(f"[{done}/{total}] {result['env']} {result['label']} n={result['num_trajectories']} "
              f"seed {result['seed']}: return {result['final_return']:.1f} (normalised {score:.2f}, {timing})",
              flush=True)

    results = run_all(lambda spec: execute(spec, Path(args.out), args.quick, args.fresh, executor), specs,
                      executor.workers, report)
    wall_seconds = time.perf_counter() - start
    results.sort(key=lambda r: (r["env"], r["label"], r["num_trajectories"], r["seed"]))
    timing = {"command": " ".join(sys.argv), "workers": executor.workers, "ray_address": args.ray_address,
              "quick": args.quick,
              "wall_seconds": round(wall_seconds, 1), "reused_runs": sum(result["reused"] for result in results),
              "run_seconds_total": round(sum(result["wall_seconds"] for result in results), 1)}
    print(f"{len(results)} runs ({timing['reused_runs']} reused) in {wall_seconds / 60:.1f} min with "
          f"{executor.workers} workers{' on Ray' if args.ray_address else ''}; the runs themselves took "
          f"{timing['run_seconds_total'] / 60:.1f} min in all")
    return results, timing


def run_experiment(args: argparse.Namespace, executor: Executor) -> None:
    out = Path(args.out)
    envs = parse_envs(args.envs, args.suite)
    suite = SUITES[args.suite]
    trajectory_counts = suite.quick_num_trajectories if args.quick else suite.num_trajectories
    seeds = range(1 if args.quick else args.seeds)
    chosen_counts = parse_trajectories(args.trajectories, trajectory_counts)
    specs = [RunSpec(env, algo, num, seed) for env in suite.envs for num in trajectory_counts for seed in seeds
             for algo in ("gail", "bc")]

    def chosen(spec: RunSpec) -> bool:
        return spec.env in envs and spec.num_trajectories in chosen_counts

    # --envs and --trajectories pick what runs; the table still covers the whole suite, with the
    # other cells' finished runs that are still valid (a run they would make again today is left
    # out, not made).
    others = [finished_result(spec, out, args.quick) for spec in specs if not chosen(spec)]
    kept = [result for result in others if result is not None]
    references = {env: reference_returns(env) for env in suite.envs
                  if env in envs or any(result["env"] == env for result in kept)}
    results, timing = execute_all([spec for spec in specs if chosen(spec)], args, references, executor)
    results = sorted(results + kept, key=lambda r: (r["env"], r["label"], r["num_trajectories"], r["seed"]))
    rows = summarise(results, references)
    out.mkdir(parents=True, exist_ok=True)
    summary = {**timing, "references": references, "rows": rows, "runs": results}
    atomic_write_bytes(out / "results.json", json.dumps(summary, indent=1).encode())
    atomic_write_bytes(out / "results.md", markdown_table(rows, references).encode())
    plot(rows, out / "paper.png")
    print(markdown_table(rows, references))
    print(f"wrote {out}/results.md, results.json and paper.png")


def record_gifs(args: argparse.Namespace) -> None:
    """A GIF of one episode of each env's expert, and of the GAIL and BC policies (the best each
    kept) of its seed-0 run with the most trajectories, by test_policy.py --record: out/gifs/."""
    suite, out = SUITES[args.suite], Path(args.out)
    most = max(suite.num_trajectories)
    with tempfile.TemporaryDirectory() as scratch:
        for env in parse_envs(args.envs, args.suite):
            model_dirs = {"ppo": REPO_ROOT / "trained_models" / "ppo" / env,
                          **{algo: RunSpec(env, algo, most, 0).directory(out) / "model" for algo in ("gail", "bc")}}
            missing = [str(path) for path in model_dirs.values() if not path.is_dir()]
            if missing:
                raise UsageError(f"{', '.join(missing)}: no policy yet (python experiments/paper.py experts / run "
                                 f"--suite {args.suite})")
            gifs = {algo: out / "gifs" / f"{algo}-{env}.gif" for algo in model_dirs}
            for algo, model_dir in model_dirs.items():
                subprocess.run([sys.executable, "test_policy.py", "--env", env, "--algos", algo,
                                "--model-dir", str(model_dir), "--episodes", "1", "--num-envs", "1",
                                "--record", str(gifs[algo]), "--log-dir", scratch],
                               cwd=REPO_ROOT, check=True)
            write_side_by_side(list(gifs.values()), out / "gifs" / f"side-by-side-{env}.gif")


def side_by_side(clips: list[np.ndarray], num_frames: int, stride: int) -> np.ndarray:
    """The first ``num_frames`` frames of each clip [F_i, H, W, 3] next to each other, every
    ``stride``-th pixel: [num_frames, H/stride, sum of W_i/stride, 3]. A clip that ends sooner (an
    episode that fell) holds its last frame."""
    held = [clip[np.minimum(np.arange(num_frames), len(clip) - 1)] for clip in clips]
    return np.concatenate(held, axis=2)[:, ::stride, ::stride]


def write_side_by_side(gifs: list[Path], path: Path) -> None:
    """The README's GIF of an env: the expert, GAIL and BC episodes of ``gifs``, left to right, for
    their first SIDE_BY_SIDE_SECONDS, at a quarter of MuJoCo's resolution and at most one frame
    per SIDE_BY_SIDE_FRAME_MS (about 1 MB where the three whole episodes take a few MB)."""
    import imageio.v3 as iio
    from PIL import Image, ImageSequence

    clips = [iio.imread(gif) for gif in gifs]
    # The same env's GIFs share their frame timing; the longest has a delay for every frame shown.
    longest_gif = max(zip(gifs, clips), key=lambda gif_and_clip: len(gif_and_clip[1]))[0]
    with Image.open(longest_gif) as longest:
        durations = [frame.info["duration"] for frame in ImageSequence.Iterator(longest)]
    num_frames = min(len(durations), int(np.searchsorted(np.cumsum(durations), SIDE_BY_SIDE_SECONDS * 1000.0)) + 1)
    # Every few frames, each shown for as long as the ones it stands for: the same real-time
    # playback at a third of the size on Hopper and Walker2d (rendered at 125 fps).
    every = math.ceil(SIDE_BY_SIDE_FRAME_MS / np.median(durations))
    frames = side_by_side(clips, num_frames, stride=2)[::every]
    durations = [sum(durations[start:min(start + every, num_frames)]) for start in range(0, num_frames, every)]
    atomic_write_bytes(path, iio.imwrite("<bytes>", list(frames), extension=".gif", duration=durations, loop=0))


def reward_variants() -> list[tuple[str, ...]]:
    return [("--reward", reward, *(() if absorbing else ("--no-absorbing",)))
            for reward in ("log_d", "neg_log_1m_d", "logit") for absorbing in (True, False)]


def split_flags(text: str) -> tuple[str, ...]:
    """Command-line flags as separate words, ``--name=value`` as ``--name value``: one spelling per
    variant, since its run directory is named after its flags."""
    words = []
    for word in shlex.split(text):
        words += word.split("=", 1) if word.startswith("--") and "=" in word else [word]
    return tuple(words)


def variants_table(env: str, num_trajectories: int, variants: list[tuple[str, ...]], results: list[dict],
                   reference: dict[str, float]) -> str:
    """One row per variant: normalised final return (mean ± std, worst seed), the returns by seed,
    the fidelity (energy distance to the held-out demonstrations: mean, worst seed) and the
    normalised return of the best policies the runs kept (mean, worst seed)."""
    lines = [f"GAIL on {env}, expert trajectories: {num_trajectories}; normalised true return (expert "
             f"{reference['expert']:.1f} = 1, random {reference['random']:.1f} = 0) and energy distance "
             "to the demonstrations it did not train on (0 = same distribution)", "",
             "| run_gail.py flags on top of the paper's | normalised (worst seed) | returns by seed "
             "| energy distance (worst seed) | best policy normalised (worst seed) |", "|---|---|---|---|---|"]
    for variant in variants:
        runs = sorted((r for r in results if r["env"] == env and tuple(r["variant"]) == tuple(variant)),
                      key=lambda r: r["seed"])
        scores = np.array([normalised(r["final_return"], reference) for r in runs])
        energies = np.array([r["final_fidelity"]["energy_distance"] for r in runs])
        returns = ", ".join(f"{r['final_return']:.1f}" for r in runs)
        best_scores = np.array([normalised(r["best_return"], reference) for r in runs
                                if r.get("best_return") is not None])
        best = f"{best_scores.mean():.2f} ({best_scores.min():.2f})" if len(best_scores) == len(runs) else "-"
        lines.append(f"| `{' '.join(variant) or '(none)'}` | {scores.mean():.2f} ± {scores.std():.2f} "
                     f"({scores.min():.2f}) | {returns} | "
                     f"{energies.mean():.3f} ({energies.max():.3f}) | {best} |")
    return "\n".join(lines) + "\n"


def run_variants(args: argparse.Namespace, executor: Executor) -> None:
    """GAIL with extra run_gail.py flags (by default the learned-reward variants, with and without
    the absorbing state) on the paper's settings of each env, one table per env."""
    out = Path(args.out)
    envs = parse_envs(args.envs, args.suite)
    variants = [split_flags(flags) for flags in args.flags] if args.flags else reward_variants()
    references = {env: reference_returns(env) for env in envs}
    seeds = range(1 if args.quick else args.seeds)
    specs = [RunSpec(env, "gail", args.num_trajectories, seed, variant)
             for env in envs for variant in variants for seed in seeds]
    results, timing = execute_all(specs, args, references, executor)
    out.mkdir(parents=True, exist_ok=True)
    for env in envs:
        table = variants_table(env, args.num_trajectories, variants, results, references[env])
        env_runs = [run for run in results if run["env"] == env]
        stem = f"{args.name}-{env}"
        atomic_write_bytes(out / f"{stem}.json", json.dumps({**timing, "references": references[env],
                                                              "runs": env_runs}, indent=1).encode())
        atomic_write_bytes(out / f"{stem}.md", table.encode())
        print(table)
        print(f"wrote {out}/{stem}.md and {stem}.json")


def parse_envs(text: str | None, suite_name: str) -> list[str]:
    """--envs (None: every env of the suite), each one of the suite's."""
    suite = SUITES[suite_name]
    if text is None:
        return list(suite.envs)
    envs = [env.strip() for env in text.split(",") if env.strip()]
    unknown = [env for env in envs if env not in suite.envs]
    if unknown or not envs:
        raise UsageError(f"--envs {text}: expected a comma-separated list from {', '.join(suite.envs)} "
                         f"(--suite {suite_name})")
    return envs


def parse_trajectories(text: str | None, counts: tuple[int, ...]) -> tuple[int, ...]:
    """--trajectories (None: all of ``counts``), each one of ``counts``."""
    if text is None:
        return counts
    try:
        chosen = tuple(int(count) for count in text.split(",") if count.strip())
    except ValueError:
        chosen = ()
    if not chosen or any(count not in counts for count in chosen):
        raise UsageError(f"--trajectories {text}: expected a comma-separated list from "
                         f"{', '.join(map(str, counts))}")
    return chosen


@cli_main
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    experts = commands.add_parser("experts", help="train the PPO experts and record their demonstrations",
                                  formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    experts.add_argument("--force", action="store_true", help="retrain experts that already exist")
    run = commands.add_parser("run", help="GAIL and BC by number of trajectories; table and figure",
                              formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    gifs = commands.add_parser("gifs", help="a GIF of the expert, GAIL and BC per env (the seed-0 runs with the "
                               "most trajectories) -> <out>/gifs/",
                               formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    for command in (experts, run, gifs):
        command.add_argument("--envs", default=None, help="comma-separated env ids of the suite (None: all)")
    variants = commands.add_parser("variants", help="GAIL with extra flags (default: the reward variants with "
                                   "and without the absorbing state) against the paper's settings",
                                   formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    variants.add_argument("--envs", default="Acrobot-v1", help="comma-separated env ids")
    variants.add_argument("--flags", action="append", default=None, metavar="FLAGS",
                          help="run_gail.py flags of one variant, quoted; repeat for more ('' = the paper's own "
                          "GAIL runs; a single flag without a value as --flags=--no-disc-anneal-lr; default: "
                          "the six reward variants)")
    variants.add_argument("--name", default="variants", help="the tables are written to NAME-<env>.md and .json")
    variants.add_argument("--num-trajectories", type=positive_int, default=1, help="expert trajectories")
    for command in (experts, run, variants, gifs):
        command.add_argument("--suite", choices=list(SUITES), default="classic",
                             help="which table: " + "; ".join(f"{suite.name}: {', '.join(suite.envs)} with "
                                                             f"{'/'.join(map(str, suite.num_trajectories))} "
                                                             "trajectories" for suite in SUITES.values()))
    gifs.add_argument("--out", default=None, help="the experiment's output directory (None: the suite's)")
    for command in (run, variants):
        command.add_argument("--seeds", type=positive_int, default=3, help="seeds 0..N-1 per setting")
        add_executor_flags(command)
        command.add_argument("--quick", action="store_true", help="tiny budgets and seed 0 only (run: the "
                             "suite's fewest and most trajectories)")
        command.add_argument("--fresh", action="store_true", help="rerun runs whose results are already in --out")
        command.add_argument("--out", default=None, help="output directory (None: the suite's, e.g. "
                             "experiments/results, or runs/paper-quick/<suite> with --quick)")
    run.add_argument("--trajectories", default=None, help="comma-separated numbers of trajectories to run, from "
                     "the suite's (None: all); the table keeps the other cells' finished runs")
    args = parser.parse_args(argv)
    if args.command == "experts":
        train_experts(parse_envs(args.envs, args.suite), args.force)
        return
    if args.out is None:
        quick = getattr(args, "quick", False)
        args.out = str(REPO_ROOT / (f"runs/paper-quick/{args.suite}" if quick else SUITES[args.suite].out))
    if args.command == "gifs":
        record_gifs(args)
        return
    with contextlib.closing(make_executor(args)) as executor:  # first: a wrong --ray-address fails at once
        (run_experiment if args.command == "run" else run_variants)(args, executor)


if __name__ == "__main__":
    main()
