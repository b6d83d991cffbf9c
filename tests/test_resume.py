"""Interrupt, resume, crash and divergence: issue 3's "Done when" list, on tiny PPO runs."""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorflow.python.checkpoint import checkpoint_management

import run_behavior_clone
import run_gail
import run_ppo
from algo.behavior_clone import BehaviorCloneTrainer
from algo.ppo import PPOTrainer
from common.checkpoints import CheckpointStore, load_actor_critic
from common.demonstrations import load_demonstrations, save_demonstrations
from common.rollout import RolloutCollector
from conftest import REPO_ROOT, SHIPPED_DEMOS, TINY_PPO_FLAGS

BATCH = 64  # TINY_PPO_FLAGS: --num-envs 2 x --rollout-steps 32 env steps per iteration
PER_ITERATION_TAG = "charts/learning_rate"  # logged once every iteration


# --- helpers ----------------------------------------------------------------------------------

def logged_steps(log_dir, tag: str = PER_ITERATION_TAG) -> list[int]:
    """Every step ``tag`` was logged at, over all event files in ``log_dir``, in file order.

    size_guidance 0 keeps every event (the default samples 10), and purge_orphaned_data=False
    keeps repeated steps, which the default would silently drop.
    """
    if not any(log_dir.glob("events.out.tfevents.*")):
        return []
    accumulator = EventAccumulator(str(log_dir), size_guidance={"tensors": 0}, purge_orphaned_data=False)
    accumulator.Reload()
    if tag not in accumulator.Tags()["tensors"]:
        return []
    return [event.step for event in accumulator.Tensors(tag)]


def checkpoint_counters(save_dir) -> tuple[int, int]:
    """(iteration, env_steps) stored in the latest checkpoint of ``save_dir``."""
    reader = tf.train.load_checkpoint(tf.train.latest_checkpoint(str(save_dir)))
    return (int(reader.get_tensor("iteration/.ATTRIBUTES/VARIABLE_VALUE")),
            int(reader.get_tensor("env_steps/.ATTRIBUTES/VARIABLE_VALUE")))


def saved_policy_weights(save_dir) -> list[np.ndarray]:
    model, _ = load_actor_critic(save_dir)
    return [variable.numpy() for variable in model.trainable_variables]


def snapshot(store: CheckpointStore, rng: np.random.Generator) -> dict:
    """Everything a resume must bring back, copied out of the live objects."""
    return {"counters": (int(store.iteration.numpy()), int(store.env_steps.numpy())),
            "networks": [variable.numpy().copy() for variable in store.saved_variables()],
            "optimizer": [np.array(variable.numpy()) for variable in store.checkpoint.optimizer.variables],
            "rng": copy.deepcopy(rng.bit_generator.state)}


def all_equal(first: list[np.ndarray], second: list[np.ndarray]) -> bool:
    return len(first) == len(second) and all(np.array_equal(a, b) for a, b in zip(first, second))


def tiny_flags(tmp_path, name: str, *extra: str) -> list[str]:
    return TINY_PPO_FLAGS + ["--save-dir", str(tmp_path / name), "--log-dir", str(tmp_path / f"{name}-log"),
                             *extra]


def record_saves(monkeypatch) -> list[dict]:
    """Snapshot the training state at every CheckpointStore.save, in order."""
    saves: list[dict] = []
    original_save = CheckpointStore.save

    def recording_save(store, env_steps, iteration, rng, train_seconds):
        path = original_save(store, env_steps, iteration, rng, train_seconds)
        saves.append(snapshot(store, rng))
        return path

    monkeypatch.setattr(CheckpointStore, "save", recording_save)
    return saves


def signal_during_rollout(monkeypatch, number: int, sig: int = signal.SIGINT) -> None:
    """Deliver ``sig`` to this process while the ``number``-th rollout (1-based) is collected."""
    original_collect = RolloutCollector.collect
    calls = {"count": 0}

    def collect(collector, actor):
        calls["count"] += 1
        if calls["count"] == number:
            signal.raise_signal(sig)
        return original_collect(collector, actor)

    monkeypatch.setattr(RolloutCollector, "collect", collect)


# --- 1. a real process, interrupted by a signal, then resumed ------------------------------------

