"""Model output -> colors: a*b* (the annealed mean for classification heads), upsampled and
joined with the photo's own full-resolution L*, then uint8 sRGB with out-of-gamut colors pulled in
by chroma (never lightness)."""

from __future__ import annotations

import functools
import os
from concurrent.futures import ThreadPoolExecutor

import keras
import numpy as np
from PIL import Image

from bwcolor import color, losses

__all__ = ["Postprocessor", "join"]

#: Large photos are converted in bands of about this many pixels, on a thread pool.
_JOIN_BAND_PIXELS = 1 << 19


class Postprocessor:
    """Model outputs -> a*b* -> uint8 sRGB at the photo's full resolution.

    Parameters
    ----------
    head : {"classification", "regression"}
        What the model outputs: logits over the ``bins`` of the a*b* plane, or scaled a*b*.
    bins : array (K, 2), optional
        The a*b* bin centers of a classification head.
    """

    def __init__(self, head, bins=None):
        self.head = head
        self.bins = bins

    def ab(self, output, annealing_temperature=losses.DEFAULT_TEMPERATURE):
        """Model output (B, h, w, K or 2) -> a*b* (B, h, w, 2) in Lab units, float32."""
        if self.head == "classification":
            ab = keras.ops.convert_to_numpy(losses.annealed_mean(output, self.bins,
                                                                 annealing_temperature))
        else:
            ab = color.target_to_ab(keras.ops.convert_to_numpy(output).astype(np.float32))
        return ab.astype(np.float32)

    def join(self, lightness, ab_small):
        """The photo's L* (H, W) and its predicted a*b* (h, w, 2) -> uint8 sRGB (H, W, 3)."""
        return join(lightness, ab_small)


def join(lightness, ab_small):
    """Upsample ab to the photo's size and join it with the photo's own L; return uint8 sRGB."""
    h, w = lightness.shape
    ab = np.stack([np.asarray(Image.fromarray(np.ascontiguousarray(ab_small[..., c]), mode="F")
                              .resize((w, h), Image.BILINEAR)) for c in range(2)], axis=-1)
    rgb = np.empty((h, w, 3), np.uint8)

    def convert(r0):
        lab = np.concatenate([lightness[r0:r0 + rows, :, None], ab[r0:r0 + rows]], axis=-1)
        fitted = color.lab_to_rgb(color.reduce_chroma_to_gamut(lab.astype(np.float32, copy=False)))
        rgb[r0:r0 + rows] = (fitted * 255.0 + 0.5).astype(np.uint8)

    # Bands of ~0.5 MP: NumPy releases the GIL inside them, so large photos use every core, and
    # the float temporaries stay ~100 MB instead of ~1 GB for 12 MP.
    rows = max(1, _JOIN_BAND_PIXELS // w)
    if h <= rows:
        convert(0)
    else:
        list(_join_pool().map(convert, range(0, h, rows)))
    return rgb


@functools.lru_cache(maxsize=1)
def _join_pool():
    return ThreadPoolExecutor(max(1, os.cpu_count() or 1), thread_name_prefix="bwcolor-join")
