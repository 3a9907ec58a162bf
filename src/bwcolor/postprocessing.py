"""Model output -> colors: a*b* (the annealed mean for classification heads), upsampled and
joined with the photo's own full-resolution L*, then uint8 sRGB with out-of-gamut colors pulled in
by chroma (never lightness). a*b* is upsampled by a guided filter on the photo's L*
(:func:`guided_upsample`; bilinearly when ``refine_chroma=False``). Option: averaging with the
prediction of the mirrored photo (``Postprocessor.ab(flipped=...)``)."""

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

#: Guided filter of a*b* on L* (He et al.): window radius in a*b* cells, and eps in (L* units)^2:
#: L* edges of contrast well above sqrt(eps) keep a*b* edges aligned with them. Chosen on the
#: validation split with the bundled default (scripts/chroma_upsampling.py, issue #26): radius 1,
#: eps 4 took CIEDE2000 from 9.469 to 9.445 on the 192 px crops (lower on 32 of 47 photos) and from
#: 9.276 to 9.255 on the whole photos (long side 768; 38 of 47) at 0.4% less colorfulness; radius
#: 2 (and the plain filter) gained up to 0.04 more but lost 1.4% colorfulness and, without the
#: clamp, tinted textures (pebbles blue and yellow).
GUIDED_RADIUS = 1
GUIDED_EPS = 4.0

#: :func:`spread_hints`: how far a hint's color reaches (a Gaussian of the geodesic distance, this
#: fraction of the grid's longer side), what crossing an edge costs (that fraction per unit of
#: change in the cells' L* and L* contrast), how different an L* it still reaches (a Gaussian in
#: L* units), and the weight the model's own color keeps against a hint. Measured with
#: scripts/hint_curve.py's protocol on the validation split and the bundled sample photos, and
#: scripts/hint_spill.py on the README's photo (docs/experiments.md, "Hints that stay on their
#: object"): the straight-line reach of 0.1 let a click on the water turn the seawall's rail blue
#: (0.37 of the water's shift) and a click on the lawn the building behind the trees green (0.50);
#: with edges costing 0.03, a reach of 0.35 leaves the rail untouched (0.00) and the building
#: nearly (0.07), and takes the validation split from 9.25 to 8.43 CIEDE2000 with one hint, 6.34
#: to 5.66 with 10 (edges at 0.02 scored 8.24 / 5.43 but greened the building as before).
SPREAD_DISTANCE = 0.35
SPREAD_EDGE_COST = 0.03
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

    def join(self, lightness, ab_small, refine_chroma=True, hints=None, spread=True):
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
    return np.stack([_resize_plane(channels[..., c], height, width)
                     for c in range(channels.shape[-1])], axis=-1)


