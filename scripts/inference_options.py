"""Do colorize's inference options improve colors? Measured on a split, and their 1 MP latency.

    python scripts/inference_options.py PHOTOS_DIR                  # validation split, 192 px
    python scripts/inference_options.py PHOTOS_DIR --split test --model my_preset/

For each combination of ``flip_average`` and ``refine_chroma`` (none / flip / refine / both),
colorizes the split's center crops as ``Colorizer.evaluate`` does (short side ``--size``, also
the render size) and prints one JSON line: mean CIEDE2000, PSNR, SSIM, colorfulness and the
references' colorfulness, n_images, seconds; and its paired CIEDE2000 difference to "none"
(mean, photos improved, bootstrap 95% interval). Then the median colorize time of a ~1 MP photo
(1155 x 866, from a bundled sample photo) with each combination.

Issue #15, default preset, validation split (47 photos): neither option is a default. Flip
averaging: -0.02 CIEDE2000, 95% interval [-0.08, +0.04] (26 of 47 photos), at twice the model's
time. The guided filter: -0.07 [-0.10, -0.04] (38 of 47), but with 1.0 less colorfulness, and
scaling the plain output's chroma by 0.97 reaches the same colorfulness and the same -0.08.
Since issue #26 ``refine_chroma`` is colorize's default, with a guided filter whose output is
clamped to the colors predicted nearby (scripts/chroma_upsampling.py has those numbers).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np
from _paired import paired_difference

OPTIONS = {"none": {"refine_chroma": False}, "flip": {"flip_average": True, "refine_chroma": False},
           "refine": {"refine_chroma": True}, "both": {"flip_average": True, "refine_chroma": True}}


def score(colorizer, references, size, options):
    """Per-photo metrics of colorize(options) on the uint8 reference crops, and the seconds."""
    from bwcolor import metrics

    t = time.perf_counter()
    scores = []
    for start in range(0, len(references), 8):
        batch = references[start:start + 8]
        outs = colorizer.colorize(list(batch), render_size=size, **options)
        scores += [metrics.image_metrics(r, o) for r, o in zip(batch, outs)]
    return scores, time.perf_counter() - t


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("photos")
    p.add_argument("--model", default="default")
    p.add_argument("--split", default="validation")
    p.add_argument("--size", type=int, default=192)
    p.add_argument("--repeats", type=int, default=7, help="timed 1 MP colorize calls per option")
    args = p.parse_args()

    from PIL import Image

    from bwcolor import Colorizer, _backend, metrics
    from bwcolor.data import sample_photos
    from bwcolor.evaluation import reference_crops

    colorizer = Colorizer.from_preset(args.model)
    references, _paths, _skipped = reference_crops(args.photos, args.size, args.split)
    colorizer.colorize(list(references[:8]), render_size=args.size)  # compile, untimed
    base = None
    for name, options in OPTIONS.items():
        scores, seconds = score(colorizer, references, args.size, options)
        de = np.array([s["delta_e2000"] for s in scores])
        row = {"option": name, **options, "split": args.split, "size": args.size,
               **{k: round(v, 4) for k, v in metrics.mean_metrics(scores).items()},
               "seconds": round(seconds, 2), "backend": _backend.name()}
        if base is None:
            base = de
        else:
            paired = paired_difference(de, base)
            row["delta_e2000_vs_none"] = paired["mean_difference"]
            row["photos_lower_delta_e"] = paired["lower_on"]
            row["bootstrap_95"] = paired["bootstrap_95"]
        print(json.dumps(row), flush=True)

    photo = np.asarray(Image.fromarray(sample_photos(["astronaut"])["astronaut"]).convert("L")
                       .resize((1155, 866), Image.BICUBIC))
    for name, options in OPTIONS.items():
        colorizer.colorize(photo, **options)  # warm-up (compile)
        times = []
        for _ in range(args.repeats):
            t = time.perf_counter()
            colorizer.colorize(photo, **options)
            times.append(time.perf_counter() - t)
        print(json.dumps({"benchmark": "colorize_latency_1MP", "option": name, "pixels": 1155 * 866,
                          "median_s": round(statistics.median(times), 3),
                          "backend": _backend.name()}), flush=True)


if __name__ == "__main__":
    main()
