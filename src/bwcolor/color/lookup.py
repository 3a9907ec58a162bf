"""8-bit fast paths for the data pipeline: uint8 sRGB -> L*a*b* or L* through lookup tables.

Each table is computed once, at import, from the float reference in :mod:`bwcolor.color.lab`
(in float64, stored as float32), so the fast paths agree with it to float32 rounding.
"""

from __future__ import annotations

import numpy as np

from bwcolor.color import _constants as C
from bwcolor.color._checks import as_uint8, check_channels
from bwcolor.color.lab import gray_to_lightness, linear_to_lab
from bwcolor.color.transfer import luminance_to_lightness, srgb_to_linear

__all__ = ["uint8_gray_to_lightness", "uint8_rgb_to_lab", "uint8_rgb_to_lightness"]

# sRGB decoding of every 8-bit code value.
_LINEAR_FROM_UINT8 = srgb_to_linear(np.arange(256, dtype=np.float64) / 255.0).astype(np.float32)

# Each channel's share of the luminance Y, per 8-bit code value: L* needs only Y.
_Y_FROM_UINT8 = [np.ascontiguousarray(t, dtype=np.float32) for t in
                 (_LINEAR_FROM_UINT8[:, None].astype(np.float64)
                  * (C.XYZ_FROM_RGB[1] / C.WHITE_XYZ[1])[None, :]).T]

# L* of every 8-bit gray value.
_GRAY_LIGHTNESS = gray_to_lightness(np.arange(256, dtype=np.float64) / 255.0).astype(np.float32)


def uint8_rgb_to_lab(rgb):
    """Convert 8-bit sRGB to float32 L*a*b*, via a lookup table.

    Same result as ``rgb_to_lab(rgb / 255)`` in float32, several times faster; the training data
    pipeline uses it.

    Parameters
    ----------
    rgb : ndarray of uint8, shape (..., 3)
        sRGB code values in [0, 255].

    Returns
    -------
    lab : ndarray of float32, shape (..., 3)
        L* in [0, 100], a*, b* as :func:`~bwcolor.color.rgb_to_lab`.

    Examples
    --------
    >>> import numpy as np
    >>> from bwcolor.color import uint8_rgb_to_lab
    >>> uint8_rgb_to_lab(np.array([255, 255, 255], dtype=np.uint8)).round(3)
    array([100.,   0.,   0.], dtype=float32)
    """
    rgb = as_uint8(rgb, "rgb")
    check_channels(rgb, "rgb")
    return linear_to_lab(_LINEAR_FROM_UINT8[rgb])


def uint8_rgb_to_lightness(rgb):
    """L* of 8-bit sRGB, via lookup tables.

    Equal to ``uint8_rgb_to_lab(rgb)[..., 0]`` (to float32 rounding) at a fraction of the cost:
    the data pipeline uses it when the a*, b* targets are computed on the accelerator instead.

    Parameters
    ----------
    rgb : ndarray of uint8, shape (..., 3)

    Returns
    -------
    lightness : ndarray of float32, shape (...), in [0, 100]

    Examples
    --------
    >>> import numpy as np
    >>> from bwcolor.color import uint8_rgb_to_lightness
    >>> uint8_rgb_to_lightness(np.array([[255, 255, 255], [0, 0, 0]], dtype=np.uint8)).round(3)
    array([100.,   0.], dtype=float32)
    """
    rgb = as_uint8(rgb, "rgb")
    check_channels(rgb, "rgb")
    # np.take, not fancy indexing: 2x faster here, and it lets other threads run meanwhile.
    y = np.take(_Y_FROM_UINT8[0], rgb[..., 0])
    y += np.take(_Y_FROM_UINT8[1], rgb[..., 1])
    y += np.take(_Y_FROM_UINT8[2], rgb[..., 2])
    return luminance_to_lightness(y).astype(np.float32)


def uint8_gray_to_lightness(gray):
    """L* of 8-bit gray values, via one table.

    Gray g means R = G = B = g, as in :func:`~bwcolor.color.gray_to_lightness`; a 12-megapixel
    scan takes one lookup per pixel instead of a color conversion (about 100x faster than
    :func:`~bwcolor.color.rgb_to_lab`).

    Parameters
    ----------
    gray : ndarray of uint8, any shape

    Returns
    -------
    lightness : ndarray of float32, same shape, in [0, 100]

    Examples
    --------
    >>> import numpy as np
    >>> from bwcolor.color import uint8_gray_to_lightness
    >>> uint8_gray_to_lightness(np.array([0, 128, 255], dtype=np.uint8)).round(3)
    array([  0.   ,  53.585, 100.   ], dtype=float32)
    """
    return np.take(_GRAY_LIGHTNESS, as_uint8(gray, "gray"))