def ppo_command(tmp_path, *extra: str) -> list[str]:
    # A budget far beyond what runs before the signal; no periodic checkpoint, so the one on
    # disk after the interrupt is the one the signal handler saved.
    return [sys.executable, "run_ppo.py", *TINY_PPO_FLAGS, "--save-dir", str(tmp_path / "ckpt"),
            "--log-dir", str(tmp_path / "log"), "--total-env-steps", "200000", "--eval-every", "1024",
            "--checkpoint-every", "100000000", *extra]


def interrupt_when_under_way(command: list[str], tmp_path, sig: int) -> tuple[int, str, str]:
    """Start ``command``, wait for some logged iterations, send ``sig``; (exit status, out, err)."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    with open(tmp_path / "stdout.txt", "w") as out, open(tmp_path / "stderr.txt", "w") as err:
        process = subprocess.Popen(command, cwd=REPO_ROOT, stdout=out, stderr=err, env=env)
        try:
            deadline = time.monotonic() + 90
            while len(logged_steps(tmp_path / "log")) < 5:
                if process.poll() is not None:
                    pytest.fail(f"training exited early ({process.returncode}): "
                                f"{(tmp_path / 'stderr.txt').read_text()[-2000:]}")
                if time.monotonic() > deadline:
                    pytest.fail("training logged fewer than 5 iterations in 90 s")
                time.sleep(0.2)
            process.send_signal(sig)
            returncode = process.wait(timeout=60)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    return returncode, (tmp_path / "stdout.txt").read_text(), (tmp_path / "stderr.txt").read_text()


def interrupt_and_check_checkpoint(tmp_path, sig: int) -> int:
    """Interrupt a run with ``sig``; check the exit status, hint and checkpoint. Returns its env steps."""
    returncode, stdout, stderr = interrupt_when_under_way(ppo_command(tmp_path), tmp_path, sig)
    assert returncode == 128 + sig, stderr[-2000:]
    hint = re.search(r"stopped at (\d+) env steps; checkpoint saved in .*--resume", stdout)
    assert hint, stdout
    assert "Traceback" not in stderr

    steps = logged_steps(tmp_path / "log")
    interrupted = steps[-1]
    assert int(hint.group(1)) == interrupted
    assert steps == list(range(BATCH, interrupted + BATCH, BATCH))
    # The checkpoint holds exactly the state after the last logged iteration.
    assert checkpoint_counters(tmp_path / "ckpt") == (interrupted // BATCH, interrupted)
    return interrupted


def test_sigterm_saves_a_checkpoint_and_exits_143(tmp_path):
    interrupt_and_check_checkpoint(tmp_path, signal.SIGTERM)


def test_sigint_saves_a_checkpoint_and_resume_continues_the_curves(tmp_path):
    interrupted = interrupt_and_check_checkpoint(tmp_path, signal.SIGINT)

    final = interrupted + 2048
    resumed = subprocess.run(ppo_command(tmp_path, "--resume", "--total-env-steps", str(final)), cwd=REPO_ROOT,
                             capture_output=True, text=True, timeout=120,
                             env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert f"at {final} env steps" in resumed.stdout
    # One curve across both processes: every iteration once, no gap, no repeat.
    assert logged_steps(tmp_path / "log") == list(range(BATCH, final + BATCH, BATCH))
    assert len(list((tmp_path / "log").glob("events.out.tfevents.*"))) == 2
    assert checkpoint_counters(tmp_path / "ckpt") == (final // BATCH, final)


# --- 2. resume restores networks, optimizer and RNG exactly -------------------------------------

def test_resume_restores_networks_optimizer_and_rng_exactly(tmp_path, monkeypatch, capsys):
    saves = record_saves(monkeypatch)
    restores: list[tuple[dict, dict]] = []
    original_restore = CheckpointStore.restore_latest

    def recording_restore(store, rng):
        before = snapshot(store, rng)
        found = original_restore(store, rng)
        restores.append((before, snapshot(store, rng)))
        return found

    monkeypatch.setattr(CheckpointStore, "restore_latest", recording_restore)
    flags = tiny_flags(tmp_path, "run", "--total-env-steps", "512")
    handler_before = signal.getsignal(signal.SIGINT)

    # Stop during iteration 4, which also ends with a periodic checkpoint (every 128 = 2 iterations).
    with monkeypatch.context() as patch:
        signal_during_rollout(patch, number=4)
        with pytest.raises(SystemExit) as stopped:
            run_ppo.main(flags)
    assert stopped.value.code == 128 + signal.SIGINT
    assert "Resume with the same command plus --resume" in capsys.readouterr().out
    assert signal.getsignal(signal.SIGINT) is handler_before  # the loop put its handlers back
    # One checkpoint per iteration: the stop does not write the periodic checkpoint a second time.
    assert [save["counters"] for save in saves] == [(2, 128), (4, 256)]
    at_stop = saves[-1]

    shutil.copytree(tmp_path / "run", tmp_path / "copy")
    run_ppo.main(flags + ["--resume"])
    before, after = restores[0]
    assert after["counters"] == at_stop["counters"] == (4, 256)
    assert not all_equal(before["networks"], at_stop["networks"])  # restoring had something to do
    assert all_equal(after["networks"], at_stop["networks"])
    assert all_equal(after["optimizer"], at_stop["optimizer"])  # Adam step count and both moments
    assert int(after["optimizer"][0]) > 0
    assert after["rng"] == at_stop["rng"]
    assert checkpoint_counters(tmp_path / "run") == (8, 512)

    # Bit-identical equality with an uninterrupted run is impossible by design: a resumed run
    # re-seeds its envs (seed + start iteration) instead of continuing the interrupted episodes,
    # whose simulator state is not checkpointed. What must hold instead: the restore above is
    # exact, and resuming the same checkpoint is deterministic.
    run_ppo.main(tiny_flags(tmp_path, "copy", "--total-env-steps", "512", "--resume"))
    assert all_equal(saved_policy_weights(tmp_path / "run"), saved_policy_weights(tmp_path / "copy"))


def test_signal_during_the_last_iteration_lets_the_run_finish(tmp_path, monkeypatch, capsys):
    saves = record_saves(monkeypatch)
    signal_during_rollout(monkeypatch, number=4)  # 256 env steps = 4 iterations
    run_ppo.main(tiny_flags(tmp_path, "run"))  # returns normally: nothing is left to resume
    out = capsys.readouterr().out
    assert "final deterministic eval" in out and "--resume" not in out
    assert [save["counters"] for save in saves] == [(2, 128), (4, 256)]


def test_resume_of_a_finished_run_is_a_one_line_error_that_changes_nothing(tmp_path, capsys):
    flags = tiny_flags(tmp_path, "run")
    run_ppo.main(flags)
    log_dir = tmp_path / "run-log"
    before = {path.name: path.read_bytes() for path in log_dir.iterdir()}
    capsys.readouterr()
    with pytest.raises(SystemExit) as refused:
        run_ppo.main(flags + ["--resume"])
    assert refused.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --resume") and "--total-env-steps" in err and err.count("\n") == 1
    assert {path.name: path.read_bytes() for path in log_dir.iterdir()} == before
    assert checkpoint_counters(tmp_path / "run") == (4, 256)


# --- 3. a crash while a checkpoint is written keeps the previous one ------------------------------

class SimulatedCrash(Exception):
    pass


def test_crash_while_writing_a_checkpoint_keeps_the_previous_one(tmp_path, monkeypatch):
    saves = record_saves(monkeypatch)
    save_dir = tmp_path / "run"
    original_update = checkpoint_management.update_checkpoint_state_internal

    def crash_before_indexing_ckpt_4(*args, **kwargs):
        if str(kwargs.get("model_checkpoint_path", "")).endswith("ckpt-4"):
            raise SimulatedCrash("killed after writing ckpt-4's files, before the `checkpoint` index")
        return original_update(*args, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(checkpoint_management, "update_checkpoint_state_internal", crash_before_indexing_ckpt_4)
        with pytest.raises(SimulatedCrash):
            run_ppo.main(tiny_flags(tmp_path, "run"))  # checkpoints at 128 (ckpt-2) and 256 (ckpt-4)
    assert (save_dir / "ckpt-4.index").is_file()  # the crash hit after the data files were written
    # ... and a later save killed mid-write leaves TensorFlow's temporary shard behind.
    partial = save_dir / "ckpt-6_temp"
    partial.mkdir()
    for suffix in (".index", ".data-00000-of-00001"):
        data = (save_dir / f"ckpt-4{suffix}").read_bytes()
        (partial / f"part-00000-of-00001{suffix}").write_bytes(data[: len(data) // 2])

    assert tf.train.latest_checkpoint(str(save_dir)).endswith("ckpt-2")
    assert checkpoint_counters(save_dir) == (2, 128)
    good = saves[0]
    assert good["counters"] == (2, 128)
    policy_weights = saved_policy_weights(save_dir)
    assert all_equal(policy_weights, good["networks"][:len(policy_weights)])

    # --resume continues from the good checkpoint; the stray files do not get in the way.
    run_ppo.main(tiny_flags(tmp_path, "run", "--total-env-steps", "384", "--resume"))
    assert checkpoint_counters(save_dir) == (6, 384)
    assert all(np.isfinite(weights).all() for weights in saved_policy_weights(save_dir))


# --- 4. NaN guard ---------------------------------------------------------------------------

def poison(variable: tf.Variable) -> None:
    values = variable.numpy()
    values.flat[0] = np.nan
    variable.assign(values)


@pytest.mark.parametrize("case", ["loss", "parameter"])
def test_divergence_stops_with_the_term_and_step_and_keeps_the_last_good_checkpoint(
        tmp_path, monkeypatch, capsys, case):
    saves = record_saves(monkeypatch)
    original_update = PPOTrainer.update
    calls = {"count": 0}

    def diverging_update(trainer, *args, **kwargs):
        calls["count"] += 1
        variables = {variable.name: variable for variable in trainer.model.trainable_variables}
        if case == "loss" and calls["count"] == 3:
            poison(variables["policy/kernel_0:0"])  # the update's own losses come out NaN
        metrics = original_update(trainer, *args, **kwargs)
        if case == "parameter" and calls["count"] == 4:
            poison(variables["value/kernel_1:0"])  # losses were finite; the checkpoint check must catch it
        return metrics

    monkeypatch.setattr(PPOTrainer, "update", diverging_update)
    save_dir = tmp_path / "run"
    with pytest.raises(SystemExit) as diverged:
        run_ppo.main(tiny_flags(tmp_path, "run", "--total-env-steps", "512"))
    assert diverged.value.code == 1
    err = capsys.readouterr().err
    expected = ("losses/policy_loss", "env step 192") if case == "loss" else (
        "variable value/kernel_1:0", "env step 256")
    assert err.startswith("error: training diverged: ") and all(text in err for text in expected), err
    assert "Traceback" not in err and str(save_dir) in err

    assert [save["counters"] for save in saves] == [(2, 128)]
    assert sorted(path.name for path in save_dir.glob("ckpt-*.index")) == ["ckpt-2.index"]
    assert checkpoint_counters(save_dir) == (2, 128)
    weights = saved_policy_weights(save_dir)
    assert all(np.isfinite(w).all() for w in weights)
    assert all_equal(weights, saves[0]["networks"][:len(weights)])


def test_resume_keeps_the_earlier_evaluations(tmp_path):
    """evaluations.json after a resume holds the whole run's evaluations, not just the last part."""
    dirs = ["--save-dir", str(tmp_path / "save"), "--log-dir", str(tmp_path / "log")]
    run_ppo.main(TINY_PPO_FLAGS + dirs)  # evaluations at 128 and 256 env steps
    run_ppo.main(TINY_PPO_FLAGS + dirs + ["--resume", "--total-env-steps", "384"])
    history = json.loads((tmp_path / "log" / "evaluations.json").read_text())
    assert [record["step"] for record in history["evaluations"]] == [128, 256, 384]


