"""Keras callbacks that make a training run folder: checkpoints, CSV log, curves, state."""

from __future__ import annotations

import csv
import io
import math
import time
from pathlib import Path

import keras

from bwcolor._io import atomic_path, atomic_write, atomic_write_json, remove_stale_temp_files


def _finite(value):
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


class StopOnNonFiniteLoss(keras.callbacks.Callback):
    """Stop training at the first step whose loss is NaN or infinite.

    ``stopped_at`` is then ``(epoch, step, value)`` (1-based epoch); :class:`RunCheckpoint`
    writes nothing for that epoch, so the run keeps its last good checkpoint and ``best/``.
    """

    def __init__(self):
        super().__init__()
        self.stopped_at = None
        self._epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch + 1

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not _finite(loss) and self.stopped_at is None:
            self.stopped_at = (self._epoch, batch + 1, float(loss))
            self.model.stop_training = True


class RunCheckpoint(keras.callbacks.Callback):
    """After every epoch, in this order: ``last.keras`` (with optimizer state), ``best/`` preset
    when validation loss improves, ``state.json`` (the resume point), then ``history.csv`` and
    ``curves.png``. Each file is written atomically, so a crash or a full disk at any moment
    leaves the previous epoch's checkpoint and a ``state.json`` that matches it: the run can
    always be resumed. An epoch whose loss is NaN or infinite writes nothing.

    When a write fails (a full disk, say) training stops with an ``OSError`` that says the run
    is intact and can be resumed.

    Parameters
    ----------
    run_dir : path
    config, metadata : dict
        The Colorizer's, written into ``state.json`` as they are at each epoch's end (the
        metadata gets ``best_epoch``).
    save_best : callable
        ``save_best(folder)`` writes the preset of the model's current weights (it may replace
        an older one).
    best : float, optional
        The best monitored loss so far (of the run being resumed).
    data : list of str, optional
        The photos trained on (real paths of the folders or files given), written into
        ``state.json`` only (not into the shared ``best/`` preset), so a resume on other photos
        is refused.
    """

    def __init__(self, run_dir, *, config, metadata, save_best, best=None, resume=False,
                 initial_epoch=0, data=None):
        super().__init__()
        self.config, self.metadata, self.save_best = config, metadata, save_best
        self.data = data
        self.run = Path(run_dir)
        self.run.mkdir(parents=True, exist_ok=True)
        remove_stale_temp_files(self.run)  # of a run that was killed mid-write
        self.best = math.inf if best is None else float(best)
        self.csv_path = self.run / "history.csv"
        # history.csv may hold rows of an epoch whose state.json was never written (a crash
        # between the two): keep only the epochs the run really has.
        self.rows = self._read_rows(initial_epoch) if resume else []
        self._t0 = time.time()

    def _read_rows(self, up_to_epoch):
        if not self.csv_path.is_file():
            return []
        with open(self.csv_path, newline="", encoding="utf-8") as f:
            return [r for r in csv.DictReader(f) if int(float(r.get("epoch", 0))) <= up_to_epoch]

    def on_epoch_begin(self, epoch, logs=None):
        self._t0 = time.time()

    def on_epoch_end(self, epoch, logs=None):
        logs = dict(logs or {})
        if not _finite(logs.get("loss", 0.0)):
            return  # never checkpoint NaN weights; StopOnNonFiniteLoss reports it
        seconds = round(time.time() - self._t0, 2)
        monitored = logs.get("val_loss", logs.get("loss"))
        try:
            self._save(epoch, logs, seconds, monitored)
        except OSError as e:
            self.model.stop_training = True
            raise OSError(e.errno, f"could not write the checkpoint of epoch {epoch + 1} in "
                          f"{self.run} ({e.strerror or e}); the run keeps epoch {epoch}'s "
                          f"checkpoint and can be resumed once there is room") from e

    def _save(self, epoch, logs, seconds, monitored):
        with atomic_path(self.run / "last.keras") as tmp:
            self.model.save(tmp)
        improved = monitored is not None and _finite(monitored) and monitored < self.best
        if improved:
            self.metadata["best_epoch"] = epoch + 1
            self.save_best(self.run / "best")
        state = {"epoch": epoch + 1, "best": float(monitored) if improved else self.best,
                 "config": self.config, "metadata": self.metadata}
        if self.data is not None:
            state["data"] = self.data
        atomic_write_json(self.run / "state.json", state)
        if improved:
            self.best = float(monitored)
        self.rows.append({"epoch": epoch + 1, "seconds": seconds,
                          **{k: float(v) for k, v in logs.items()}})
        self._write_history()

    def _write_history(self):
        fields = []
        for row in self.rows:
            fields += [k for k in row if k not in fields]
        text = io.StringIO()
        writer = csv.DictWriter(text, fieldnames=fields, restval="")
        writer.writeheader()
        writer.writerows(self.rows)
        with atomic_write(self.csv_path, "w", encoding="utf-8", newline="") as f:
            f.write(text.getvalue())
        try:
            from bwcolor.plotting import plot_history

            plot_history(self.csv_path, self.run / "curves.png", overwrite=True)
        except ImportError:  # matplotlib is optional for training itself
            pass


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
