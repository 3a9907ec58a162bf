"""Fit colors into the sRGB gamut by reducing chroma, keeping L* and hue."""

from __future__ import annotations

import functools

import numpy as np

from bwcolor.color._checks import as_float, check_channels
from bwcolor.color.lab import linear_from_lab

__all__ = ["reduce_chroma_to_gamut"]


def _bisect_max_chroma(lightness, hue, iterations=24):
    """Largest chroma in gamut along each (L*, hue) ray, by bisection (vectorized, float64)."""
    lo = np.zeros(lightness.shape)
    hi = np.full(lightness.shape, 200.0)
    cos, sin = np.cos(hue), np.sin(hue)
    for _ in range(iterations):
        mid = (lo + hi) / 2
        lab = np.stack([lightness, mid * cos, mid * sin], axis=-1)
        fits = np.abs(linear_from_lab(lab, clip=False) - 0.5).max(-1) <= 0.5
        lo = np.where(fits, mid, lo)
        hi = np.where(fits, hi, mid)
    return lo


@functools.lru_cache(maxsize=1)
def _max_chroma_table():
    # Gamut boundary sampled every 0.5 L* and 1 degree of hue; a pixel's limit is the smallest of
    # the 4 surrounding samples (conservative), then its exact residue is clipped in lab_to_rgb.
    lightness = np.linspace(0.0, 100.0, 201)
    hue = np.deg2rad(np.arange(361.0))  # 360 repeats 0, so interpolation wraps
    grid_l, grid_h = np.meshgrid(lightness, hue, indexing="ij")
    return _bisect_max_chroma(grid_l, grid_h).astype(np.float32)


def reduce_chroma_to_gamut(lab):
    """Scale a*, b* toward 0 per pixel so the color fits in sRGB, keeping L* and hue.

    Plain RGB clipping of an out-of-gamut color changes its lightness; colorizing must not, since
    the output's L* is the photo's own. Gray (a* = b* = 0) is always in gamut for L* in [0, 100],
    so every color has an in-gamut chroma along its hue. The largest one is looked up in a table
    of the sRGB gamut boundary over (L*, hue), computed once by bisection.

    Parameters
    ----------
    lab : array_like of float, shape (..., 3)

    Returns
    -------
    lab : ndarray, same shape and dtype: L* clipped to [0, 100], chroma at most the gamut's
        (within the table's resolution: residues under about 0.5 chroma are left for
        :func:`~bwcolor.color.lab_to_rgb` to clip).

    Examples
    --------
    >>> import numpy as np
    >>> from bwcolor.color import reduce_chroma_to_gamut
    >>> fitted = reduce_chroma_to_gamut(np.array([50.0, 120.0, 0.0]))
    >>> float(fitted[0]), bool(fitted[1] < 120.0), float(fitted[2])
    (50.0, True, 0.0)
    """
    lab = np.array(as_float(lab, "lab"), copy=True)
    check_channels(lab, "lab")
    table = _max_chroma_table()
    L = np.clip(lab[..., 0], 0.0, 100.0)
    lab[..., 0] = L
    a, b = lab[..., 1], lab[..., 2]
    chroma = np.hypot(a, b)
    hue = np.degrees(np.arctan2(b, a)) % 360.0
    li = np.minimum((L * 2).astype(np.int32), 199)
    hi = np.minimum(hue.astype(np.int32), 359)
    limit = np.minimum(np.minimum(table[li, hi], table[li + 1, hi]),
                       np.minimum(table[li, hi + 1], table[li + 1, hi + 1]))
    scale = np.where(chroma > limit, limit / np.maximum(chroma, 1e-12), 1.0).astype(lab.dtype)
    lab[..., 1] = a * scale
    lab[..., 2] = b * scale
    return lab
