#!/usr/bin/env python3
"""Mutation testing of the learning rules and the data checks, with cosmic-ray (`make mutation`).

    python tools/mutation.py run [--modules algo/ppo.py,common/rollout.py] [--jobs 2] [--resume | --survivors]
    python tools/mutation.py plan      # mutants per module after the exclusions, nothing run
    python tools/mutation.py notes     # add an entry to notes.toml for each unexplained survivor
    python tools/mutation.py report    # rewrite tests/mutation/report.md from the stored results

Each module in MODULES is mutated in its own copy of the repository, mutants/<module>/, because
cosmic-ray writes every mutant into the source file itself (the working tree is never touched, and
`--jobs` modules can run side by side). Every mutant is one run of `pytest -x` over that module's
fast tests only, forked from a server that has already imported TensorFlow (see serve(); `--plain`
starts a fresh `python -m pytest` instead); cosmic-ray's timeout is set from a clean baseline run.

Results go to tests/mutation/results.json (one entry per module, replaced when that module is run
again) and the report to tests/mutation/report.md. Why a mutant survives is written by hand in
tests/mutation/notes.toml under the mutant's id (a hash of the module, the operator and the changed
line, shown in the report), so verdicts survive a rerun and a changed line comes back unexplained.
After writing tests for survivors, `run --survivors` retries only those, and the report lists each
one the new tests kill with the test that killed it.
"""

from __future__ import annotations

import argparse
import ast
import concurrent.futures
import contextlib
import datetime
import hashlib
import json
import os
import re
import shlex
import shutil
import sqlite3
import subprocess
import sys
import time
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
WORK = REPO / "mutants"
RESULTS = REPO / "tests" / "mutation" / "results.json"
NOTES = REPO / "tests" / "mutation" / "notes.toml"
REPORT = REPO / "tests" / "mutation" / "report.md"

# Module -> its fast tests: the files that exercise it directly, less the end-to-end script runs
# (END_TO_END, and test_gail_reward_source.py, two run_gail.py runs: 5-22 s of CPU each per mutant
# for tests of the wiring rather than of the module; `make test` runs them). Cheap, sharp files
# first: `pytest -x` stops at the first failure.
MODULES: dict[str, list[str]] = {
    "algo/batching.py": ["tests/test_batching.py", "tests/test_ppo_update.py", "tests/test_bc_loss.py"],
    "algo/behavior_clone.py": ["tests/test_bc_loss.py", "tests/test_bc_training.py"],
    "algo/gail.py": ["tests/test_gae_edges.py", "tests/test_gail_math.py", "tests/test_gail_update.py"],
    "algo/on_policy.py": ["tests/test_gae_edges.py", "tests/test_training_loop.py", "tests/test_collect_ahead.py"],
    "algo/ppo.py": ["tests/test_ppo_math.py", "tests/test_gae_edges.py", "tests/test_ppo_update.py"],
    "algo/reward_scaling.py": ["tests/test_reward_scaling.py"],
    "common/demonstrations.py": ["tests/test_demonstrations.py", "tests/test_demo_checks.py"],
    "common/rollout.py": ["tests/test_rollout.py", "tests/test_networks.py", "tests/test_policy_numbers.py",
                          "tests/test_collect_ahead.py"],
    "network_models/discriminator.py": ["tests/test_networks.py", "tests/test_gail_math.py"],
    "network_models/factory.py": ["tests/test_networks.py", "tests/test_normalizer.py"],
    "network_models/heads.py": ["tests/test_networks.py", "tests/test_continuous.py"],
    "network_models/mlp.py": ["tests/test_networks.py"],
    "network_models/normalizer.py": ["tests/test_normalizer.py"],
    "network_models/policy.py": ["tests/test_networks.py", "tests/test_normalizer.py", "tests/test_continuous.py"],
}

