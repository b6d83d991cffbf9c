"""Where an experiment's training runs execute: here, or on a Ray cluster.

Each run is a short list of repository scripts (train, then maybe evaluate) writing into one run
directory. ``LocalExecutor`` (the default) runs them as subprocesses of this machine.
``RayExecutor`` (``--ray-address``) makes each run a Ray task of 1 CPU that runs the same
commands on whichever node has a free CPU; Ray resubmits the task elsewhere when its node is lost
(``max_retries``). Nodes do not share disks: the task runs in a temporary directory of its node and
sends the run directory back as a tar archive (checkpoints left out unless asked for), which the
driver unpacks where the local run would have written it, so tables and figures do not change.
With ``--ray-shared-out`` the output directory is on a file system every node sees, and tasks write
there directly.

Every node needs the toolkit at the same path as the driver's checkout (``git clone`` + ``make
setup``, so the demonstrations in trajectory/ are there too), and runs Ray from its virtualenv
(``.venv/bin/ray start ...``): a task runs the scripts with the Python that runs Ray on its node.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import io
import os
import shutil
import socket
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from pathlib import Path
from typing import Callable, Iterable, Protocol, TypeVar

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from common.errors import UsageError  # noqa: E402

# A (script + flags, name of the file its output goes to) pair, run in the repository root.
Command = tuple[list[str], str]
# Stands for the run directory in the commands a Ray task runs in a directory of its own node.
RUN_DIR_TOKEN = "@RUN_DIR@"
# What a task retried after its node was lost starts again from scratch: a run is one task.
RAY_MAX_RETRIES = 3


class Executor(Protocol):
    workers: int

    def run(self, commands: list[Command], run_dir: Path) -> float:
        """Run ``commands`` one after the other into an emptied ``run_dir``; returns the first
        (training) command's wall seconds."""

    # LocalExecutor only: run(..., keep_run_dir=True) continues an interrupted attempt in place.
    # A Ray task starts in an empty directory of its node, so there is nothing to continue there.
    continues_interrupted_runs: bool

    def close(self) -> None:
        """Let go of what the executor holds (a Ray connection)."""


class RunFailed(RuntimeError):
    """A command of a run exited with ``returncode`` (2: it refused its flags or files; 130: it was
    stopped by Ctrl-C and saved a checkpoint to resume from)."""

    def __init__(self, message: str, returncode: int) -> None:
        super().__init__(message)
        self.returncode = returncode


def run_commands(commands: list[Command], run_dir: Path, repo_root: Path, keep_run_dir: bool = False) -> float:
    """Empty ``run_dir`` (a half-finished earlier attempt) and run ``commands`` there, in order;
    the first command's wall seconds. ``keep_run_dir``: leave it as it is (commands that continue
    that attempt) and append to their output files. Uses nothing but the standard library: a Ray
    task ships this function to nodes that only have the toolkit's virtualenv."""
    if not keep_run_dir:
        shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.mkdir(parents=True, exist_ok=True)
    first_seconds = None
    for command, output_name in commands:
        start = time.perf_counter()
        with open(run_dir / output_name, "a" if keep_run_dir else "w") as output:
            finished = subprocess.run([sys.executable, *command], cwd=repo_root, stdout=output,
                                      stderr=subprocess.STDOUT)
        if first_seconds is None:
            first_seconds = time.perf_counter() - start
        if finished.returncode != 0:
            tail = (run_dir / output_name).read_text(errors="replace").strip().splitlines()[-5:]
            raise RunFailed(f"{' '.join(command)} exited with {finished.returncode}; see "
                            f"{run_dir / output_name}, which ends:\n" + "\n".join(tail), finished.returncode)
    return first_seconds


class LocalExecutor:
    """Subprocesses of this machine, ``workers`` runs at a time."""

    continues_interrupted_runs = True

    def __init__(self, workers: int) -> None:
        self.workers = workers

    def run(self, commands: list[Command], run_dir: Path, keep_run_dir: bool = False) -> float:
        return run_commands(commands, run_dir, REPO_ROOT, keep_run_dir)

    def close(self) -> None:
        pass


def run_on_node(commands: list[Command], repo_root: str, keep_checkpoints: bool) -> tuple[float, bytes]:
    """The Ray task: run ``commands`` in a temporary run directory of this node (RUN_DIR_TOKEN in
    them stands for it); returns the training seconds and the run directory as a tar archive,
    without the model's checkpoint files unless ``keep_checkpoints`` (its *.json stay)."""
    with tempfile.TemporaryDirectory(prefix="gail-suite-run-") as scratch:
        run_dir = Path(scratch) / "run"
        located = [([part.replace(RUN_DIR_TOKEN, str(run_dir)) for part in command], output_name)
                   for command, output_name in commands]
        seconds = run_commands(located, run_dir, Path(repo_root))
        archive = io.BytesIO()
        with tarfile.open(fileobj=archive, mode="w:gz") as tar:
            for path in sorted(run_dir.rglob("*")):
                relative = path.relative_to(run_dir)
                is_checkpoint = relative.parts[0] == "model" and path.is_file() and path.suffix != ".json"
                if path.is_file() and (keep_checkpoints or not is_checkpoint):
                    tar.add(path, arcname=str(relative), recursive=False)
        return seconds, archive.getvalue()


def run_in_shared_dir(commands: list[Command], run_dir: str, repo_root: str) -> float:
    """The Ray task with --ray-shared-out: ``run_dir`` is on a file system every node sees."""
    return run_commands(commands, Path(run_dir), Path(repo_root))


