"""sRGB <-> linear RGB <-> CIE XYZ <-> CIE L*a*b* (D65, 2 degree observer), the NumPy reference.

:mod:`bwcolor.color.ops` computes the same conversions with ``keras.ops``; both use the transfer
functions of :mod:`bwcolor.color.transfer` and the constants of :mod:`bwcolor.color._constants`.
"""

from __future__ import annotations

import numpy as np

from bwcolor.color import _constants as C
from bwcolor.color._checks import as_float, check_channels
from bwcolor.color.transfer import (
    lab_f,
    lab_f_inv,
    linear_to_srgb,
    luminance_to_lightness,
    srgb_to_linear,
)

__all__ = ["gray_to_lightness", "lab_to_rgb", "rgb_to_gray", "rgb_to_lab"]

# Linear-light slack before a color counts as out of gamut (float rounding, not color).
_GAMUT_TOLERANCE = 1e-6


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
    rgb = as_float(rgb, "rgb")
    check_channels(rgb, "rgb")
    return linear_to_lab(srgb_to_linear(rgb))


def linear_to_lab(linear):
    """L*a*b* of linear-light RGB, shape (..., 3), computed in the input's float dtype."""
    dtype = linear.dtype
    xyz = linear @ (C.XYZ_FROM_RGB.T / C.WHITE_XYZ).astype(dtype)
    f = lab_f(xyz)
    fx, fy, fz = f[..., 0], f[..., 1], f[..., 2]
    lab = np.stack([116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)], axis=-1)
    return lab.astype(dtype)


def linear_from_lab(lab, clip=True):
    """Linear-light RGB of L*a*b*, shape (..., 3), in the input's float dtype; out-of-gamut
    colors fall outside [0, 1] unless ``clip``."""
    lab = np.asarray(lab)
    fy = (lab[..., 0] + 16.0) / 116.0
    fx = fy + lab[..., 1] / 500.0
    fz = fy - lab[..., 2] / 200.0
    xyz = lab_f_inv(np.stack([fx, fy, fz], axis=-1))
    linear = xyz @ (C.RGB_FROM_XYZ * C.WHITE_XYZ[None, :]).T.astype(lab.dtype)
    return np.clip(linear, 0.0, 1.0) if clip else linear


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
    lab = as_float(lab, "lab")
    check_channels(lab, "lab")
    dtype = lab.dtype
    linear = linear_from_lab(lab, clip=False)
    # Clip linear light before the transfer function: the power of a negative is undefined.
    out_of_gamut = np.any((linear < -_GAMUT_TOLERANCE) | (linear > 1 + _GAMUT_TOLERANCE), axis=-1)
    rgb = linear_to_srgb(np.clip(linear, 0.0, 1.0))
    rgb = np.clip(rgb, 0.0, 1.0).astype(dtype)
    if return_clipped:
        return rgb, int(np.count_nonzero(out_of_gamut))
    return rgb


def rgb_to_gray(rgb):
    """Return the gray value whose R = G = B pixel has the same L* as ``rgb``.

    This is how bwcolor removes color: the photo keeps its exact lightness.

    Parameters
    ----------
    rgb : array_like of float, shape (..., 3), in [0, 1]

    Returns
    -------
    gray : ndarray, shape (...), in [0, 1], same dtype

    Examples
    --------
    >>> import numpy as np
    >>> from bwcolor.color import rgb_to_gray
    >>> float(rgb_to_gray(np.array([0.5, 0.5, 0.5])).round(6))
    0.5
    """
    rgb = as_float(rgb, "rgb")
    check_channels(rgb, "rgb")
    y = srgb_to_linear(rgb.astype(np.float64)) @ C.XYZ_FROM_RGB[1]
    return np.clip(linear_to_srgb(y), 0.0, 1.0).astype(rgb.dtype)


def gray_to_lightness(gray):
    """L* of a gray pixel: gray value g becomes R = G = B = g, then L*.

    Parameters
    ----------
    gray : array_like of float, in [0, 1], any shape

    Returns
    -------
    lightness : ndarray, same shape and dtype, in [0, 100]

    Examples
    --------
    >>> from bwcolor.color import gray_to_lightness
    >>> float(gray_to_lightness(0.5).round(3))
    53.389
    """
    gray = as_float(gray, "gray")
    y = srgb_to_linear(gray.astype(np.float64))  # Y of white is exactly 1
    return luminance_to_lightness(y).astype(gray.dtype)