END_TO_END = [
    "tests/test_continuous.py::test_scripts_run_end_to_end_on_a_continuous_env",
    "tests/test_normalizer.py::test_gail_discriminator_shares_the_policy_normalizer_started_from_the_demonstrations",
    "tests/test_normalizer.py::test_ppo_updates_the_normalizer_and_test_policy_loads_it",
    "tests/test_normalizer.py::test_behavior_clone_fits_the_normalizer_to_the_demonstrations",
]

# cosmic-ray's own operator filter (regexes matched from the start of the operator name). Its
# binary and comparison operators swap every operator for every other one (11 and 7 mutants per
# site); we keep one replacement per arithmetic operator (mutmut's choice) and the boundary and
# negation of each comparison, which is what catches real slips, at a quarter of the cost.
KEPT_BINARY = ["Add_Sub", "Sub_Add", "Mul_Div", "Div_Mul", "FloorDiv_Div", "Mod_Div", "Pow_Mul", "LShift_RShift",
               "RShift_LShift", "BitAnd_BitOr", "BitOr_BitAnd", "BitXor_BitAnd"]
KEPT_COMPARISON = ["Lt_LtE", "Lt_GtE", "LtE_Lt", "LtE_Gt", "Gt_GtE", "Gt_LtE", "GtE_Gt", "GtE_Lt", "Eq_NotEq",
                   "NotEq_Eq", "Is_IsNot", "IsNot_Is"]
KEPT_UNARY = ["USub_UAdd", "Delete_Not", "Delete_Invert"]
EXCLUDED_OPERATORS = [
    rf"core/ReplaceBinaryOperator_(?!({'|'.join(KEPT_BINARY)})$)",
    rf"core/ReplaceComparisonOperator_(?!({'|'.join(KEPT_COMPARISON)})$)",
    rf"core/ReplaceUnaryOperator_(?!({'|'.join(KEPT_UNARY)})$)",
]

# Calls whose arguments are messages, logging or option declarations: a mutant there changes what
# is printed or a default/help text, not what is learned or checked.
MESSAGE_CALLS = {"print", "option", "warn"}
LOGGER_NAME = re.compile(r"(^|_)(log|logger|logging|warnings)$")


def slug(module: str) -> str:
    return module.removesuffix(".py").replace("/", ".")


def pytest_args(module: str) -> list[str]:
    deselected = [arg for test in END_TO_END if test.split("::")[0] in MODULES[module] for arg in ("--deselect", test)]
    return ["-x", "-q", "-p", "no:cacheprovider", *MODULES[module], *deselected]


def test_command(module: str, server: Path | None) -> str:
    """One mutant's test run: plain `python -m pytest`, or the same pytest run forked from the
    module's fork server (``server``, its socket), which saves the TensorFlow import per mutant."""
    if server is None:
        return shlex.join([sys.executable, "-m", "pytest", *pytest_args(module)])
    return shlex.join([sys.executable, str(Path(__file__).resolve()), "client", str(server), *pytest_args(module)])


