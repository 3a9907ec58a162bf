"""How should a*b* be brought to the photo's size? Bilinear against edge-aware upsamplings.

    python scripts/chroma_upsampling.py PHOTOS_DIR                      # validation split
    python scripts/chroma_upsampling.py PHOTOS_DIR --model my_preset/ --long-side 1280

The model predicts a*b* at a quarter of its render size; colorize upsamples it to the photo and
keeps the photo's own L*. On the split's photos, twice: (a) the 192 px center crops that
``bwcolor evaluate`` scores (render size 192), (b) the whole photos, shrunk to a long side of at
most ``--long-side``, at colorize's default render size. Each photo's a*b* is predicted once;
then every upsampling is scored on it with :func:`bwcolor.metrics.image_metrics`. One JSON line
per (set, upsampling): the mean metrics, the mean CIEDE2000 in the band of pixels near a strong
L* edge of the reference (within ``--band`` px of a local L* range >= 25: where halos and color
bleeding live), and the paired per-photo CIEDE2000 difference to bilinear (mean, photos lower,
bootstrap 95% interval).

The upsamplings: ``bilinear`` (colorize with ``refine_chroma=False``); ``guided`` at each
``--guided RADIUS:EPS`` (:func:`bwcolor.postprocessing.guided_upsample`, a*b* cells and
(L* units)^2); ``chroma`` controls: bilinear with a*b* scaled down by 1 / 2% (how much of a
gain a plain loss of colorfulness buys); ``jbu``: joint bilateral upsampling (Kopf et al. 2007),
the a*b* cells of a 2 x 2 (bilinear) or 4 x 4 (Gaussian, 1 cell) footprint weighted by a
Gaussian of the L* difference (sigma 5) between the pixel and the cell.

Issue #26, bundled default (pretrained_unet), validation split (47 photos): bilinear 9.469
CIEDE2000 on the crops, 9.276 on the whole photos (long side 768; 9.273 at 1280); the guided
filter at radius 1, eps 4 (colorize's default since) 9.445 (lower on 32 photos, interval -0.035 to
-0.014) and 9.255 (38 photos; 9.253 at 1280), colorfulness 0.4% lower; radius 2, eps 4: 9.430 and
9.241 at 1.4% less colorfulness; the chroma controls gain 0.008-0.010 per 1% of colorfulness
lost; the joint bilateral upsampling (4 x 4): 9.452 and 9.258 at 2.5 times the time. The
guide's "Colors that stop at edges" has the choice; the edge band changes less than the whole
photo on most photos (27 of 47 lower at radius 1), as the model's own coarse colors, not the
resize, decide most halos.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
from _paired import paired_difference

#: An L* range of at least this much within the band's window marks an edge (L* units).
EDGE_RANGE = 25.0


def joint_bilateral(lightness, ab_small, sigma_l=5.0, taps=2):
    """Joint bilateral upsampling (Kopf, Cohen, Lischinski and Uyttendaele, SIGGRAPH 2007) of
    a*b* (h, w, 2) to the photo's L* (H, W): each pixel averages the a*b* cells of a ``taps``^2
    footprint, weighted by their bilinear (2) or Gaussian (4: sigma one cell) spatial weight times
    ``exp(-(L* - cell L*)^2 / 2 sigma_l^2)``."""
    from bwcolor.postprocessing import _resize

    h, w = ab_small.shape[:2]
    H, W = lightness.shape
    grid = _resize(lightness[..., None], h, w)[..., 0]
    uy = (np.arange(H, dtype=np.float32) + 0.5) * h / H - 0.5
    ux = (np.arange(W, dtype=np.float32) + 0.5) * w / W - 0.5
    fy, fx = np.floor(uy).astype(int), np.floor(ux).astype(int)
    offsets = range(0, 2) if taps == 2 else range(-1, 3)

    def spatial(u, f, k):
        if taps == 2:
            return np.maximum(0, 1 - np.abs(u - (f + k))).astype(np.float32)
        return np.exp(-(u - (f + k)) ** 2 / 2).astype(np.float32)

    num = np.zeros((H, W, 2), np.float32)
    den = np.zeros((H, W), np.float32)
    for ky in offsets:
        ry, wy = np.clip(fy + ky, 0, h - 1), spatial(uy, fy, ky)
        rows_l, rows_ab = grid[ry], ab_small[ry]
        for kx in offsets:
            rx, wx = np.clip(fx + kx, 0, w - 1), spatial(ux, fx, kx)
            d = lightness - rows_l[:, rx]
            s = wy[:, None] * wx[None, :]
            weight = s * (np.exp(d * d * np.float32(-0.5 / sigma_l ** 2)) + 1e-6)
            num += weight[..., None] * rows_ab[:, rx]
            den += weight
    return num / den[..., None]


def upsamplings(guided_settings, jbu):
    from bwcolor.postprocessing import _resize, guided_upsample

    out = {"bilinear": lambda lightness, ab: _resize(ab, *lightness.shape)}
    for factor in (0.99, 0.98):
        out[f"chroma_x{factor:g}"] = (lambda f: lambda lightness, ab:
                                      f * _resize(ab, *lightness.shape))(factor)
    for radius, eps in guided_settings:
        out[f"guided_r{radius}_eps{eps:g}"] = (lambda r, e: lambda lightness, ab:
                                               guided_upsample(lightness, ab, r, e))(radius, eps)
    if jbu:
        for taps in (2, 4):
            out[f"jbu{taps}x{taps}_sigma5"] = (lambda t: lambda lightness, ab:
                                               joint_bilateral(lightness, ab, 5.0, t))(taps)
    return out


def edge_band(reference, band):
    """Pixels within ``band`` px of a strong L* edge of the reference (bool, H x W)."""
    from scipy import ndimage

    from bwcolor import color

    lightness = color.rgb_to_lab(reference / 255.0)[..., 0]
    size = 2 * band + 1
    return (ndimage.maximum_filter(lightness, size) - ndimage.minimum_filter(lightness, size)
            >= EDGE_RANGE)


def whole_photos(paths, long_side):
    from PIL import Image

    from bwcolor.data import load_rgb

    photos = []
    for path in paths:
        image = Image.fromarray((load_rgb(path) * 255.0 + 0.5).astype(np.uint8))
        scale = long_side / max(image.size)
        if scale < 1:
            image = image.resize((round(image.width * scale), round(image.height * scale)),
                                 Image.LANCZOS)
        photos.append(np.asarray(image))
    return photos


def predicted_ab(colorizer, references, render_size):
    """Each reference's L* and the model's a*b* for it, as colorize computes them."""
    prepared, _ = colorizer.preprocessor.prepare(list(references), render_size)
    ab = [None] * len(prepared)
    for indices, x in colorizer.preprocessor.batches(prepared, 8, [[] for _ in prepared]):
        predicted = colorizer.predict_ab(x)
        for j, i in enumerate(indices):
            ab[i] = predicted[j]
    return [lightness for lightness, _ in prepared], ab


def score(name, references, lightness, ab, upsample, bands):
    from skimage.color import deltaE_ciede2000

    from bwcolor import color, metrics
    from bwcolor.postprocessing import _lab_to_uint8

    scores, band_de, seconds = [], [], 0.0
    for reference, photo_l, photo_ab, band in zip(references, lightness, ab, bands):
        t = time.perf_counter()
        out = _lab_to_uint8(photo_l, upsample(photo_l, photo_ab))
        seconds += time.perf_counter() - t
        scores.append(metrics.image_metrics(reference, out))
        de = deltaE_ciede2000(color.rgb_to_lab(reference / 255.0), color.rgb_to_lab(out / 255.0))
        band_de.append(float(de[band].mean()) if band.any() else float(de.mean()))
    return scores, np.array(band_de), seconds


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("photos")
    p.add_argument("--model", default="default")
    p.add_argument("--split", default="validation")
    p.add_argument("--crop-size", type=int, default=192)
    p.add_argument("--long-side", type=int, default=768)
    p.add_argument("--band", type=int, default=3, help="edge band half-width, px")
    p.add_argument("--guided", nargs="*", default=["1:1", "1:4", "1:16", "2:4", "2:25", "4:25"],
                   help="RADIUS:EPS settings of the guided filter")
    p.add_argument("--jbu", action="store_true", help="also joint bilateral upsampling (slow)")
    p.add_argument("--sets", nargs="*", default=["crops", "whole"], choices=["crops", "whole"])
    args = p.parse_args()

    from bwcolor import Colorizer, _backend, metrics
    from bwcolor.evaluation import reference_crops

    colorizer = Colorizer.from_preset(args.model)
    crops, paths, _skipped = reference_crops(args.photos, args.crop_size, args.split)
    settings = [(int(r), float(e)) for r, e in (s.split(":") for s in args.guided)]
    methods = upsamplings(settings, args.jbu)
    for which in args.sets:
        references = crops if which == "crops" else whole_photos(paths, args.long_side)
        render_size = args.crop_size if which == "crops" else None
        lightness, ab = predicted_ab(colorizer, references, render_size)
        bands = [edge_band(r, args.band) for r in references]
        base = base_band = None
        for name, upsample in methods.items():
            scores, band_de, seconds = score(name, references, lightness, ab, upsample, bands)
            de = np.array([s["delta_e2000"] for s in scores])
            row = {"set": which, "upsampling": name, "split": args.split, "model": args.model,
                   "render_size": render_size or colorizer.config["image_size"],
                   **({"long_side": args.long_side} if which == "whole" else
                      {"crop_size": args.crop_size}),
                   **{k: round(v, 4) for k, v in metrics.mean_metrics(scores).items()},
                   "delta_e2000_edge_band": round(float(band_de.mean()), 4),
                   "upsample_and_convert_s": round(seconds, 2), "backend": _backend.name()}
            if base is None:
                base, base_band = de, band_de
            else:
                paired = paired_difference(de, base)
                row["vs_bilinear"] = paired["mean_difference"]
                row["photos_lower"] = paired["lower_on"]
                row["bootstrap_95"] = paired["bootstrap_95"]
                row["edge_band_vs_bilinear"] = paired_difference(band_de, base_band)
            print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
