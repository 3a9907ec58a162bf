"""Find trainable photos: decode each file once, skip what cannot train (with a reason), find
copies of one photo, split."""

from __future__ import annotations

import hashlib
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

from bwcolor.color import uint8_rgb_to_lab
from bwcolor.data.arrays import to_uint8
from bwcolor.data.decode import ImageDecodeError, load_rgb, photo_format
from bwcolor.data.discover import SPLITS, find_files, split_of
from bwcolor.data.report import DatasetReport

__all__ = ["DEFAULT_MIN_CHROMA", "scan"]

#: Mean Lab chroma (sqrt(a^2 + b^2), on a small thumbnail) under which a photo counts as near-gray.
#: Sepia and toned prints measure about 5-10, and training on them teaches desaturation; the
#: least colorful real color photos we have seen (overcast landscapes, stone buildings) measure 2-4.
DEFAULT_MIN_CHROMA = 2.0


def _inspect(path, image_size, min_chroma):
    """Decide whether one file is trainable. Returns (ok, reason, detail, key): ``key`` identifies
    a trainable photo's pixels (shape and a hash of them, as decoded for the scan), so copies of
    one photo under other names, or in other files, have the same key."""
    try:
        fmt = photo_format(path)
    except ImageDecodeError as e:  # damaged; vanished, a broken link, a FIFO, socket or device
        return False, e.reason, str(e), None
    except FileNotFoundError as e:  # deleted since the folder was listed
        return False, "not_found", str(e), None
    except OSError as e:
        return False, "unreadable", str(e), None
    if fmt is None:
        return False, "not_image", "", None
    try:
        rgb, is_gray = load_rgb(path, min_short_side=image_size, return_is_gray=True)
    except ImageDecodeError as e:
        return False, e.reason, str(e), None
    h, w = rgb.shape[:2]
    if min(h, w) < image_size:
        return False, "too_small", f"{w}x{h} < {image_size} px crop", None
    if is_gray:
        return False, "near_gray", "stored as a gray image", None
    pixels = np.ascontiguousarray(to_uint8(rgb))
    thumb = np.asarray(Image.fromarray(pixels).reduce(max(1, min(h, w) // 64)))
    lab = uint8_rgb_to_lab(thumb)
    chroma = float(np.mean(np.hypot(lab[..., 1], lab[..., 2])))
    if chroma < min_chroma:
        return False, "near_gray", f"mean chroma {chroma:.2f} < {min_chroma}", None
    # JPEGs are decoded at about the crop size (draft): hashing those pixels costs ~1 ms.
    return True, None, "", (pixels.shape, hashlib.sha256(memoryview(pixels).cast("B")).digest())


def scan(source, *, image_size, fractions=(0.9, 0.05, 0.05), min_chroma=DEFAULT_MIN_CHROMA,
         workers=None, progress=None):
    """Find trainable photos and assign them to splits.

    Parameters
    ----------
    source : folder path, or list of file/folder paths
    image_size : int
        Training crop size; smaller photos are skipped as ``too_small``.
    fractions : (train, validation, test)
        Split fractions, by a stable hash of each path relative to its folder
        (:func:`~bwcolor.data.split_of`). Copies of one photo (the same pixels: the same file
        under other names, or saved again without loss) all go to the split of the first copy
        found, so a photo is never trained on and tested on; the report lists them.
    min_chroma : float
        Photos whose mean Lab chroma is below this are skipped as ``near_gray``.
    progress : callable, optional
        ``progress(done, total)`` after each file is inspected.

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
    first_copy = {}  # pixels' key -> (path, split) of the first photo with those pixels
    with ThreadPoolExecutor(workers) as pool:
        results = pool.map(lambda e: _inspect(e[0], image_size, min_chroma), entries)
        for done, ((path, rel), (ok, reason, detail, key)) in enumerate(zip(entries, results), 1):
            if progress is not None:
                progress(done, len(entries))
            if not ok:
                report.skip(path, reason, detail)
                continue
            if key in first_copy:  # a copy: into its original's split, never another one
                original, split = first_copy[key]
                report.duplicate(path, original)
            else:  # a photo seen once keeps its split of the path hash
                split = split_of(rel, fractions)
                first_copy[key] = (path, split)
            splits[split].append(path)
            report.used[split] += 1
    return splits, report
