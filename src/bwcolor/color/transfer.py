"""The sRGB transfer functions and the CIE L*a*b* companding function, written once.

Every function takes ``xp``, the array namespace to compute with: ``numpy`` (the default, for the
host reference in :mod:`bwcolor.color.lab` and the lookup tables) or ``keras.ops`` (for
:mod:`bwcolor.color.ops`, inside models, losses and :class:`bwcolor.architectures.GrayToRGB`).
Both namespaces have ``where``, ``maximum``, ``power`` and ``cbrt`` with the same meaning, so one
body serves both, and the pixels the host prepares cannot drift from what a model computes.

Each branch of a piecewise function is evaluated on an input clamped into that branch's own
domain before ``where`` picks one (as kornia does): otherwise the branch not taken, e.g. the cube
root at 0, puts an inf into the gradient even though its value is discarded.

Examples
--------
>>> import numpy as np
>>> from bwcolor.color.transfer import linear_to_srgb, srgb_to_linear
>>> float(srgb_to_linear(np.float64(0.5)).round(6))
0.214041
>>> float(linear_to_srgb(srgb_to_linear(np.float64(0.5))).round(6))
0.5
"""

from __future__ import annotations

import numpy as np

from bwcolor.color import _constants as C

__all__ = [
    "lab_f",
    "lab_f_inv",
    "lightness_to_luminance",
    "linear_to_srgb",
    "luminance_to_lightness",
    "srgb_to_linear",
]


def srgb_to_linear(c, xp=np):
    """Decode sRGB values in [0, 1] to linear light in [0, 1] (IEC 61966-2-1).

    Parameters
    ----------
    c : array or tensor of float, any shape
        Encoded sRGB values, nominally in [0, 1].
    xp : module, optional
        ``numpy`` (default) or ``keras.ops``.

    Returns
    -------
    linear : same type, shape and dtype as ``c``, in [0, 1] for ``c`` in [0, 1].
    """
    high = xp.power(
        (xp.maximum(c, C.SRGB_LINEAR_THRESHOLD) + C.SRGB_OFFSET) / (1 + C.SRGB_OFFSET),
        C.SRGB_GAMMA,
    )
    return xp.where(c > C.SRGB_LINEAR_THRESHOLD, high, c / C.SRGB_LINEAR_SLOPE)


def linear_to_srgb(c, xp=np):
    """Encode linear light in [0, 1] to sRGB values in [0, 1]; the inverse of :func:`srgb_to_linear`.

    Parameters
    ----------
    c : array or tensor of float, any shape
        Linear light, nominally in [0, 1]; clip it first where it may be negative.
    xp : module, optional
        ``numpy`` (default) or ``keras.ops``.

    Returns
    -------
    encoded : same type, shape and dtype as ``c``, in [0, 1] for ``c`` in [0, 1].
    """
    high = (1 + C.SRGB_OFFSET) * xp.power(
        xp.maximum(c, C.SRGB_ENCODED_THRESHOLD), 1 / C.SRGB_GAMMA
    ) - C.SRGB_OFFSET
    return xp.where(c > C.SRGB_ENCODED_THRESHOLD, high, c * C.SRGB_LINEAR_SLOPE)


def lab_f(t, xp=np):
    """CIE 1976 companding f(t): cube root above :data:`~bwcolor.color._constants.LAB_EPSILON`,
    a line below.

    Parameters
    ----------
    t : array or tensor of float, any shape
        X/Xn, Y/Yn or Z/Zn, nominally in [0, 1].
    xp : module, optional
        ``numpy`` (default) or ``keras.ops``.

    Returns
    -------
    f : same type, shape and dtype as ``t``, in [4/29, 1] for ``t`` in [0, 1].
    """
    high = xp.cbrt(xp.maximum(t, C.LAB_EPSILON))
    return xp.where(t > C.LAB_EPSILON, high, C.LAB_KAPPA_SLOPE * t + C.LAB_OFFSET)


def lab_f_inv(f, xp=np):
    """Inverse of :func:`lab_f`.

    Parameters
    ----------
    f : array or tensor of float, any shape
    xp : module, optional
        ``numpy`` (default) or ``keras.ops``.

    Returns
    -------
    t : same type, shape and dtype as ``f``; in [0, 1] for ``f`` in [4/29, 1].
    """
    high = xp.power(xp.maximum(f, C.LAB_F_THRESHOLD), 3.0)
    return xp.where(f > C.LAB_F_THRESHOLD, high, (f - C.LAB_OFFSET) / C.LAB_KAPPA_SLOPE)


def luminance_to_lightness(y, xp=np):
    """L* in [0, 100] of relative luminance Y in [0, 1] (white has Y = 1).

    Parameters
    ----------
    y : array or tensor of float, any shape
    xp : module, optional
        ``numpy`` (default) or ``keras.ops``.

    Returns
    -------
    lightness : same type, shape and dtype as ``y``.
    """
    return 116.0 * lab_f(y, xp) - 16.0


def lightness_to_luminance(lightness, xp=np):
    """Relative luminance Y in [0, 1] of L* in [0, 100]; the inverse of
    :func:`luminance_to_lightness`.

    Parameters
    ----------
    lightness : array or tensor of float, any shape
    xp : module, optional
        ``numpy`` (default) or ``keras.ops``.

    Returns
    -------
    y : same type, shape and dtype as ``lightness``.
    """
    return lab_f_inv((lightness + 16.0) / 116.0, xp)