def behavior_clone_stopped_at_epoch(epoch: int, demo_dir, epochs: int, tmp_path, monkeypatch) -> list[str]:
    """Run BC with a SIGINT during ``epoch`` (it saves and exits 130); returns its argv, for the resume."""
    original_epoch = BehaviorCloneTrainer.train_epoch
    calls = {"count": 0}

    def train_epoch(trainer, *args):
        calls["count"] += 1
        if calls["count"] == epoch:
            signal.raise_signal(signal.SIGINT)
        return original_epoch(trainer, *args)

    monkeypatch.setattr(BehaviorCloneTrainer, "train_epoch", train_epoch)
    argv = ["--demo-dir", str(demo_dir), "--num-demos", "2", "--epochs", str(epochs), "--eval-every", "2",
            "--eval-episodes", "2", "--hidden-sizes", "16,16", "--no-progress",
            "--save-dir", str(tmp_path / "bc"), "--log-dir", str(tmp_path / "log")]
    with pytest.raises(SystemExit) as stopped:
        run_behavior_clone.main(argv)
    assert stopped.value.code == 130
    monkeypatch.setattr(BehaviorCloneTrainer, "train_epoch", original_epoch)
    return argv


def test_behavior_clone_stops_on_sigint_and_resumes_to_the_end(tmp_path, monkeypatch, capsys):
    argv = behavior_clone_stopped_at_epoch(3, SHIPPED_DEMOS, 6, tmp_path, monkeypatch)
    assert "stopped at epoch 3; checkpoint saved in" in capsys.readouterr().out
    assert tf.train.latest_checkpoint(str(tmp_path / "bc")).endswith("ckpt-3")

    run_behavior_clone.main(argv + ["--resume"])
    assert "at 6 epochs" in capsys.readouterr().out
    assert tf.train.latest_checkpoint(str(tmp_path / "bc")).endswith("ckpt-6")
    history = json.loads((tmp_path / "log" / "evaluations.json").read_text())
    assert history["step_unit"] == "epochs"
    assert [record["step"] for record in history["evaluations"]] == [2, 4, 6]
    load_actor_critic(tmp_path / "bc")  # the final policy loads like any other


