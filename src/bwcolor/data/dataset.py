"""Turn image files into shuffled, augmented (L input, ab target) batches that stream.

The jobs around it have their own modules: :mod:`~bwcolor.data.cache` (decoded photos, cached on
disk), :mod:`~bwcolor.data.crops` (where crops come from), :mod:`~bwcolor.data.degradations`.
"""

from __future__ import annotations

import math
import os
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import keras
import numpy as np

from bwcolor.color import ab_to_target, lightness_to_input, uint8_rgb_to_lab, uint8_rgb_to_lightness
from bwcolor.data import cache, crops
from bwcolor.data.decode import ImageDecodeError
from bwcolor.data.report import printable
from bwcolor.hints import reveal_random_hints

__all__ = ["ColorizationDataset"]


def _check_options(image_size, output_stride, targets, crop_on_device, degradations, hints):
    """ValueError for a :class:`ColorizationDataset` option that is wrong or clashes."""
    if image_size % output_stride:
        raise ValueError(f"image_size must be divisible by the model's output stride. "
                         f"Received: image_size={image_size}, output_stride={output_stride}")
    if targets not in ("ab", "rgb"):
        raise ValueError(f"targets must be 'ab' or 'rgb'. Received: targets={targets!r}")
    if crop_on_device and degradations is not None:
        raise ValueError("degradations act on the host's L*, which crop_on_device does not "
                         "compute; use one or the other")
    if crop_on_device and hints:
        raise ValueError("hints are revealed from the host's a*b*, which crop_on_device does not "
                         "compute; train a hint model with crops made on the host")


