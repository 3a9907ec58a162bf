"""Custom layers shared by the architectures; each stores its constructor args in get_config."""

from __future__ import annotations

import keras
from keras import layers, ops

from bwcolor.color import ops as color_ops

__all__ = ["ChannelSlice", "GatedHintCorrection", "GrayToRGB", "MixtureMean", "TileToGrid",
           "output_head"]


@keras.saving.register_keras_serializable(package="bwcolor")
class TileToGrid(layers.Layer):
    """Tile a global feature vector ``(B, C)`` over the spatial grid of a reference map ``(B, H, W, *)``.

    Deep Koalarization's fusion step, written so any H, W works (fully convolutional).
    """

    def call(self, inputs):
        vector, grid = inputs
        h, w = ops.shape(grid)[1], ops.shape(grid)[2]
        tiled = ops.expand_dims(ops.expand_dims(vector, 1), 1)
        return ops.broadcast_to(tiled, (ops.shape(vector)[0], h, w, ops.shape(vector)[-1]))

    def compute_output_shape(self, input_shapes):
        vector, grid = input_shapes
        return (vector[0], grid[1], grid[2], vector[-1])


@keras.saving.register_keras_serializable(package="bwcolor")
class GrayToRGB(layers.Layer):
    """Model input (L scaled to [-1, 1]) -> the gray sRGB image a pretrained backbone expects.

    L* is turned back into the gray sRGB value with the same lightness (not L/100, which is not
    a pixel value), repeated to 3 channels, then mapped linearly to ``value_range``: (-1, 1) for
    InceptionResNetV2/MobileNet-style preprocessing, (0, 255) for others. (The original tutorial
    passed [0, 1] pixels to a [-1, 1] preprocessor; this layer exists so we do not.)
    """

    def __init__(self, value_range=(-1.0, 1.0), **kwargs):
        super().__init__(**kwargs)
        self.value_range = tuple(float(v) for v in value_range)

    def call(self, x):
        gray = color_ops.lightness_to_gray(color_ops.input_to_lightness(x))
        lo, hi = self.value_range
        return ops.repeat(lo + (hi - lo) * gray, 3, axis=-1)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], 3)

    def get_config(self):
        return {**super().get_config(), "value_range": list(self.value_range)}


@keras.saving.register_keras_serializable(package="bwcolor")
class ChannelSlice(layers.Layer):
    """Channels ``[start, stop)`` of a (B, H, W, C) input: the L* or the hint part of a hint
    net's input."""

    def __init__(self, start, stop, **kwargs):
        super().__init__(**kwargs)
        self.start, self.stop = int(start), int(stop)

    def call(self, x):
        return x[..., self.start:self.stop]

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.stop - self.start)

    def get_config(self):
        return {**super().get_config(), "start": self.start, "stop": self.stop}


@keras.saving.register_keras_serializable(package="bwcolor")
class GatedHintCorrection(layers.Layer):
    """``automatic + correction`` where an image has any hint, ``automatic`` where it has none.

    Inputs ``[automatic, correction, mask]``: the automatic output (B, h, w, C), the hint
    branch's correction (same shape), and the hint mask (B, H, W, 1). The gate is the mask's
    maximum over each image (``reach=None``), or over the output cells within ``reach`` cells
    of each cell (the correction then acts only near hints, and cannot recolor a whole image);
    with zero hints the output is exactly the automatic net's.
    """

    def __init__(self, reach=None, **kwargs):
        super().__init__(**kwargs)
        self.reach = None if reach is None else int(reach)

    def call(self, inputs):
        automatic, correction, mask = inputs
        if self.reach is None:
            gate = ops.max(mask, axis=(1, 2, 3), keepdims=True)
        else:
            stride = ops.shape(mask)[1] // ops.shape(correction)[1]
            cells = ops.max_pool(mask, stride, stride, padding="valid")
            gate = ops.max_pool(cells, 2 * self.reach + 1, 1, padding="same")
        return automatic + ops.cast(gate, correction.dtype) * correction

    def compute_output_shape(self, input_shapes):
        return input_shapes[0]

    def get_config(self):
        return {**super().get_config(), "reach": self.reach}


@keras.saving.register_keras_serializable(package="bwcolor")
class MixtureMean(layers.Layer):
    """The outputs of several nets combined into one, as a deep ensemble averages its members.

    For a ``"classification"`` head (ab-bin logits) the result is the log of the members' mean
    bin probability: the logits of their mixture distribution, computed as
    ``logsumexp_k(log_softmax(z_k)) - log K``, so that annealing and decoding treat it as one
    net's output. For a ``"regression"`` head it is the mean of the members' ab. Computed in
    float32.
    """

    def __init__(self, head="classification", **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        if head not in ("classification", "regression"):
            raise ValueError(f"head must be 'regression' or 'classification'. "
                             f"Received: head={head!r}")
        self.head = head

    def call(self, inputs):
        stacked = ops.stack([ops.cast(x, "float32") for x in inputs], axis=0)
        if self.head == "regression":
            return ops.mean(stacked, axis=0)
        log_probs = ops.log_softmax(stacked, axis=-1)
        return ops.logsumexp(log_probs, axis=0) - ops.log(float(len(inputs)))

    def compute_output_shape(self, input_shapes):
        return input_shapes[0]

    def get_config(self):
        return {**super().get_config(), "head": self.head}


def output_head(x, head, num_bins, name="head"):
    """The last layer: ab in [-1, 1] via tanh (regression) or ab-bin logits (classification).

    Kept in float32 under mixed precision: tanh saturation and softmax need the precision.
    """
    if head == "regression":
        return layers.Conv2D(2, 3, padding="same", activation="tanh", dtype="float32", name=name)(x)
    if head == "classification":
        return layers.Conv2D(num_bins, 1, dtype="float32", name=name)(x)
    raise ValueError(f"head must be 'regression' or 'classification'. Received: head={head!r}")
