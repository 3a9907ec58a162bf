"""Model output -> colors: a*b* (the annealed mean for classification heads), upsampled and
joined with the photo's own full-resolution L*, then uint8 sRGB with out-of-gamut colors pulled in
by chroma (never lightness). Options: averaging with the prediction of the mirrored photo
(``Postprocessor.ab(flipped=...)``), and upsampling a*b* by a guided filter on the photo's L*
(:func:`guided_upsample`) instead of bilinearly."""

from __future__ import annotations

import functools
import os
from concurrent.futures import ThreadPoolExecutor

import keras
import numpy as np
from PIL import Image

from bwcolor import color, losses
from bwcolor.color import ops as color_ops

__all__ = ["Postprocessor", "box_mean", "guided_upsample", "join", "spread_hints"]

#: Guided filter of a*b* on L* (He et al.): window radius in a*b* pixels, and eps in (L* units)^2:
#: L* edges of contrast well above sqrt(eps) keep a*b* edges aligned with them.
GUIDED_RADIUS = 2
GUIDED_EPS = 25.0

#: :func:`spread_hints`: how far a hint's color reaches (a Gaussian in cells, this fraction of
#: the grid's longer side), how different an L* it still reaches (a Gaussian in L* units), and
#: the weight the model's own color keeps against a hint. Measured on the validation split with
#: scripts/hint_curve.py's protocol (docs/model_card.md): a reach of 0.2 scored best there, but
#: carried one click on a lawn onto pavement and buildings 400 px away in the 1961 sample photo;
#: 0.1 keeps it on its region and still takes 10 hints from 10.74 to 6.54 CIEDE2000.
SPREAD_DISTANCE = 0.1
SPREAD_LIGHTNESS = 8.0
SPREAD_PRIOR = 0.05

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

    def ab(self, output, annealing_temperature=losses.DEFAULT_TEMPERATURE, flipped=None):
        """Model output (B, h, w, K or 2) -> a*b* (B, h, w, 2) in Lab units, float32.

        ``flipped``: the output for the horizontally mirrored inputs; it is mirrored back and
        averaged with ``output`` before decoding. For classification heads the bin probabilities
        are averaged (a mixture of the two distributions), then annealed: averaging the decoded
        a*b* instead would average two annealed means, each already pulled towards its own mode.
        """
        output = keras.ops.convert_to_numpy(output).astype(np.float32)
        if flipped is not None:
            flipped = keras.ops.convert_to_numpy(flipped).astype(np.float32)[:, :, ::-1]
            if self.head == "classification":  # log of the mean probability: logits again
                output = np.log(0.5 * (_softmax(output) + _softmax(flipped)) + 1e-12)
            else:
                output = 0.5 * (output + flipped)
        ab = keras.ops.convert_to_numpy(self.decode(output, annealing_temperature))
        return ab.astype(np.float32)

    def decode(self, output, annealing_temperature=losses.DEFAULT_TEMPERATURE):
        """Model output (..., K or 2) -> a*b* (..., 2) in Lab units, in ``keras.ops`` (a tensor,
        or a symbolic one in a functional model, as :mod:`bwcolor.export` builds): the annealed
        mean of a classification head's bins, or a regression head's scaling."""
        if self.head == "classification":
            return losses.annealed_mean(output, self.bins, annealing_temperature)
        return color_ops.target_to_ab(keras.ops.cast(output, "float32"))

    def join(self, lightness, ab_small, refine_chroma=False, hints=None, spread=True):
        """The photo's L* (H, W) and its predicted a*b* (h, w, 2) -> uint8 sRGB (H, W, 3);
        ``hints`` (checked :class:`~bwcolor.hints.Hint` s) color their squares and, when
        ``spread``, beyond them (:func:`spread_hints`)."""
        if hints:
            ab_small = spread_hints(lightness, ab_small, hints, spread=spread)
        return join(lightness, ab_small, refine_chroma)


def _softmax(logits):
    e = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _resize(channels, height, width):
    """Each (h, w) float32 channel of ``channels`` (h, w, C) resized bilinearly to (H, W, C)."""
    return np.stack([np.asarray(Image.fromarray(np.ascontiguousarray(channels[..., c], np.float32),
                                                mode="F").resize((width, height), Image.BILINEAR))
                     for c in range(channels.shape[-1])], axis=-1)


def box_mean(x, radius):
    """Mean of ``x`` (h, w, ...) over (2 radius + 1)^2 windows, by cumulative sums (O(1) per
    pixel); windows are clipped at the borders (each pixel averages only what is inside)."""
    x = np.asarray(x, np.float64)
    h, w = x.shape[:2]

    def along(a, axis, n):
        c = np.cumsum(a, axis=axis)
        c = np.concatenate([np.zeros_like(np.take(c, [0], axis=axis)), c], axis=axis)
        hi = np.minimum(np.arange(n) + radius + 1, n)
        lo = np.maximum(np.arange(n) - radius, 0)
        return np.take(c, hi, axis=axis) - np.take(c, lo, axis=axis)

    ones = np.ones((h, w) + (1,) * (x.ndim - 2))
    return along(along(x, 0, h), 1, w) / along(along(ones, 0, h), 1, w)


