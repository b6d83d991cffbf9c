"""Bring demonstrations in from other tools, or take ours out to Minari.

Examples:
  python convert_demos.py --source expert.npz --env CartPole-v1 --out-dir trajectory/mine
  python convert_demos.py --source minari:cartpole/expert-v0 --out-dir trajectory/from-minari
  python convert_demos.py --source trajectory/CartPole-v1 --to-minari gail-suite/cartpole/expert-v0
--source: minari:<dataset id> (the local Minari store; --download fetches it), a Minari dataset's
directory, an .npz file or a directory of .npy files with the common key names (obs/observations,
acts/actions, rews/rewards, episode_starts | episode_lengths | terminals/terminations/dones with
timeouts/truncations), or a set of ours. The format and the rules are in common/demo_formats.py
and the README ("Bring your own demonstrations"). From Python: gail_suite.convert_demonstrations.
"""

from __future__ import annotations

import common.startup  # noqa: F401  (first: Ctrl-C prints one line; TensorFlow starts after the flags)
from common.config import parse_config
from common.errors import cli_main
from common.script_configs import ConvertConfig


@cli_main
def main(argv: list[str] | None = None) -> None:
    config = parse_config(ConvertConfig, __doc__, argv)
    import gail_suite  # TensorFlow starts here, once the flags are good (--help answers at once)
    from common.demonstrations import check_out_dir

    if config.out_dir:
        check_out_dir(config.out_dir, overwrite=config.force)  # before reading a large dataset
    demos = gail_suite.convert_demonstrations(config.source, config.env, config.download)
    if config.to_minari:
        path = gail_suite.export_to_minari(demos, config.to_minari)
        print(f"exported {demos.num_episodes} episodes ({demos.actions.shape[0]} pairs) of {demos.env_id} to the "
              f"Minari dataset {config.to_minari} ({path})")
        return
    out_dir = gail_suite.save_demonstrations(demos, config.out_dir, overwrite=config.force)
    print(f"wrote {demos.num_episodes} episodes ({demos.actions.shape[0]} pairs) of {demos.env_id} to {out_dir}; "
          f"true return {demos.episode_returns.mean():.1f} (mean over episodes)")


if __name__ == "__main__":
    main()
