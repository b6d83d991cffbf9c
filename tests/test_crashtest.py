"""The small version of `make crashtest` (tools/crashtest.py): a few SIGKILLs per mode, each
followed by the checks that nothing was lost (the checkpoint loads, --resume continues, no
evaluation before the latest checkpoint is missing, a demonstration set is always there)."""

from __future__ import annotations

import json
import sys

from conftest import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / "tools"))

import crashtest  # noqa: E402


def test_a_few_sigkills_per_mode_lose_nothing(tmp_path, capsys):
    out = tmp_path / "crashtest.json"
    status = crashtest.main(["--kills", "2", "--seed", "1", "--out", str(out)])
    summary = json.loads(out.read_text())
    assert status == 0, capsys.readouterr().out
    assert [(mode["mode"], mode["kills"], mode["losses"]) for mode in summary["modes"]] == [
        ("ppo", 2, []), ("gail", 2, []), ("bc", 2, []), ("sample", 2, [])]


def test_the_checks_see_a_lost_evaluation(tmp_path):
    """The evaluation check is not vacuous: a history with a hole before the checkpoint is a loss."""
    save_dir, log_dir = tmp_path / "run", tmp_path / "log"
    crashtest.run_and_kill([*crashtest.TRAINING["bc"], "--save-dir", str(save_dir), "--log-dir", str(log_dir)],
                           delay=1.0, after=save_dir / "checkpoint")
    step, losses = crashtest.check_training("bc", save_dir, log_dir)
    assert step is not None and step >= 1 and losses == []
    history = json.loads((log_dir / "evaluations.json").read_text())
    history["evaluations"] = history["evaluations"][1:]  # the first epoch's evaluation is lost
    (log_dir / "evaluations.json").write_text(json.dumps(history))
    _, losses = crashtest.check_training("bc", save_dir, log_dir)
    assert len(losses) == 1 and f"evaluations up to the checkpoint at {step} are missing" in losses[0]