def _resize_plane(plane, height, width):
    """One (h, w) float32 plane resized bilinearly (Pillow) to (H, W)."""
    return np.asarray(Image.fromarray(np.ascontiguousarray(plane, np.float32), mode="F")
                      .resize((width, height), Image.BILINEAR))


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

    He, Sun and Tang's guided filter [1]_ in its fast, subsampled form [2]_: at the a*b*
    resolution, each window of ``2 radius + 1`` cells fits a*b* as a linear function
    ``A L* + B`` of the cells' L* (``A = cov(L*, ab) / (var(L*) + eps)``); the window-averaged
    ``A`` and ``B`` are upsampled bilinearly and applied to the full-resolution L*, so an a*b*
    edge lands on the photo's L* edge instead of being smeared across it (the colored halos of a
    plain resize around white objects). Each pixel is then clamped to the range of the a*b* cells
    around it (the 3 x 3 cells around its nearest cell, which hold the 2 x 2 a bilinear resize
    mixes): the linear fit may move a color to the right side of an edge, never beyond the
    colors the model predicted there (a window's chance correlation with L* texture would
    otherwise tint pebbles, foliage and dark crevices). A constant a*b* stays constant.

    Parameters
    ----------
    lightness : ndarray (H, W)
        The photo's L*, in [0, 100].
    ab_small : ndarray (h, w, 2)
        a*b* in Lab units on the model's output grid (any h, w >= 1).
    radius : int
        The window's radius, in a*b* cells (>= 0).
    eps : float
        Regularization in (L* units)^2: L* contrast well under ``sqrt(eps)`` does not move a*b*.

    Returns
    -------
    ndarray (H, W, 2) float32

    References
    ----------
    .. [1] K. He, J. Sun, X. Tang, "Guided Image Filtering", ECCV 2010; IEEE TPAMI 35(6), 2013.
    .. [2] K. He, J. Sun, "Fast Guided Filter", arXiv:1505.00996, 2015.
    """
    h, w = ab_small.shape[:2]
    H, W = lightness.shape
    lightness = np.asarray(lightness, np.float32)
    guide = _resize(lightness[..., None], h, w)[..., 0].astype(np.float64)
    ab = np.asarray(ab_small, np.float64)
    mean_l, mean_ab = box_mean(guide, radius), box_mean(ab, radius)
    cov = box_mean(guide[..., None] * ab, radius) - mean_l[..., None] * mean_ab
    var = box_mean(guide * guide, radius) - mean_l * mean_l
    a = cov / (np.maximum(var, 0.0)[..., None] + eps)
    b = mean_ab - a * mean_l[..., None]
    a, b = box_mean(a, radius).astype(np.float32), box_mean(b, radius).astype(np.float32)
    low, high = _neighbourhood_range(np.asarray(ab_small, np.float32))
    # Each pixel's nearest cell (the pixel's centre falls in it), for the clamp.
    rows = np.minimum(((np.arange(H) + 0.5) * (h / H)).astype(np.intp), h - 1)
    cols = np.minimum(((np.arange(W) + 0.5) * (w / W)).astype(np.intp), w - 1)
    out = np.empty((H, W, 2), np.float32)
    for c in range(2):  # one contiguous plane at a time, not strided (H, W, 4) stacks
        q = _resize_plane(a[..., c], H, W) * lightness
        q += _resize_plane(b[..., c], H, W)
        np.maximum(q, low[rows][:, cols, c], out=q)  # np.clip with array bounds: 3x slower
        out[..., c] = np.minimum(q, high[rows][:, cols, c], out=q)
    return out


def _neighbourhood_range(x):
    """Minimum and maximum of ``x`` (h, w, C) over each cell's 3 x 3 neighbours (edges repeated)."""
    padded = np.pad(x, ((1, 1), (1, 1), (0, 0)), mode="edge")
    h, w = x.shape[:2]
    shifts = [padded[i:i + h, j:j + w] for i in range(3) for j in range(3)]
    return np.min(shifts, axis=0), np.max(shifts, axis=0)


def join(lightness, ab_small, refine_chroma=True):
    """Upsample ab to the photo's size (by :func:`guided_upsample` on its L*, or bilinearly when
    not ``refine_chroma``) and join it with the photo's own L; return uint8 sRGB."""
    h, w = lightness.shape
    ab = (guided_upsample(lightness, ab_small) if refine_chroma
          else _resize(np.asarray(ab_small, np.float32), h, w))
    return _lab_to_uint8(lightness, ab)


def _lab_to_uint8(lightness, ab):
    """L* (H, W) and a*b* (H, W, 2) -> uint8 sRGB (H, W, 3), out-of-gamut colors pulled in by
    chroma; large photos in bands on a thread pool."""
    h, w = lightness.shape
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


