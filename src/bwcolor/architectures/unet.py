"""A configurable U-Net (Ronneberger et al. 2015) from L to ab at full resolution."""

from __future__ import annotations

import keras
from keras import layers

from bwcolor.architectures.layers import output_head

NORMALIZATIONS = ("batch", "group", "none")


def _norm(x, normalization, name):
    if normalization == "batch":
        return layers.BatchNormalization(name=name)(x)
    if normalization == "group":
        groups = next(g for g in (8, 4, 2, 1) if x.shape[-1] % g == 0)
        return layers.GroupNormalization(groups, name=name)(x)
    return x


def _double_conv(x, filters, normalization, name):
    for i in range(2):
        x = layers.Conv2D(filters, 3, padding="same", use_bias=normalization == "none",
                          name=f"{name}_conv{i}")(x)
        x = _norm(x, normalization, f"{name}_norm{i}")
        x = layers.Activation("relu", name=f"{name}_relu{i}")(x)
    return x


def unet(head="regression", num_bins=313, widths=(32, 64, 128, 256), normalization="batch",
         name="unet"):
    """U-Net with ``len(widths) - 1`` poolings; input H, W must be divisible by 2**(depth-1).

    Parameters
    ----------
    widths : sequence of int
        Channels per level, from full resolution down to the bottleneck.
    normalization : {"batch", "group", "none"}
    """
    if normalization not in NORMALIZATIONS:
        raise ValueError(f"normalization must be one of {NORMALIZATIONS}. "
                         f"Received: normalization={normalization!r}")
    widths = [int(w) for w in widths]
    if len(widths) < 2:
        raise ValueError(f"widths needs at least 2 levels. Received: widths={widths}")
    inputs = keras.Input((None, None, 1), name="L")
    skips, x = [], inputs
    for level, filters in enumerate(widths[:-1]):
        x = _double_conv(x, filters, normalization, f"down{level}")
        skips.append(x)
        x = layers.MaxPooling2D(2, name=f"pool{level}")(x)
    x = _double_conv(x, widths[-1], normalization, "bottleneck")
    for level in reversed(range(len(widths) - 1)):
        x = layers.Conv2DTranspose(widths[level], 2, strides=2, name=f"up{level}")(x)
        x = layers.Concatenate(name=f"skip{level}")([x, skips[level]])
        x = _double_conv(x, widths[level], normalization, f"dec{level}")
    return keras.Model(inputs, output_head(x, head, num_bins), name=name)
