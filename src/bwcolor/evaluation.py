"""Scoring colorizations of color photos against the originals (PSNR, SSIM, CIEDE2000,
colorfulness). Works with anything that has a ``colorize`` method, and with the gray baseline;
:func:`evaluate_with_hints` scores a hint model given colors sampled from the originals."""

from __future__ import annotations

import math
import numbers
import os
import stat
import warnings
from pathlib import Path

import numpy as np

from bwcolor import color, data, hints, metrics, presets
from bwcolor._arguments import check_bools, check_int, check_positive
from bwcolor.data.decode import ImageDecodeError
from bwcolor.data.discover import is_image_file

__all__ = ["evaluate", "evaluate_gray_baseline", "evaluate_with_hints", "ground_truth_hints",
           "reference_crops"]

#: The hint counts of issue #20's curve.
DEFAULT_HINT_COUNTS = (0, 1, 5, 10, 20)


def evaluate(colorizer, data_source, *, size, split=None, annealing_temperature=None,
             per_image=False):
    """Scores of ``colorizer.colorize`` on the photos, as :meth:`bwcolor.Colorizer.evaluate`
    documents; ``size`` is the short side the photos are resized to (and the render size)."""
    references, paths, n_skipped = reference_crops(data_source, size, split)
    scores = []
    for start in range(0, len(references), 8):
        batch = references[start:start + 8]
        outs = colorizer.colorize(list(batch), annealing_temperature=annealing_temperature,
                                  render_size=size)
        scores += [metrics.image_metrics(r, o) for r, o in zip(batch, outs)]
    return summarize(scores, paths, n_skipped, per_image)


def evaluate_gray_baseline(data_source, *, split=None, size=256, per_image=False):
    """Scores of the gray baseline (a* = b* = 0: the photo with its colors removed), in the
    form of :meth:`Colorizer.evaluate`."""
    references, paths, n_skipped = reference_crops(data_source, size, split)
    scores = []
    for ref in references:
        lightness = color.rgb_to_lab(ref / 255.0)[..., :1]
        gray = color.lab_to_rgb(np.concatenate([lightness, np.zeros_like(lightness),
                                                np.zeros_like(lightness)], axis=-1))
        scores.append(metrics.image_metrics(ref, (gray * 255 + 0.5).astype(np.uint8)))
    return summarize(scores, paths, n_skipped, per_image)


