"""Does a color hint stay on its object? The README's hint on the sample photo, measured.

    python scripts/hint_spill.py                        # the bundled default
    python scripts/hint_spill.py --model my_preset/ --render-size 256 --crops spill/

The README colorizes :func:`bwcolor.data.sample_photo` (Castle Clinton, 1961, 1024 x 808) with
one hint on the water, ``{"x": 870, "y": 751, "color": "#2f6fb0"}``. Right above the water runs
the seawall: a dark stone face, its light stone rail, then the promenade; the rail and the
promenade are about as light as the water, so a hint spread along similar lightness reaches them.
This script colorizes the photo without and with that hint (``Colorizer.colorize``, any model that
takes hints) and compares the two outputs inside fixed regions of the photo, drawn once by
looking at it (``--crops`` writes them over the photo, with both outputs):

- ``water``: below the seawall (the hinted object);
- ``rail``: the light stone rail on top of the seawall (a band of 7 px along it);
- ``wall``: the dark stone face between the rail and the water;
- ``promenade``: the pavement strip just above the rail.

Per region (mean over its pixels, CIE L*a*b* of the uint8 outputs): ``shift``, the change of a*b*
projected on the hint's a*b* direction (how much more like the hint it became); ``shift_after``,
the projection with the hint (how hint-colored it ends up); ``delta_e2000``, CIEDE2000 between the
outputs without and with the hint. Then ``spill``: each other region's shift divided by the
water's (0: the hint stays on the water; 1: the rail takes as much of it as the water does).
A second case, ``lawn``: a green hint on the lawn right of the fort, ``LAWN_HINT``, measured on the
``lawn`` (a box around it) and the ``building`` across the trees behind it, with the spill
relative to the lawn.

The spreading reaches a limited distance, so every region is measured twice: whole
(``whole``), and within ``NEAR`` = 256 px (columns) of the hint (``near_hint``), where the rail
and the promenade are the hint's neighbours. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

HINT = {"x": 870, "y": 751, "color": "#2f6fb0"}
LAWN_HINT = {"x": 962, "y": 265, "color": "#4a7a30"}
PHOTO_SHAPE = (808, 1024)
NEAR = 256

#: (x, y) along the middle of the seawall's light rail, and along the bottom of its dark face
#: (where the water starts), in the sample photo's pixels; linear in between.
RAIL = [(0, 690), (64, 686), (128, 685), (192, 682), (256, 678), (320, 675), (384, 671),
        (448, 665), (512, 659), (576, 651), (640, 647), (704, 639), (768, 631), (832, 622),
        (896, 613), (960, 603), (1024, 592)]
WALL_BOTTOM = [(0, 762), (128, 758), (192, 754), (384, 737), (512, 723), (640, 713), (768, 699),
               (896, 683), (960, 669), (1024, 652)]


def _line(points, width):
    xs, ys = zip(*points)
    return np.interp(np.arange(width), xs, ys)


def regions(shape=PHOTO_SHAPE):
    """{name: boolean mask (H, W)} of the sample photo's regions (see the module docstring)."""
    height, width = shape
    rows = np.arange(height)[:, None]
    rail = _line(RAIL, width)[None, :]
    bottom = _line(WALL_BOTTOM, width)[None, :]
    return {
        "water": rows >= bottom + 16,
        "rail": np.abs(rows - rail) <= 3,
        "wall": (rows >= rail + 8) & (rows <= bottom - 8),
        "promenade": (rows >= rail - 45) & (rows <= rail - 8),
    }


def lawn_regions(shape=PHOTO_SHAPE):
    """{name: boolean mask (H, W)}: the ``lawn`` around ``LAWN_HINT`` and the ``building``."""
    masks = {name: np.zeros(shape, bool) for name in ("lawn", "building")}
    masks["lawn"][250:285, 900:1020] = True
    masks["building"][60:180, 690:840] = True
    return masks


