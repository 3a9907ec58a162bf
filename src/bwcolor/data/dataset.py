"""Turn image files into shuffled, augmented (L input, ab target) batches that stream."""

from __future__ import annotations

import hashlib
import io
import math
import os
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import keras
import numpy as np
from PIL import Image, ImageFilter

from bwcolor.color import ab_to_target, l_to_input, uint8_rgb_to_lab, uint8_rgb_to_lightness
from bwcolor.data.decode import ImageDecodeError, load_rgb, sniff_format
from bwcolor.data.discover import SPLITS, find_files, split_of
from bwcolor.data.report import DatasetReport

__all__ = ["DEGRADATIONS", "ColorizationDataset", "Degradations", "scan"]

#: Mean Lab chroma (sqrt(a^2 + b^2), on a small thumbnail) under which a photo counts as near-gray.
#: Sepia and toned prints measure about 5-10, and training on them teaches desaturation; the
#: least colorful real color photos we have seen (overcast landscapes, stone buildings) measure 2-4.
DEFAULT_MIN_CHROMA = 2.0

DEGRADATIONS = ("noise", "blur", "grain", "jpeg", "tone")

#: A dataset of at most this many photos keeps its cached photos memory-mapped (each map holds a
#: file descriptor); a larger one reads the rows a crop needs from the cache file instead.
MAX_OPEN_MAPS = 256


class _CachedRows:
    """A cached ``.npy`` photo read on demand, holding no file descriptor or memory map:
    ``photo[rows, cols]`` reads just those rows (one ``readinto``), ``np.asarray(photo)`` all.

    For datasets too large to keep every photo mapped: an LRU of maps visited in random order
    missed almost always, and a miss (reopen, parse the header, fault the pages in) costs ~4x a
    row read. On 1,476 photos (``benchmarks/fit_loop_ceiling.py``, 256 px, 1 worker, 2-core
    CPU): 1,480 crops/s with the LRU, 4,209 with row reads; 246 mapped photos give ~5,400.
    """

    __slots__ = ("offset", "path", "shape")

    def __init__(self, path):
        header = np.load(path, mmap_mode="r")  # parses the header; the map closes with it
        if header.dtype != np.uint8 or header.ndim != 3 or not header.flags.c_contiguous:
            raise ValueError(f"not a bwcolor photo cache file. Received: path={str(path)!r} "
                             f"({header.dtype}, shape {header.shape})")
        self.path, self.offset, self.shape = path, header.offset, header.shape

    def _rows(self, start, stop):
        row_bytes = self.shape[1] * self.shape[2]
        out = np.empty((stop - start, *self.shape[1:]), np.uint8)
        if not out.size:
            return out
        view = memoryview(out).cast("B")
        with open(self.path, "rb", buffering=0) as f:
            f.seek(self.offset + start * row_bytes)
            done = 0
            while done < len(view):
                n = f.readinto(view[done:])
                if not n:
                    raise OSError(f"photo cache file is truncated. Received: path={str(self.path)!r}")
                done += n
        return out

    def __getitem__(self, key):
        rows, cols = key if isinstance(key, tuple) else (key, slice(None))
        start, stop, step = rows.indices(self.shape[0])
        if step != 1:
            raise IndexError(f"rows must be a contiguous slice. Received: {rows!r}")
        return self._rows(start, max(start, stop))[:, cols]

    def __array__(self, dtype=None, copy=None):
        rgb = self._rows(0, self.shape[0])
        return rgb if dtype is None else rgb.astype(dtype)


def _to_uint8(rgb):
    return (np.clip(rgb, 0, 1) * 255 + 0.5).astype(np.uint8)


