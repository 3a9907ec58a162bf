"""Figures: comparison sheets (original / colors removed / colorized) and training curves.

matplotlib is optional (``pip install "bwcolor[plot]"``): it is imported inside the functions,
with the non-interactive Agg backend, so nothing here opens a window, slows down
``import bwcolor``, or is needed to colorize.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np

from bwcolor._io import atomic_path, same_file

__all__ = ["plot_comparison", "plot_history"]


PLOT_EXTRA_HINT = 'pip install "bwcolor[plot]"'


def _pyplot():
    try:
        import matplotlib
    except ImportError as e:
        # Colorizing never needs matplotlib, so it is an extra; say which one when a figure does.
        raise ImportError(f"bwcolor's figures need matplotlib, which is not installed: "
                          f"{PLOT_EXTRA_HINT}") from e

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def _check_target(path, overwrite, images=()):
    """Where a picture may be written: never over one of the photos it shows (ValueError), and
    over an existing file only when asked (FileExistsError): bwcolor never deletes what it did
    not create. ``bwcolor compare`` calls it before loading any model."""
    if path is None:
        return
    # Any name of a shown photo: a link, another spelling on a case-insensitive disk.
    if any(isinstance(i, (str, os.PathLike)) and same_file(path, i) for i in images):
        raise ValueError(f"path would overwrite one of the images. Received: path={str(path)!r}")
    if not overwrite and Path(path).exists():
        raise FileExistsError(f"the picture's path exists; pass overwrite=True to replace it. "
                              f"Received: path={str(path)!r}")


def _save(fig, path):
    with atomic_path(path) as tmp:  # a killed run never leaves a half-written picture
        fig.savefig(tmp, dpi=fig.dpi, bbox_inches="tight")


def plot_comparison(images, colorizers, path=None, *, titles=None, render_size=None,
                    include_gray=True, overwrite=False):
    """Side-by-side sheet: one row per photo; original, colors removed, then each colorizer.

    Parameters
    ----------
    images : list of paths, PIL images or arrays
        The photos, one row each; color photos show what the colorizers should find.
    colorizers : Colorizer or dict of str to Colorizer
        One column per colorizer, titled by its key (``"colorized"`` for a single one).
    path : str or path, optional
        Write a PNG there (atomically). The figure is returned either way.
    titles : list of str, optional
        Column titles, replacing ``["original", "colors removed", *colorizers]``.
    render_size : int, optional
        Passed to :meth:`bwcolor.Colorizer.colorize`.
    include_gray : bool, default True
        Show the "colors removed" column (what the colorizers see).
    overwrite : bool, default False
        Replace ``path`` if it exists (never one of ``images``).

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ImportError
        If matplotlib is not installed (``pip install "bwcolor[plot]"``).
    FileExistsError
        If ``path`` exists and ``overwrite`` is False.
    ValueError
        If ``path`` is one of ``images``.
    """
    plt = _pyplot()  # before colorizing anything, so a missing extra fails at once
    _check_target(path, overwrite, images)
    from bwcolor import color
    from bwcolor.data import load_rgb, validate_image_array

    # Not isinstance(colorizers, Colorizer): importing colorizer here closed an import cycle
    # (colorizer -> _callbacks -> plotting -> colorizer).
    if not isinstance(colorizers, dict):
        colorizers = {"colorized": colorizers}
    originals = []
    for image in images:
        if isinstance(image, (str, os.PathLike)):
            originals.append(load_rgb(image))
        else:
            originals.append(validate_image_array(np.asarray(image)))
    columns = ["original"] + (["colors removed"] if include_gray else []) + list(colorizers)
    outputs = {name: c.colorize(originals, render_size=render_size) for name, c in colorizers.items()}
    n = len(originals)
    fig, axes = plt.subplots(n, len(columns), figsize=(3 * len(columns), 3 * n), squeeze=False,
                             dpi=100)
    for r, rgb in enumerate(originals):
        cells = [rgb]
        if include_gray:
            cells.append(np.repeat(color.rgb_to_gray(rgb)[..., None], 3, -1))
        cells += [outputs[name][r] for name in colorizers]
        for c, (ax, img) in enumerate(zip(axes[r], cells)):
            ax.imshow(img)
            ax.set_axis_off()
            if r == 0:
                ax.set_title((titles or columns)[c])
    fig.tight_layout()
    if path is not None:
        _save(fig, path)
    return fig


def plot_history(csv_path, png_path=None, *, overwrite=False):
    """Plot loss and validation loss per epoch from a run's ``history.csv``.

    Parameters
    ----------
    csv_path : str or path
        The ``history.csv`` that :meth:`bwcolor.Colorizer.fit` writes into its run folder.
    png_path : str or path, optional
        Write a PNG there (atomically) and close the figure.
    overwrite : bool, default False
        Replace ``png_path`` if it exists (``fit`` redraws its run's ``curves.png`` so).

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ImportError
        If matplotlib is not installed (``pip install "bwcolor[plot]"``).
    FileExistsError
        If ``png_path`` exists and ``overwrite`` is False.
    """
    plt = _pyplot()
    _check_target(png_path, overwrite)
    with open(csv_path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
    epochs = [int(r["epoch"]) for r in rows]
    for key in ("loss", "val_loss"):
        if rows and key in rows[0]:
            ax.plot(epochs, [float(r[key]) for r in rows], marker="o", label=key)
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    if png_path is not None:
        _save(fig, png_path)
        plt.close(fig)
    return fig
