"""The experiment runners on a real two-node Ray cluster of this machine: the paper's quick sweep
survives losing a node, and gives the same table as the local pool.

Network rules (experiments/local_cluster.py): the head listens on 127.0.0.2 and the second node on
127.0.0.3, never on an address Ray would rewrite to the machine's routable one; only the processes
the test starts are stopped, by their process groups' PIDs."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import psutil
import pytest
import ray  # noqa: F401  (an optional extra that `make test` installs: missing, this module fails)

from conftest import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / "experiments"))
import paper  # noqa: E402
import sweep  # noqa: E402
from local_cluster import Node, free_port, local_cluster  # noqa: E402


@pytest.fixture
def two_node_cluster() -> Iterator[tuple[str, Node, Node]]:
    """A head on 127.0.0.2 and a second node on 127.0.0.3, one CPU each: the address and both."""
    with local_cluster(2) as (address, (head, second)):
        yield address, head, second


def descendants(node: Node) -> list[psutil.Process]:
    try:
        return psutil.Process(node.process.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def training_process_on(node: Node) -> psutil.Process | None:
    for process in descendants(node):
        try:
            if any(Path(part).name in ("run_gail.py", "run_behavior_clone.py") for part in process.cmdline()):
                return process
        except psutil.Error:
            continue
    return None


def test_quick_sweep_survives_a_lost_node_and_matches_the_local_table(two_node_cluster, quick_paper_local,
                                                                     tmp_path):
    address, head, second = two_node_cluster
    out = tmp_path / "on-ray"
    sweep_process = subprocess.Popen([sys.executable, "experiments/paper.py", "run", "--quick", "--out", str(out),
                                      "--ray-address", address], cwd=REPO_ROOT, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 300
        while (lost_run := training_process_on(second)) is None:
            assert sweep_process.poll() is None, f"the sweep ended before a run reached the second node:\n" \
                                                 f"{sweep_process.stdout.read()}"
            assert time.monotonic() < deadline, "no training run reached the second node in 300 s"
            time.sleep(0.2)
        lost_command = lost_run.cmdline()
        (raylet,) = [process for process in descendants(second) if process.name() == "raylet"]
        raylet.kill()  # the node is lost while one of the sweep's runs trains there
        output, _ = sweep_process.communicate(timeout=900)
    finally:
        if sweep_process.poll() is None:
            sweep_process.kill()
    assert sweep_process.returncode == 0, output
    summary = json.loads((out / "results.json").read_text())
    assert len(summary["runs"]) == 16 and summary["reused_runs"] == 0 and summary["ray_address"] == address
    # The lost run was run again elsewhere: its result is there like every other one.
    seed, num_demos = (lost_command[lost_command.index(flag) + 1] for flag in ("--seed", "--num-demos"))
    env = lost_command[lost_command.index("--env") + 1]
    algo = "gail" if Path(lost_command[1]).name == "run_gail.py" else "bc"
    assert (out / "runs" / env / algo / f"n{num_demos}_seed{seed}" / "result.json").is_file()
    for run in summary["runs"]:
        run_dir = out / "runs" / run["env"] / run["algo"] / f"n{run['num_trajectories']}_seed{run['seed']}"
        assert (run_dir / "log" / "evaluations.json").is_file() and (run_dir / "model" / "config.json").is_file()
        assert not list((run_dir / "model").glob("ckpt-*")), "checkpoints come back only if asked for"
    # Same seeds, same commands: the same table as the local pool's, to the last digit.
    assert (out / "results.md").read_text() == (quick_paper_local / "results.md").read_text()


def test_checkpoints_shared_out_and_the_style_runner_on_a_one_node_cluster(tmp_path):
    """The other ways a run comes back: with its checkpoints, written straight into a shared --out,
    and the style benchmark's train-then-evaluate runs."""
    def run(*arguments: str) -> None:
        subprocess.run([sys.executable, *arguments], cwd=REPO_ROOT, check=True, capture_output=True)

    one_run = ["experiments/paper.py", "variants", "--quick", "--envs", "CartPole-v1", "--flags", ""]
    with local_cluster(1, cpus_per_node=2) as (address, _):
        run(*one_run, "--out", str(tmp_path / "fetched"), "--ray-address", address, "--ray-fetch-checkpoints")
        run(*one_run, "--out", str(tmp_path / "shared"), "--ray-address", address, "--ray-shared-out")
        run("experiments/styles.py", "run", "--quick", "--styles", "cart-right", "--algos", "gail",
            "--num-demos", "1", "--out", str(tmp_path / "styles"), "--ray-address", address)
    for out in ("fetched", "shared"):
        run_dir = tmp_path / out / "runs" / "CartPole-v1" / "gail" / "n1_seed0"
        assert list((run_dir / "model").glob("ckpt-*.index")), out
        result = json.loads((run_dir / "result.json").read_text())
        # The command recorded is the driver's, with the run's own directory in it.
        assert result["command"][result["command"].index("--save-dir") + 1] == str(run_dir / "model")
    style_dir = tmp_path / "styles" / "runs" / "cart-right" / "gail" / "n1_seed0"
    style_run = json.loads((style_dir / "result.json").read_text())
    assert style_run["fidelity"]["energy_distance"] >= 0.0 and "passed" in style_run


def test_a_run_directory_comes_back_whole_through_the_archive(tmp_path):
    """The task's tar of its run directory, unpacked where the local run would have written."""
    commands = [(["-c", "import sys, pathlib; d = pathlib.Path(sys.argv[1]); (d / 'model').mkdir(); "
                  "(d / 'model' / 'config.json').write_text('{}'); (d / 'model' / 'ckpt-1.index').write_text('x'); "
                  "print('trained')", f"{sweep.RUN_DIR_TOKEN}"], "output.txt")]
    seconds, archive = sweep.run_on_node(commands, str(REPO_ROOT), keep_checkpoints=False)
    run_dir = tmp_path / "runs" / "n1_seed0"
    run_dir.mkdir(parents=True)
    (run_dir / "stale.txt").write_text("from an interrupted attempt")
    sweep.unpack_run(archive, run_dir)
    assert seconds >= 0.0
    assert sorted(str(path.relative_to(run_dir)) for path in run_dir.rglob("*")) == [
        "model", "model/config.json", "output.txt"]
    assert (run_dir / "output.txt").read_text() == "trained\n"
    _, with_checkpoints = sweep.run_on_node(commands, str(REPO_ROOT), keep_checkpoints=True)
    sweep.unpack_run(with_checkpoints, run_dir)
    assert (run_dir / "model" / "ckpt-1.index").read_text() == "x"


def test_a_failing_run_reports_its_command_and_the_end_of_its_output(tmp_path):
    with pytest.raises(RuntimeError, match=r"exited with 3.*\n.*boom"):
        sweep.run_commands([(["-c", "print('boom'); raise SystemExit(3)"], "output.txt")], tmp_path / "run",
                           REPO_ROOT)


def test_an_address_where_no_cluster_listens_is_a_one_line_usage_error(capsys):
    """ray.init would wait for ever there; the runner says which flag is wrong before any run starts."""
    with pytest.raises(SystemExit) as stop:
        paper.main(["run", "--quick", "--envs", "CartPole-v1", "--ray-address", f"127.0.0.2:{free_port('127.0.0.2')}"])
    assert stop.value.code == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("error: --ray-address 127.0.0.2:") and "no Ray cluster to join there" in error
    assert len(error.splitlines()) == 1