def _inspect(path, image_size, min_chroma):
    """Decide whether one file is trainable. Returns (ok, reason, detail)."""
    try:
        fmt = sniff_format(path)
    except FileNotFoundError as e:  # a broken link, or deleted since the folder was listed
        return False, "not_found", str(e)
    except OSError as e:
        return False, "unreadable", str(e)
    if fmt is None:
        return False, "not_image", ""
    try:
        rgb, is_gray = load_rgb(path, min_short_side=image_size, return_is_gray=True)
    except ImageDecodeError as e:
        return False, e.reason, str(e)
    h, w = rgb.shape[:2]
    if min(h, w) < image_size:
        return False, "too_small", f"{w}x{h} < {image_size} px crop"
    if is_gray:
        return False, "near_gray", "stored as a gray image"
    thumb = np.asarray(Image.fromarray(_to_uint8(rgb)).reduce(max(1, min(h, w) // 64)))
    lab = uint8_rgb_to_lab(thumb)
    chroma = float(np.mean(np.hypot(lab[..., 1], lab[..., 2])))
    if chroma < min_chroma:
        return False, "near_gray", f"mean chroma {chroma:.2f} < {min_chroma}"
    return True, None, ""


def scan(source, *, image_size, fractions=(0.9, 0.05, 0.05), min_chroma=DEFAULT_MIN_CHROMA,
         workers=None):
    """Find trainable photos and assign them to splits.

    Parameters
    ----------
    source : folder path, or list of file/folder paths
    image_size : int
        Training crop size; smaller photos are skipped as ``too_small``.
    fractions : (train, validation, test)
        Split fractions, by a stable hash of each path relative to its folder.
    min_chroma : float
        Photos whose mean Lab chroma is below this are skipped as ``near_gray``.

    Returns
    -------
    splits : dict
        ``{"train": [...], "validation": [...], "test": [...]}`` lists of Paths.
    report : DatasetReport
    """
    sources = [source] if isinstance(source, (str, os.PathLike)) else list(source)
    entries = []  # (path, relative path used for the split)
    for src in sources:
        src = Path(src)
        if src.is_dir():
            entries += [(p, p.relative_to(src)) for p in find_files(src)]
        elif src.exists() or src.is_symlink():
            entries.append((src, Path(src.name)))
        else:
            raise FileNotFoundError(f"training data not found. Received: path={str(src)!r}")
    root = str(sources[0]) if len(sources) == 1 else None
    report = DatasetReport(root=root, found=len(entries))
    splits = {s: [] for s in SPLITS}
    workers = workers or min(8, (os.cpu_count() or 1) * 2)
    with ThreadPoolExecutor(workers) as pool:
        results = pool.map(lambda e: _inspect(e[0], image_size, min_chroma), entries)
        for (path, rel), (ok, reason, detail) in zip(entries, results):
            if ok:
                split = split_of(rel, fractions)
                splits[split].append(path)
                report.used[split] += 1
            else:
                report.skip(path, reason, detail)
    return splits, report


class Degradations:
    """Random "old photo" damage applied to the model's input L only, never to the target.

    Parameters
    ----------
    kinds : sequence of str
        Any of ``"noise"``, ``"blur"``, ``"grain"``, ``"jpeg"``, ``"tone"``.
    probability : float
        Chance that each kind is applied to a given image.
    """

    def __init__(self, kinds=DEGRADATIONS, probability=0.3):
        unknown = set(kinds) - set(DEGRADATIONS)
        if unknown:
            raise ValueError(f"unknown degradation. Received: {sorted(unknown)}; "
                             f"available: {list(DEGRADATIONS)}")
        if not 0 <= probability <= 1:
            raise ValueError(f"probability must be in [0, 1]. Received: probability={probability}")
        self.kinds = tuple(kinds)
        self.probability = float(probability)

    def get_config(self):
        return {"kinds": list(self.kinds), "probability": self.probability}

    def __call__(self, lightness, rng):
        """Degrade L* (float array in [0, 100], shape (H, W)); returns a new array."""
        L = lightness.astype(np.float32)
        for kind in self.kinds:
            if rng.random() >= self.probability:
                continue
            if kind == "tone":  # faded print: lifted blacks, lowered whites, a gamma shift
                lo, hi = rng.uniform(0, 15), rng.uniform(85, 100)
                gamma = rng.uniform(0.7, 1.4)
                L = lo + (hi - lo) * (np.clip(L, 0, 100) / 100) ** gamma
            elif kind == "noise":
                L = L + rng.normal(0, rng.uniform(1, 5), L.shape).astype(np.float32)
            elif kind == "grain":  # film grain is spatially correlated: blurred noise
                from scipy.ndimage import gaussian_filter

                g = gaussian_filter(rng.normal(0, 1, L.shape).astype(np.float32),
                                    rng.uniform(0.5, 1.5))
                L = L + g / (g.std() + 1e-6) * rng.uniform(1, 4)
            elif kind in ("blur", "jpeg"):
                img = Image.fromarray((np.clip(L, 0, 100) * 2.55 + 0.5).astype(np.uint8))
                if kind == "blur":
                    img = img.filter(ImageFilter.GaussianBlur(rng.uniform(0.5, 1.5)))
                else:
                    buf = io.BytesIO()
                    img.save(buf, format="JPEG", quality=int(rng.integers(15, 60)))
                    img = Image.open(io.BytesIO(buf.getvalue()))
                L = np.asarray(img, dtype=np.float32) / 2.55
        return np.clip(L, 0, 100)


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
        :attr:`window_side`, and the crop box (:data:`bwcolor.device_crops.BOX_FIELDS`), for a
        :class:`bwcolor.device_crops.DeviceCropModel` that resizes, flips and converts colors in
        the train step. The host then only slices arrays (9.5-15x more crops/s in
        ``benchmarks/data_pipeline.py``), which keeps a GPU fed. Same random crops as on the host (same draws; Pillow's filter, not its
        rounding). Not with ``degradations``, which act on the host's L*.
    cache_dir : path, optional
        Keep each photo decoded and resized as uint8 ``.npy`` here, memory-mapped on reuse.
    seed : int
        Everything random derives from (seed, epoch, index): reproducible with any worker count.
    repeats : int
        Each epoch visits every photo this many times (different random crops): makes an epoch
        long enough to amortize validation and checkpointing on small photo folders.
    workers, use_multiprocessing, max_queue_size
        As for :class:`keras.utils.PyDataset`. Threads are the default: process workers can hang
        with JAX on GPU (keras-team/keras#20619).
    """

    def __init__(self, paths, image_size, batch_size, *, training, output_stride=1,
                 degradations=None, cache_dir=None, seed=0, workers=1,
                 use_multiprocessing=False, max_queue_size=10, repeats=1, targets="ab",
                 crop_on_device=False):
        super().__init__(workers=workers, use_multiprocessing=use_multiprocessing,
                         max_queue_size=max_queue_size)
        self.paths = [Path(p) for p in paths]
        if not self.paths:
            raise ValueError("the dataset has no images (check the DatasetReport for what was skipped)")
        if image_size % output_stride:
            raise ValueError(f"image_size must be divisible by the model's output stride. "
                             f"Received: image_size={image_size}, output_stride={output_stride}")
        if targets not in ("ab", "rgb"):
            raise ValueError(f"targets must be 'ab' or 'rgb'. Received: targets={targets!r}")
        self.targets = targets
        self.crop_on_device = bool(crop_on_device)
        if self.crop_on_device and degradations is not None:
            raise ValueError("degradations act on the host's L*, which crop_on_device does not "
                             "compute; use one or the other")
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
        # path -> its cache file, memory-mapped or read by rows (see MAX_OPEN_MAPS).
        self._cached = {}
        self._map_cache = len(set(self.paths)) <= MAX_OPEN_MAPS

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
        return math.ceil(self.image_size * 1.5) if self.training else self.image_size

    def fill_cache(self, threads=None):
        """Decode every photo not yet in ``cache_dir`` into it, on ``threads`` threads (default:
        one per core, at most 16; Pillow releases the GIL while it decodes). Otherwise the first
        epoch decodes them as it goes, in the loader's workers."""
        if self.cache_dir is None:
            raise ValueError("fill_cache needs the dataset's cache_dir. Received: cache_dir=None")
        threads = threads or min(16, os.cpu_count() or 1)
        with ThreadPoolExecutor(threads) as pool:
            for _ in pool.map(self._load_uint8, dict.fromkeys(self.paths)):
                pass

    def _load_uint8(self, path):
        """The photo as uint8, short side at least ``source_short_side`` (cached when asked):
        an array, a memory map, or :class:`_CachedRows`; crops slice it."""
        cached = self._cached.get(path)
        if cached is not None:
            return cached
        if self.cache_dir is not None:
            st = os.stat(path)
            key = hashlib.sha1(
                f"{os.path.abspath(path)}|{st.st_mtime_ns}|{st.st_size}|{self.source_short_side}".encode(
                    "utf-8", "surrogateescape")).hexdigest()
            cache_file = self.cache_dir / f"{key}.npy"
            if cache_file.exists():
                # Opened once per dataset: reopening per crop (stat, hash, header parse) held
                # Python's GIL long enough to cap a 14-thread pipeline near 750 crops/s.
                cached = (np.load(cache_file, mmap_mode="r") if self._map_cache
                          else _CachedRows(cache_file))
                self._cached[path] = cached
                return cached
        rgb = _to_uint8(load_rgb(path, min_short_side=self.source_short_side))
        h, w = rgb.shape[:2]
        scale = self.source_short_side / min(h, w)
        if scale < 1:  # keep only the resolution the crops can use
            rgb = np.asarray(Image.fromarray(rgb).resize(
                (max(1, round(w * scale)), max(1, round(h * scale))), Image.BILINEAR))
        if self.cache_dir is not None:
            self.cache_dir.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.cache_dir, suffix=".npy.tmp")
            with os.fdopen(fd, "wb") as f:
                np.save(f, rgb)
            os.replace(tmp, cache_file)
        return rgb

    def _random_window(self, rgb, rng):
        """Where a training crop comes from: ``(sub, box, flip)``.

        The crop is an S x S window of the photo rescaled so its short side is a random size in
        [S, 1.5 S], at a random position, flipped half the time. ``sub`` is the slice of the photo
        that covers the window, ``box`` the window within it (Pillow's left, upper, right, lower).
        """
        S = self.image_size
        h, w = rgb.shape[:2]
        window = S * min(h, w) / rng.uniform(S, 1.5 * S)  # side of the window, in photo pixels
        x0, y0 = rng.uniform(0, w - window), rng.uniform(0, h - window)
        # Slice first, so a memory-mapped cache reads just the rows the window covers.
        ix, iy = int(x0), int(y0)
        span = math.ceil(window) + 2
        sub = rgb[iy:iy + span, ix:ix + span]
        box = (x0 - ix, y0 - iy, min(x0 - ix + window, sub.shape[1]), min(y0 - iy + window, sub.shape[0]))
        return sub, box, rng.random() < 0.5

    def _random_crop(self, rgb, rng):
        """Training crop (see :meth:`_random_window`). Only the window is resampled (Pillow's
        ``resize(box=...)``), not the whole photo: 3x cheaper at 256 px."""
        sub, box, flip = self._random_window(rgb, rng)
        crop = np.asarray(Image.fromarray(np.asarray(sub)).resize(
            (self.image_size,) * 2, Image.BILINEAR, box=box))
        return crop[:, ::-1] if flip else crop

    def _center_window(self, rgb):
        """Where an evaluation crop comes from, as :meth:`_random_window` says: the window that
        :meth:`_crop`'s resize to short side S and center crop cuts out."""
        S = self.image_size
        h, w = rgb.shape[:2]
        nw, nh, cx, cy = self._center_geometry(h, w)
        sx, sy = w / nw, h / nh  # photo pixels per resized pixel
        x0, y0 = cx * sx, cy * sy
        ix, iy = int(x0), int(y0)
        sub = rgb[iy:iy + math.ceil(S * sy) + 2, ix:ix + math.ceil(S * sx) + 2]
        box = (x0 - ix, y0 - iy, min(x0 - ix + S * sx, sub.shape[1]), min(y0 - iy + S * sy, sub.shape[0]))
        return sub, box, False

    @property
    def window_side(self):
        """P: windows sent with ``crop_on_device`` are padded to P x P (the largest window a crop
        can need, plus the 2-pixel margin of Pillow's bilinear support)."""
        return self.source_short_side + 2

    def _fill_window(self, window, path, rng):
        """Copy the photo's pixels under the crop into the zeroed ``window`` (P, P, 3); return
        the box (7,) float32. Writing in place keeps the batch path at one copy per crop."""
        rgb = self._load_uint8(path)
        sub, box, flip = self._random_window(rgb, rng) if self.training else self._center_window(rgb)
        P = self.window_side
        h, w = sub.shape[:2]
        if h > P or w > P:  # a photo that _load_uint8 did not bring to the source size
            raise ValueError(f"crop window larger than the {P} px window size. "
                             f"Received: path={str(path)!r} ({w}x{h})")
        window[:h, :w] = sub
        return np.array([*box, w, h, float(flip)], np.float32)

    def window_example(self, path, rng=None):
        """One ``(window (P, P, 3) uint8, box (7,) float32)`` pair for ``crop_on_device``: the
        photo's pixels that the crop covers, zero-padded, and where the crop lies in them
        (:data:`bwcolor.device_crops.BOX_FIELDS`)."""
        window = np.zeros((self.window_side, self.window_side, 3), np.uint8)
        return window, self._fill_window(window, path, rng)

    def _center_geometry(self, h, w):
        """Evaluation crops: the size (nw, nh) the photo is resized to (short side S) and the
        top-left corner (x0, y0) of the centered S x S crop in it."""
        S = self.image_size
        scale = S / min(h, w)
        nw, nh = max(S, round(w * scale)), max(S, round(h * scale))
        return nw, nh, (nw - S) // 2, (nh - S) // 2

    def _crop(self, rgb, rng):
        if self.training:
            return self._random_crop(rgb, rng)
        S = self.image_size
        h, w = rgb.shape[:2]
        nw, nh, x0, y0 = self._center_geometry(h, w)
        img = Image.fromarray(np.asarray(rgb))
        if (nw, nh) != (w, h):
            img = img.resize((nw, nh), Image.BILINEAR)
        return np.asarray(img.crop((x0, y0, x0 + S, y0 + S)))

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
        if self.targets == "rgb":
            return l_to_input(L)[..., None].astype(np.float32), crop
        ab = lab[..., 1:]
        k = self.output_stride
        if k > 1:
            s = self.image_size // k
            ab = ab.reshape(s, k, s, k, 2).mean(axis=(1, 3))
        return l_to_input(L)[..., None].astype(np.float32), ab_to_target(ab).astype(np.float32)

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
                boxes[k] = self._fill_window(windows[k], self.paths[j], rng)
            return ((windows, boxes),)
        xs = ys = None
        for k, j in enumerate(idx):
            rng = np.random.default_rng([self.seed, self.epoch, index * self.batch_size + k])
            x, y = self.example(self.paths[j], rng)
            if xs is None:  # filling preallocated batches copies each example once, not twice
                xs = np.empty((len(idx), *x.shape), x.dtype)
                ys = np.empty((len(idx), *y.shape), y.dtype)
            xs[k], ys[k] = x, y
        return xs, ys
