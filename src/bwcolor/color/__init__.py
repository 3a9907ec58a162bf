"""Color space: sRGB <-> CIE L*a*b* (NumPy reference) and the model's L/ab scaling.

This module is the reference implementation; :mod:`bwcolor.color.ops` computes the same
conversions with ``keras.ops`` for use inside models and losses. Every place in bwcolor that turns
pixels into model inputs or targets, or model outputs back into pixels, goes through the scaling
functions here, so training and colorizing cannot disagree.
"""

from __future__ import annotations

import functools

import numpy as np

from bwcolor.color import _constants as C

__all__ = [
    "ab_to_target",
    "gray_to_l",
    "input_to_l",
    "l_to_input",
    "lab_to_rgb",
    "reduce_chroma_to_gamut",
    "rgb_to_gray",
    "rgb_to_lab",
    "target_to_ab",
    "uint8_gray_to_lightness",
    "uint8_rgb_to_lab",
    "uint8_rgb_to_lightness",
]


# Linear-light slack before a color counts as out of gamut (float rounding, not color).
_GAMUT_TOLERANCE = 1e-6


def _as_float(x, name):
    x = np.asarray(x)
    if x.dtype.kind not in "fiub":
        raise TypeError(f"{name} must be a numeric array. Received: dtype={x.dtype}")
    if x.dtype.kind != "f":
        raise TypeError(
            f"{name} must be a float array (for uint8 images divide by 255 first). "
            f"Received: dtype={x.dtype}"
        )
    if x.dtype not in (np.float32, np.float64):
        x = x.astype(np.float32)
    return x


def _check_channels(x, name):
    if x.ndim < 1 or x.shape[-1] != 3:
        raise ValueError(f"{name} must have 3 channels in the last axis. Received: shape={x.shape}")


def _srgb_to_linear(c):
    return np.where(
        c > C.SRGB_LINEAR_THRESHOLD,
        ((np.maximum(c, C.SRGB_LINEAR_THRESHOLD) + C.SRGB_OFFSET) / (1 + C.SRGB_OFFSET))
        ** C.SRGB_GAMMA,
        c / C.SRGB_LINEAR_SLOPE,
    )


def _linear_to_srgb(c):
    return np.where(
        c > C.SRGB_ENCODED_THRESHOLD,
        (1 + C.SRGB_OFFSET) * np.maximum(c, C.SRGB_ENCODED_THRESHOLD) ** (1 / C.SRGB_GAMMA)
        - C.SRGB_OFFSET,
        c * C.SRGB_LINEAR_SLOPE,
    )


def _lab_f(t):
    return np.where(
        t > C.LAB_EPSILON,
        np.cbrt(np.maximum(t, C.LAB_EPSILON)),
        C.LAB_KAPPA_SLOPE * t + C.LAB_OFFSET,
    )


def _lab_f_inv(f):
    return np.where(
        f > C.LAB_F_THRESHOLD,
        np.maximum(f, C.LAB_F_THRESHOLD) ** 3,
        (f - C.LAB_OFFSET) / C.LAB_KAPPA_SLOPE,
    )


def rgb_to_lab(rgb):
    """Convert sRGB to CIE L*a*b* (D65, 2 degree observer).

    Parameters
    ----------
    rgb : array_like of float, shape (..., 3)
        sRGB values in [0, 1], channels last, any leading shape. float32 and float64 are kept;
        other float dtypes compute in float32.

    Returns
    -------
    lab : ndarray, shape (..., 3), same dtype
        L* in [0, 100]; a*, b* roughly in [-86, 98] and [-108, 95] for in-gamut colors.

    Notes
    -----
    Constants are in :mod:`bwcolor.color._constants`. The reference white is derived from the sRGB
    matrix, so gray pixels (R = G = B) map to a* = b* = 0 exactly; results differ from
    :func:`skimage.color.rgb2lab` by at most ~5e-3 in a*, b* and ~1e-6 in L*.

    References
    ----------
    .. [1] IEC 61966-2-1:1999, Multimedia systems and equipment - Colour measurement and
       management - Part 2-1: Default RGB colour space - sRGB.
    .. [2] CIE 15:2004, Colorimetry, section 8.2.1 (CIE 1976 L*a*b*).

    Examples
    --------
    >>> import numpy as np
    >>> from bwcolor.color import rgb_to_lab
    >>> rgb_to_lab(np.array([1.0, 1.0, 1.0])).round(4)
    array([100.,   0.,   0.])
    """
    rgb = _as_float(rgb, "rgb")
    _check_channels(rgb, "rgb")
    return _linear_to_lab(_srgb_to_linear(rgb))