def test_env() -> dict[str, str]:
    # One thread per test process: `--jobs` modules run side by side on the machine's cores.
    return {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "TF_CPP_MIN_LOG_LEVEL": "3", "OMP_NUM_THREADS": "1",
            "TF_NUM_INTRAOP_THREADS": "1", "TF_NUM_INTEROP_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}


# --- the fork server ----------------------------------------------------------------------------
# Importing TensorFlow costs ~8 s of CPU, several times the fast tests themselves. The server
# imports the third-party packages once (and nothing of this repository, so each mutant's code
# is imported afresh) and forks a child per test run; TensorFlow starts no threads until its first
# op, so a child forked after the import alone runs TensorFlow normally. cosmic-ray still runs one
# subprocess per mutant, this script's `client`, and kills it on timeout; the server then kills
# the child whose client went away.
PRELOAD = ("numpy", "tensorflow", "keras", "gymnasium", "gymnasium.envs.classic_control", "pytest")


def serve(socket_path: Path) -> None:
    import importlib
    import select
    import signal
    import socket

    for name in PRELOAD:
        importlib.import_module(name)
    import pytest

    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(socket_path))
    server.listen()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    while True:
        connection, _ = server.accept()
        with connection:
            request = json.loads(connection.makefile().readline())
            child = os.fork()
            if child == 0:  # the test run: cwd, sys.path and output as `python -m pytest` would have them
                server.close()
                connection.close()
                output = os.open(request["output"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
                os.dup2(output, 1)
                os.dup2(output, 2)
                os.chdir(request["cwd"])
                sys.path.insert(0, request["cwd"])
                sys.argv = ["pytest", *request["args"]]
                code = 3
                try:
                    code = int(pytest.main(request["args"]))
                finally:
                    sys.stdout.flush()
                    sys.stderr.flush()
                    os._exit(code)
            forked = time.monotonic()
            while True:  # wait for the child, or kill it when its client is gone (timeout)
                done, status, usage = os.wait4(child, os.WNOHANG)
                if done:
                    code = os.waitstatus_to_exitcode(status)
                    connection.sendall(f"{code}\n".encode())
                    print(f"exit {code} cpu {usage.ru_utime + usage.ru_stime:.2f} s "
                          f"wall {time.monotonic() - forked:.2f} s", file=sys.stderr, flush=True)
                    break
                if select.select([connection], [], [], 0.2)[0] and not connection.recv(1):
                    os.kill(child, signal.SIGKILL)
                    os.waitpid(child, 0)
                    break


def client(socket_path: Path, args: list[str]) -> int:
    import socket
    import tempfile

    with tempfile.NamedTemporaryFile(prefix="mutation-", suffix=".txt") as output:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
            connection.connect(str(socket_path))
            request = {"cwd": os.getcwd(), "args": args, "output": output.name}
            connection.sendall((json.dumps(request) + "\n").encode())
            reply = connection.makefile().readline()
        sys.stdout.write(Path(output.name).read_text(errors="replace"))
    return int(reply) if reply.strip() else 4


def start_server(work: Path) -> tuple[subprocess.Popen, Path]:
    socket_path = work / "fork-server.sock"
    socket_path.unlink(missing_ok=True)
    process = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "serve", str(socket_path)],
                               env=test_env(), stdout=subprocess.DEVNULL, stderr=open(work / "fork-server.log", "w"))
    while not socket_path.exists():
        if process.poll() is not None:
            raise RuntimeError(f"the fork server stopped: see {work / 'fork-server.log'}")
        time.sleep(0.5)
    return process, socket_path


# --- excluded positions --------------------------------------------------------------------------

def excluded_spans(source: str) -> list[tuple[tuple[int, int], tuple[int, int], str]]:
    """(start, end, reason) of the code whose mutants only change messages (f-strings, logging,
    print, warnings, option(...) declarations) or nothing at all (annotations that are never
    evaluated). Positions are (line, character column)."""
    lines = source.splitlines()

    def position(line: int, byte_col: int) -> tuple[int, int]:
        return line, len(lines[line - 1].encode()[:byte_col].decode(errors="replace"))

    def call_name(func: ast.expr) -> tuple[str, str | None]:
        if isinstance(func, ast.Name):
            return func.id, None
        if isinstance(func, ast.Attribute):
            root = func.value
            while isinstance(root, (ast.Attribute, ast.Call)):
                root = root.value if isinstance(root, ast.Attribute) else root.func
            return func.attr, root.id if isinstance(root, ast.Name) else None
        return "", None

    tree = ast.parse(source)
    lazy_annotations = any(isinstance(node, ast.ImportFrom) and node.module == "__future__" and
                           any(alias.name == "annotations" for alias in node.names) for node in tree.body)
    spans = []
    for node in ast.walk(tree):
        if lazy_annotations:  # `str | Path` -> `str & Path` in an annotation that is never evaluated
            annotations = ([node.returns] if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) else
                           [node.annotation] if isinstance(node, (ast.arg, ast.AnnAssign)) else [])
            for annotation in filter(None, annotations):
                spans.append((position(annotation.lineno, annotation.col_offset),
                              position(annotation.end_lineno, annotation.end_col_offset),
                              "type annotation (never evaluated: `from __future__ import annotations`)"))
        reason = None
        if isinstance(node, ast.JoinedStr):
            reason = "message text (inside an f-string)"
        elif isinstance(node, ast.Call):
            name, root = call_name(node.func)
            if root is not None and LOGGER_NAME.search(root):
                reason = f"logging ({root}.{name})"
            elif root is None and name in MESSAGE_CALLS:
                reason = f"{name}(...) arguments"
        if reason:
            spans.append((position(node.lineno, node.col_offset),
                          position(node.end_lineno, node.end_col_offset), reason))
    return spans


