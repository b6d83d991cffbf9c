"""The config objects of the tool scripts (sample_trajectory, test_policy, export_policy,
convert_demos), importable without TensorFlow so that ``--help`` and a bad flag answer at once.
The training scripts' configs are in algo/config.py."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from common.config import format_path, option
from common.errors import UsageError

CHECKPOINT_CHOICES = ("best", "last")
CHECKPOINT_HELP = ("which policy of a run: best (kept by its evaluations: the most faithful for GAIL/BC, "
                   "the highest return for PPO; the last if the run kept none) or last")
EVALUATED_ALGOS = ("ppo", "gail", "bc", "random")


@dataclasses.dataclass
class SampleConfig:
    env: str = option("CartPole-v1", "env id; must match the policy's checkpoint")
    model_dir: str = option("trained_models/ppo/{env}", "directory of the expert's checkpoint "
                            "({env}, {seed} filled in)")
    checkpoint: str = option("best", CHECKPOINT_HELP, choices=CHECKPOINT_CHOICES)
    episodes: int = option(10, "episodes to record", "positive")
    out_dir: str = option("trajectory/{env}", "where the demonstration files are written ({env}, {seed} filled in)")
    seed: int = option(0, "seed of the episodes' initial states (and of sampling with --stochastic)",
                       "seed")
    stochastic: bool = option(False, "sample actions from the policy instead of taking the most likely")
    num_envs: int = option(10, "parallel envs", "positive")
    force: bool = option(False, "replace demonstrations already in --out-dir")


@dataclasses.dataclass
class TestConfig:
    __test__ = False  # not a pytest test class, whatever its name

    algos: str = option("ppo", f"comma-separated policies to evaluate, from {', '.join(EVALUATED_ALGOS)}")
    env: str = option("CartPole-v1", "env id; must match each policy's checkpoint")
    model_dir: str = option("trained_models/{algo}/{env}", "checkpoint directory ({algo}, {env}, {seed} filled in)")
    checkpoint: str = option("best", CHECKPOINT_HELP, choices=CHECKPOINT_CHOICES)
    demo_dir: str = option("", "demonstrations to measure imitation fidelity against ({env}, {seed} filled "
                           "in; empty = true return only)")
    episodes: int = option(10, "episodes per policy", "positive")
    stochastic: bool = option(False, "sample actions instead of taking the most likely")
    seed: int = option(0, "seed of the initial states (and of sampling with --stochastic)", "seed")
    num_envs: int = option(10, "parallel envs", "positive")
    log_dir: str = option("log/test/{algo}/{env}", "TensorBoard directory ({algo}, {env}, {seed} filled in)")
    record: str = option("", "also write a GIF of each policy's first episode to this .gif path "
                         "({algo}, {env}, {seed} filled in; empty = no GIF); it plays in real time, "
                         "timed from the env's metadata['render_fps']", path=True)

    # parse_config fills {env} and {seed}; {algo} is filled per policy (format_path's later names).
    LATER_PLACEHOLDERS = {"model_dir": ("algo",), "log_dir": ("algo",), "record": ("algo",)}

    def validate(self) -> None:
        unknown = [algo for algo in self.algo_list if algo not in EVALUATED_ALGOS]
        if unknown or not self.algo_list:
            raise UsageError(f"--algos {self.algos}: expected a comma-separated list from {', '.join(EVALUATED_ALGOS)}")
        if self.record and not self.record.endswith(".gif"):
            raise UsageError(f"--record {self.record}: expected a path ending in .gif")

    def gif_path(self, algo: str) -> Path:
        return Path(format_path(self.record, "--record", algo=algo))

    @property
    def algo_list(self) -> list[str]:
        return [algo.strip() for algo in self.algos.split(",") if algo.strip()]


@dataclasses.dataclass
class ExportConfig:
    env: str = option("CartPole-v1", "env id; must match the policy's checkpoint")
    model_dir: str = option("trained_models/ppo/{env}", "directory of the run to export ({env} filled in)")
    checkpoint: str = option("best", CHECKPOINT_HELP, choices=CHECKPOINT_CHOICES)
    out_dir: str = option("exported/{env}", "where the SavedModel is written ({env} filled in)")
    force: bool = option(False, "replace a SavedModel already in --out-dir")


@dataclasses.dataclass
class ConvertConfig:
    source: str = option("", "minari:<id>, a Minari dataset directory, an .npz file, or a directory of .npy files")
    env: str = option("", "env id of .npz/.npy arrays (Minari datasets and our sets name their own)")
    out_dir: str = option("", "write the demonstrations here, in this toolkit's format")
    to_minari: str = option("", "instead, export the --source set of ours as this Minari dataset id (local store)")
    download: bool = option(False, "with minari:<id>, download the dataset if it is not in the local store")
    force: bool = option(False, "replace demonstrations already in --out-dir")

    def validate(self) -> None:
        if not self.source:
            raise UsageError("--source is required (see --help)")
        if bool(self.out_dir) == bool(self.to_minari):
            raise UsageError("give exactly one of --out-dir (import) and --to-minari (export)")
