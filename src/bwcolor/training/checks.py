"""fit's arguments, data source and run folder, checked before any work (a mistake should fail in
a second, naming the argument, not after an hour of scanning and training)."""

from __future__ import annotations

import dataclasses
import os
import shutil
from pathlib import Path
from typing import Any

import keras
import numpy as np

from bwcolor._arguments import check_fraction, check_int, check_positive
from bwcolor._io import InputFiles, temp_name
from bwcolor.training import features
from bwcolor.training.loaders import resolve_workers
from bwcolor.training.run_lock import missing_folders


@dataclasses.dataclass(frozen=True)
class FitOptions:
    """:meth:`bwcolor.Colorizer.fit`'s arguments after ``data_source`` (documented there)."""

    epochs: int
    batch_size: int
    validation_split: float
    test_split: float
    checkpoint_dir: Any
    resume: bool
    mixed_precision: Any
    steps_per_epoch: Any
    validation_data: Any
    degradations: Any
    cache_dir: Any
    workers: Any
    use_multiprocessing: bool
    loader: str
    seed: int
    repeats: int
    time_budget: Any
    distribute: Any
    targets_on_device: Any
    crops_on_device: Any
    verbose: Any
    callbacks: Any
    backbone_features: Any = "auto"


def check_fit_options(o, data_source):
    """``o`` with its numbers as int/float, or the TypeError/ValueError of the first bad one."""
    for option, value in (("targets_on_device", o.targets_on_device),
                          ("crops_on_device", o.crops_on_device)):
        if value not in ("auto", True, False):
            raise ValueError(f"{option} must be 'auto', True or False. Received: {option}={value!r}")
    resolve_workers(o.workers, False)  # validate before any work
    o = dataclasses.replace(
        o, epochs=check_int("epochs", o.epochs), batch_size=check_int("batch_size", o.batch_size),
        repeats=check_int("repeats", o.repeats), seed=check_int("seed", o.seed, low=0),
        steps_per_epoch=check_int("steps_per_epoch", o.steps_per_epoch, allow_none=True),
        time_budget=check_positive("time_budget", o.time_budget, allow_none=True))
    if not isinstance(data_source, keras.utils.PyDataset):
        check_fraction("validation_split", o.validation_split)
        check_fraction("test_split", o.test_split)
        if o.validation_split + o.test_split >= 1:
            raise ValueError(f"validation_split + test_split must be < 1. Received: validation_"
                             f"split={o.validation_split}, test_split={o.test_split}")
        check_data_source(data_source)
        _check_outside_the_photos(data_source, o)
    check_no_earlier_run(o)
    if not (o.degradations in (None, True, False) or callable(o.degradations)):
        raise TypeError(f"degradations must be None, True, False or a bwcolor.data.Degradations. "
                        f"Received: degradations={o.degradations!r}")
    if o.loader not in ("pydataset", "grain"):
        raise ValueError(f"loader must be 'pydataset' or 'grain'. Received: loader={o.loader!r}")
    _check_crops_on_device(o)
    features.check_mode(o, data_source)
    return o


#: What fit writes into a run folder; one of them there means an earlier run.
RUN_FILES = ("state.json", "last.keras", "best", "history.csv")
#: Everything fit writes there (best/ is replaced whole).
RUN_WRITES = (*RUN_FILES, "curves.png")


def check_no_earlier_run(o):
    """A fresh fit (resume=False) must not start over in a folder that holds an earlier run:
    it would replace that run's checkpoint, its best/ preset and its history."""
    if o.resume or o.checkpoint_dir is None or not Path(o.checkpoint_dir).is_dir():
        return
    found = [name for name in RUN_FILES if (Path(o.checkpoint_dir) / name).exists()]
    if found:
        raise ValueError(f"checkpoint_dir holds an earlier training run ({', '.join(found)}); "
                         f"continue it with resume=True or Colorizer.resume, or train into a new "
                         f"folder. Received: checkpoint_dir={str(o.checkpoint_dir)!r}")


def _check_crops_on_device(o):
    """What crops_on_device=True cannot be combined with."""
    if o.crops_on_device is not True:
        return
    if o.targets_on_device is False:
        raise ValueError("crops_on_device=True computes the targets on the device; it cannot "
                         "be combined with targets_on_device=False")
    if o.degradations not in (None, False):
        raise ValueError("degradations act on the host's L*, which crops_on_device=True does "
                         "not compute; pass one or the other")
    if o.validation_data is not None:
        raise ValueError("crops_on_device=True trains on photo windows; a validation_data "
                         "dataset of (L input, target) batches cannot be scored by it. Use "
                         "validation_split, or crops_on_device=False")


def _check_outside_the_photos(data_source, o):
    """The run folder and the photo cache must not lie inside a photo folder that is scanned:
    the next scan (a resume) would train on the run's own curves.png, and bwcolor would be
    writing into the user's photo tree. Nor may anything fit writes in the run folder
    (``RUN_WRITES``) be, or hold, a photo or photo folder it reads."""
    items = [data_source] if isinstance(data_source, (str, os.PathLike)) else list(data_source)
    folders = [Path(os.path.realpath(p)) for p in items if Path(p).is_dir()]
    for name, value in (("checkpoint_dir", o.checkpoint_dir), ("cache_dir", o.cache_dir)):
        if value is None or value == "auto":
            continue
        if Path(value).exists() and not Path(value).is_dir():
            raise ValueError(f"{name} must be a folder. Received: {name}={str(value)!r} (a file)")
        real = Path(os.path.realpath(value))
        for folder in folders:
            if real == folder or folder in real.parents:
                raise ValueError(f"{name} must not lie inside the photo folder {str(folder)!r} "
                                 f"that is scanned for training. Received: {name}={str(value)!r}")
    if o.checkpoint_dir is not None:
        reads = InputFiles(p for p in items if Path(p).exists())
        for name in RUN_WRITES:
            reads.check(Path(o.checkpoint_dir) / name, advice="keep the photos outside the run "
                        "folder, or train into another one")


