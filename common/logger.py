"""TensorBoard scalars and a progress bar, the same for every script."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import tensorflow as tf
from tqdm import tqdm

from common.files import atomic_write_bytes


@dataclasses.dataclass
class EvalRecord:
    """One evaluation: the mean and std of the true return over a fixed set of episodes."""

    step: int          # env steps (PPO, GAIL) or epochs (BC) when it was taken
    seconds: float     # of training in the run (across resumes) when it was taken
    return_mean: float
    return_std: float
    # Imitation fidelity against demonstrations (common.fidelity.Fidelity.as_dict), GAIL and BC only.
    fidelity: dict[str, float] | None = None

    def scalars(self) -> dict[str, float]:
        """TensorBoard scalars: eval/return_mean, eval/return_std and imitation/<measure>."""
        scalars = {"eval/return_mean": self.return_mean, "eval/return_std": self.return_std}
        scalars.update({f"imitation/{name}": value for name, value in (self.fidelity or {}).items()})
        return scalars


def describe(record: EvalRecord) -> str:
    """One line for the console: the true return and, when measured, the imitation fidelity."""
    text = f"true return {record.return_mean:.1f} ± {record.return_std:.1f}"
    if record.fidelity:
        fidelity = record.fidelity
        text += (f"; fidelity: state W1 {fidelity['state_wasserstein']:.2f}, energy {fidelity['energy_distance']:.3f}, "
                 f"action agreement {fidelity['action_agreement']:.2f}")
        if "classifier_accuracy" in fidelity:
            text += f", classifier {fidelity['classifier_accuracy']:.2f}"
    return text


def read_evaluations(log_dir: Path, up_to_step: int) -> list[EvalRecord]:
    """The evaluations an earlier process wrote to ``log_dir`` (for --resume), up to ``up_to_step``
    (the checkpoint resumed from); none if there is no readable file."""
    try:
        payload = json.loads((Path(log_dir) / "evaluations.json").read_text())
        records = [EvalRecord(**record) for record in payload["evaluations"]]
        return [record for record in records if record.step <= up_to_step]
    except (OSError, ValueError, KeyError, TypeError):
        return []


def write_evaluations(log_dir: Path, config: object, step_unit: str, records: list[EvalRecord],
                      train_seconds: float) -> None:
    """evaluations.json in the log dir: every evaluation of the run, for scripts and plots."""
    payload = {"env": getattr(config, "env"), "seed": getattr(config, "seed"), "step_unit": step_unit,
               "train_seconds": train_seconds, "evaluations": [dataclasses.asdict(record) for record in records]}
    atomic_write_bytes(Path(log_dir) / "evaluations.json", json.dumps(payload, indent=1).encode())


class RunLogger:
    """Writes ``tf.summary`` scalars to ``log_dir`` and shows progress (env steps or epochs)."""

    def __init__(self, log_dir: str | Path, total: int, description: str, show_progress: bool = True,
                 initial: int = 0, unit: str = "step") -> None:
        self.writer = tf.summary.create_file_writer(str(log_dir))
        self.progress = tqdm(total=total, initial=initial, desc=description, unit=unit,
                             disable=not show_progress, dynamic_ncols=True, mininterval=0.5)
        self._write_compiled = tf.function(self._write)

    def scalars(self, step: int, values: dict[str, float]) -> None:
        # Eager tf.summary.scalar costs ~1 ms per scalar; one compiled call writes them all.
        names = tuple(sorted(values))
        self._write_compiled(names, tf.constant(step, tf.int64),
                             tf.constant([values[name] for name in names], tf.float32))

    def _write(self, names: tuple[str, ...], step: tf.Tensor, values: tf.Tensor) -> None:
        with self.writer.as_default(step=step):
            for index, name in enumerate(names):
                tf.summary.scalar(name, values[index])

    def advance(self, amount: int, status: dict[str, float]) -> None:
        self.progress.update(min(amount, self.progress.total - self.progress.n))
        self.progress.set_postfix({name: f"{value:.3g}" for name, value in status.items()}, refresh=False)

    def message(self, text: str) -> None:
        self.progress.write(text)

    def close(self) -> None:
        self.writer.flush()
        self.progress.close()
