"""Photos -> training and validation batches: scanning and splitting, the decoded-photo cache,
loader threads, and the Keras PyDataset or Grain pipeline (host or device crops)."""

from __future__ import annotations

import contextlib
import dataclasses
import math
import shutil
import sys
import tempfile
import warnings
from typing import Any

from bwcolor import _io, data


@dataclasses.dataclass
class TrainingData:
    """What fit trains on, and where its crops and targets are made."""

    train: Any
    validation: Any
    splits: dict | None  # train/validation/test paths; None for a PyDataset source
    steps_per_epoch: int | None
    degradations: data.Degradations | None
    device_crops: bool
    rgb_targets: bool


def resolve_workers(value, slicing_only):
    """Loader threads for ``workers`` ("auto" or an int >= 0)."""
    if value == "auto":
        # Measured on an H100's 16-core host (benchmarks/fit_loop_ceiling.py, 256 px, batch 64):
        # when the host only slices windows (~8 ms a batch), Keras' synchronous path (workers=1:
        # no enqueuer threads; JAX's async dispatch still overlaps it with the GPU) takes 7,635
        # crops/s, 2 threads 3,439 and 4 threads 3,766; wallner_beta trained at 4,296 vs 3,289
        # img/s. Host crops (resizing, L*) and decoding need the threads: 2 gave 1.7x one on 2
        # cores.
        return 1 if slicing_only else 2
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"workers must be 'auto' or an int >= 0. Received: workers={value!r}")
    return value


def progress_printer(what, verbose):
    """``progress(done, total)`` printing about ten lines (every line on a terminal), or None."""
    if not verbose:
        return None
    tty = sys.stdout.isatty()

    def progress(done, total):
        if tty or done == total or done % max(1, total // 10) == 0:
            end = "\n" if done == total or not tty else ""
            print(f"\r{what}: {done}/{total}", end=end, flush=True)

    return progress


def temporary_cache(n_photos, image_size):
    """A new temporary folder (Path) for fit's decoded photos, or None (with a warning) when the temp disk
    lacks room for them: at most ~2 x 3 x (1.5 S)^2 bytes a photo (training crops' source size,
    aspect up to 2:1), and never more than half the free space."""
    folder = tempfile.gettempdir()
    # Named for its process, so the next run removes it if this one is killed before its
    # cleanup (SIGKILL, power loss): decoded photos can take gigabytes. Made first: making it
    # removes dead runs' caches, so the room they took counts as free below.
    cache = _io.temporary_folder(folder)
    needed = n_photos * 2 * 3 * math.ceil(1.5 * image_size) ** 2
    free = shutil.disk_usage(cache).free
    if needed > free / 2:
        cache.rmdir()
        warnings.warn(f"not caching decoded photos: they may need {needed / 2**30:.1f} GiB and "
                      f"{folder} has {free / 2**30:.1f} GiB free. Every crop decodes its photo "
                      f"again (slow); pass cache_dir= a folder with room, or None to silence this",
                      stacklevel=6)
        return None
    return cache


def scan_photos(data_source, o, image_size):
    """The photos' splits and the :class:`~bwcolor.data.DatasetReport` (printed if verbose)."""
    val_fraction, test_fraction = float(o.validation_split), float(o.test_split)
    fractions = (1 - val_fraction - test_fraction, val_fraction, test_fraction)
    splits, report = data.scan(data_source, image_size=image_size, fractions=fractions,
                               progress=progress_printer("scanning photos", o.verbose))
    if o.verbose:
        print(report, flush=True)
    if not splits["train"]:
        # The first line says it all (the CLI prints only it, after the report); then the
        # report, for API callers who ran with verbose=0.
        raise ValueError(f"no usable training photos: {report.summary()}\n{report}")
    return splits, report


def _degradations(value):
    if value is True:
        return data.Degradations()
    return None if value is False else value


@contextlib.contextmanager
def training_data(data_source, o, splits, *, image_size, output_stride, device_crops, rgb_targets,
                  hints=False):
    """The :class:`TrainingData` of a PyDataset, or of the ``splits`` of photos; a temporary
    cache (``cache_dir="auto"``) is removed however the block ends."""
    if splits is None:  # a PyDataset brings its own (L input, target) batches
        yield TrainingData(data_source, o.validation_data, None, o.steps_per_epoch,
                           _degradations(o.degradations), False, False)
        return
    cache_dir, temp_cache = o.cache_dir, None
    try:
        if cache_dir == "auto":
            temp_cache = temporary_cache(sum(map(len, splits.values())), image_size)
            cache_dir = temp_cache
        # Keras' PyDataset with 1 worker has no loader threads; Grain's 1 read thread still
        # runs beside the loop, and was not measured against 2.
        workers = resolve_workers(o.workers, device_crops and cache_dir is not None
                                  and o.loader == "pydataset")
        td = TrainingData(None, o.validation_data, splits, o.steps_per_epoch,
                          _degradations(o.degradations), device_crops, rgb_targets)
        shared = dict(image_size=image_size, batch_size=o.batch_size, output_stride=output_stride,
                      cache_dir=cache_dir, seed=o.seed, targets="rgb" if rgb_targets else "ab",
                      crop_on_device=device_crops, hints=hints)
        if o.loader == "grain":
            _grain_datasets(td, o, dict(shared, num_threads=max(1, workers)))
        else:
            _keras_datasets(td, o, dict(shared, workers=workers,
                                        use_multiprocessing=o.use_multiprocessing),
                            fill_cache=workers <= 1 and cache_dir is not None)
        yield td
    finally:
        if temp_cache is not None:
            shutil.rmtree(temp_cache, ignore_errors=True)


def _grain_datasets(td, o, common):
    td.train = data.grain_dataset(td.splits["train"], training=True, degradations=td.degradations,
                                  **common)
    if td.steps_per_epoch is None:  # the Grain training stream is endless
        td.steps_per_epoch = max(1, len(td.splits["train"]) * o.repeats // o.batch_size)
    if td.validation is None and td.splits["validation"]:
        td.validation = data.grain_dataset(td.splits["validation"], training=False, **common)


def _keras_datasets(td, o, common, fill_cache):
    td.train = data.ColorizationDataset(td.splits["train"], training=True, repeats=o.repeats,
                                        degradations=td.degradations, **common)
    if fill_cache:
        # Without loader threads the training loop would decode the photos itself, one at a
        # time, during the first epoch.
        td.train.fill_cache(progress=progress_printer("decoding photos into the cache", o.verbose))
    if td.validation is None and td.splits["validation"]:
        td.validation = data.ColorizationDataset(td.splits["validation"], training=False, **common)