def check_data_source(data_source):
    """Fail in a second, naming the path, when the training photos are not there."""
    items = [data_source] if isinstance(data_source, (str, os.PathLike)) else data_source
    if not isinstance(items, (list, tuple)):
        raise TypeError(f"data_source must be a folder, a list of paths or a keras PyDataset. "
                        f"Received: {type(data_source).__name__}")
    if not items:
        raise ValueError("data_source is an empty list: no photos to train on")
    for item in items:
        if not isinstance(item, (str, os.PathLike)):
            raise TypeError(f"data_source paths must be str or os.PathLike. "
                            f"Received: {type(item).__name__}")
    if isinstance(data_source, (str, os.PathLike)) and not Path(data_source).exists():
        raise FileNotFoundError(f"training data not found. Received: data_source={str(data_source)!r}")


def data_record(data_source):
    """What a run records of its photos (``"data"`` in its ``state.json``): the real path of
    each folder or file given, or None for a PyDataset."""
    if isinstance(data_source, keras.utils.PyDataset):
        return None
    items = [data_source] if isinstance(data_source, (str, os.PathLike)) else data_source
    return [os.path.realpath(p) for p in items]


def check_same_data(data_source, state):
    """A resumed run keeps its photos: other ones would switch the data under the run, and best/
    is picked by comparing validation losses, which would then be of different photos. Runs that
    did not record their photos (older ones, PyDatasets) resume as before."""
    recorded = state.get("data")
    if recorded is None:
        return
    given = data_record(data_source)
    if given != recorded:
        def shown(paths):
            if paths is None:
                return "a PyDataset"
            return ", ".join(map(repr, paths)) if len(paths) != 1 else repr(paths[0])

        raise ValueError(f"the run being resumed trained on {shown(recorded)}, not "
                         f"{shown(given)}; its best/ is chosen by validation losses on those "
                         f"photos. Resume with the run's own data, or train a new run on the "
                         f"other photos")


def check_same_splits(o, state):
    """A resumed run keeps its split fractions: others would move photos between training,
    validation and test (the split is a hash of each path against the fractions), so the
    validation loss that picks best/ would be measured on photos the net trained on."""
    recorded = (state.get("metadata") or {}).get("training") or {}
    for name in ("validation_split", "test_split"):
        if name in recorded and float(getattr(o, name)) != float(recorded[name]):
            raise ValueError(
                f"the run being resumed split its photos with {name}={recorded[name]!r}; "
                f"another fraction would move photos between training and held-out splits. "
                f"Pass {name}={recorded[name]!r}. Received: {name}={getattr(o, name)!r}")


def check_batches(dataset, model, output_stride, name="data_source"):
    """A PyDataset's first batch against the net, before training: (B, H, W, C) inputs with the
    net's C channels and (B, H / stride, W / stride, 2) a*b* targets. A ValueError naming the
    shapes, where Keras would fail inside the first step with a layer's error."""
    if len(model.inputs) != 1:  # a hint net's inputs are the caller's to assemble
        return
    batch = dataset[0]
    if not isinstance(batch, (tuple, list)) or len(batch) < 2:
        raise ValueError(f"{name} batches must be (inputs, targets) pairs. Received: a batch of "
                         f"type {type(batch).__name__}")
    x, y = (tuple(getattr(a, "shape", np.shape(a))) for a in batch[:2])
    channels = model.inputs[0].shape[-1]
    if len(x) != 4 or x[-1] != channels:
        raise ValueError(f"{name} inputs must be (batch, height, width, {channels}) L* batches "
                         f"for this net. Received: inputs of shape {x}")
    expected = (x[0], x[1] // output_stride, x[2] // output_stride, 2)
    if y != expected:
        raise ValueError(f"{name} targets must be a*b* batches of shape (batch, height / "
                         f"{output_stride}, width / {output_stride}, 2) = {expected} for inputs "
                         f"of shape {x}. Received: targets of shape {y}")


def check_run_folder(run, n_params):
    """Before the photos are scanned: the run folder can be written (or made) and has room for
    checkpoints. A missing folder is not made here (the first checkpoint makes it), so a fit
    that fails on its photos leaves no empty run folder behind."""
    missing = missing_folders(run)
    existing = missing[-1].parent if missing else run
    if not existing.is_dir():
        what = "is a file" if existing == run else f"cannot be made: {str(existing)!r} is a file"
        raise ValueError(f"the run folder {what}. Received: checkpoint_dir={str(run)!r}")
    try:
        # A temporary name of _io's: if a kill leaves it behind, the next run removes it.
        probe = existing / temp_name()
        with open(probe, "xb") as f:
            f.write(b"ok")
        probe.unlink()
    except OSError as e:
        raise ValueError(f"the run folder cannot be written ({e.strerror}). "
                         f"Received: checkpoint_dir={str(run)!r}") from None
    # last.keras (weights + 2 Adam slots) and best/ (weights), each twice while it is replaced.
    needed = 2 * (4 * 3 * n_params + 4 * n_params) + (8 << 20)
    free = shutil.disk_usage(existing).free
    if free < needed:
        raise ValueError(f"the run folder's disk has {free / 2**20:.0f} MiB free; checkpoints "
                         f"need about {needed / 2**20:.0f} MiB. Received: checkpoint_dir={str(run)!r}")