def measure(plain, hinted, hint_ab, masks, hinted_region="water"):
    """Per-region means (see the module docstring) of two uint8 RGB outputs, with the spill
    relative to the ``hinted_region``."""
    from skimage.color import deltaE_ciede2000

    from bwcolor import color

    lab_plain = color.rgb_to_lab(plain / 255.0)
    lab_hinted = color.rgb_to_lab(hinted / 255.0)
    direction = np.asarray(hint_ab, np.float64) / np.linalg.norm(hint_ab)
    shift = (lab_hinted[..., 1:] - lab_plain[..., 1:]) @ direction
    after = lab_hinted[..., 1:] @ direction
    de = deltaE_ciede2000(lab_plain, lab_hinted)
    out = {name: {"shift": round(float(shift[m].mean()), 3),
                  "shift_after": round(float(after[m].mean()), 3),
                  "delta_e2000": round(float(de[m].mean()), 3),
                  "pixels": int(m.sum())}
           for name, m in masks.items()}
    own = out[hinted_region]["shift"]
    out["spill"] = {name: round(out[name]["shift"] / own, 3) if own else None
                    for name in masks if name != hinted_region}
    return out


def save_crops(gray, plain, hinted, masks, folder):
    """The regions drawn over the photo, and the bottom third of both outputs, as PNGs."""
    from PIL import Image

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    overlay = np.repeat(gray[..., None], 3, axis=-1).astype(np.float32)
    tints = {"water": (40, 90, 255), "rail": (255, 40, 40), "wall": (40, 200, 40),
             "promenade": (255, 200, 0)}
    for name, mask in masks.items():
        overlay[mask] = 0.5 * overlay[mask] + 0.5 * np.asarray(tints[name], np.float32)
    bottom = slice(PHOTO_SHAPE[0] * 2 // 3, None)
    Image.fromarray(overlay.astype(np.uint8)[bottom]).save(folder / "regions.png")
    Image.fromarray(plain[bottom]).save(folder / "without_hint.png")
    Image.fromarray(hinted[bottom]).save(folder / "with_hint.png")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="default", help="preset name or folder (default: default)")
    p.add_argument("--render-size", type=int, default=None, help="colorize's render_size")
    p.add_argument("--refine-chroma", action="store_true", help="colorize's refine_chroma")
    p.add_argument("--crops", help="write the regions and both outputs as PNGs in this folder")
    args = p.parse_args(argv)

    from PIL import Image

    from bwcolor import Colorizer
    from bwcolor.data import sample_photo
    from bwcolor.hints import parse_hints

    colorizer = Colorizer.from_preset(args.model)
    if not colorizer.accepts_hints:
        sys.exit(f"{args.model} does not take color hints")
    photo = np.asarray(Image.open(sample_photo()).convert("L"))
    if photo.shape != PHOTO_SHAPE:
        sys.exit(f"the sample photo is {photo.shape}, the regions were drawn on {PHOTO_SHAPE}")
    options = {"render_size": args.render_size, "refine_chroma": args.refine_chroma}
    plain = colorizer.colorize(photo, **options)
    hinted = colorizer.colorize(photo, hints=[HINT], **options)
    masks = regions()
    near = np.abs(np.arange(PHOTO_SHAPE[1]) - HINT["x"]) <= NEAR
    hint_ab = parse_hints([HINT], *PHOTO_SHAPE)[0].ab
    result = {"model": args.model, "render_size": args.render_size,
              "refine_chroma": args.refine_chroma, "hint": HINT,
              "near_hint": measure(plain, hinted, hint_ab,
                                   {k: m & near[None, :] for k, m in masks.items()}),
              "whole": measure(plain, hinted, hint_ab, masks)}
    lawn = colorizer.colorize(photo, hints=[LAWN_HINT], **options)
    result["lawn"] = {"hint": LAWN_HINT,
                      **measure(plain, lawn, parse_hints([LAWN_HINT], *PHOTO_SHAPE)[0].ab,
                                lawn_regions(), hinted_region="lawn")}
    print(json.dumps(result))
    if args.crops:
        save_crops(photo, plain, hinted, masks, args.crops)


if __name__ == "__main__":
    main()