def test_resume_on_other_demonstrations_is_refused_and_keeps_the_checkpoint(tmp_path, monkeypatch, capsys):
    """The set under --demo-dir was replaced (an expert retrained, resampled) between the stop and
    the resume: continuing would train one checkpoint on two sets."""
    demo_dir = tmp_path / "demos"
    demos = load_demonstrations(SHIPPED_DEMOS)
    save_demonstrations(demos, demo_dir)
    argv = behavior_clone_stopped_at_epoch(2, demo_dir, 4, tmp_path, monkeypatch)
    save_demonstrations(demos.episodes(1, demos.num_episodes), demo_dir, overwrite=True)
    capsys.readouterr()
    with pytest.raises(SystemExit) as refused:
        run_behavior_clone.main(argv + ["--resume"])
    assert refused.value.code == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and "--demo-dir holds other demonstrations" in error[0] and str(tmp_path / "bc") in error[0]
    assert tf.train.latest_checkpoint(str(tmp_path / "bc")).endswith("ckpt-2")
    save_demonstrations(demos, demo_dir, overwrite=True)  # the set it learnt from, back: it continues
    run_behavior_clone.main(argv + ["--resume"])
    assert tf.train.latest_checkpoint(str(tmp_path / "bc")).endswith("ckpt-4")


def test_gail_resume_on_other_demonstrations_is_refused_before_anything_else(tmp_path, capsys):
    """GAIL's checkpoint names its demonstrations too: the refusal comes before the one for a
    finished run, which is what a resume would meet otherwise."""
    demo_dir = tmp_path / "demos"
    demos = load_demonstrations(SHIPPED_DEMOS)
    save_demonstrations(demos, demo_dir)
    argv = [*TINY_PPO_FLAGS, "--demo-dir", str(demo_dir), "--num-demos", "2",
            "--save-dir", str(tmp_path / "gail"), "--log-dir", str(tmp_path / "log")]
    run_gail.main(argv)
    save_demonstrations(demos.episodes(1, demos.num_episodes), demo_dir, overwrite=True)
    capsys.readouterr()
    with pytest.raises(SystemExit) as refused:
        run_gail.main(argv + ["--resume"])
    assert refused.value.code == 2
    assert "--demo-dir holds other demonstrations" in capsys.readouterr().err

