"""Bring demonstrations in from other tools, or take ours out to Minari.

Examples:
  python convert_demos.py --source expert.npz --env CartPole-v1 --out-dir trajectory/mine
  python convert_demos.py --source minari:cartpole/expert-v0 --out-dir trajectory/from-minari
  python convert_demos.py --source trajectory/CartPole-v1 --to-minari gail-suite/cartpole/expert-v0
--source: minari:<dataset id> (the local Minari store; --download fetches it), a Minari dataset's
directory, an .npz file or a directory of .npy files with the common key names (obs/observations,
acts/actions, rews/rewards, episode_starts | episode_lengths | terminals/terminations/dones with
timeouts/truncations), or a set of ours. The format and the rules are in common/demo_formats.py
and the README ("Bring your own demonstrations").
"""

from __future__ import annotations

import common.startup  # noqa: F401  (first: TensorFlow starts quietly, Ctrl-C prints one line)
import dataclasses
from pathlib import Path

import gymnasium as gym

from common.config import option, parse_config
from common.demo_formats import from_arrays, from_minari, load_arrays, to_minari
from common.demonstrations import METADATA_FILE, check_out_dir, load_demonstrations, save_demonstrations
from common.envs import probe_env_spec
from common.errors import UsageError, cli_main


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


def read_source(config: ConvertConfig):
    if config.source.startswith("minari:"):
        return from_minari(config.source.removeprefix("minari:"), probe_env_spec, config.download)
    path = Path(config.source)
    if not path.exists():
        raise UsageError(f"--source {path}: no such file or directory")
    if path.is_dir() and (path / METADATA_FILE).is_file():
        return load_demonstrations(path, flag="--source")
    if path.is_dir() and ((path / "data").is_dir() or any(path.glob("*.hdf5"))):
        return from_minari(str(path), probe_env_spec)
    if not config.env:
        raise UsageError(f"--source {path}: plain arrays do not say their env; pass --env")
    return from_arrays(load_arrays(path), probe_env_spec(config.env), str(path))


@cli_main
def main(argv: list[str] | None = None) -> None:
    config = parse_config(ConvertConfig, __doc__, argv)
    if config.out_dir:
        check_out_dir(config.out_dir, overwrite=config.force)  # before reading a large dataset
    demos = read_source(config)
    if config.to_minari:
        env = gym.make(demos.env_id)
        path = to_minari(demos, config.to_minari, env)
        env.close()
        print(f"exported {demos.num_episodes} episodes ({demos.actions.shape[0]} pairs) of {demos.env_id} to the "
              f"Minari dataset {config.to_minari} ({path})")
        return
    out_dir = save_demonstrations(demos, config.out_dir, overwrite=config.force)
    print(f"wrote {demos.num_episodes} episodes ({demos.actions.shape[0]} pairs) of {demos.env_id} to {out_dir}; "
          f"true return {demos.episode_returns.mean():.1f} (mean over episodes)")


if __name__ == "__main__":
    main()