def _linear_to_lab(linear):
    dtype = linear.dtype
    xyz = linear @ (C.XYZ_FROM_RGB.T / C.WHITE_XYZ).astype(dtype)
    f = _lab_f(xyz)
    fx, fy, fz = f[..., 0], f[..., 1], f[..., 2]
    lab = np.stack([116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)], axis=-1)
    return lab.astype(dtype)


# sRGB decoding of every 8-bit code value, for the fast uint8 path used by the data pipeline.
_LINEAR_FROM_UINT8 = _srgb_to_linear(np.arange(256, dtype=np.float64) / 255.0).astype(np.float32)


def _uint8(arr, name):
    arr = np.asarray(arr)
    if arr.dtype != np.uint8:
        raise TypeError(f"{name} must be uint8. Received: dtype={arr.dtype}")
    return arr


def uint8_rgb_to_lab(rgb):
    """Convert 8-bit sRGB (uint8, shape (..., 3)) to float32 L*a*b*, via a lookup table.

    Same result as ``rgb_to_lab(rgb / 255)`` in float32, several times faster; the training data
    pipeline uses it.

    Examples
    --------
    >>> import numpy as np
    >>> from bwcolor.color import uint8_rgb_to_lab
    >>> uint8_rgb_to_lab(np.array([255, 255, 255], dtype=np.uint8)).round(3)
    array([100.,   0.,   0.], dtype=float32)
    """
    rgb = _uint8(rgb, "rgb")
    _check_channels(rgb, "rgb")
    return _linear_to_lab(_LINEAR_FROM_UINT8[rgb])


# Each channel's share of the luminance Y, per 8-bit code value: L* needs only Y.
_Y_FROM_UINT8 = [np.ascontiguousarray(t, dtype=np.float32) for t in
                 (_LINEAR_FROM_UINT8[:, None].astype(np.float64)
                  * (C.XYZ_FROM_RGB[1] / C.WHITE_XYZ[1])[None, :]).T]


def uint8_rgb_to_lightness(rgb):
    """L* of 8-bit sRGB (uint8, shape (..., 3)), float32 of shape (...), via lookup tables.

    Equal to ``uint8_rgb_to_lab(rgb)[..., 0]`` (to float32 rounding) at a fraction of the cost:
    the data pipeline uses it when the a*, b* targets are computed on the accelerator instead.

    Examples
    --------
    >>> import numpy as np
    >>> from bwcolor.color import uint8_rgb_to_lightness
    >>> uint8_rgb_to_lightness(np.array([[255, 255, 255], [0, 0, 0]], dtype=np.uint8)).round(3)
    array([100.,   0.], dtype=float32)
    """
    rgb = _uint8(rgb, "rgb")
    _check_channels(rgb, "rgb")
    # np.take, not fancy indexing: 2x faster here, and it lets other threads run meanwhile.
    y = np.take(_Y_FROM_UINT8[0], rgb[..., 0])
    y += np.take(_Y_FROM_UINT8[1], rgb[..., 1])
    y += np.take(_Y_FROM_UINT8[2], rgb[..., 2])
    return (116.0 * _lab_f(y) - 16.0).astype(np.float32)


def uint8_gray_to_lightness(gray):
    """L* of 8-bit gray values (uint8, any shape), float32 of the same shape, via one table.

    Gray g means R = G = B = g, as in :func:`gray_to_l`; a 12-megapixel scan takes one lookup
    per pixel instead of a color conversion (about 100x faster than :func:`rgb_to_lab`).

    Examples
    --------
    >>> import numpy as np
    >>> from bwcolor.color import uint8_gray_to_lightness
    >>> uint8_gray_to_lightness(np.array([0, 128, 255], dtype=np.uint8)).round(3)
    array([  0.   ,  53.585, 100.   ], dtype=float32)
    """
    return np.take(_GRAY_LIGHTNESS, _uint8(gray, "gray"))


