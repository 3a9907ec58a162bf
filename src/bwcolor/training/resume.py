"""Training run folders: reading one to resume it, and falling back to its last good checkpoint
when the loss stops being finite."""

from __future__ import annotations

import dataclasses
import zipfile
from pathlib import Path
from typing import Any

import keras

from bwcolor import presets
from bwcolor.architectures import backbones
from bwcolor.training import features

#: What a resumed run must share with the Colorizer that resumes it.
RUN_DEFINING_KEYS = ("architecture", "architecture_config", "image_size", "loss")


def read_run_state(run_dir):
    """state.json of a training run, validated; ValueError naming the file otherwise."""
    run = Path(run_dir)
    if not (run / "last.keras").is_file() or not (run / "state.json").is_file():
        raise ValueError(f"resume=True needs a run folder with last.keras and state.json from "
                         f"a finished epoch. Received: checkpoint_dir={str(run)!r}")
    state = presets.read_json(run / "state.json", "state.json")
    if not isinstance(state, dict) or "epoch" not in state or "config" not in state:
        raise ValueError(f"{run / 'state.json'} is not a bwcolor run state (needs 'epoch' and "
                         f"'config')")
    epoch, best = state["epoch"], state.get("best")
    # Written after each finished epoch: the epochs done (>= 1), the best validation loss so
    # far (a number; Infinity before any), the metadata an object.
    problem = ("epoch must be a whole number >= 1 (the epochs finished)"
               if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 1 else
               "best must be a number" if best is not None and (
                   isinstance(best, bool) or not isinstance(best, (int, float))) else
               "metadata must be an object" if not isinstance(state.get("metadata", {}), dict)
               else "data must be a list of paths" if state.get("data") is not None and not (
                   isinstance(state["data"], list) and all(isinstance(d, str) for d in state["data"]))
               else None)
    if problem:
        raise ValueError(f"{run / 'state.json'} is damaged: {problem}, so the run cannot be "
                         f"resumed; its best/ preset is separate (Colorizer.from_preset), or "
                         f"start the run again. Received: epoch={epoch!r}, best={best!r}")
    presets.validate_config(state["config"], source=str(run / "state.json"))
    return state


@dataclasses.dataclass
class Start:
    """Where fit starts: from scratch, or a run's ``state.json`` and ``last.keras``."""

    state: dict = dataclasses.field(default_factory=dict)
    model: Any = None  # the checkpoint's model (with its optimizer), when resuming

    @property
    def epoch(self):
        return int(self.state.get("epoch", 0))


def open_run(run, config):
    """The :class:`Start` of resuming the run folder ``run`` (a Path or None) with a Colorizer
    of ``config``: refused when the run was trained with a different net, size or loss."""
    if run is None:
        raise ValueError("resume=True needs checkpoint_dir, the run folder to continue. "
                         "Received: checkpoint_dir=None")
    state = read_run_state(run)
    for key in RUN_DEFINING_KEYS:
        if presets.as_json(state["config"].get(key)) != presets.as_json(config.get(key)):
            raise ValueError(
                f"this Colorizer has {key}={config.get(key)!r}, but the run being resumed was "
                f"trained with {key}={state['config'].get(key)!r}; use "
                f"Colorizer.resume({str(run)!r}) to continue the run as it was")
    # Before scanning the photos: a bad checkpoint should fail in a second, not an hour.
    return Start(state, load_checkpoint(run))


def load_checkpoint(run):
    """The run's ``last.keras`` (safe_mode), or a ValueError saying it is damaged: Keras calls
    a file cut short (a copy that stopped, a full disk on another machine) "not found"."""
    path = Path(run) / "last.keras"
    damaged = (f"the checkpoint {str(path)!r} is damaged{{}}, so the run cannot be resumed; "
               f"its best/ preset is separate (Colorizer.from_preset), or start the run again")
    if not zipfile.is_zipfile(path):
        raise ValueError(damaged.format(" (not a complete .keras zip file: cut short?)"))
    try:
        return keras.models.load_model(path, safe_mode=True)
    except Exception as e:
        raise ValueError(damaged.format(f" ({type(e).__name__}: {e})")) from None


def checkpoint_weights(run_dir, model=None):
    """The colorization net's weights in the run's ``last.keras`` (loaded with safe_mode). A run
    that trained on cached backbone features holds only the net's head: its weights are copied
    into ``model`` (the full net) through ``model``'s own head, which shares its layers (layer
    names are generated, so the two heads' weights are matched in order), the frozen backbone's
    from the run's ``best/`` (the same, never trained), and ``model``'s weights returned."""
    trained = load_checkpoint(run_dir)
    if model is not None and features.is_head(trained):
        best = Path(run_dir) / "best" / presets.WEIGHTS_FILE
        if not best.is_file():  # never go on with a zero-filled backbone
            raise ValueError(f"this run trained on cached backbone features, so its last.keras "
                             f"holds no backbone weights, and {best} (which does) is missing; "
                             f"restore best/ or start the run again. Received: run={str(run_dir)!r}")
        model.load_weights(best)
        backbones.split_features(model)[1].set_weights(trained.get_weights())
        return model.get_weights()
    return getattr(trained, "model", trained).get_weights()  # a DeviceCropModel wraps the net


def recover_from_nonfinite_loss(model, nonfinite, run):
    """Put back the last good weights (the run's last checkpoint) and say what happened."""
    epoch, step, value = nonfinite.stopped_at
    where = f"the training loss became {value} at epoch {epoch}, step {step}"
    if run is not None and (run / "last.keras").is_file():
        model.set_weights(checkpoint_weights(run, model))
        kept = (f"the model holds the last good checkpoint's weights; {run} keeps it and "
                f"best/ (resume with resume=True / --resume)")
    else:
        kept = "the model's weights are not usable (train with checkpoint_dir= to keep them)"
    raise FloatingPointError(f"{where}; training stopped. {kept}. Try a lower "
                             f"learning_rate or mixed_precision=None.")
