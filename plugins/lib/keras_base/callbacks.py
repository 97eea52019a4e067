"""Keras callbacks that tie a training to its run folder and to the terminal.

- `EpochRecorder`: after every epoch, one row in ``history.csv``, a checkpoint (model and
  optimizer state) and ``train_state.json``, all written atomically, so an interrupted run
  can be resumed exactly where its last finished epoch left it.
- `ResumableEarlyStopping`: Keras's early stopping whose state (best loss, wait, best
  weights) survives a resume.
- `LiveProgress`: a rich progress display with the running loss and metrics.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import keras
import numpy as np

from artkit import atomic
from artkit.console import info, make_progress
from artkit.training.runs import Run

CHECKPOINT = "checkpoint.keras"
BEST_WEIGHTS = "best-weights.npz"
STATE = "train_state.json"


def save_weight_list(path: Path, weights: list[np.ndarray]) -> None:
    with atomic.atomic_path(path) as tmp:
        with tmp.open("wb") as handle:
            np.savez(handle, *weights)


def load_weight_list(path: Path) -> list[np.ndarray]:
    with np.load(path) as stored:
        return [stored[f"arr_{i}"] for i in range(len(stored.files))]


class ResumableEarlyStopping(keras.callbacks.EarlyStopping):
    """Stops when the validation loss has not improved for `patience` epochs and restores
    the best epoch's weights; `restore` carries the state of an interrupted run."""

    def __init__(self, patience: int, run: Run, restore: dict[str, Any] | None = None):
        super().__init__(monitor="val_loss", patience=patience, restore_best_weights=True,
                         mode="min")
        self.run = run
        self.restore = restore

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        if self.restore and self.restore.get("best") is not None:
            self.wait = self.restore["wait"]
            self.best = self.restore["best"]
            self.best_epoch = self.restore["best_epoch"]
            if self.run.path(BEST_WEIGHTS).exists():
                self.best_weights = load_weight_list(self.run.path(BEST_WEIGHTS))

    def on_epoch_end(self, epoch, logs=None):
        super().on_epoch_end(epoch, logs)
        if self.best_epoch == epoch and self.best_weights is not None:
            save_weight_list(self.run.path(BEST_WEIGHTS), self.best_weights)

    def state(self) -> dict[str, Any]:
        best = None if self.best is None else float(self.best)
        return {"wait": int(self.wait), "best": best, "best_epoch": int(self.best_epoch)}


class EpochRecorder(keras.callbacks.Callback):
    """History row, checkpoint and training state after each epoch."""

    def __init__(self, run: Run, early_stopping: ResumableEarlyStopping | None):
        super().__init__()
        self.run = run
        self.early_stopping = early_stopping
        self.started = 0.0
        self.epochs_done = 0

    def on_epoch_begin(self, epoch, logs=None):
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        row: dict[str, Any] = {"epoch": epoch + 1,
                               "seconds": round(time.perf_counter() - self.started, 2),
                               "lr": float(keras.ops.convert_to_numpy(
                                   self.model.optimizer.learning_rate))}
        row.update({k: float(v) for k, v in (logs or {}).items()})
        self.run.append_history(row)
        with atomic.atomic_path(self.run.path(CHECKPOINT)) as tmp:
            self.model.save(tmp)
        self.epochs_done = epoch + 1
        state = {"epochs_done": self.epochs_done,
                 "early_stopping": self.early_stopping.state() if self.early_stopping else None}
        self.run.write_json(STATE, state)


class LiveProgress(keras.callbacks.Callback):
    """Two bars (epochs, batches of this epoch) with the running loss and metrics, and one
    summary line per finished epoch."""

    def __init__(self, epochs: int, initial_epoch: int, steps: int, batch_size: int):
        super().__init__()
        self.epochs, self.initial_epoch = epochs, initial_epoch
        self.steps, self.batch_size = steps, batch_size
        self.progress = make_progress(rate_unit="img")
        self.epoch_task = self.batch_task = None
        self.started = 0.0

    def on_train_begin(self, logs=None):
        self.progress.start()
        self.epoch_task = self.progress.add_task("epochs", total=self.epochs,
                                                 completed=self.initial_epoch, rate="")
        self.batch_task = self.progress.add_task("batches", total=self.steps, rate="")

    def on_epoch_begin(self, epoch, logs=None):
        self.started = time.perf_counter()
        self.progress.reset(self.batch_task, total=self.steps,
                            description=f"epoch {epoch + 1}/{self.epochs}", rate="")

    def on_train_batch_end(self, batch, logs=None):
        seconds = max(time.perf_counter() - self.started, 1e-9)
        rate = f"{(batch + 1) * self.batch_size / seconds:.1f} img/s"
        shown = "  ".join(f"{k} {float(v):.3f}" for k, v in (logs or {}).items()
                          if k in ("loss", "top1", "f2") and math.isfinite(float(v)))
        self.progress.update(self.batch_task, completed=batch + 1, rate=f"{rate}  {shown}")

    def on_epoch_end(self, epoch, logs=None):
        self.progress.advance(self.epoch_task)
        shown = "  ".join(f"{k} {v:.4f}" for k, v in (logs or {}).items())
        info(f"epoch {epoch + 1}: {shown}")

    def on_train_end(self, logs=None):
        self.progress.stop()