def _geodesic_distance(features, seeds, edge_cost, iterations=3):
    """Distance in cells from ``seeds`` over a grid, where each step also pays for the change of
    ``features`` it crosses.

    A step to one of the 8 neighbouring cells costs ``sqrt(length^2 + (edge_cost * |df|)^2)``:
    its length (1 or sqrt 2) and the difference ``df`` of the two cells' features (e.g. L*)
    weighted by ``edge_cost`` (cells per feature unit). A path within an object is about as long
    as the straight line; one across an edge pays for its contrast, and across a line (darker or
    lighter than both sides) twice: the geodesic distance of Criminisi, Sharp and Blake (GeoS,
    ECCV 2008). Computed by raster sweeps (left to right and back, down and up; each a NumPy step
    per column or row, for all maps at once), repeated until nothing changes or ``iterations``
    times; a path that winds back more often than that may stay overestimated.

    Parameters
    ----------
    features : ndarray (h, w) or (h, w, C)
        Each cell's features; ``|df|`` is the Euclidean norm over C.
    seeds : ndarray (n, h, w) bool
        For each of ``n`` maps, the cells at distance 0.
    edge_cost : float
        Cells per feature unit, >= 0; 0 gives the chamfer distance in cells.
    iterations : int
        At most this many rounds of the four sweeps.

    Returns
    -------
    ndarray (n, h, w) float32
        ``inf`` where a map has no seed.
    """
    f = np.asarray(features, np.float32)
    f = f[..., None] if f.ndim == 2 else f

    def cost(a, b, length2):
        return np.sqrt(length2 + edge_cost ** 2 * ((a - b) ** 2).sum(axis=-1)).astype(np.float32)

    right = cost(f[:, 1:], f[:, :-1], 1.0)  # (h, w-1): (i, j) - (i, j+1)
    down = cost(f[1:], f[:-1], 1.0)  # (h-1, w): (i, j) - (i+1, j)
    diag = cost(f[1:, 1:], f[:-1, :-1], 2.0)  # (h-1, w-1): (i, j) - (i+1, j+1)
    anti = cost(f[1:, :-1], f[:-1, 1:], 2.0)  # (h-1, w-1): (i, j+1) - (i+1, j)
    d = np.where(np.asarray(seeds, bool), 0.0, np.inf).astype(np.float32)
    h, w = d.shape[1:]
    for _ in range(iterations):
        before = d.copy()
        for j in range(1, w):  # left to right: from column j - 1
            col, prev = d[:, :, j], d[:, :, j - 1]
            np.minimum(col, prev + right[:, j - 1], out=col)
            np.minimum(col[:, 1:], prev[:, :-1] + diag[:, j - 1], out=col[:, 1:])
            np.minimum(col[:, :-1], prev[:, 1:] + anti[:, j - 1], out=col[:, :-1])
        for j in range(w - 2, -1, -1):  # right to left: from column j + 1
            col, prev = d[:, :, j], d[:, :, j + 1]
            np.minimum(col, prev + right[:, j], out=col)
            np.minimum(col[:, 1:], prev[:, :-1] + anti[:, j], out=col[:, 1:])
            np.minimum(col[:, :-1], prev[:, 1:] + diag[:, j], out=col[:, :-1])
        for i in range(1, h):  # top to bottom: from row i - 1
            row, prev = d[:, i], d[:, i - 1]
            np.minimum(row, prev + down[i - 1], out=row)
            np.minimum(row[:, 1:], prev[:, :-1] + diag[i - 1], out=row[:, 1:])
            np.minimum(row[:, :-1], prev[:, 1:] + anti[i - 1], out=row[:, :-1])
        for i in range(h - 2, -1, -1):  # bottom to top: from row i + 1
            row, prev = d[:, i], d[:, i + 1]
            np.minimum(row, prev + down[i], out=row)
            np.minimum(row[:, :-1], prev[:, 1:] + diag[i], out=row[:, :-1])
            np.minimum(row[:, 1:], prev[:, :-1] + anti[i], out=row[:, 1:])
        if np.array_equal(d, before):
            break
    return d


