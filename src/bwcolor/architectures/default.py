"""bwcolor's default architecture: spends its FLOPs where color is decided.

Chroma is low-frequency (the eye takes detail from luminance), so the net predicts ab at 1/4 of
the input resolution, like Zhang et al. 2016, and ``Colorizer`` upsamples it onto the photo's own
full-resolution L. A strided stem reaches 1/4 resolution in two cheap convolutions; a 4-level
encoder-decoder with skip connections works from 1/4 to 1/32; a global-context branch (pooled
vector tiled over the grid, as in Deep Koalarization) lets every pixel see the whole photo.
"""

from __future__ import annotations

import keras
from keras import layers

from bwcolor.architectures.layers import (
    ChannelSlice,
    GatedHintCorrection,
    MixtureMean,
    TileToGrid,
    output_head,
)
from bwcolor.hints import HINT_CHANNELS

#: The most members an ensemble may have: deep ensembles gain little past five, and a preset
#: config asking for thousands must not build them.
MAX_MEMBERS = 16


def _conv_bn(x, filters, strides=1, kernel=3, name=None, activation=True):
    x = layers.Conv2D(filters, kernel, strides=strides, padding="same", use_bias=False,
                      name=f"{name}_conv")(x)
    x = layers.BatchNormalization(name=f"{name}_bn")(x)
    return layers.Activation("relu", name=f"{name}_relu")(x) if activation else x


def _residual(x, filters, name):
    y = _conv_bn(x, filters, name=f"{name}_a")
    y = _conv_bn(y, filters, name=f"{name}_b", activation=False)
    return layers.Activation("relu", name=f"{name}_out")(layers.Add(name=f"{name}_add")([x, y]))


def default(head="classification", num_bins=313, widths=(32, 64, 96, 128), blocks=(1, 1, 2, 2),
            global_context=True, hints=False, hint_width=32, hint_reach=None,
            freeze_automatic=False, members=1, name="default"):
    """The default colorization net: L (H, W, 1) -> ab or ab-bin logits at (H/4, W/4).

    H and W must be divisible by 4 * 2**(len(widths) - 1) (32 with the default widths).

    Parameters
    ----------
    widths : sequence of int
        Channels at 1/4, 1/8, 1/16, ... resolution.
    blocks : sequence of int
        Residual blocks at each level, same length as ``widths``.
    global_context : bool
        Fuse a globally pooled feature vector at the bottleneck.
    hints : bool
        Take user color hints: the input is then (H, W, 4), L and the hint channels of
        :mod:`bwcolor.hints` (scaled a*, b*, mask), as Zhang et al. 2017. The automatic net
        above sees L only; a hint branch (dilated convolutions at 1/4 resolution, ``hint_width``
        channels) reads its last features and the hints pooled to 1/4 resolution, and adds a
        correction to its output only in images that have a hint
        (:class:`~bwcolor.architectures.layers.GatedHintCorrection`): with zero hints the output
        is exactly the automatic net's, so hints never cost automatic quality.
    hint_width : int
        Channels of the hint branch.
    hint_reach : int, optional
        The correction acts only within this many output cells (x 4 input pixels) of a hint;
        None: over every image that has a hint.
    freeze_automatic : bool
        Build the automatic net's layers untrainable (their batch norms in inference mode), so
        ``fit`` trains only the hint branch: how a hint model is made from a trained automatic
        one (:func:`~bwcolor.architectures.transfer_weights`) without changing its colors.
    members : int
        In [1, 16] (``MAX_MEMBERS``). The automatic net is this many copies of the net, side by
        side on the same L*, whose outputs are combined by
        :class:`~bwcolor.architectures.layers.MixtureMean` (their mean bin probability): a deep
        ensemble (Lakshminarayanan et al. 2017) of nets trained apart
        and joined with ``transfer_weights(..., prefix=...)``. Member 0's layers keep the single
        net's names, member k's are prefixed ``member{k}_``; the hint branch reads member 0's
        features.
    """
    widths, blocks = [int(w) for w in widths], [int(b) for b in blocks]
    if len(widths) != len(blocks) or len(widths) < 2:
        raise ValueError(f"widths and blocks need the same length, at least 2. "
                         f"Received: widths={widths}, blocks={blocks}")
    if isinstance(members, bool) or not isinstance(members, int) or not 1 <= members <= MAX_MEMBERS:
        raise ValueError(f"members must be an int in [1, {MAX_MEMBERS}]. "
                         f"Received: members={members!r}")
    inputs = keras.Input((None, None, 1 + HINT_CHANNELS if hints else 1),
                         name="L_and_hints" if hints else "L")
    lightness = ChannelSlice(0, 1, name="lightness")(inputs) if hints else inputs
    nets = [_automatic_net(lightness, widths, blocks, global_context, head, num_bins,
                           prefix=f"member{k}_" if k else "") for k in range(members)]
    features = nets[0][0]
    automatic = (nets[0][1] if members == 1
                 else MixtureMean(head, name="member_mean")([out for _, out in nets]))
    if not hints:
        return keras.Model(inputs, automatic, name=name)
    if freeze_automatic:
        for layer in keras.Model(inputs, automatic).layers:
            layer.trainable = False
    return keras.Model(inputs, _hint_branch(inputs, features, automatic, head, num_bins,
                                            hint_width, hint_reach), name=name)


