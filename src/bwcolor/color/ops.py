"""sRGB <-> CIE L*a*b* with ``keras.ops``: NHWC tensors, jit-compatible, NaN-free gradients.

The piecewise curves are the ones of :mod:`bwcolor.color.transfer`, run with ``xp=keras.ops``;
their branches are clamped so the branch not taken cannot put an inf into the gradient.
Results agree with the NumPy reference :mod:`bwcolor.color` (same functions, same constants).
"""

from __future__ import annotations

import keras
from keras import ops

from bwcolor.color import _constants as C
from bwcolor.color.transfer import (
    lab_f,
    lab_f_inv,
    lightness_to_luminance,
    linear_to_srgb,
    srgb_to_linear,
)

__all__ = [
    "ab_to_target",
    "input_to_lightness",
    "lab_to_rgb",
    "lightness_to_gray",
    "lightness_to_input",
    "rgb_to_lab",
    "target_to_ab",
]


def _matrix(m, dtype):
    return ops.convert_to_tensor(m.T.astype("float64"), dtype=dtype)


def _float_tensor(x):
    x = ops.convert_to_tensor(x)
    dtype = x.dtype if "float" in str(x.dtype) else keras.config.floatx()
    return ops.cast(x, dtype), dtype


def rgb_to_lab(rgb):
    """sRGB in [0, 1], shape (..., 3) -> L*a*b*, same shape; see :func:`bwcolor.color.rgb_to_lab`."""
    rgb, dtype = _float_tensor(rgb)
    linear = srgb_to_linear(rgb, ops)
    white = ops.convert_to_tensor(C.WHITE_XYZ, dtype=dtype)
    xyz = ops.matmul(linear, _matrix(C.XYZ_FROM_RGB, dtype)) / white
    f = lab_f(xyz, ops)
    fx, fy, fz = f[..., 0], f[..., 1], f[..., 2]
    return ops.stack([116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)], axis=-1)


def lab_to_rgb(lab):
    """L*a*b*, shape (..., 3) -> sRGB clipped to [0, 1]; see :func:`bwcolor.color.lab_to_rgb`."""
    lab, dtype = _float_tensor(lab)
    fy = (lab[..., 0] + 16.0) / 116.0
    fx = fy + lab[..., 1] / 500.0
    fz = fy - lab[..., 2] / 200.0
    white = ops.convert_to_tensor(C.WHITE_XYZ, dtype=dtype)
    xyz = lab_f_inv(ops.stack([fx, fy, fz], axis=-1), ops) * white
    linear = ops.clip(ops.matmul(xyz, _matrix(C.RGB_FROM_XYZ, dtype)), 0.0, 1.0)
    return ops.clip(linear_to_srgb(linear, ops), 0.0, 1.0)


def lightness_to_gray(lightness):
    """The gray sRGB value whose R = G = B pixel has lightness L*.

    The inverse of :func:`bwcolor.color.gray_to_lightness`; :class:`bwcolor.architectures.GrayToRGB`
    uses it to hand a pretrained backbone the gray photo rather than L* / 100, which is not a
    pixel value.

    Parameters
    ----------
    lightness : tensor of float, any shape, in [0, 100]

    Returns
    -------
    gray : tensor, same shape and dtype, in [0, 1]
    """
    y = ops.clip(lightness_to_luminance(lightness, ops), 0.0, 1.0)
    return linear_to_srgb(y, ops)


def lightness_to_input(lightness):
    """Scale L* in [0, 100] to [-1, 1] (same as :func:`bwcolor.color.lightness_to_input`)."""
    return (lightness - C.L_CENTER) / C.L_SCALE


def input_to_lightness(x):
    """Model input in [-1, 1] -> L* in [0, 100] (same as :func:`bwcolor.color.input_to_lightness`)."""
    return x * C.L_SCALE + C.L_CENTER


def ab_to_target(ab):
    """Scale a*, b* by 1/128 (same as :func:`bwcolor.color.ab_to_target`)."""
    return ab / C.AB_SCALE


def target_to_ab(t):
    """Inverse of :func:`ab_to_target` (same as :func:`bwcolor.color.target_to_ab`)."""
    return t * C.AB_SCALE


# The name before "lightness" became the one word for L*: kept so user code does not break.
l_to_input = lightness_to_input