def spread_hints(lightness, ab_small, hints, *, spread=True, distance=SPREAD_DISTANCE,
                 edge_cost=SPREAD_EDGE_COST, lightness_sigma=SPREAD_LIGHTNESS,
                 prior=SPREAD_PRIOR):
    """Give each hint's square its color, and pull the predicted a*b* around it towards that
    color within the hint's object: as far as no edge of the photo's L* stops it.

    A hint covers the square of half-side ``hint.radius`` photo pixels around it (without a
    radius, the a*b* cell under it): there its weight is 1. Beyond the square (when
    ``spread``) the hint's residual (its a*b* minus the prediction under it) spreads over the
    a*b* grid with weights ``exp(-g^2 / 2 distance^2) * exp(-dL^2 / 2 lightness_sigma^2)``.
    ``g`` is the geodesic distance from the square, in fractions of the grid's longer side: a
    step between neighbouring cells costs ``sqrt(length^2 + (edge_cost * |df|)^2)``, ``df`` the
    change of the cells' L* and of their L* contrast (the standard deviation of the photo's L*
    within each cell; :func:`_geodesic_distance`). Along one surface a path is about as long as the
    straight line; across an edge, or a line such as a wall's dark face, it pays for the contrast,
    so the color stays on its side even where the other side has the same lightness. ``dL`` is the
    L* difference from the hint's own cell (Levin et al. 2004's affinity). A larger radius carries
    the color further. Weights are normalized against ``prior``, the weight the prediction keeps:
    on a hint's square the color is the hint's (to within ``prior``), far from every hint, or
    behind an edge, it is the model's.

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
    distance, edge_cost, lightness_sigma, prior : float
        The reach (fraction of the longer side), the cost of crossing edges (fraction of the longer
        side per L* unit; 0: the straight-line distance, edges ignored), the L* similarity (L*
        units) and the prediction's own weight.

    Returns
    -------
    ndarray (h, w, 2) float32
    """
    h, w = ab_small.shape[:2]
    H, W = lightness.shape
    grid_l = _resize(np.asarray(lightness, np.float32)[..., None], h, w)[..., 0]
    rows, cols = np.mgrid[0:h, 0:w].astype(np.float32)
    cells = [hint.cell(lightness.shape, (h, w)) for hint in hints]
    squares = []
    for hint, (cy, cx) in zip(hints, cells):
        radius = hint.radius or 0.0
        # Distance in cells from the hint's square (0 on it); min() keeps a huge radius finite.
        dy = np.maximum(0.0, np.abs(rows - cy) - min(radius * h / H, h))
        dx = np.maximum(0.0, np.abs(cols - cx) - min(radius * w / W, w))
        squares.append((dy == 0) & (dx == 0))
    if spread and hints:
        geodesic = _geodesic_distance(_cell_features(lightness, grid_l), np.stack(squares),
                                      edge_cost * max(h, w)) / max(h, w)
    total_weight = np.full((h, w), prior, np.float32)
    pulled = np.zeros((h, w, 2), np.float32)
    for k, (hint, (cy, cx), on_square) in enumerate(zip(hints, cells, squares)):
        if spread:
            weight = np.exp(-geodesic[k] ** 2 / (2 * distance ** 2)
                            - (grid_l - grid_l[cy, cx]) ** 2 / (2 * lightness_sigma ** 2))
            weight = np.where(on_square, 1.0, weight).astype(np.float32)
        else:
            weight = on_square.astype(np.float32)
        residual = hint.ab - ab_small[cy, cx]
        total_weight += weight
        pulled += weight[..., None] * residual
    return (ab_small + pulled / total_weight[..., None]).astype(np.float32)


def _cell_features(lightness, grid_l):
    """Each a*b* cell's mean L* (``grid_l``, (h, w)) and the standard deviation of the photo's L*
    within it: (h, w, 2). The second tells textured cells (foliage, crowds, a line through the
    cell) from smooth ones of the same mean, which a mean alone cannot."""
    h, w = grid_l.shape
    lightness = np.asarray(lightness, np.float32)
    mean_square = _resize((lightness * lightness)[..., None], h, w)[..., 0]
    std = np.sqrt(np.maximum(mean_square - grid_l * grid_l, 0.0))
    return np.stack([grid_l, std], axis=-1)