def lab_to_rgb(lab, *, return_clipped=False):
    """Convert CIE L*a*b* (D65, 2 degree observer) to sRGB, clipping out-of-gamut values.

    Parameters
    ----------
    lab : array_like of float, shape (..., 3)
        L* in [0, 100], a*, b* any value; channels last.
    return_clipped : bool, optional
        Also return how many pixels had at least one channel outside [0, 1] before clipping.

    Returns
    -------
    rgb : ndarray, shape (..., 3), same dtype
        sRGB in [0, 1].
    n_clipped : int
        Only when ``return_clipped`` is true.

    Examples
    --------
    >>> import numpy as np
    >>> from bwcolor.color import lab_to_rgb
    >>> lab_to_rgb(np.array([50.0, 0.0, 0.0])).round(4)
    array([0.4663, 0.4663, 0.4663])
    """
    lab = _as_float(lab, "lab")
    _check_channels(lab, "lab")
    dtype = lab.dtype
    linear = _linear_from_lab(lab, clip=False)
    # Clip linear light before the transfer function: the power of a negative is undefined.
    out_of_gamut = np.any((linear < -_GAMUT_TOLERANCE) | (linear > 1 + _GAMUT_TOLERANCE), axis=-1)
    rgb = _linear_to_srgb(np.clip(linear, 0.0, 1.0))
    rgb = np.clip(rgb, 0.0, 1.0).astype(dtype)
    if return_clipped:
        return rgb, int(np.count_nonzero(out_of_gamut))
    return rgb


def _bisect_max_chroma(lightness, hue, iterations=24):
    """Largest chroma in gamut along each (L*, hue) ray, by bisection (vectorized, float64)."""
    lo = np.zeros(lightness.shape)
    hi = np.full(lightness.shape, 200.0)
    cos, sin = np.cos(hue), np.sin(hue)
    for _ in range(iterations):
        mid = (lo + hi) / 2
        lab = np.stack([lightness, mid * cos, mid * sin], axis=-1)
        fits = np.abs(_linear_from_lab(lab, clip=False) - 0.5).max(-1) <= 0.5
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
        :func:`lab_to_rgb` to clip).
    """
    lab = np.array(_as_float(lab, "lab"), copy=True)
    _check_channels(lab, "lab")
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


def _linear_from_lab(lab, clip=True):
    lab64 = np.asarray(lab)  # computes in the input's float dtype
    fy = (lab64[..., 0] + 16.0) / 116.0
    fx = fy + lab64[..., 1] / 500.0
    fz = fy - lab64[..., 2] / 200.0
    dtype = lab64.dtype
    xyz = _lab_f_inv(np.stack([fx, fy, fz], axis=-1))
    linear = xyz @ (C.RGB_FROM_XYZ * C.WHITE_XYZ[None, :]).T.astype(dtype)
    return np.clip(linear, 0.0, 1.0) if clip else linear


def rgb_to_gray(rgb):
    """Return the gray value whose R = G = B pixel has the same L* as ``rgb``.

    This is how bwcolor removes color: the photo keeps its exact lightness.

    Parameters
    ----------
    rgb : array_like of float, shape (..., 3), in [0, 1]

    Returns
    -------
    gray : ndarray, shape (...), in [0, 1]
    """
    rgb = _as_float(rgb, "rgb")
    _check_channels(rgb, "rgb")
    y = _srgb_to_linear(rgb.astype(np.float64)) @ C.XYZ_FROM_RGB[1]
    return np.clip(_linear_to_srgb(y), 0.0, 1.0).astype(rgb.dtype)


def gray_to_l(gray):
    """L* of a gray pixel: gray value g becomes R = G = B = g, then L*.

    Parameters
    ----------
    gray : array_like of float, in [0, 1], any shape

    Returns
    -------
    L : ndarray, same shape, in [0, 100]

    Examples
    --------
    >>> from bwcolor.color import gray_to_l
    >>> float(gray_to_l(0.5).round(3))
    53.389
    """
    gray = _as_float(gray, "gray")
    y = _srgb_to_linear(gray.astype(np.float64))  # Y of white is exactly 1
    return (116.0 * _lab_f(y) - 16.0).astype(gray.dtype)


def l_to_input(lightness):
    """Scale L* in [0, 100] to the model input range [-1, 1]."""
    return (np.asarray(lightness) - C.L_CENTER) / C.L_SCALE


def input_to_l(x):
    """Inverse of :func:`l_to_input`."""
    return np.asarray(x) * C.L_SCALE + C.L_CENTER


def ab_to_target(ab):
    """Scale a*, b* to the regression target range (ab / 128, as the tutorial)."""
    return np.asarray(ab) / C.AB_SCALE


def target_to_ab(t):
    """Inverse of :func:`ab_to_target`."""
    return np.asarray(t) * C.AB_SCALE


# L* of every 8-bit gray value, computed once in float64.
_GRAY_LIGHTNESS = gray_to_l(np.arange(256, dtype=np.float64) / 255.0).astype(np.float32)
