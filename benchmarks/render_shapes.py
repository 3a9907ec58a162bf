"""How many render shapes a folder of photos of many sizes compiles, and what that costs.

    python benchmarks/render_shapes.py --photos 30

Makes N gray photos of N different sizes (short side 300-1200 px, aspect 1:1 to 3:1, both
orientations), colorizes them one at a time with the bundled ``default`` preset in a fresh
process, and prints one JSON line: distinct render shapes, total and per-photo seconds. Each new
shape costs an XLA compile on JAX; run it with BWCOLOR_NO_COMPILATION_CACHE=1 to see cold costs.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np


def photo_sizes(n, seed=0):
    rng = np.random.default_rng(seed)
    sizes = set()
    while len(sizes) < n:
        short = int(rng.integers(300, 1200))
        long_side = int(short * rng.uniform(1.0, 3.0))
        sizes.add((short, long_side) if rng.random() < 0.5 else (long_side, short))
    return sorted(sizes)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--photos", type=int, default=30)
    p.add_argument("--preset", default="default")
    args = p.parse_args(argv)

    from bwcolor import Colorizer, _backend

    colorizer = Colorizer.from_preset(args.preset)
    sizes = photo_sizes(args.photos)
    rng = np.random.default_rng(1)
    photos = [rng.integers(0, 256, (h, w), dtype=np.uint8) for h, w in sizes]
    shapes = {colorizer.render_shape(h, w) for h, w in sizes}
    t0 = time.perf_counter()
    times = []
    for photo in photos:
        t = time.perf_counter()
        colorizer.colorize(photo)
        times.append(time.perf_counter() - t)
    total = time.perf_counter() - t0
    print(json.dumps({"benchmark": "render_shapes", "backend": _backend.name(),
                      "photos": len(photos), "distinct_sizes": len(sizes),
                      "distinct_render_shapes": len(shapes), "seconds_total": round(total, 2),
                      "seconds_first": round(times[0], 3),
                      "seconds_median": round(float(np.median(times)), 3)}))


if __name__ == "__main__":
    main()
