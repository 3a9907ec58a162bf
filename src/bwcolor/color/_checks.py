"""Argument checks shared by the NumPy color functions; each error names what it received."""

from __future__ import annotations

import numpy as np


def as_float(x, name):
    """``x`` as a float32 or float64 ndarray; other floats become float32, integers are refused."""
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


def as_uint8(x, name):
    """``x`` as a uint8 ndarray; any other dtype is refused."""
    x = np.asarray(x)
    if x.dtype != np.uint8:
        raise TypeError(f"{name} must be uint8. Received: dtype={x.dtype}")
    return x


def check_channels(x, name):
    """Refuse arrays whose last axis is not 3 channels."""
    if x.ndim < 1 or x.shape[-1] != 3:
        raise ValueError(f"{name} must have 3 channels in the last axis. Received: shape={x.shape}")
