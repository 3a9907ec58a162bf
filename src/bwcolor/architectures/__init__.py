"""Architectures: functional ``keras.Model`` s from L ``(H, W, 1)`` to ab or ab-bin logits.

>>> from bwcolor import architectures
>>> architectures.available()
['default', 'pretrained_unet', 'unet', 'wallner_alpha', 'wallner_beta', 'wallner_full']
>>> model = architectures.get("default", head="regression", widths=(8, 8), blocks=(1, 1))
>>> architectures.output_stride(model)
4
>>> architectures.recommended_loss("wallner_alpha")
'mse'
"""

from __future__ import annotations

import math

import keras
import numpy as np

from bwcolor.architectures.default import default
from bwcolor.architectures.layers import (
    ChannelSlice,
    GatedHintCorrection,
    GrayToRGB,
    MixtureMean,
    TileToGrid,
)
from bwcolor.architectures.pretrained_unet import pretrained_unet
from bwcolor.architectures.unet import unet
from bwcolor.architectures.wallner import wallner_alpha, wallner_beta, wallner_full
from bwcolor.hints import HINT_CHANNELS

__all__ = [
    "ChannelSlice",
    "GatedHintCorrection",
    "GrayToRGB",
    "MixtureMean",
    "TileToGrid",
    "accepts_hints",
    "automatic_part",
    "available",
    "defaults",
    "flops",
    "get",
    "input_channels",
    "input_multiple",
    "output_stride",
    "receptive_field",
    "recommended_loss",
    "transfer_weights",
]

# Each architecture with its defaults, so a new one is registered in one place (as timm and
# keras-hub do). "loss": what Colorizer(loss="auto") trains it with: mse for the tutorial nets,
# which the tutorial trained as tanh regressors, the classification head for the others.
# "supports_hints": whether it can be built to take user color hints (``hints=True``).
_REGISTRY = {
    "default": (default, {"loss": "classification", "supports_hints": True}),
    "pretrained_unet": (pretrained_unet, {"loss": "classification", "supports_hints": True}),
    "unet": (unet, {"loss": "classification", "supports_hints": False}),
    "wallner_alpha": (wallner_alpha, {"loss": "mse", "supports_hints": False}),
    "wallner_beta": (wallner_beta, {"loss": "mse", "supports_hints": False}),
    "wallner_full": (wallner_full, {"loss": "mse", "supports_hints": False}),
}


def available():
    """Names accepted by :func:`get`, sorted."""
    return sorted(_REGISTRY)


def _entry(name):
    if name not in _REGISTRY:
        raise ValueError(f"unknown architecture. Received: name={name!r}; available: {available()}")
    return _REGISTRY[name]


def defaults(name):
    """Per-architecture defaults of architecture ``name``, as a new dict.

    Parameters
    ----------
    name : str
        One of :func:`available`.

    Returns
    -------
    dict
        ``"loss"`` (str): the loss it trains best with, see :func:`recommended_loss`;
        ``"supports_hints"`` (bool): whether it can be built with ``hints=True`` to take user
        color hints (:mod:`bwcolor.hints`).

    Raises
    ------
    ValueError
        For an unknown name, naming it and the available ones.
    """
    return dict(_entry(name)[1])


def recommended_loss(name):
    """The loss ``Colorizer(architecture=name, loss="auto")`` trains with.

    Parameters
    ----------
    name : str
        One of :func:`available`.

    Returns
    -------
    str
        A name :func:`bwcolor.losses.head_for` accepts: ``"mse"`` or ``"classification"``.

    Raises
    ------
    ValueError
        For an unknown name, naming it and the available ones.
    """
    return _entry(name)[1]["loss"]


def get(name, **config):
    """Build architecture ``name`` with keyword ``config`` (``head``, ``num_bins``, widths...).

    Raises
    ------
    ValueError
        For an unknown name or an unknown config key, naming both.
    """
    builder = _entry(name)[0]
    import inspect

    accepted = set(inspect.signature(builder).parameters) - {"name"}
    unknown = set(config) - accepted
    if unknown:
        raise ValueError(f"unknown config for architecture {name!r}. Received: {sorted(unknown)}; "
                         f"accepted: {sorted(accepted)}")
    return builder(**config)