def unpack_run(archive: bytes, run_dir: Path) -> None:
    """Write a task's run directory where the local run would have: into a sibling first, then
    renamed into place, so an interrupted driver leaves no half-unpacked run."""
    staging = run_dir.with_name(run_dir.name + ".unpacking")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        tar.extractall(staging, filter="data")
    shutil.rmtree(run_dir, ignore_errors=True)
    os.replace(staging, run_dir)


def loopback_host(host: str) -> str | None:
    """``host`` when it is a loopback address other than 127.0.0.1 (Ray leaves those alone, and
    the driver must then present itself on one too); None otherwise."""
    return host if host.startswith("127.") and host != "127.0.0.1" else None


class RayExecutor:
    """Each run a Ray task of 1 CPU on the cluster at ``address``."""

    continues_interrupted_runs = False

    def __init__(self, address: str, workers: int | None, keep_checkpoints: bool, shared_out: bool) -> None:
        try:
            import ray  # an optional extra: imported only when asked for
            from ray import cloudpickle
        except ImportError:
            raise UsageError(f"--ray-address {address}: Ray is not installed here; install the extra with "
                             "pip install -e '.[ray]'") from None

        # The tasks are this module's functions, sent by value: the nodes cannot import experiments/.
        cloudpickle.register_pickle_by_value(sys.modules[__name__])

        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        host, _, port = address.rpartition(":")
        try:  # ray.init waits for ever on an address where nothing listens
            socket.create_connection((host, int(port)), timeout=10).close()
        except (OSError, ValueError) as error:
            raise UsageError(f"--ray-address {address}: no Ray cluster to join there ({error})") from None
        try:
            ray.init(address=address, _node_ip_address=loopback_host(host), logging_level="WARNING",
                     log_to_driver=False)
        except (ConnectionError, ValueError) as error:
            raise UsageError(f"--ray-address {address}: no Ray cluster to join there "
                             f"({str(error).splitlines()[0]})") from None
        self.ray = ray
        self.workers = workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
        self.keep_checkpoints = keep_checkpoints
        self.shared_out = shared_out
        options = {"num_cpus": 1, "max_retries": RAY_MAX_RETRIES}
        self.on_node = ray.remote(**options)(run_on_node)
        self.in_shared_dir = ray.remote(**options)(run_in_shared_dir)

    def run(self, commands: list[Command], run_dir: Path) -> float:
        if self.shared_out:
            return self.ray.get(self.in_shared_dir.remote(commands, str(run_dir.resolve()), str(REPO_ROOT)))
        located = [([part.replace(str(run_dir), RUN_DIR_TOKEN) for part in command], output_name)
                   for command, output_name in commands]
        seconds, archive = self.ray.get(self.on_node.remote(located, str(REPO_ROOT), self.keep_checkpoints))
        unpack_run(archive, run_dir)
        return seconds

    def close(self) -> None:
        self.ray.shutdown()


T = TypeVar("T")


class RunSkipped(Exception):
    """A queued run that was not started: another one failed, or Ctrl-C came."""


def run_all(execute: Callable[[T], dict], items: Iterable[T], workers: int,
            report: Callable[[dict, int, int], None]) -> list[dict]:
    """``execute`` every item, ``workers`` at a time (threads: the work is in subprocesses or
    Ray tasks); ``report(result, done, total)`` as each ends; the results in completion order.
    Ctrl-C or a failed run starts no further run: it waits for those under way (which got the
    same Ctrl-C and save their checkpoints) and raises."""
    items = list(items)
    results = []
    stopping = threading.Event()

    def execute_unless_stopping(item: T) -> dict:
        # Checked by the worker itself: a worker whose run just failed (on Ctrl-C, exit 130) takes
        # the next queued item at once, before the main thread has cancelled it (seen on
        # `make paper-mujoco`: Ctrl-C started the next run in two runners of three).
        if stopping.is_set():
            raise RunSkipped
        try:
            return execute(item)
        except BaseException:
            stopping.set()
            raise

    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(execute_unless_stopping, item) for item in items]
        try:
            for future in concurrent.futures.as_completed(futures):
                if isinstance(future.exception(), RunSkipped):
                    continue  # the run that failed is still to come, and is raised
                results.append(future.result())
                report(results[-1], len(results), len(items))
        except BaseException:
            stopping.set()
            pool.shutdown(wait=True, cancel_futures=True)
            raise
    return results


def positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def add_executor_flags(parser: argparse.ArgumentParser) -> None:
    """--workers and the Ray flags, shared by the experiment runners."""
    parser.add_argument("--workers", type=positive_int, default=None,
                        help="runs at a time; None: 2 on this machine, one per CPU of the cluster with --ray-address")
    parser.add_argument("--ray-address", default=os.environ.get("RAY_ADDRESS"),
                        help="HOST:PORT of a Ray cluster: each training run becomes a task there (default taken "
                        "from $RAY_ADDRESS; None: everything runs on this machine)")
    parser.add_argument("--ray-fetch-checkpoints", action="store_true",
                        help="with --ray-address: send each run's checkpoints back too, not just its logs, "
                        "config and results")
    parser.add_argument("--ray-shared-out", action="store_true",
                        help="with --ray-address: --out is on a file system every node sees; tasks write "
                        "there directly")


def make_executor(args: argparse.Namespace) -> Executor:
    if args.ray_address:
        return RayExecutor(args.ray_address, args.workers, args.ray_fetch_checkpoints, args.ray_shared_out)
    return LocalExecutor(args.workers or 2)
