"""Data pipeline throughput (images/s) and memory, from real photo files.

    python benchmarks/data_pipeline.py                 # 128 and 256 px, 1 and 2 workers
    python benchmarks/data_pipeline.py --rss-files 60 600
    python benchmarks/data_pipeline.py --photos DIR --size 256 --workers 14 --targets rgb windows \
        --no-degradations --rss-files       # what a GPU host's pipeline delivers

Photos: bwcolor's sample photos re-encoded as JPEG crops at several sizes (no network). Batches
are fetched the way ``keras.utils.PyDataset`` does with thread workers. The RSS runs train a tiny
model for a fixed number of steps over 1x and 10x as many files, each in a fresh process, and
report that process's peak resident memory. Prints one JSON object per line.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import resource
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image


def make_folder(folder, n_files, seed=0):
    from bwcolor.data import sample_photos

    photos = list(sample_photos().values())
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n_files):
        rgb = photos[i % len(photos)]
        h, w = rgb.shape[:2]
        ch, cw = int(h * rng.uniform(0.7, 1)), int(w * rng.uniform(0.7, 1))
        y0, x0 = rng.integers(0, h - ch + 1), rng.integers(0, w - cw + 1)
        img = Image.fromarray(rgb[y0:y0 + ch, x0:x0 + cw])
        scale = rng.uniform(400, 800) / min(img.size)
        img = img.resize((round(img.width * scale), round(img.height * scale)), Image.BILINEAR)
        img.save(folder / f"photo_{i:05d}.jpg", quality=90)
    return sorted(folder.glob("*.jpg"))


_DATASET = None  # what forked process workers read, as keras.utils.PyDataset's do


def _batch(index):
    return _DATASET[index]


def throughput(paths, size, workers, batch, epochs, cache_dir, targets="ab", degradations=True,
               processes=False, repeats=1):
    global _DATASET
    from bwcolor.data import ColorizationDataset, Degradations

    windows = targets == "windows"
    ds = ColorizationDataset(paths, size, batch, training=True, output_stride=4,
                             targets="ab" if windows else targets, crop_on_device=windows,
                             degradations=Degradations() if degradations and not windows else None,
                             cache_dir=cache_dir, repeats=repeats)
    rates = []
    for _ in range(epochs):
        _DATASET = ds  # forked anew each epoch, so workers see the epoch's order
        if processes:  # batches come back pickled, as from Keras' process workers
            pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"))
        else:
            pool = ThreadPoolExecutor(workers)
        with pool:
            t = time.perf_counter()
            # A batch is (x, y), or ((windows, boxes),) with crop_on_device.
            n = sum(len(b[0][0]) if windows else len(b[0]) for b in pool.map(_batch, range(len(ds))))
            rates.append(n / (time.perf_counter() - t))
        ds.on_epoch_end()
    return rates


def rss_child(folder, steps):
    from bwcolor import Colorizer

    c = Colorizer("default", image_size=64, architecture_config=dict(widths=(8, 8), blocks=(1, 1)))
    c.fit(folder, epochs=1, batch_size=8, steps_per_epoch=steps, verbose=0, workers=2)
    print(json.dumps({"peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                      "files_used": c.report.n_used}))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--files", type=int, default=96)
    p.add_argument("--size", nargs="+", type=int, default=[128, 256])
    p.add_argument("--workers", nargs="+", type=int, default=[1, 2])
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--repeats", type=int, default=1,
                   help="visits per photo per epoch: longer, steadier epochs on small folders")
    p.add_argument("--rss-files", nargs="*", type=int, default=[60, 600])
    p.add_argument("--rss-steps", type=int, default=20)
    p.add_argument("--photos", help="a folder of photos to read instead of generated JPEGs")
    p.add_argument("--targets", nargs="+", default=["ab"], choices=["ab", "rgb", "windows"],
                   help="ab: targets made on the host; rgb: uint8 crops (targets_on_device); "
                        "windows: uncropped windows and boxes (crops_on_device, no degradations)")
    p.add_argument("--no-degradations", action="store_true")
    p.add_argument("--processes", action="store_true", help="forked worker processes, not threads")
    p.add_argument("--_rss_child", nargs=2, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args._rss_child:
        return rss_child(args._rss_child[0], int(args._rss_child[1]))
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if args.photos:
            from bwcolor.data import find_files

            paths = find_files(args.photos)
        else:
            paths = make_folder(tmp / "photos", args.files)
        for size in args.size:
            usable = paths
            if args.photos:
                from bwcolor.data import scan

                usable = scan(paths, image_size=size, fractions=(1.0, 0.0, 0.0))[0]["train"]
            for targets in args.targets:
                for workers in args.workers:
                    for cached in (False, True):
                        cache = tmp / f"cache_{size}" if cached else None
                        rates = throughput(usable, size, workers, args.batch_size, 3 if cached else 1,
                                           cache, targets, not args.no_degradations,
                                           args.processes, args.repeats)
                        print(json.dumps({"benchmark": "data_pipeline", "image_size": size,
                                          "workers": workers, "processes": args.processes,
                                          "cache": cached, "targets": targets,
                                          "degradations": not args.no_degradations and targets != "windows",
                                          "images_per_s": round(rates[-1], 1),
                                          "note": "epoch 3 (cache warm)" if cached else "decode every file",
                                          "files": len(usable), "repeats": args.repeats}), flush=True)
        for n in args.rss_files:
            folder = tmp / f"rss_{n}"
            make_folder(folder, n, seed=n)
            out = subprocess.run([sys.executable, __file__, "--_rss_child", str(folder), str(args.rss_steps)],
                                 capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1]
            print(json.dumps({"benchmark": "training_peak_rss", "files": n, "steps": args.rss_steps,
                              **json.loads(out)}), flush=True)


if __name__ == "__main__":
    main()