class ColorizationDataset(keras.utils.PyDataset):
    """Batches of ``(L input, ab target)`` from image files, for ``Colorizer.fit`` or ``model.fit``.

    Training batches take a random crop at a random scale (short side resized to a random size in
    [S, 1.5 S], then an S x S crop) and a random horizontal flip; evaluation batches take a
    deterministic resize (short side S) and center crop. Memory stays bounded: one batch per
    worker is decoded at a time, and the optional cache lives on disk.

    Parameters
    ----------
    paths : list of paths
        Image files (already vetted by :func:`scan`).
    image_size : int
        S, the square crop size.
    batch_size : int
    training : bool
        Random crops, flips, shuffling and degradations when true.
    output_stride : int
        The model predicts ab at S / output_stride; targets are area-averaged to that size.
    degradations : Degradations, optional
        Applied to the input L of training batches.
    targets : {"ab", "rgb"}
        ``"ab"``: targets are the scaled a*, b* at S / output_stride (float32). ``"rgb"``: targets
        are the uint8 sRGB crops themselves (S, S, 3), for a loss wrapped in
        :class:`bwcolor.losses.RGBTargets` that converts them on the accelerator: the host then
        computes only L*, not the full Lab conversion and the area average.
    crop_on_device : bool
        Batches are ``((windows, boxes),)``: each photo's uint8 pixels under the crop, padded to
        :attr:`window_side`, and the crop box (:data:`bwcolor.data.crops.BOX_FIELDS`), for a
        :class:`bwcolor.device_crops.DeviceCropModel` that resizes, flips and converts colors in
        the train step. The host then only slices arrays (9.5-15x more crops/s in
        ``benchmarks/data_pipeline.py``), which keeps a GPU fed. Same random crops as on the
        host. Not with ``degradations``, which act on the host's L*.
    cache_dir : path, optional
        Keep each photo decoded and resized as uint8 ``.npy`` here, memory-mapped on reuse.
    seed : int
        Everything random derives from (seed, epoch, index): reproducible with any worker count.
    repeats : int
        Each epoch visits every photo this many times (different random crops): makes an epoch
        long enough to amortize validation and checkpointing on small photo folders.
    hints : bool
        Inputs carry the hint channels of :mod:`bwcolor.hints` after L (S, S, 4), for a net
        built with ``hints=True``: batches reveal random patches of the true colors
        (:func:`bwcolor.hints.reveal_random_hints`, none in 1 crop of 8); evaluation batches
        reveal the same ones every epoch, so validation scores hint following and automatic
        colorization alike. Not with ``crop_on_device``.
    workers, use_multiprocessing, max_queue_size
        As for :class:`keras.utils.PyDataset`. Threads are the default: process workers can hang
        with JAX on GPU (keras-team/keras#20619).
    """

    def __init__(self, paths, image_size, batch_size, *, training, output_stride=1,
                 degradations=None, cache_dir=None, seed=0, workers=1,
                 use_multiprocessing=False, max_queue_size=10, repeats=1, targets="ab",
                 crop_on_device=False, hints=False):
        super().__init__(workers=workers, use_multiprocessing=use_multiprocessing,
                         max_queue_size=max_queue_size)
        self.paths = [Path(p) for p in paths]
        if not self.paths:
            raise ValueError("the dataset has no images (check the DatasetReport for what was skipped)")
        _check_options(image_size, output_stride, targets, crop_on_device, degradations, hints)
        self.targets, self.crop_on_device, self.hints = targets, bool(crop_on_device), bool(hints)
        self.image_size = int(image_size)
        self.batch_size = int(min(batch_size, len(self.paths)))
        self.training = training
        self.output_stride = int(output_stride)
        self.degradations = degradations
        self.cache_dir = Path(cache_dir) if cache_dir else None
        self.seed = int(seed)
        self.repeats = max(1, int(repeats))
        self.epoch = 0
        self._order = self._make_order()
        # path -> its cache file, memory-mapped or read by rows (see cache.MAX_OPEN_MAPS).
        self._cached = {}
        self._map_cache = len(set(self.paths)) <= cache.MAX_OPEN_MAPS
        #: Photos that vanished or broke after the scan: path -> error text. Skipped from then on.
        self.broken_photos = {}

    def __getstate__(self):  # for spawned worker processes: maps do not pickle
        state = self.__dict__.copy()
        state["_cached"] = {}
        return state

    def _make_order(self):
        if not self.training:
            return np.arange(len(self.paths))
        rng = np.random.default_rng([self.seed, self.epoch])
        return np.concatenate([rng.permutation(len(self.paths)) for _ in range(self.repeats)])

    def __len__(self):
        n = len(self._order) / self.batch_size
        # Training drops the ragged last batch: one batch shape means one compiled train step.
        return max(1, math.floor(n)) if self.training else math.ceil(n)

    def on_epoch_end(self):
        if self.training:
            self.epoch += 1
            self._order = self._make_order()

    @property
    def source_short_side(self):
        return crops.source_short_side(self.image_size, self.training)

    def fill_cache(self, threads=None, progress=None):
        """Decode every photo not yet in ``cache_dir`` into it, on ``threads`` threads (default:
        one per core, at most 16; Pillow releases the GIL while it decodes). Otherwise the first
        epoch decodes them as it goes, in the loader's workers. ``progress(done, total)`` is
        called after each photo. A photo that fails here is left for the batches to skip."""
        if self.cache_dir is None:
            raise ValueError("fill_cache needs the dataset's cache_dir. Received: cache_dir=None")
        threads = threads or min(16, os.cpu_count() or 1)
        photos = list(dict.fromkeys(self.paths))

        def load(path):
            try:
                self._load_uint8(path)
            except (ImageDecodeError, OSError) as e:  # skipped later by the batches, with a warning
                return str(e)
            return None

        with ThreadPoolExecutor(threads) as pool:
            for done, _ in enumerate(pool.map(load, photos), 1):
                if progress is not None:
                    progress(done, len(photos))

    def _load_uint8(self, path):
        """The photo as uint8, short side at least ``source_short_side`` (cached when asked):
        an array, a memory map, or :class:`bwcolor.data.cache.CachedRows`; crops slice it."""
        cached = self._cached.get(path)
        if cached is not None:
            return cached
        if self.cache_dir is not None:
            cache_file = cache.cache_file(self.cache_dir, path, self.source_short_side)
            # Opened once per dataset: reopening per crop (stat, hash, header parse) held
            # Python's GIL long enough to cap a 14-thread pipeline near 750 crops/s.
            try:
                cached = cache.open_cached(cache_file, memory_map=self._map_cache)
            except ValueError as e:  # damaged entry: decode the photo again and replace it
                warnings.warn(f"{e}; decoding {printable(path)} again", stacklevel=2)
                cached = None
            if cached is not None:
                self._cached[path] = cached
                return cached
        rgb = cache.decode_photo(path, self.source_short_side)
        if self.cache_dir is not None:
            cache.save_cached(cache_file, rgb)
        return rgb

    @property
    def window_side(self):
        """P: windows sent with ``crop_on_device`` are padded to P x P (the largest window a crop
        can need, plus the 2-pixel margin of Pillow's bilinear support)."""
        return self.source_short_side + crops.WINDOW_MARGIN

    def _fill_window(self, window, path, rng):
        """Fill ``window`` (P, P, 3) with the photo's pixels under its crop; return the box."""
        return crops.fill_window(window, self._load_uint8(path), self.image_size, rng,
                                 training=self.training, source=path)

    def window_example(self, path, rng=None):
        """One ``(window (P, P, 3) uint8, box (7,) float32)`` pair for ``crop_on_device``: the
        photo's pixels that the crop covers, zero-padded, and where the crop lies in them
        (:data:`bwcolor.data.crops.BOX_FIELDS`)."""
        window = np.zeros((self.window_side, self.window_side, 3), np.uint8)
        return window, self._fill_window(window, path, rng)

    def _crop(self, rgb, rng):
        if self.training:
            return crops.random_crop(rgb, self.image_size, rng)
        return crops.center_crop(rgb, self.image_size)

    def rgb_crop(self, path, rng=None):
        """The uint8 S x S crop of one photo that :meth:`example` turns into Lab (evaluation
        datasets: the deterministic resize + center crop; ``rng`` is then unused)."""
        return self._crop(self._load_uint8(path), rng)

    def example(self, path, rng):
        """One ``(L input (S, S, 1), target)`` pair: float32 L input, and the target as
        ``targets`` says: scaled ab (S/k, S/k, 2) float32, or the uint8 crop (S, S, 3).
        With ``crop_on_device``: ``((window, box),)``, see :meth:`window_example`."""
        if self.crop_on_device:
            return (self.window_example(path, rng),)
        crop = self.rgb_crop(path, rng)
        if self.targets == "rgb":
            L = uint8_rgb_to_lightness(crop)
        else:
            lab = uint8_rgb_to_lab(crop)
            L = lab[..., 0]
        if self.training and self.degradations is not None:
            L = self.degradations(L, rng)
        x = lightness_to_input(L)[..., None].astype(np.float32)
        if self.hints:  # random true colors beside L (the same ones every epoch in evaluation)
            lab = uint8_rgb_to_lab(crop) if self.targets == "rgb" else lab
            x = np.concatenate([x, reveal_random_hints(ab_to_target(lab[..., 1:]), rng)], axis=-1)
        if self.targets == "rgb":
            return x, crop
        ab = lab[..., 1:]
        k = self.output_stride
        if k > 1:
            s = self.image_size // k
            ab = ab.reshape(s, k, s, k, 2).mean(axis=(1, 3))
        return x, ab_to_target(ab).astype(np.float32)

    def _usable(self, j, make):
        """``make(path)`` for photo ``j``; when that photo vanished or broke since the scan, the
        next usable one stands in (so the batch keeps its shape), and the broken one is warned
        about once and counted in :attr:`broken_photos`."""
        n = len(self.paths)
        for step in range(n):
            path = self.paths[(j + step) % n]
            if path in self.broken_photos:
                continue
            try:
                return make(path)
            except (ImageDecodeError, OSError) as e:
                if path not in self.broken_photos:
                    self.broken_photos[path] = str(e)
                    warnings.warn(f"skipping a photo that vanished or broke during training "
                                  f"({len(self.broken_photos)} so far): {printable(e)}",
                                  stacklevel=2)
        which = "training photo" if self.training else "validation photo"
        count = f"all {n} {which}s" if n > 1 else f"the only {which}"
        raise ValueError(f"{count} vanished or broke since the scan, so this split has nothing "
                         f"left to {'train on' if self.training else 'score'} (the first: "
                         f"{next(iter(self.broken_photos.values()))}); put the photos back and "
                         f"resume the run (--resume, resume=True), which scans the folder again")

    def __getitem__(self, index):
        if index >= len(self):
            raise IndexError(f"batch index out of range. Received: index={index}, len={len(self)}")
        idx = self._order[index * self.batch_size:(index + 1) * self.batch_size]
        if self.crop_on_device:  # the host only slices: the model crops and makes the targets
            P = self.window_side
            windows = np.zeros((len(idx), P, P, 3), np.uint8)
            boxes = np.empty((len(idx), 7), np.float32)
            for k, j in enumerate(idx):
                rng = np.random.default_rng([self.seed, self.epoch, index * self.batch_size + k])
                boxes[k] = self._usable(j, lambda p, k=k, rng=rng: self._fill_window(windows[k], p, rng))
            return ((windows, boxes),)
        batch = None
        for k, j in enumerate(idx):
            rng = np.random.default_rng([self.seed, self.epoch, index * self.batch_size + k])
            example = self._usable(j, lambda p, rng=rng: self.example(p, rng))
            if batch is None:  # filling preallocated batches copies each example once, not twice
                batch = keras.tree.map_structure(
                    lambda a: np.empty((len(idx), *a.shape), a.dtype), example)
            for part, item in zip(keras.tree.flatten(batch), keras.tree.flatten(example)):
                part[k] = item  # nested examples too, e.g. ((L, feature), target)
        return batch