def evaluate_with_hints(colorizer, data_source, counts=DEFAULT_HINT_COUNTS, *, split=None,
                        size=None, seed=0, radius=None, annealing_temperature=None,
                        per_image=False, colorize_options=None):
    """Scores of a hint model given 0, 1, 5... color hints sampled from each original.

    Each photo's evaluation crop (the same resize + center crop as :func:`evaluate`) is
    colorized once per hint count ``n`` with the first ``n`` of its hints, and scored as
    :func:`evaluate` scores. A hint's position is drawn as in training
    (:func:`bwcolor.hints.reveal_random_hints`: a 2-D Gaussian around the crop's center, standard
    deviation a quarter of its side) and its color is the crop's mean true color over the patch
    that :func:`bwcolor.hints.hint_channels` covers for it (:func:`ground_truth_hints`). Photo
    ``i``'s positions (in the order scored) come from ``numpy.random.default_rng([seed, i])``:
    the same for every model, whatever the counts, and nested (the hints of a count are the
    first of those of a larger count), so the curves of several models are comparable photo by
    photo.

    Parameters
    ----------
    colorizer : Colorizer, or any object with a ``colorize`` method
        Hints are given as ``colorize(images, hints=..., render_size=size, ...)``; a model whose
        ``accepts_hints`` is not true can be scored only at count 0.
    data_source : folder, photo path, or list of paths
        Color photos.
    counts : sequence of int
        Hint counts, each >= 0, no repeats; one row each, in this order.
    split : {None, "train", "validation", "test"}
        Score only that split (the stable hash split of :meth:`bwcolor.Colorizer.fit`).
    size : int, optional
        Short side the photos are resized to before the center crop, and the render size
        (default: ``colorizer.config["image_size"]``, the training size).
    seed : int
        Seeds the hint positions (>= 0).
    radius : float, optional
        Each hint's half-side in the crop's pixels (default: the hint default,
        :data:`bwcolor.hints.DEFAULT_RADIUS` render pixels).
    annealing_temperature : float, optional
        Passed to ``colorize``.
    per_image : bool
        Also give each row each photo's scores, under ``"per_image"`` (with its ``"path"``).
    colorize_options : dict, optional
        More keyword arguments for ``colorize`` with hints, e.g. ``{"spread_hints": False}``
        to score the model's hint channels alone.

    Returns
    -------
    list of dict
        One row per count: ``count``, then what :func:`evaluate` returns (means of ``psnr``,
        ``ssim``, ``delta_e2000``, ``colorfulness``, ``colorfulness_reference``; ``n_images``,
        ``n_skipped``).

    Raises
    ------
    ValueError
        For a count > 0 with a model that does not take hints (naming it), or a bad argument.
    TypeError
        For an argument of the wrong type.

    Examples
    --------
    >>> from bwcolor import Colorizer
    >>> from bwcolor.evaluation import evaluate_with_hints
    >>> rows = evaluate_with_hints(Colorizer.from_preset("runs/hints/best"), "photos/",
    ...                            split="test", size=192)               # doctest: +SKIP
    >>> [r["count"] for r in rows], sorted(rows[0])                    # doctest: +SKIP
    ([0, 1, 5, 10, 20], ['colorfulness', 'colorfulness_reference', 'count', 'delta_e2000',
    'n_images', 'n_skipped', 'psnr', 'ssim'])
    """
    counts, seed, radius, size = _check_hint_options(colorizer, counts, seed, radius, size,
                                                     annealing_temperature, per_image)
    references, paths, n_skipped = reference_crops(data_source, size, split)
    all_hints = _draw_hints(colorizer, references, max(counts), seed, radius, size)
    options = {"annealing_temperature": annealing_temperature, "render_size": size}
    return [{"count": n, **summarize(_score_with_hints(colorizer, references, all_hints, n,
                                                       options, colorize_options),
                                     paths, n_skipped, per_image)}
            for n in counts]


def _draw_hints(colorizer, references, n, seed, radius, size):
    """Each reference crop's first ``n`` ground-truth hints (see :func:`ground_truth_hints`):
    photo ``i``'s from ``default_rng([seed, i])``, so a smaller count takes the first of them."""
    return [ground_truth_hints(ref, n, seed=seed, index=i, radius=radius,
                               render_shape=_render_shape(colorizer, ref.shape[:2], size))
            for i, ref in enumerate(references)]


def _score_with_hints(colorizer, references, all_hints, n, options, colorize_options, batch=8):
    """:func:`bwcolor.metrics.image_metrics` of each reference colorized with the first ``n``
    of its hints, ``batch`` photos per ``colorize`` call."""
    scores = []
    for start in range(0, len(references), batch):
        crops = references[start:start + batch]
        # No hints argument at all at count 0: any colorize works there.
        extra = ({"hints": [h[:n] for h in all_hints[start:start + batch]],
                  **(colorize_options or {})} if n else {})
        outs = colorizer.colorize(list(crops), **options, **extra)
        scores += [metrics.image_metrics(r, o) for r, o in zip(crops, outs)]
    return scores


def _check_hint_options(colorizer, counts, seed, radius, size, annealing_temperature, per_image):
    """:func:`evaluate_with_hints`' arguments, checked: (counts, seed, radius, size)."""
    counts = _check_counts(counts)
    seed = check_int("seed", seed, low=0)
    radius = _check_radius(radius)
    check_positive("annealing_temperature", annealing_temperature, allow_none=True)
    check_bools(per_image=per_image)
    if not callable(getattr(colorizer, "colorize", None)):
        raise TypeError(f"colorizer must have a colorize method. "
                        f"Received: {type(colorizer).__name__}")
    if size is None:
        size = getattr(colorizer, "config", {}).get("image_size")
        if size is None:
            raise ValueError(f"size is needed for a colorizer without config['image_size']. "
                             f"Received: size=None for {_model_name(colorizer)}")
    if max(counts) > 0 and not getattr(colorizer, "accepts_hints", False):
        raise ValueError(f"{_model_name(colorizer)} does not take color hints "
                         f"(accepts_hints is not True): it can be scored only at count 0. "
                         f"Received: counts={counts}")
    return counts, seed, radius, size


