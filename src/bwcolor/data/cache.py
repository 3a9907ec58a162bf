"""The photos crops are cut from: decoded, downscaled to what the crops can use, cached on disk.

A cached photo is a uint8 ``.npy`` file named by a hash of the source file (path, mtime, size)
and the short side it was brought to, so an edited photo or a new crop size never reads a stale
entry. Files are written atomically (temporary file, then rename): parallel loaders and an
interrupted run never leave a half-written entry.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
from PIL import Image

from bwcolor._io import atomic_write
from bwcolor.data.arrays import to_uint8
from bwcolor.data.decode import load_rgb

__all__ = ["MAX_OPEN_MAPS", "CachedRows", "cache_file", "decode_photo", "open_cached", "save_cached"]

#: A dataset of at most this many photos keeps its cached photos memory-mapped (each map holds a
#: file descriptor); a larger one reads the rows a crop needs from the cache file instead.
MAX_OPEN_MAPS = 256


class CachedRows:
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


def decode_photo(path, short_side):
    """The photo as uint8 sRGB (H, W, 3), downscaled (bilinear) so its short side is
    ``short_side`` when it is larger: crops never use more pixels than that."""
    rgb = to_uint8(load_rgb(path, min_short_side=short_side))
    h, w = rgb.shape[:2]
    scale = short_side / min(h, w)
    if scale < 1:
        rgb = np.asarray(Image.fromarray(rgb).resize(
            (max(1, round(w * scale)), max(1, round(h * scale))), Image.BILINEAR))
    return rgb


def cache_file(cache_dir, path, short_side):
    """Where :func:`decode_photo` ``(path, short_side)`` is cached in ``cache_dir``."""
    st = os.stat(path)
    key = hashlib.sha1(
        f"{os.path.abspath(path)}|{st.st_mtime_ns}|{st.st_size}|{short_side}".encode(
            "utf-8", "surrogateescape")).hexdigest()
    return Path(cache_dir) / f"{key}.npy"


def open_cached(file, memory_map):
    """The cached photo in ``file``: a read-only memory map, or :class:`CachedRows` when not
    ``memory_map``; None when it is not cached yet.

    Raises
    ------
    ValueError
        When the entry is damaged (a bad header, or shorter than its header says: NumPy refuses
        to map it), naming the file; the caller decodes the photo again and replaces it.
    """
    if not file.exists():
        return None
    try:
        cached = np.load(file, mmap_mode="r") if memory_map else CachedRows(file)
    except (ValueError, OSError, EOFError) as e:
        raise ValueError(f"damaged photo cache entry ({e}). Received: path={str(file)!r}") from None
    # CachedRows checked dtype and layout itself; a map is checked here.
    if memory_map and (cached.dtype != np.uint8 or cached.ndim != 3 or cached.shape[2] != 3):
        raise ValueError(f"damaged photo cache entry (dtype {cached.dtype}, shape "
                         f"{cached.shape}). Received: path={str(file)!r}")
    return cached


def save_cached(file, rgb):
    """Write ``rgb`` to the cache ``file`` atomically, creating its folder."""
    file.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(file) as f:
        np.save(f, rgb)