def _conv_like(layer):
    return isinstance(layer, (keras.layers.Conv2D, keras.layers.Conv2DTranspose,
                              keras.layers.DepthwiseConv2D))


def input_channels(model):
    """Channels of the model's input: 1 (L*), or 4 for a net built with ``hints=True``."""
    return int(model.inputs[0].shape[-1])


def accepts_hints(model):
    """Whether ``model`` reads user color hints beside L* (see :mod:`bwcolor.hints`)."""
    return input_channels(model) == 1 + HINT_CHANNELS


def automatic_part(model):
    """A hint net's automatic part: the same input, the output before the gated hint correction
    (what the net outputs for an image without hints, without computing the hint branch).
    A net without a hint branch is returned as is."""
    try:
        gate = model.get_layer("hint_gate")
    except ValueError:
        return model
    return keras.Model(model.input, gate.input[0], name=f"{model.name}_automatic")


def _probe(model, height, width):
    return keras.KerasTensor((1, height, width, input_channels(model)))


def _spatial_stride(model, probe=64):
    shape = model.compute_output_spec(_probe(model, probe, probe)).shape
    return probe / shape[1]


def output_stride(model):
    """Input size over output size: 1 for full-resolution heads, 4 for ``default``."""
    return round(_spatial_stride(model, probe=64 * input_multiple(model)))


def input_multiple(model):
    """The smallest power of two that input H and W must be divisible by.

    Found by shape inference (no compute): the first m for which inputs of 3m and 5m pixels give
    outputs of exactly that size over the output stride. Branches that end in global pooling
    accept any size and so do not count.
    """
    for m in (1, 2, 4, 8, 16, 32, 64, 128):
        try:
            sizes = [model.compute_output_spec(_probe(model, 3 * m, 5 * m)).shape[1:3]]
        except Exception:  # mismatched skip shapes: m is too small
            continue
        stride = (3 * m) / sizes[0][0]
        if stride == int(stride) and sizes[0][1] * stride == 5 * m:
            return m
    raise ValueError(f"could not find the input size multiple of model {model.name!r}")


def flops(model, image_size=256):
    """Forward multiply-adds x 2 of the convolution/dense layers for one image_size^2 image.

    Training costs about 3x this (forward + two backward products). Nested models (a
    pretrained backbone, a decoder) are counted at the sizes their inputs have in ``model``.
    """
    return _flops(model, [_probe(model, image_size, image_size)])


def _flops(model, input_specs):
    counted = [layer for layer in model.layers
               if _conv_like(layer) or isinstance(layer, keras.layers.Dense)]
    nested = [layer for layer in model.layers if isinstance(layer, keras.Model)]
    # The tensors that feed each nested model in this graph (its first call's inputs).
    feeds = [list(m._inbound_nodes[0].input_tensors) for m in nested]
    watched = [t for f in feeds for t in f] + [layer.output for layer in counted]
    if not watched:
        return 0
    probe = keras.Model(model.inputs, watched)
    specs = probe.compute_output_spec(input_specs if len(input_specs) > 1 else input_specs[0])
    specs = list(specs) if isinstance(specs, (list, tuple)) else [specs]
    total = 0
    for m, f in zip(nested, feeds):
        total += _flops(m, [keras.KerasTensor((1, *s.shape[1:])) for s in specs[:len(f)]])
        specs = specs[len(f):]
    for layer, spec in zip(counted, specs):
        out_elems = math.prod(spec.shape[1:])
        if isinstance(layer, keras.layers.Dense):
            total += 2 * out_elems * layer.kernel.shape[0]
        elif isinstance(layer, keras.layers.DepthwiseConv2D):
            total += 2 * out_elems * math.prod(layer.kernel_size)
        else:  # Conv2D and Conv2DTranspose: every output sums k*k*Cin products
            cin = layer.kernel.shape[2] if isinstance(layer, keras.layers.Conv2D) else layer.kernel.shape[3]
            k = math.prod(layer.kernel_size)
            if isinstance(layer, keras.layers.Conv2DTranspose):
                k = k / math.prod(layer.strides)
            total += 2 * out_elems * k * cin
    return int(total)