def exclusion(mutation, source_lines: list[str], spans) -> str | None:
    line, _ = mutation.start_pos
    if mutation.operator_name == "core/RemoveDecorator" and source_lines[line - 1].strip().startswith("@tf.function"):
        return "removing @tf.function (graph and eager compute the same numbers)"
    for start, end, reason in spans:
        if start <= tuple(mutation.start_pos) < end:
            return reason
    return None


def exclude_message_mutants(session: Path, module_file: Path) -> None:
    """Mark the mutants inside excluded spans as skipped, the way cosmic-ray's own filters do."""
    from cosmic_ray.work_db import use_db
    from cosmic_ray.work_item import WorkerOutcome, WorkResult

    source = module_file.read_text()
    spans, lines = excluded_spans(source), source.splitlines()
    with use_db(str(session)) as db:
        for item in db.pending_work_items:
            reason = exclusion(item.mutations[0], lines, spans)
            if reason:
                db.set_result(item.job_id, WorkResult(worker_outcome=WorkerOutcome.SKIPPED,
                                                      output=f"excluded: {reason}"))


# --- one module ----------------------------------------------------------------------------------

def copy_repository(destination: Path) -> None:
    """The files git tracks or would track (the working tree as it is), less the large results."""
    listed = subprocess.run(["git", "ls-files", "-z", "-co", "--exclude-standard"], cwd=REPO, check=True,
                            capture_output=True).stdout.decode().split("\0")
    for name in listed:
        source = REPO / name
        if not name or not source.is_file() or name.startswith(("experiments/results/", "mutants/")):
            continue
        (destination / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, destination / name)


def write_config(work: Path, module: str, timeout: float, server: Path | None = None) -> Path:
    config = work / "cosmic-ray.toml"
    config.write_text(
        "[cosmic-ray]\n"
        f"module-path = {json.dumps(module)}\n"
        f"timeout = {timeout:.0f}\n"
        "excluded-modules = []\n"
        f"test-command = {json.dumps(test_command(module, server))}\n\n"
        "[cosmic-ray.distributor]\n"
        'name = "local"\n\n'
        "[cosmic-ray.filters.operators-filter]\n"
        f"exclude-operators = {json.dumps(EXCLUDED_OPERATORS)}\n")
    return config


def cosmic_ray(*args: str, cwd: Path, log: Path | None = None) -> None:
    binary = Path(sys.executable).parent
    command = [str(binary / args[0]), *args[1:]]
    with open(log, "a") if log else open(os.devnull, "w") as out:
        subprocess.run(command, cwd=cwd, env=test_env(), check=True, stdout=out, stderr=subprocess.STDOUT)


