"""Scoring colorizations of color photos against the originals (PSNR, SSIM, CIEDE2000,
colorfulness). Works with anything that has a ``colorize`` method, and with the gray baseline."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np

from bwcolor import color, data, metrics, presets
from bwcolor._arguments import check_int
from bwcolor.data.decode import ImageDecodeError
from bwcolor.data.discover import is_image_file

__all__ = ["evaluate", "evaluate_gray_baseline", "reference_crops"]


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
        splits, _report = data.scan(data_source, image_size=size, min_chroma=0.0)
        return splits[split]
    if isinstance(data_source, (str, os.PathLike)):
        return [p for p in data.find_files(data_source) if is_image_file(p)]
    return list(data_source)


def reference_crops(data_source, size, split):
    """uint8 center crops (short side resized to ``size``) of the photos to evaluate on, their
    paths, and how many files could not be read (each is warned about, never silently dropped)."""
    check_int("size", size, low=presets.MIN_RENDER_SIZE)
    if size > presets.MAX_RENDER_SIZE:
        raise ValueError(f"size must be <= {presets.MAX_RENDER_SIZE}. Received: size={size!r}")
    paths = _paths_to_score(data_source, size, split)
    crops, read, skipped = [], [], 0
    # The same deterministic resize + center crop as validation batches.
    cropper = data.ColorizationDataset(paths, size, 1, training=False) if paths else None
    for p in paths:
        try:
            crops.append(cropper.rgb_crop(p))
            read.append(p)
        except ImageDecodeError as e:
            warnings.warn(f"evaluate skips an unreadable file: {e}", stacklevel=3)
            skipped += 1
    if not crops:
        raise ValueError(f"no readable photos to evaluate. Received: {data_source!r}")
    return crops, read, skipped
