"""The model's scaling of L* and a*, b*: L* in [0, 100] <-> input in [-1, 1], ab <-> ab / 128.

Every place in bwcolor that turns pixels into model inputs or targets, or model outputs back into
pixels, goes through these functions (or their ``keras.ops`` twins in :mod:`bwcolor.color.ops`,
which use the same constants), so training and colorizing cannot disagree.
"""

from __future__ import annotations

import numpy as np

from bwcolor.color import _constants as C

__all__ = ["ab_to_target", "input_to_lightness", "lightness_to_input", "target_to_ab"]


def lightness_to_input(lightness):
    """Scale L* to the model input range.

    Parameters
    ----------
    lightness : array_like of float, any shape, in [0, 100]

    Returns
    -------
    x : ndarray, same shape, in [-1, 1]

    Examples
    --------
    >>> from bwcolor.color import lightness_to_input
    >>> lightness_to_input([0.0, 50.0, 100.0])
    array([-1.,  0.,  1.])
    """
    return (np.asarray(lightness) - C.L_CENTER) / C.L_SCALE


def input_to_lightness(x):
    """Inverse of :func:`lightness_to_input`: model input in [-1, 1] -> L* in [0, 100].

    Parameters
    ----------
    x : array_like of float, any shape, in [-1, 1]

    Returns
    -------
    lightness : ndarray, same shape, in [0, 100]
    """
    return np.asarray(x) * C.L_SCALE + C.L_CENTER


def ab_to_target(ab):
    """Scale a*, b* to the regression target range (ab / 128, as the tutorial).

    Parameters
    ----------
    ab : array_like of float, any shape; in-gamut a*, b* lie in about [-108, 98]

    Returns
    -------
    target : ndarray, same shape, in about [-0.85, 0.77]
    """
    return np.asarray(ab) / C.AB_SCALE


def target_to_ab(t):
    """Inverse of :func:`ab_to_target`: regression output (tanh, in [-1, 1]) -> a*, b*.

    Parameters
    ----------
    t : array_like of float, any shape, in [-1, 1]

    Returns
    -------
    ab : ndarray, same shape, in [-128, 128]
    """
    return np.asarray(t) * C.AB_SCALE
