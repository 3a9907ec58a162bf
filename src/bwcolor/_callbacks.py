"""Keras callbacks that make a training run folder: checkpoints, CSV log, curves, state."""

from __future__ import annotations

import csv
import json
import math
import os
import time
from pathlib import Path

import keras


def _atomic_json(path, obj):
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(obj, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, path)


class RunCheckpoint(keras.callbacks.Callback):
    """After every epoch: ``last.keras`` (with optimizer state), ``best/`` preset when validation
    loss improves, a row in ``history.csv``, ``curves.png``, and ``state.json`` last of all, so a
    crash at any moment leaves a resumable run that loses at most the epoch in progress."""

    def __init__(self, colorizer, run_dir, best=None, resume=False):
        super().__init__()
        self.colorizer = colorizer
        self.run = Path(run_dir)
        self.run.mkdir(parents=True, exist_ok=True)
        self.best = math.inf if best is None else float(best)
        self.csv_path = self.run / "history.csv"
        if not resume and self.csv_path.exists():
            self.csv_path.unlink()
        self._t0 = time.time()

    def on_epoch_begin(self, epoch, logs=None):
        self._t0 = time.time()

    def on_epoch_end(self, epoch, logs=None):
        logs = dict(logs or {})
        seconds = round(time.time() - self._t0, 2)
        monitored = logs.get("val_loss", logs.get("loss"))
        tmp = self.run / "last.tmp.keras"
        self.model.save(tmp)
        os.replace(tmp, self.run / "last.keras")
        if monitored is not None and monitored < self.best:
            self.best = float(monitored)
            self.colorizer.metadata["best_epoch"] = epoch + 1
            self.colorizer.save(self.run / "best", overwrite=True)
        row = {"epoch": epoch + 1, "seconds": seconds, **{k: float(v) for k, v in logs.items()}}
        new = not self.csv_path.exists()
        with open(self.csv_path, "a", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=list(row))
            if new:
                writer.writeheader()
            writer.writerow(row)
        try:
            from bwcolor.plotting import plot_history

            plot_history(self.csv_path, self.run / "curves.png")
        except ImportError:  # matplotlib is optional for training itself
            pass
        _atomic_json(self.run / "state.json", {
            "epoch": epoch + 1, "best": self.best, "config": self.colorizer.config,
            "metadata": self.colorizer.metadata})


class TimeBudget(keras.callbacks.Callback):
    """Stop training at the end of the epoch during which ``seconds`` have passed."""

    def __init__(self, seconds):
        super().__init__()
        self.seconds = float(seconds)
        self._start = None

    def on_train_begin(self, logs=None):
        self._start = time.time()

    def on_epoch_end(self, epoch, logs=None):
        if time.time() - self._start >= self.seconds:
            self.model.stop_training = True
