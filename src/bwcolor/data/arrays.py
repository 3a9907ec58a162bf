"""Check images that users pass as NumPy arrays, and quantize float images to uint8."""

from __future__ import annotations

import numpy as np

__all__ = ["validate_image_array"]


def validate_image_array(arr, keep_uint8=False):
    """Check a user's image array and return it as float sRGB in [0, 1].

    Parameters
    ----------
    arr : ndarray
        Shape (H, W) gray, (H, W, 1) gray, (H, W, 3) RGB or (H, W, 4) RGBA (alpha is dropped),
        H, W >= 1. dtype uint8 (0-255), uint16 (0-65535), or float with every value in [0, 1].
    keep_uint8 : bool, optional
        Return uint8 arrays as they are, (H, W) gray or (H, W, 3), without converting them, so
        8-bit callers keep the fast lookup-table paths of :mod:`bwcolor.color`.

    Returns
    -------
    rgb : ndarray of float32, shape (H, W, 3), in [0, 1]
        Gray is repeated to 3 channels. With ``keep_uint8``, a uint8 input comes back as uint8
        of shape (H, W) or (H, W, 3).

    Raises
    ------
    TypeError
        For a dtype other than uint8, uint16 or float (bool included), naming the dtype.
    ValueError
        For another shape, an empty image, NaN or inf, or float values outside [0, 1], naming
        the shape or the values found.

    Examples
    --------
    >>> import numpy as np
    >>> from bwcolor.data import validate_image_array
    >>> validate_image_array(np.full((2, 2), 255, np.uint8)).shape
    (2, 2, 3)
    >>> validate_image_array(np.array([[2.0]]))
    Traceback (most recent call last):
    ...
    ValueError: float image values must be in [0, 1]. Received: min=2, max=2
    """
    arr = np.asarray(arr)
    if arr.dtype.kind not in "uif" or arr.dtype == np.bool_:
        raise TypeError(f"image array must be uint8/uint16 or float in [0, 1]. Received: dtype={arr.dtype}")
    if arr.ndim == 3 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if arr.ndim == 3 and arr.shape[-1] == 4:
        arr = arr[..., :3]
    if not (arr.ndim == 2 or (arr.ndim == 3 and arr.shape[-1] == 3)):
        raise ValueError(f"image array must be (H, W), (H, W, 1), (H, W, 3) or (H, W, 4). "
                         f"Received: shape={arr.shape}")
    if min(arr.shape[:2]) < 1:
        raise ValueError(f"image array has no pixels. Received: shape={arr.shape}")
    if arr.dtype.kind == "f":
        finite = np.isfinite(arr)
        if not np.all(finite):
            raise ValueError(f"image array contains NaN or inf. Received: "
                             f"{arr.size - np.count_nonzero(finite)} of {arr.size} values not finite")
        lo, hi = float(arr.min()), float(arr.max())
        if lo < 0 or hi > 1:
            raise ValueError(f"float image values must be in [0, 1]. Received: min={lo:g}, max={hi:g}")
        rgb = arr.astype(np.float32)
    elif arr.dtype == np.uint8:
        if keep_uint8:
            return arr
        rgb = arr.astype(np.float32) / 255.0
    elif arr.dtype == np.uint16:
        rgb = arr.astype(np.float32) / 65535.0
    else:
        raise TypeError(f"integer image arrays must be uint8 or uint16. Received: dtype={arr.dtype}")
    return np.repeat(rgb[..., None], 3, -1) if rgb.ndim == 2 else rgb


def to_uint8(rgb):
    """Float values in [0, 1] (clipped) -> uint8 0-255, rounded half up."""
    return (np.clip(rgb, 0, 1) * 255 + 0.5).astype(np.uint8)