def prepare(module: str, mode: str) -> tuple[Path, Path, Path]:
    """The module's working copy, cosmic-ray config and session. ``fresh``: a new copy, session and
    filters; ``resume``: finish an interrupted session; ``survivors``: retry only the survivors of
    the last session against the current tests (after writing tests that should kill them)."""
    work = WORK / slug(module)
    session, pristine = work / "session.sqlite", work / "original.py"
    if mode != "fresh":
        if not session.is_file():
            raise RuntimeError(f"{module}: no session under {work} to {mode}; run it without --{mode}")
        if pristine.read_bytes() != (REPO / module).read_bytes():
            raise RuntimeError(f"{module} changed since its session; run it without --{mode}")
        shutil.copy2(pristine, work / module)  # a run killed mid-mutant leaves the mutant in place
        if mode == "survivors":
            shutil.rmtree(work / "tests")
            shutil.copytree(REPO / "tests", work / "tests", ignore=shutil.ignore_patterns("__pycache__"))
            with contextlib.closing(sqlite3.connect(session)) as db:  # forget the survivors' results
                db.execute("DELETE FROM work_results WHERE test_outcome = 'SURVIVED'")
                db.commit()
            exclude_message_mutants(session, work / module)  # the current rules, for an older session
        return work, work / "cosmic-ray.toml", session
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    copy_repository(work)
    shutil.copy2(work / module, pristine)
    config = write_config(work, module, timeout=60)
    cosmic_ray("cosmic-ray", "init", config.name, session.name, cwd=work)
    cosmic_ray("cr-filter-operators", session.name, config.name, cwd=work)
    exclude_message_mutants(session, work / module)
    return work, config, session


def run_module(module: str, mode: str, plain: bool = False) -> dict:
    started = time.monotonic()
    work, config, session = prepare(module, mode)
    server, socket_path = start_server(work) if not plain else (None, None)
    try:
        clean = time.monotonic()
        baseline = subprocess.run(shlex.split(test_command(module, socket_path)), cwd=work, env=test_env(),
                                  capture_output=True, text=True)
        baseline_seconds = time.monotonic() - clean
        if baseline.returncode != 0:
            raise RuntimeError(f"{module}: its tests fail without any mutant:\n{baseline.stdout[-3000:]}")
        # cosmic-ray counts a timeout as killed, so be generous: a slow machine must not kill mutants.
        write_config(work, module, timeout=4 * baseline_seconds + 60, server=socket_path)
        executed_from = time.monotonic()
        cosmic_ray("cosmic-ray", "exec", config.name, session.name, cwd=work, log=work / "cosmic-ray.log")
        if server is not None and server.poll() is not None:  # its clients' failures would count as kills
            raise RuntimeError(f"{module}: the fork server stopped during the run, see {work / 'fork-server.log'}")
    finally:
        if server is not None:
            server.terminate()
            server.wait()
    result = summarize(module, session, work / "original.py")
    result.update(baseline_seconds=round(baseline_seconds, 1),
                  exec_seconds=round(time.monotonic() - executed_from),
                  total_seconds=round(time.monotonic() - started))
    return result


# --- results -------------------------------------------------------------------------------------

def mutant_id(module: str, operator: str, original: str, mutated: str) -> str:
    return hashlib.sha1(f"{module}\n{operator}\n{original}\n{mutated}".encode()).hexdigest()[:8]


def changed_lines(diff: str) -> tuple[str, str]:
    """The original and mutated text of the changed line(s) in a cosmic-ray unified diff."""
    removed = [line[1:].strip() for line in diff.splitlines() if line.startswith("-") and not line.startswith("---")]
    added = [line[1:].strip() for line in diff.splitlines() if line.startswith("+") and not line.startswith("+++")]
    return " / ".join(removed), " / ".join(added)