def ground_truth_hints(reference, n, *, seed=0, index=0, radius=None, render_shape=None):
    """``n`` hints of a color crop's own colors, as :func:`evaluate_with_hints` gives them.

    Parameters
    ----------
    reference : uint8 array (H, W, 3)
        The color photo (or crop) the hints are taken from.
    n : int
        How many; the first ``k`` are the same for any ``n >= k``.
    seed, index : int
        The positions come from ``numpy.random.default_rng([seed, index])``.
    radius : float, optional
        Half-side in the photo's pixels (None: :data:`bwcolor.hints.DEFAULT_RADIUS` render
        pixels).
    render_shape : (h, w), optional
        The shape the model sees the photo at (default: the photo's own), which decides the
        patch each hint covers (:func:`bwcolor.hints.hint_channels`).

    Returns
    -------
    list of bwcolor.hints.Hint
        Integer positions; each color the mean true L*a*b* over the photo pixels of the hint's
        patch, fitted into the sRGB gamut and rounded to ``"#rrggbb"``.
    """
    n = check_int("n", n, low=0)
    reference = np.asarray(reference)
    H, W = reference.shape[:2]
    render_shape = (H, W) if render_shape is None else tuple(render_shape)
    rng = np.random.default_rng([check_int("seed", seed, low=0), check_int("index", index, low=0)])
    # One (y, x) pair per point, drawn in order, so a prefix never depends on n.
    centers = rng.normal((H / 2, W / 2), (H / 4, W / 4), size=(n, 2))
    lab = color.uint8_rgb_to_lab(reference) if n else None
    # Photo pixel -> the render pixel hint_channels maps it to.
    rows = np.minimum(render_shape[0] - 1, ((np.arange(H) + 0.5) * render_shape[0] / H).astype(int))
    cols = np.minimum(render_shape[1] - 1, ((np.arange(W) + 0.5) * render_shape[1] / W).astype(int))
    out = []
    for cy, cx in centers:
        y, x = int(np.clip(cy, 0, H - 1)), int(np.clip(cx, 0, W - 1))
        hint = hints.Hint(x, y, "#000000", radius)
        mask = hints.hint_channels([hint], (H, W), render_shape)[..., 2][np.ix_(rows, cols)] > 0
        if not mask.any():  # a render patch between photo pixels: the hint's own pixel
            mask[y, x] = True
        mean = color.reduce_chroma_to_gamut(lab[mask].mean(axis=0))
        rgb = np.round(color.lab_to_rgb(mean) * 255).astype(int)
        out.append(hints.Hint(x, y, "#" + "".join(f"{c:02x}" for c in rgb), radius))
    return out


def _check_counts(counts):
    if isinstance(counts, (str, bytes)) or not hasattr(counts, "__iter__"):
        raise TypeError(f"counts must be a sequence of ints. Received: counts={counts!r}")
    counts = tuple(counts)
    if not counts:
        raise ValueError("counts must hold at least one hint count. Received: counts=()")
    checked = tuple(check_int(f"counts[{i}]", c, low=0) for i, c in enumerate(counts))
    if len(set(checked)) != len(checked):
        raise ValueError(f"counts must not repeat a count. Received: counts={counts!r}")
    return checked


def _check_radius(radius):
    if radius is None:
        return None
    if (isinstance(radius, bool) or not isinstance(radius, numbers.Real)
            or not math.isfinite(radius) or radius < 0):
        raise ValueError(f"radius must be None or a finite number >= 0. Received: radius={radius!r}")
    return float(radius)


def _render_shape(colorizer, shape, size):
    render_shape = getattr(colorizer, "render_shape", None)
    return tuple(render_shape(*shape, size)) if callable(render_shape) else tuple(shape)


def _model_name(colorizer):
    config = getattr(colorizer, "config", None)
    if isinstance(config, dict) and "architecture" in config:
        return (f"{type(colorizer).__name__}(architecture={config['architecture']!r}, "
                f"architecture_config={config.get('architecture_config', {})!r})")
    return type(colorizer).__name__


def summarize(scores, paths, n_skipped, per_image):
    """Mean scores, ``n_skipped``, and each photo's scores under ``"per_image"`` if asked."""
    summary = {**metrics.mean_metrics(scores), "n_skipped": n_skipped}
    if per_image:
        summary["per_image"] = [{"path": str(p), **m} for p, m in zip(paths, scores)]
    return summary


