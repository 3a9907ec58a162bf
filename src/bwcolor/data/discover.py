"""Find image files under folders (by content), and assign each to a split by a stable hash."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from bwcolor.data.decode import ImageDecodeError, sniff_format

__all__ = ["SPLITS", "find_files", "split_of"]

SPLITS = ("train", "validation", "test")


def find_files(root):
    """All files under ``root``, recursively, in a deterministic (sorted) order.

    Special files (FIFOs, sockets, devices) are listed too: :func:`sniff_format` and
    :func:`open_image` refuse them without opening them, and the caller reports them.

    Linked folders are not followed, so a symlink loop cannot hang the walk; linked files are
    listed. Hidden files and folders (names starting with '.') are ignored.

    Returns
    -------
    list of Path
    """
    root = Path(root)
    if not root.exists():
        raise FileNotFoundError(f"folder not found. Received: path={str(root)!r}")
    if root.is_file():
        return [root]
    out = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if not name.startswith("."):
                out.append(Path(dirpath) / name)
    return out


def is_image_file(path):
    """True when the file's first bytes name a format bwcolor reads (extension is ignored)."""
    try:
        return sniff_format(path) is not None
    except (OSError, ImageDecodeError):  # vanished, unreadable, or a FIFO/socket/device
        return False


def split_of(relative_path, fractions=(0.9, 0.05, 0.05)):
    """Assign a file to 'train', 'validation' or 'test' from a hash of its relative path.

    The hash depends only on the path relative to the dataset folder, so adding or removing
    other files never moves a photo from one split to another.

    Parameters
    ----------
    relative_path : str or Path
        Path relative to the dataset root; '/' separators are used whatever the OS.
    fractions : tuple of 3 floats
        Train, validation and test fractions; they must sum to 1.
    """
    if len(fractions) != 3 or any(f < 0 for f in fractions) or abs(sum(fractions) - 1) > 1e-6:
        raise ValueError(
            f"fractions must be 3 non-negative numbers summing to 1. Received: fractions={fractions}"
        )
    key = Path(relative_path).as_posix().encode("utf-8", "surrogateescape")
    u = int.from_bytes(hashlib.sha256(key).digest()[:8], "big") / 2**64
    if u < fractions[0]:
        return "train"
    if u < fractions[0] + fractions[1]:
        return "validation"
    return "test"
