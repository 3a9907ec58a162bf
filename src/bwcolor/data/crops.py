"""Crop geometry: where a crop comes from in a photo, and the crop itself on the host.

Training crops are an S x S window of the photo rescaled so its short side is a random size in
[S, :data:`MAX_ZOOM` S], at a random position, flipped half the time; evaluation crops resize the
short side to S and take the center. A window is described as ``(sub, box, flip)``: ``sub`` the
slice of the photo that covers it, ``box`` the window within ``sub`` (Pillow's left, upper,
right, lower). The host resamples it with Pillow (:func:`random_crop`, :func:`center_crop`);
with ``crop_on_device`` the dataset sends ``sub`` padded and the box as :data:`BOX_FIELDS`, and
:mod:`bwcolor.device_crops` resamples it on the accelerator.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image

__all__ = [
    "BOX_FIELDS",
    "MAX_ZOOM",
    "WINDOW_MARGIN",
    "box_vector",
    "center_crop",
    "center_geometry",
    "center_window",
    "fill_window",
    "random_crop",
    "random_window",
    "source_short_side",
]

#: Layout of the per-image box vector that the dataset sends beside each window, in window pixels:
#: the crop's left, top, right, bottom edges (Pillow's ``box``), the window's valid width and
#: height (the rest is padding), and 1.0 to flip the crop horizontally.
BOX_FIELDS = ("left", "top", "right", "bottom", "valid_width", "valid_height", "flip")

#: Training crops see the photo with its short side rescaled to a random size in [S, MAX_ZOOM S].
MAX_ZOOM = 1.5

#: Pixels a window's slice extends past the window: the support of Pillow's bilinear filter.
WINDOW_MARGIN = 2


def source_short_side(image_size, training):
    """The short side photos are brought to before cropping: the most any crop can use."""
    return math.ceil(image_size * MAX_ZOOM) if training else image_size


def random_window(rgb, image_size, rng):
    """Where a training crop comes from: ``(sub, box, flip)``.

    Parameters
    ----------
    rgb : array (H, W, 3), memory map or :class:`bwcolor.data.cache.CachedRows`
        The photo, H and W at least ``image_size``.
    image_size : int
        S, the crop side.
    rng : numpy.random.Generator
        Three uniform draws and one flip draw, in that order.

    Returns
    -------
    sub : ndarray (h, w, 3)
        The slice of the photo that covers the window (sliced first, so a memory-mapped or
        row-read cache reads just the rows the window covers).
    box : tuple of 4 floats
        The window within ``sub``: left, upper, right, lower.
    flip : bool
    """
    S = image_size
    h, w = rgb.shape[:2]
    window = S * min(h, w) / rng.uniform(S, MAX_ZOOM * S)  # side of the window, in photo pixels
    x0, y0 = rng.uniform(0, w - window), rng.uniform(0, h - window)
    ix, iy = int(x0), int(y0)
    span = math.ceil(window) + WINDOW_MARGIN
    sub = rgb[iy:iy + span, ix:ix + span]
    box = (x0 - ix, y0 - iy, min(x0 - ix + window, sub.shape[1]), min(y0 - iy + window, sub.shape[0]))
    return sub, box, rng.random() < 0.5


def random_crop(rgb, image_size, rng):
    """The training crop of :func:`random_window`, uint8 (S, S, 3). Only the window is
    resampled (Pillow's ``resize(box=...)``), not the whole photo: 3x cheaper at 256 px."""
    sub, box, flip = random_window(rgb, image_size, rng)
    crop = np.asarray(Image.fromarray(np.asarray(sub)).resize(
        (image_size,) * 2, Image.BILINEAR, box=box))
    return crop[:, ::-1] if flip else crop


def center_geometry(h, w, image_size):
    """Evaluation crops: the size (nw, nh) an h x w photo is resized to (short side S) and the
    top-left corner (x0, y0) of the centered S x S crop in it."""
    S = image_size
    scale = S / min(h, w)
    nw, nh = max(S, round(w * scale)), max(S, round(h * scale))
    return nw, nh, (nw - S) // 2, (nh - S) // 2


def center_window(rgb, image_size):
    """Where an evaluation crop comes from, as :func:`random_window` says: the window that
    :func:`center_crop`'s resize to short side S and center crop cuts out (never flipped)."""
    S = image_size
    h, w = rgb.shape[:2]
    nw, nh, cx, cy = center_geometry(h, w, S)
    sx, sy = w / nw, h / nh  # photo pixels per resized pixel
    x0, y0 = cx * sx, cy * sy
    ix, iy = int(x0), int(y0)
    sub = rgb[iy:iy + math.ceil(S * sy) + WINDOW_MARGIN, ix:ix + math.ceil(S * sx) + WINDOW_MARGIN]
    box = (x0 - ix, y0 - iy, min(x0 - ix + S * sx, sub.shape[1]), min(y0 - iy + S * sy, sub.shape[0]))
    return sub, box, False


def center_crop(rgb, image_size):
    """The evaluation crop, uint8 (S, S, 3): resize the short side to S, cut the center."""
    S = image_size
    h, w = rgb.shape[:2]
    nw, nh, x0, y0 = center_geometry(h, w, S)
    img = Image.fromarray(np.asarray(rgb))
    if (nw, nh) != (w, h):
        img = img.resize((nw, nh), Image.BILINEAR)
    return np.asarray(img.crop((x0, y0, x0 + S, y0 + S)))


def box_vector(box, valid_width, valid_height, flip):
    """The (7,) float32 vector of :data:`BOX_FIELDS` for a window."""
    return np.array([*box, valid_width, valid_height, float(flip)], np.float32)


def fill_window(window, rgb, image_size, rng, *, training, source="photo"):
    """Copy the pixels under a crop of ``rgb`` (:func:`random_window` when ``training``, else
    :func:`center_window`) into the zeroed ``window`` (P, P, 3); return the crop's
    :func:`box_vector`. Writing in place keeps a batch at one copy per crop. ``source`` (the
    photo's path) names the photo in errors."""
    if training:
        sub, box, flip = random_window(rgb, image_size, rng)
    else:
        sub, box, flip = center_window(rgb, image_size)
    P = min(window.shape[:2])
    h, w = sub.shape[:2]
    if h > P or w > P:  # a photo that was not brought to source_short_side first
        raise ValueError(f"crop window larger than the {P} px window size. "
                         f"Received: path={str(source)!r} ({w}x{h})")
    window[:h, :w] = sub
    return box_vector(box, w, h, flip)