def summarize(module: str, session: Path, original: Path) -> dict:
    from cosmic_ray.work_db import WorkDB, use_db
    from cosmic_ray.work_item import TestOutcome, WorkerOutcome

    source = original.read_text()
    source_lines, spans = source.splitlines(), excluded_spans(source)
    counts = {"mutants": 0, "killed": 0, "timeout": 0, "survived": 0, "incompetent": 0, "not_run": 0}
    excluded: dict[str, int] = {}
    survivors, killers = [], {}
    with use_db(str(session), WorkDB.Mode.open) as db:
        counts["not_run"] = len(db.pending_work_items)
        for item, result in db.completed_work_items:
            mutation = item.mutations[0]
            if result.worker_outcome == WorkerOutcome.SKIPPED:
                reason = (result.output or "").removeprefix("excluded: ")
                reason = "operator not in the kept set" if reason == "Filtered operator" else reason
            else:
                reason = exclusion(mutation, source_lines, spans)  # rules newer than the session
            if reason:
                excluded[reason] = excluded.get(reason, 0) + 1
                continue
            counts["mutants"] += 1
            if result.worker_outcome != WorkerOutcome.NORMAL:
                counts["incompetent"] += 1
            elif result.test_outcome == TestOutcome.SURVIVED:
                counts["survived"] += 1
                line = mutation.start_pos[0]
                original_text, mutated_text = changed_lines(result.diff or "")
                survivors.append({
                    "id": mutant_id(module, mutation.operator_name, original_text, mutated_text),
                    "line": line, "function": mutation.definition_name or "",
                    "operator": mutation.operator_name.removeprefix("core/"),
                    "original": original_text or source_lines[line - 1].strip(), "mutated": mutated_text})
            elif result.output == "timeout":
                counts["timeout"] += 1
            else:
                counts["killed"] += 1
                original_text, mutated_text = changed_lines(result.diff or "")
                failed = re.search(r"^(?:FAILED|ERROR) (\S+)", result.output or "", re.MULTILINE)
                killers[mutant_id(module, mutation.operator_name, original_text, mutated_text)] = (
                    failed.group(1) if failed else "the test run failed")
    counts["mutants"] += counts["not_run"]
    return {"module": module, "tests": MODULES[module], "date": datetime.date.today().isoformat(),
            **counts, "excluded": dict(sorted(excluded.items())),
            "survivors": sorted(survivors, key=lambda s: (s["line"], s["operator"])), "killers": killers}


def carry_over(result: dict, previous: dict | None) -> dict:
    """Add the former survivors that the current tests kill (and the test that does) to those of
    earlier runs of the same session; drop the per-mutant killers, which are not kept."""
    killers = result.pop("killers")
    kept = {entry["id"]: entry for entry in (previous or {}).get("killed_after_surviving", [])}
    for survivor in (previous or {}).get("survivors", []):
        if survivor["id"] in killers:
            kept[survivor["id"]] = {**survivor, "killed_by": killers[survivor["id"]]}
    result["killed_after_surviving"] = sorted(kept.values(), key=lambda s: (s["line"], s["operator"]))
    return result


def load_results() -> dict[str, dict]:
    return json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}


def store_result(result: dict) -> None:
    results = load_results()
    results[result["module"]] = result
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(dict(sorted(results.items())), indent=1) + "\n")


# --- report --------------------------------------------------------------------------------------

def cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def code(text: str) -> str:
    return f"`{cell(text)}`" if "`" not in text else f"``{cell(text)}``"


def score(killed: int, tried: int) -> str:
    return f"{100 * killed / tried:.1f}%" if tried else "-"


