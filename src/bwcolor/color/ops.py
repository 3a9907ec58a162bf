"""sRGB <-> CIE L*a*b* with ``keras.ops``: NHWC tensors, jit-compatible, NaN-free gradients.

Each branch of a piecewise function is evaluated on an input clamped into that branch's own
domain before ``where`` picks one (as kornia does): otherwise the branch not taken, e.g. the cube
root at 0, puts an inf into the gradient even though its value is discarded.
Results agree with the NumPy reference :mod:`bwcolor.color` (same constants).
"""

from __future__ import annotations

import keras
from keras import ops

from bwcolor.color import _constants as C

__all__ = ["ab_to_target", "l_to_input", "lab_to_rgb", "rgb_to_lab", "target_to_ab"]


def _matrix(m, dtype):
    return ops.convert_to_tensor(m.T.astype("float64"), dtype=dtype)


def _srgb_to_linear(c):
    high = ops.power(
        (ops.maximum(c, C.SRGB_LINEAR_THRESHOLD) + C.SRGB_OFFSET) / (1 + C.SRGB_OFFSET),
        C.SRGB_GAMMA,
    )
    return ops.where(c > C.SRGB_LINEAR_THRESHOLD, high, c / C.SRGB_LINEAR_SLOPE)


def _linear_to_srgb(c):
    high = (1 + C.SRGB_OFFSET) * ops.power(
        ops.maximum(c, C.SRGB_ENCODED_THRESHOLD), 1 / C.SRGB_GAMMA
    ) - C.SRGB_OFFSET
    return ops.where(c > C.SRGB_ENCODED_THRESHOLD, high, c * C.SRGB_LINEAR_SLOPE)


def _lab_f(t):
    high = ops.power(ops.maximum(t, C.LAB_EPSILON), 1.0 / 3.0)
    return ops.where(t > C.LAB_EPSILON, high, C.LAB_KAPPA_SLOPE * t + C.LAB_OFFSET)


def _lab_f_inv(f):
    high = ops.power(ops.maximum(f, C.LAB_F_THRESHOLD), 3.0)
    return ops.where(f > C.LAB_F_THRESHOLD, high, (f - C.LAB_OFFSET) / C.LAB_KAPPA_SLOPE)


def rgb_to_lab(rgb):
    """sRGB in [0, 1], shape (..., 3) -> L*a*b*, same shape; see :func:`bwcolor.color.rgb_to_lab`."""
    rgb = ops.convert_to_tensor(rgb)
    dtype = rgb.dtype if "float" in str(rgb.dtype) else keras.config.floatx()
    rgb = ops.cast(rgb, dtype)
    linear = _srgb_to_linear(rgb)
    white = ops.convert_to_tensor(C.WHITE_XYZ, dtype=dtype)
    xyz = ops.matmul(linear, _matrix(C.XYZ_FROM_RGB, dtype)) / white
    f = _lab_f(xyz)
    fx, fy, fz = f[..., 0], f[..., 1], f[..., 2]
    return ops.stack([116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)], axis=-1)


def lab_to_rgb(lab):
    """L*a*b*, shape (..., 3) -> sRGB clipped to [0, 1]; see :func:`bwcolor.color.lab_to_rgb`."""
    lab = ops.convert_to_tensor(lab)
    dtype = lab.dtype if "float" in str(lab.dtype) else keras.config.floatx()
    lab = ops.cast(lab, dtype)
    fy = (lab[..., 0] + 16.0) / 116.0
    fx = fy + lab[..., 1] / 500.0
    fz = fy - lab[..., 2] / 200.0
    white = ops.convert_to_tensor(C.WHITE_XYZ, dtype=dtype)
    xyz = _lab_f_inv(ops.stack([fx, fy, fz], axis=-1)) * white
    linear = ops.clip(ops.matmul(xyz, _matrix(C.RGB_FROM_XYZ, dtype)), 0.0, 1.0)
    return ops.clip(_linear_to_srgb(linear), 0.0, 1.0)


def l_to_input(lightness):
    """Scale L* in [0, 100] to [-1, 1] (same as :func:`bwcolor.color.l_to_input`)."""
    return (lightness - C.L_CENTER) / C.L_SCALE


def ab_to_target(ab):
    """Scale a*, b* by 1/128 (same as :func:`bwcolor.color.ab_to_target`)."""
    return ab / C.AB_SCALE


def target_to_ab(t):
    """Inverse of :func:`ab_to_target`."""
    return t * C.AB_SCALE