def guided_upsample(lightness, ab_small, radius=GUIDED_RADIUS, eps=GUIDED_EPS):
    """a*b* (h, w, 2) upsampled to the photo's (H, W) by a guided filter on its L* (H, W).

    He, Sun and Tang's guided filter (ECCV 2010), in its fast form (He and Sun 2015): at the
    a*b* resolution, each window fits a*b* as a linear function ``A L* + B`` of the L* there
    (``A = cov(L*, ab) / (var(L*) + eps)``); the window-averaged ``A`` and ``B`` are upsampled
    bilinearly and applied to the full-resolution L*. Where L* is flat a*b* is smoothed (no
    blotches); across an L* edge a*b* may step with it (less color bleeding). A constant a*b*
    stays constant. Returns float32 (H, W, 2).
    """
    h, w = ab_small.shape[:2]
    H, W = lightness.shape
    guide = _resize(np.asarray(lightness, np.float32)[..., None], h, w)[..., 0].astype(np.float64)
    ab = np.asarray(ab_small, np.float64)
    mean_l, mean_ab = box_mean(guide, radius), box_mean(ab, radius)
    cov = box_mean(guide[..., None] * ab, radius) - mean_l[..., None] * mean_ab
    var = box_mean(guide * guide, radius) - mean_l * mean_l
    a = cov / (np.maximum(var, 0.0)[..., None] + eps)
    b = mean_ab - a * mean_l[..., None]
    coef = _resize(np.concatenate([box_mean(a, radius), box_mean(b, radius)], axis=-1)
                   .astype(np.float32), H, W)
    return coef[..., :2] * lightness[..., None] + coef[..., 2:]


def join(lightness, ab_small, refine_chroma=False):
    """Upsample ab to the photo's size (bilinearly, or by :func:`guided_upsample` when
    ``refine_chroma``) and join it with the photo's own L; return uint8 sRGB."""
    h, w = lightness.shape
    ab = (guided_upsample(lightness, ab_small) if refine_chroma
          else _resize(np.asarray(ab_small, np.float32), h, w))
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


def spread_hints(lightness, ab_small, hints, *, spread=True, distance=SPREAD_DISTANCE,
                 lightness_sigma=SPREAD_LIGHTNESS, prior=SPREAD_PRIOR):
    """Give each hint's square its color, and pull the predicted a*b* around it towards that
    color along similar L*.

    A hint covers the square of half-side ``hint.radius`` photo pixels around it (without a
    radius, the a*b* cell under it): there its weight is 1. Beyond the square (when
    ``spread``) the hint's residual (its a*b* minus the prediction under it) spreads over the
    a*b* grid with weights ``exp(-d^2 / 2 (distance * side)^2) * exp(-dL^2 / 2
    lightness_sigma^2)``, ``d`` the distance from the square's edge in cells and ``dL`` the L*
    difference from the hint's own cell: near the hint and at a similar lightness (the same
    object, as in Levin et al. 2004's affinity), so a larger radius carries the color further.
    Weights are normalized against ``prior``, the weight the prediction keeps: on a hint's
    square the color is the hint's (to within ``prior``), far from every hint it is the model's.

    Parameters
    ----------
    lightness : ndarray (H, W)
        The photo's L*, in [0, 100].
    ab_small : ndarray (h, w, 2)
        Predicted a*b* in Lab units on the model's output grid.
    hints : list of Hint
        Checked hints (:func:`bwcolor.hints.parse_hints`), in the photo's pixels.
    spread : bool
        False: each hint colors its own square only, and nothing beyond it.

    Returns
    -------
    ndarray (h, w, 2) float32
    """
    h, w = ab_small.shape[:2]
    H, W = lightness.shape
    grid_l = _resize(np.asarray(lightness, np.float32)[..., None], h, w)[..., 0]
    rows, cols = np.mgrid[0:h, 0:w].astype(np.float32)
    side = distance * max(h, w)
    total_weight = np.full((h, w), prior, np.float32)
    pulled = np.zeros((h, w, 2), np.float32)
    for hint in hints:
        cy, cx = hint.cell(lightness.shape, (h, w))
        radius = hint.radius or 0.0
        # Distance in cells from the hint's square (0 on it); min() keeps a huge radius finite.
        dy = np.maximum(0.0, np.abs(rows - cy) - min(radius * h / H, h))
        dx = np.maximum(0.0, np.abs(cols - cx) - min(radius * w / W, w))
        on_square = (dy == 0) & (dx == 0)
        if spread:
            weight = np.exp(-(dy ** 2 + dx ** 2) / (2 * side ** 2)
                            - (grid_l - grid_l[cy, cx]) ** 2 / (2 * lightness_sigma ** 2))
            weight = np.where(on_square, 1.0, weight).astype(np.float32)
        else:
            weight = on_square.astype(np.float32)
        residual = hint.ab - ab_small[cy, cx]
        total_weight += weight
        pulled += weight[..., None] * residual
    return (ab_small + pulled / total_weight[..., None]).astype(np.float32)