def receptive_field(model):
    """Receptive field, in input pixels, of one output pixel (``math.inf`` with global pooling).

    Computed analytically along the functional graph: a k x k conv with dilation d adds
    (k - 1) * d * jump, where jump is the input-pixel distance between neighbouring features;
    merges take the largest field of their inputs.
    """
    fields = _walk(model)
    return max(fields[id(t)][0] for t in model.outputs)


def _walk(model):
    """(receptive field, jump) of every tensor of a functional model, keyed by id."""
    fields = {}
    for tensor in model.inputs:
        fields[id(tensor)] = (1.0, 1.0)
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        ins = layer.input if isinstance(layer.input, (list, tuple)) else [layer.input]
        known = [fields.get(id(t), (1.0, 1.0)) for t in ins]
        rf = max(f for f, _ in known)
        jump = min(j for _, j in known)
        if isinstance(layer, (keras.Model, keras.layers.GlobalAveragePooling2D, keras.layers.GlobalMaxPooling2D, keras.layers.Flatten, keras.layers.Resizing)):
            rf = math.inf
        elif isinstance(layer, keras.layers.Conv2DTranspose):
            jump /= layer.strides[0]
            rf += (layer.kernel_size[0] - 1) * jump
        elif isinstance(layer, (keras.layers.Conv2D, keras.layers.DepthwiseConv2D)):
            rf += (layer.kernel_size[0] - 1) * layer.dilation_rate[0] * jump
            jump *= layer.strides[0]
        elif isinstance(layer, (keras.layers.MaxPooling2D, keras.layers.AveragePooling2D)):
            rf += (layer.pool_size[0] - 1) * jump
            jump *= layer.strides[0]
        elif isinstance(layer, keras.layers.UpSampling2D):
            jump /= layer.size[0]
        fields[id(layer.output)] = (rf, jump)
    return fields


def transfer_weights(source, target, prefix=""):
    """Copy ``source``'s weights into ``target``, layer by layer (matched by name); return the
    names of the target's layers copied.

    ``prefix``: source layer ``X`` fills target layer ``prefix + X``: how a net trained on its
    own becomes member k (``prefix="member{k}_"``) of a ``default(members=...)`` ensemble.

    A kernel whose input-channel axis grew (the first convolution of a net rebuilt with
    ``hints=True``) gets the source's kernel in its first channels and zeros in the new ones, so
    the target computes exactly what the source did until it is trained: fine-tuning an
    automatic model into a hint model starts from its automatic colors.

    Raises
    ------
    ValueError
        When a layer of both has weights of other shapes, naming the layer and both shapes.
    """
    by_name = {prefix + layer.name: layer for layer in source.layers if layer.weights}
    copied = []
    for layer in target.layers:
        donor = by_name.get(layer.name)
        if donor is None or not layer.weights:
            continue
        values = []
        for old, new in zip(donor.get_weights(), layer.get_weights()):
            grown = (old.ndim == 4 and new.ndim == 4 and old.shape[:2] == new.shape[:2]
                     and old.shape[3] == new.shape[3] and old.shape[2] < new.shape[2])
            if grown:
                padded = np.zeros_like(new)
                padded[:, :, :old.shape[2]] = old
                old = padded
            if old.shape != new.shape:
                raise ValueError(f"layer {layer.name!r} has weights of shape {new.shape} in the "
                                 f"target and {old.shape} in the source")
            values.append(old)
        layer.set_weights(values)
        copied.append(layer.name)
    return copied