def write_report() -> None:
    results = load_results()
    notes = tomllib.loads(NOTES.read_text()).get("mutant", {}) if NOTES.is_file() else {}
    out = ["# Mutation testing report", "",
           "Written by `make mutation` (`tools/mutation.py`, cosmic-ray); edit the verdicts in "
           "`tests/mutation/notes.toml`, not here. A mutant is *killed* when its module's fast tests fail "
           "(or time out) with it in place. *Score* = killed / (killed + survived); *score without "
           "equivalents* leaves out the survivors explained as equivalent (no test can tell them apart).", "",
           "| module | fast tests | mutants | killed (timeouts) | survived | equivalent | score | "
           "score without equivalents | last run, time of all its passes |",
           "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
    for module in MODULES:
        r = results.get(module)
        if r is None:
            out.append(f"| {module} | {', '.join(Path(t).name for t in MODULES[module])} | not run yet | | | | | | |")
            continue
        equivalent = sum(1 for s in r["survivors"] if "equivalent" in notes.get(s["id"], {}))
        tried = r["killed"] + r["timeout"] + r["survived"]
        killed = r["killed"] + r["timeout"]
        partial = f", {r['not_run']} not run" if r["not_run"] else ""
        incompetent = f", {r['incompetent']} not made (cosmic-ray error)" if r["incompetent"] else ""
        out.append(f"| {module} | {', '.join(Path(t).name for t in r['tests'])} | {r['mutants']}{partial}{incompetent} "
                   f"| {killed} ({r['timeout']}) | {r['survived']} | {equivalent} | {score(killed, tried)} | "
                   f"{score(killed, tried - equivalent)} | {r['date']}, {r.get('exec_seconds', 0) / 60:.0f} min |")

    out += ["", "## Surviving mutants", "",
            "*Why it survives* comes from `tests/mutation/notes.toml`: `equivalent` (the mutant computes the "
            "same thing, or a difference nothing can observe) or `open` (a real gap, not closed yet, and why). "
            "A survivor that a new test kills leaves this list on the next run (`make mutation MUTATION_FLAGS="
            "--survivors`) for the list of former survivors below."]
    for module in MODULES:
        r = results.get(module)
        if not r or not r["survivors"]:
            continue
        out += ["", f"### {module}", "", "| id | line | function | mutation | why it survives |",
                "| --- | ---: | --- | --- | --- |"]
        for s in r["survivors"]:
            note = notes.get(s["id"], {})
            verdict = (f"equivalent: {note['equivalent']}" if "equivalent" in note else
                       f"**open**: {note['open']}" if "open" in note else "**unexplained**")
            out.append(f"| {s['id']} | {s['line']} | {cell(s['function'])} | {code(s['original'])} → "
                       f"{code(s['mutated'])} ({s['operator']}) | {cell(verdict)} |")

    former = [(module, entry) for module in MODULES
              for entry in results.get(module, {}).get("killed_after_surviving", [])]
    if former:
        out += ["", "## Former survivors, now killed", "",
                "Mutants that survived a run and were killed when it was retried (`--survivors`) with the tests "
                "written for them; the test is the first one that failed.", "",
                "| id | module | line | mutation | killed by |", "| --- | --- | ---: | --- | --- |"]
        for module, s in former:
            out.append(f"| {s['id']} | {module} | {s['line']} | {code(s['original'])} → {code(s['mutated'])} "
                       f"({s['operator']}) | `{cell(s['killed_by'])}` |")

    excluded: dict[str, int] = {}
    for r in results.values():
        for reason, count in r["excluded"].items():
            excluded[reason] = excluded.get(reason, 0) + count
    out += ["", "## What is mutated", "",
            "cosmic-ray's operators: arithmetic (`+`→`-`, `-`→`+`, `*`→`/`, `/`→`*`, `//`→`/`, `%`→`/`, "
            "`**`→`*`, bitwise swaps), comparisons (boundary `<`→`<=` and negation `<`→`>=`, `==`↔`!=`, "
            "`is`↔`is not`), unary (`-x`→`+x`, `not x`→`x`), `and`↔`or`, `True`↔`False`, adding `not` to "
            "conditions, numbers ±1, `break`↔`continue`, `for` loops run zero times, exception types "
            "replaced, decorators removed. Strings, docstrings and comments are never mutated. *Not made*: "
            "mutants cosmic-ray failed to write (its exception replacer cannot rename a dotted name such as "
            "`json.JSONDecodeError`); they count in no score. Excluded before running (counts over the "
            "modules run):", ""]
    out += [f"- {reason}: {count}" for reason, count in sorted(excluded.items(), key=lambda kv: -kv[1])]
    REPORT.write_text("\n".join(out) + "\n")


def add_note_stubs() -> None:
    """Append an entry to notes.toml for each survivor that has none, for a person to fill in."""
    notes = tomllib.loads(NOTES.read_text()).get("mutant", {}) if NOTES.is_file() else {}
    stubs = []
    for module, r in load_results().items():
        for s in r["survivors"]:
            if s["id"] not in notes:
                mutation = f"line {s['line']}: `{s['original']}` -> `{s['mutated']}` ({s['operator']})"
                stubs.append(f"\n[mutant.{s['id']}]\nmodule = {json.dumps(module)}\n"
                             f"mutation = {json.dumps(mutation, ensure_ascii=False)}\n"
                             '# equivalent = "why no test can tell it from the original"\n'
                             '# open = "a real gap: why it is not closed yet"\n')
    with open(NOTES, "a") as out:
        out.writelines(stubs)
    print(f"{len(stubs)} new entries in {NOTES.relative_to(REPO)}")


# --- commands ------------------------------------------------------------------------------------

def chosen_modules(argument: str | None) -> list[str]:
    modules = [m.strip() for m in argument.split(",") if m.strip()] if argument else list(MODULES)
    unknown = [m for m in modules if m not in MODULES]
    if unknown:
        sys.exit(f"error: --modules: {', '.join(unknown)} not in tools/mutation.py's MODULES ({', '.join(MODULES)})")
    return modules


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=("run", "plan", "report", "notes", "serve", "client"))
    parser.add_argument("--modules", help="comma-separated modules (default: all of MODULES)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="modules mutated side by side")
    retry = parser.add_mutually_exclusive_group()
    retry.add_argument("--resume", action="store_true", help="finish interrupted sessions instead of restarting")
    retry.add_argument("--survivors", action="store_true",
                       help="retry only the last run's survivors against the current tests")
    parser.add_argument("--plain", action="store_true",
                        help="start a fresh `python -m pytest` per mutant instead of forking from a server")
    if sys.argv[1:2] == ["serve"]:
        serve(Path(sys.argv[2]))
        return
    if sys.argv[1:2] == ["client"]:
        sys.exit(client(Path(sys.argv[2]), sys.argv[3:]))
    args = parser.parse_args()
    if args.command == "report":
        write_report()
        return
    if args.command == "notes":
        add_note_stubs()
        write_report()
        return
    modules = chosen_modules(args.modules)
    if args.command == "plan":
        for module in modules:
            _, _, session = prepare(module, "fresh")
            r = summarize(module, session, WORK / slug(module) / "original.py")
            r.pop("killers")
            print(f"{module}: {r['mutants']} mutants ({sum(r['excluded'].values())} excluded: {r['excluded']})")
        return
    # Biggest first, so the last module to finish is a short one.
    sizes = {m: len((REPO / m).read_text().splitlines()) for m in modules}
    modules.sort(key=lambda m: -sizes[m])
    mode = "resume" if args.resume else "survivors" if args.survivors else "fresh"
    failed = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        futures = {pool.submit(run_module, module, mode, args.plain): module for module in modules}
        for future in concurrent.futures.as_completed(futures):
            module = futures[future]
            try:
                result = future.result()
            except (RuntimeError, subprocess.CalledProcessError) as error:
                print(f"{module}: FAILED: {error}", flush=True)
                failed.append(module)
                continue
            previous = load_results().get(module) if mode != "fresh" else None
            if previous:  # the time of the whole session, reruns included
                result["exec_seconds"] += previous.get("exec_seconds", 0)
            store_result(carry_over(result, previous))
            tried = result["killed"] + result["timeout"] + result["survived"]
            per_mutant = result["exec_seconds"] / max(1, result["mutants"] - result["not_run"])
            print(f"{module}: {result['mutants']} mutants, {result['survived']} survived, score "
                  f"{score(result['killed'] + result['timeout'], tried)}, {per_mutant:.1f} s per mutant "
                  f"({result['total_seconds'] / 60:.1f} min)", flush=True)
    write_report()
    print(f"report: {REPORT.relative_to(REPO)}")
    if failed:
        sys.exit(f"error: {', '.join(failed)} could not be run")


if __name__ == "__main__":
    main()
