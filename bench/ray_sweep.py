"""Benchmark of the Ray runner (experiments/sweep.py) on this machine.

    python bench/ray_sweep.py          # make bench-ray

- Per-task overhead: TASKS no-op runs (``python -c pass``), one at a time, through the local
  pool and through a one-node Ray cluster; the difference per run is what Ray adds to each run
  (task scheduling, the temporary run directory, the tar archive sent back and unpacked).
- The paper's quick sweep (``experiments/paper.py run --quick``, 16 short runs) with 2 runs at a
  time on the local pool, on a one-node Ray cluster with 2 CPUs and on a two-node cluster with
  1 CPU each (every node on this machine, loopback addresses), and whether the three tables agree.
Writes <out>/ray.json and <out>/ray.md.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(REPO_ROOT / "experiments"))

from common.files import atomic_write_bytes  # noqa: E402
from local_cluster import local_cluster  # noqa: E402
from sweep import LocalExecutor, RayExecutor  # noqa: E402

TASKS = 20
NO_OP = [(["-c", "pass"], "output.txt")]


def seconds_per_run(executor, scratch: Path) -> float:
    """Median wall seconds of one no-op run through ``executor``, runs one at a time."""
    times = []
    for index in range(TASKS):
        start = time.perf_counter()
        executor.run(NO_OP, scratch / f"run{index}")
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def quick_sweep(out: Path, ray_address: str | None) -> tuple[float, str]:
    """Wall seconds of the paper's quick sweep, 2 runs at a time, and its table."""
    command = [sys.executable, "experiments/paper.py", "run", "--quick", "--workers", "2", "--out", str(out)]
    start = time.perf_counter()
    subprocess.run(command + (["--ray-address", ray_address] if ray_address else []), cwd=REPO_ROOT, check=True,
                   capture_output=True)
    return time.perf_counter() - start, (out / "results.md").read_text()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=str(REPO_ROOT / "bench" / "results"), help="output directory")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch_dir:
        scratch = Path(scratch_dir)
        local_run = seconds_per_run(LocalExecutor(1), scratch / "local")
        local_sweep, local_table = quick_sweep(scratch / "sweep-local", None)
        with local_cluster(1, cpus_per_node=2) as (address, _):
            executor = RayExecutor(address, workers=1, keep_checkpoints=False, shared_out=False)
            ray_run = seconds_per_run(executor, scratch / "ray")
            executor.close()
            one_node_sweep, one_node_table = quick_sweep(scratch / "sweep-1-node", address)
        with local_cluster(2, cpus_per_node=1) as (address, _):
            two_node_sweep, two_node_table = quick_sweep(scratch / "sweep-2-nodes", address)
    results = {"no_op_run_seconds": {"local": round(local_run, 3), "ray": round(ray_run, 3)},
               "ray_overhead_per_run_seconds": round(ray_run - local_run, 3),
               "quick_sweep_seconds": {"local_pool": round(local_sweep, 1),
                                       "ray_1_node_2_cpus": round(one_node_sweep, 1),
                                       "ray_2_nodes_1_cpu_each": round(two_node_sweep, 1)},
               "tables_identical": local_table == one_node_table == two_node_table,
               "cpus": len(os.sched_getaffinity(0))}
    table = "\n".join([
        f"Ray runner on this machine ({results['cpus']} CPUs; every node on loopback addresses)", "",
        "| measure | local pool | Ray, 1 node (2 CPUs) | Ray, 2 nodes (1 CPU each) |", "|---|---|---|---|",
        f"| no-op run, one at a time (median of {TASKS}) | {local_run:.2f} s | {ray_run:.2f} s | - |",
        f"| paper's quick sweep, 16 runs, 2 at a time | {local_sweep:.0f} s | {one_node_sweep:.0f} s | "
        f"{two_node_sweep:.0f} s |",
        "", f"Ray adds {ray_run - local_run:.2f} s per run; the three sweeps' tables are "
        f"{'identical' if results['tables_identical'] else 'DIFFERENT'}.", ""])
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(out / "ray.json", json.dumps(results, indent=1).encode())
    atomic_write_bytes(out / "ray.md", table.encode())
    print(table)


if __name__ == "__main__":
    main()