def _automatic_net(x, widths, blocks, global_context, head, num_bins, prefix):
    """One automatic net on L*: (its last 1/4-resolution features, its output); every layer's
    name starts with ``prefix``."""
    x = _conv_bn(x, max(8, widths[0] // 2), strides=2, name=f"{prefix}stem0")
    x = _conv_bn(x, widths[0], strides=2, name=f"{prefix}stem1")
    skips = []
    for level, (filters, n) in enumerate(zip(widths, blocks)):
        if level:
            x = _conv_bn(x, filters, strides=2, name=f"{prefix}down{level}")
        for i in range(n):
            x = _residual(x, filters, name=f"{prefix}enc{level}_{i}")
        skips.append(x)
    if global_context:
        vector = layers.GlobalAveragePooling2D(name=f"{prefix}global_pool")(x)
        vector = layers.Dense(widths[-1], activation="relu", name=f"{prefix}global_dense")(vector)
        tiled = TileToGrid(name=f"{prefix}global_tile")([vector, x])
        x = layers.Concatenate(name=f"{prefix}global_concat")([x, tiled])
        x = _conv_bn(x, widths[-1], kernel=1, name=f"{prefix}global_fuse")
    for level in reversed(range(len(widths) - 1)):
        x = layers.UpSampling2D(2, interpolation="bilinear", name=f"{prefix}up{level}")(x)
        x = layers.Concatenate(name=f"{prefix}skip{level}")([x, skips[level]])
        x = _conv_bn(x, widths[level], name=f"{prefix}dec{level}")
    return x, output_head(x, head, num_bins, name=f"{prefix}head")


def _hint_branch(inputs, features, automatic, head, num_bins, width, reach):
    """The hint branch: (automatic net's 1/4-resolution features, hints pooled to 1/4) ->
    a correction of the automatic output, gated on by any hint. Dilations 1-8 give each cell a
    field of 31 cells (124 input pixels), so a click spreads over a region; the correction's
    last convolution starts at zero, so an untrained branch changes nothing."""
    hints = ChannelSlice(1, 1 + HINT_CHANNELS, name="hint_channels")(inputs)
    mask = ChannelSlice(HINT_CHANNELS, 1 + HINT_CHANNELS, name="hint_mask")(inputs)
    pooled = layers.AveragePooling2D(4, name="hint_pool")(hints)
    y = layers.Concatenate(name="hint_concat")([features, pooled])
    y = _conv_bn(y, width, kernel=1, name="hint_in")
    for d in (1, 2, 4, 8):
        z = layers.Conv2D(width, 3, padding="same", dilation_rate=d, use_bias=False,
                          name=f"hint_d{d}_conv")(y)
        z = layers.BatchNormalization(name=f"hint_d{d}_bn")(z)
        y = layers.Activation("relu", name=f"hint_d{d}_out")(layers.Add(name=f"hint_d{d}_add")([y, z]))
    outputs = 2 if head == "regression" else num_bins
    correction = layers.Conv2D(outputs, 1, kernel_initializer="zeros", dtype="float32",
                               name="hint_correction")(y)
    return GatedHintCorrection(reach, name="hint_gate")([automatic, correction, mask])
