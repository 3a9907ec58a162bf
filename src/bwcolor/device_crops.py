"""Training crops cut and resized on the accelerator, so the host data pipeline only slices arrays.

On a GPU the host pipeline, not the GPU, limited training (one H100 sat idle 85% of the time
while 14 CPU threads resized crops and converted colors). With ``crop_on_device=True`` a
:class:`bwcolor.data.ColorizationDataset` sends each photo's window as raw uint8 pixels plus the
crop box; :class:`DeviceCropModel` resizes the windows with the same bilinear filter as Pillow
(as two small matrix products per image), flips, computes the L* input and the a*b* targets, all
inside the compiled train step.
"""

from __future__ import annotations

import keras
from keras import ops

from bwcolor.color import ops as color_ops

# The box layout has one home, beside the host code that fills it; re-exported here for users.
from bwcolor.data.crops import BOX_FIELDS

__all__ = ["BOX_FIELDS", "DeviceCropModel", "crop_windows", "resize_weights"]


def resize_weights(start, end, valid, in_size, out_size):
    """Bilinear resampling weights from ``[start, end)`` of an axis to ``out_size`` samples.

    Pillow's filter (``Image.resize(..., BILINEAR, box=...)``): the triangle kernel is widened
    by the downscaling factor (antialiasing), pixel centers sit at ``i + 0.5``, and only the
    first ``valid`` input pixels (the rest is padding) get weight.

    Parameters
    ----------
    start, end, valid : tensors, shape (B,)
        Crop edges and valid length, in input pixels.
    in_size, out_size : int

    Returns
    -------
    weights : tensor, shape (B, out_size, in_size), float32; rows sum to 1.
    """
    start, end, valid = (ops.cast(ops.reshape(v, (-1, 1, 1)), "float32") for v in (start, end, valid))
    scale = (end - start) / out_size
    support = ops.maximum(scale, 1.0)
    centers = start + (ops.cast(ops.reshape(ops.arange(out_size), (1, -1, 1)), "float32") + 0.5) * scale
    source = ops.cast(ops.reshape(ops.arange(in_size), (1, 1, -1)), "float32")
    w = ops.relu(1.0 - ops.abs(source + 0.5 - centers) / support)
    w = ops.where(source < valid, w, 0.0)
    return w / ops.maximum(ops.sum(w, axis=-1, keepdims=True), 1e-12)


def crop_windows(windows, boxes, size):
    """Cut, resize and flip crops out of padded windows: ``(B, P, P, 3)`` -> ``(B, S, S, 3)``.

    Parameters
    ----------
    windows : tensor, shape (B, P, Q, 3)
        uint8 (or float) sRGB in [0, 255], each padded to a common shape.
    boxes : tensor, shape (B, 7)
        As :data:`BOX_FIELDS`.
    size : int
        S, the side of the output crops.

    Returns
    -------
    crops : tensor, shape (B, S, S, 3), float32 in [0, 255] (not rounded).
    """
    boxes = ops.cast(boxes, "float32")
    height, width = windows.shape[1], windows.shape[2]
    rows = resize_weights(boxes[:, 1], boxes[:, 3], boxes[:, 5], height, size)  # (B, S, P)
    cols = resize_weights(boxes[:, 0], boxes[:, 2], boxes[:, 4], width, size)  # (B, S, Q)
    flip = ops.reshape(boxes[:, 6] > 0.5, (-1, 1, 1))
    cols = ops.where(flip, ops.flip(cols, axis=1), cols)
    pixels = ops.cast(windows, "float32")
    tall = ops.einsum("bsp,bpqc->bsqc", rows, pixels)
    return ops.einsum("btq,bsqc->bstc", cols, tall)


@keras.saving.register_keras_serializable(package="bwcolor")
class DeviceCropModel(keras.Model):
    """Train a colorization model on ``((windows, boxes),)`` batches, crops made on the device.

    ``call`` crops the windows (:func:`crop_windows`), converts them to the model's scaled L*
    input and runs ``model``; ``compute_loss`` hands the same crops (float sRGB in [0, 255]) to the
    compiled loss as targets, so compile it with a loss wrapped in
    :class:`bwcolor.losses.RGBTargets`. The wrapped model's weights are the only weights.

    Parameters
    ----------
    model : keras.Model
        L input (H, W, 1) -> ab or ab-bin logits.
    image_size : int
        S, the training crop size.
    """

    def __init__(self, model, image_size, **kwargs):
        kwargs.setdefault("dtype", "float32")  # crop boxes must not be autocast to bfloat16
        super().__init__(**kwargs)
        self.model = model
        self.image_size = int(image_size)

    def build(self, input_shape=None):
        self.built = True  # the wrapped model is built already; this one has no weights of its own

    def crops(self, inputs):
        windows, boxes = inputs
        return crop_windows(windows, boxes, self.image_size)

    def call(self, inputs, training=False):
        rgb = self.crops(inputs)
        lightness = color_ops.rgb_to_lab(rgb / 255.0)[..., :1]
        return self.model(color_ops.lightness_to_input(lightness), training=training)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        # Recomputed rather than carried out of call(): a 256 px crop is ~0.4 GFLOP, about 1% of
        # a wallner_beta train step, and under jit XLA may merge the two identical computations.
        return super().compute_loss(x=x, y=self.crops(x), y_pred=y_pred,
                                    sample_weight=sample_weight, training=training)

    def get_config(self):
        return {**super().get_config(), "model": keras.saving.serialize_keras_object(self.model),
                "image_size": self.image_size}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        model = keras.saving.deserialize_keras_object(config.pop("model"))
        return cls(model, **config)
