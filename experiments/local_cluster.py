"""A Ray cluster of several nodes on this one machine, for trying ``--ray-address`` and for the
tests and the benchmark of the Ray runner.

    python experiments/local_cluster.py --nodes 2      # prints the address; Ctrl-C stops it

Each node is ``ray start --block`` in a process group of its own, on a loopback address of its
own (the head on 127.0.0.2, the next on 127.0.0.3, ...): Ray rewrites 127.0.0.1 and localhost to
the machine's routable address, and these machines must not talk to it. Stopping the cluster
kills exactly those process groups, by their leaders' PIDs, and nothing else: never Ray's own
stop command, which stops every Ray process of the machine by name, whoever started it.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Iterator

HEAD_IP = "127.0.0.2"
START_TIMEOUT_S = 180


def node_ip(index: int) -> str:
    """127.0.0.2 for the head (index 0), 127.0.0.3 for the next node, ..."""
    return f"127.0.0.{2 + index}"


def free_port(host: str) -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


@dataclasses.dataclass
class Node:
    ip: str
    process: subprocess.Popen  # `ray start --block`, the leader of its own process group
    log: Path

    def wait_started(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while "Ray runtime started" not in self.log.read_text(errors="replace"):
            if self.process.poll() is not None:
                raise RuntimeError(f"ray start on {self.ip} exited:\n{self.log.read_text()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"ray start on {self.ip} took over {START_TIMEOUT_S} s:\n{self.log.read_text()}")
            time.sleep(0.5)

    def stop(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=60)


def start_node(ip: str, arguments: list[str], cpus: int, log: Path) -> Node:
    ray = Path(sys.executable).with_name("ray")
    process = subprocess.Popen([str(ray), "start", "--block", f"--num-cpus={cpus}", f"--node-ip-address={ip}",
                                f"--dashboard-agent-listen-port={free_port(ip)}", *arguments],
                               stdout=log.open("w"), stderr=subprocess.STDOUT,
                               env={**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}, start_new_session=True)
    return Node(ip, process, log)


@contextlib.contextmanager
def local_cluster(num_nodes: int, cpus_per_node: int = 1) -> Iterator[tuple[str, list[Node]]]:
    """Start ``num_nodes`` Ray nodes here; yields the head's address and the nodes; stops them all."""
    # Short: Ray's unix sockets live under it, and their paths may not exceed 107 bytes.
    temp_dir = Path(tempfile.mkdtemp(prefix="ray-", dir="/tmp"))
    port = free_port(HEAD_IP)
    nodes: list[Node] = []
    try:
        nodes.append(start_node(HEAD_IP, ["--head", f"--port={port}", "--include-dashboard=false",
                                          f"--temp-dir={temp_dir}"], cpus_per_node, temp_dir / "head.log"))
        nodes[0].wait_started()
        for index in range(1, num_nodes):
            nodes.append(start_node(node_ip(index), [f"--address={HEAD_IP}:{port}"], cpus_per_node,
                                    temp_dir / f"node{index}.log"))
            nodes[-1].wait_started()
        yield f"{HEAD_IP}:{port}", nodes
    finally:
        for node in reversed(nodes):
            node.stop()
        shutil.rmtree(temp_dir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nodes", type=int, default=2, help="Ray nodes, one loopback address each (default: 2)")
    parser.add_argument("--cpus-per-node", type=int, default=1, help="CPUs each node offers (default: 1)")
    args = parser.parse_args()
    with local_cluster(args.nodes, args.cpus_per_node) as (address, nodes):
        print(f"{len(nodes)} nodes up; run e.g. python experiments/paper.py run --quick --ray-address {address}",
              flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            signal.pause()


if __name__ == "__main__":
    main()
