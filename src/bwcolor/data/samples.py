"""Real color photos that ship with bwcolor's dependencies, for tests and examples (no network)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

__all__ = ["sample_photos", "write_sample_folder"]

_SKIMAGE = ("astronaut", "chelsea", "coffee", "rocket")


def sample_photos(names=None):
    """Return real color photographs as ``{name: uint8 array (H, W, 3)}``.

    From scikit-image (astronaut, chelsea, coffee, rocket, motorcycle: the left view of
    ``stereo_motorcycle``) and matplotlib (grace_hopper). All are bundled with those packages.
    """
    import skimage.data

    loaders = {name: getattr(skimage.data, name) for name in _SKIMAGE}
    loaders["motorcycle"] = lambda: skimage.data.stereo_motorcycle()[0]

    def grace_hopper():
        from matplotlib import cbook

        with cbook.get_sample_data("grace_hopper.jpg") as f:
            return np.asarray(Image.open(f).convert("RGB"))

    loaders["grace_hopper"] = grace_hopper
    names = list(loaders) if names is None else list(names)
    unknown = [n for n in names if n not in loaders]
    if unknown:
        raise ValueError(f"unknown sample photo. Received: {unknown}; available: {sorted(loaders)}")
    return {n: np.ascontiguousarray(loaders[n]()) for n in names}


def write_sample_folder(folder, names=None, *, short_side=None, format="jpg"):
    """Write the sample photos as image files into ``folder`` (created); return their paths.

    ``short_side`` resizes each photo (aspect kept) so its short side has that many pixels.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, rgb in sample_photos(names).items():
        img = Image.fromarray(rgb)
        if short_side:
            w, h = img.size
            s = short_side / min(w, h)
            img = img.resize((max(1, round(w * s)), max(1, round(h * s))), Image.BILINEAR)
        path = folder / f"{name}.{format}"
        img.save(path, quality=92) if format == "jpg" else img.save(path)
        paths.append(path)
    return paths