def _paths_to_score(data_source, size, split):
    """The photo paths ``data_source`` and ``split`` name, checked."""
    if isinstance(data_source, (str, os.PathLike)):
        if not Path(data_source).exists():
            raise FileNotFoundError(f"photos to evaluate not found. "
                                    f"Received: data_source={str(data_source)!r}")
        single_file = not Path(data_source).is_dir()
    elif isinstance(data_source, (list, tuple)) and all(
            isinstance(p, (str, os.PathLike)) for p in data_source):
        single_file = False
    else:
        raise TypeError(f"evaluate needs color photos: a folder, a photo's path, or a list of "
                        f"paths. Received: {type(data_source).__name__}")
    if split is not None and split not in data.SPLITS:
        raise ValueError(f"split must be None or one of {data.SPLITS}. Received: split={split!r}")
    if single_file:
        if split is not None:
            raise ValueError(f"split= chooses photos from a folder; a single photo has no "
                             f"splits. Received: data_source={str(data_source)!r}, split={split!r}")
        return [Path(data_source)]
    if split is not None:
        splits, report = data.scan(data_source, image_size=size, min_chroma=0.0)
        if not report.n_used:
            raise ValueError(f"no photo can be scored at size {size}: {report.summary()}. "
                             f"Received: data_source={data_source!r}, split={split!r}")
        if not splits[split]:
            counts = ", ".join(f"{name} {len(paths)}" for name, paths in splits.items())
            raise ValueError(f"the {split} split is empty: of {report.n_used} usable photos "
                             f"({counts}; a photo's split is fixed by a hash of its path, about "
                             f"5% each for validation and test), none is in it; leave the split "
                             f"out to score them all. Received: data_source={data_source!r}, "
                             f"split={split!r}")
        return splits[split]
    if isinstance(data_source, (str, os.PathLike)):
        return [p for p in data.find_files(data_source) if is_image_file(p)]
    return list(data_source)


def reference_crops(data_source, size, split):
    """uint8 center crops (short side resized to ``size``) of the photos to evaluate on, their
    paths, and how many files were skipped: unreadable ones, and photos whose short side is
    under ``size`` (as ``fit`` skips photos smaller than its crop: upscaled, their scores would
    measure the resize). Each is warned about, never silently dropped."""
    check_int("size", size, low=presets.MIN_RENDER_SIZE)
    if size > presets.MAX_RENDER_SIZE:
        raise ValueError(f"size must be <= {presets.MAX_RENDER_SIZE}. Received: size={size!r}")
    paths = _paths_to_score(data_source, size, split)
    crops, read, skipped, too_small = [], [], 0, []
    # The same deterministic resize + center crop as validation batches.
    cropper = data.ColorizationDataset(paths, size, 1, training=False) if paths else None
    for p in paths:
        photo_size = _header_size(p)
        if photo_size is not None and min(photo_size) < size:
            warnings.warn(f"evaluate skips a photo smaller than the {size} px crop "
                          f"({photo_size[0]}x{photo_size[1]}). Received: path={str(p)!r}",
                          stacklevel=3)
            skipped += 1
            too_small.append(min(photo_size))
            continue
        try:
            crops.append(cropper.rgb_crop(p))
            read.append(p)
        except ImageDecodeError as e:
            warnings.warn(f"evaluate skips an unreadable file: {e}", stacklevel=3)
            skipped += 1
    if not crops:
        if too_small:
            raise ValueError(f"no photo to evaluate at size {size}: {len(too_small)} smaller than "
                             f"the {size} px crop (the largest has a short side of "
                             f"{max(too_small)} px; a smaller size scores them)"
                             + (f", {skipped - len(too_small)} unreadable"
                                if skipped > len(too_small) else "")
                             + f". Received: {data_source!r}")
        raise ValueError(f"no readable photos to evaluate. Received: {data_source!r}")
    return crops, read, skipped


def _header_size(path):
    """(width, height) of a photo as stored (EXIF rotation does not change its short side), read
    from its header; None for anything unreadable (or not a regular file, which is never
    opened), whose crop then says what is wrong."""
    from PIL import Image

    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            return None
        with Image.open(path) as img:
            return img.size
    except Exception:  # the decode that follows names the problem
        return None
