"""Photos per second of ``bwcolor colorize`` on one process and on Ray (1 and 2 actors), on the same
generated photos, and what that projects for a cluster. Needs the ray extra.

    python benchmarks/ray_colorize.py [--photos 200] [--model default] [--cpus 2]

The photos are the bundled samples resized (short sides 256-512 px, JPEG and gray PNG). Each run
starts from an empty output folder. Rates are "steady" (the extra photos of a run on all of them
over the extra seconds it took compared with a run on a fifth of them: model loading, compiling
and Ray's start-up cancel out) and "overall" (all photos over the whole call). Ray's overhead per photo is the difference of the steady seconds per photo of
Ray with 1 actor and of the plain command's loop. Prints one JSON object.

The projection to N GPU actors is ``min(N x per-actor rate, decode rate, storage read rate /
bytes per photo)``: each actor colorizes one photo at a time, so it scales with actors until
the decode tasks (measured here: one CPU's photos/s, times the CPUs left to them) or the
storage's read rate (not measurable here; given by ``--read-mb-s``) bound it.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image


def make_photos(folder, n):
    from bwcolor.data import sample_photos

    photos = list(sample_photos().values())
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True)
    for i in range(n):
        photo = photos[i % len(photos)]
        short = int(rng.integers(256, 513))
        image = Image.fromarray(photo)
        scale = short / min(image.size)
        image = image.resize((max(short, round(image.width * scale)),
                              max(short, round(image.height * scale))))
        if i % 2:
            image.convert("L").save(folder / f"scan{i:04d}.png")
        else:
            image.save(folder / f"scan{i:04d}.jpg", quality=90)
    return folder


def run_plain(scans, small, out, model):
    """The plain command on all photos, and on the first few (to take away start-up)."""
    from bwcolor.cli import main as cli_main

    n_small = len(list(small.iterdir()))
    walls = []
    for folder in (small, scans):
        shutil.rmtree(out, ignore_errors=True)
        t = time.perf_counter()
        cli_main(["colorize", str(folder), "-o", str(out), "--model", model])
        walls.append(time.perf_counter() - t)
    n = len(list(scans.iterdir()))
    return {"photos": n, "seconds": round(walls[1], 2), "overall_photos_s": round(n / walls[1], 3),
            "steady_photos_s": round((n - n_small) / (walls[1] - walls[0]), 3)}


def run_ray(scans, small, out, model, actors, cpus):
    """Ray on all photos, and on the first few (the difference takes away start-up: rows come
    back a block at a time, so their arrival times say little about the rate)."""
    from bwcolor import cluster

    walls = []
    for folder in (small, scans):
        shutil.rmtree(out, ignore_errors=True)
        t = time.perf_counter()
        result = cluster.colorize_on_ray([folder], out, model=model, actors=actors,
                                         num_cpus=cpus)
        walls.append(time.perf_counter() - t)
    n, n_small = result.written, len(list(small.iterdir()))
    return {"actors": result.actors, "photos": n, "failed": len(result.failures),
            "seconds": round(walls[1], 2), "overall_photos_s": round(n / walls[1], 3),
            "steady_photos_s": round((n - n_small) / (walls[1] - walls[0]), 3)}


def decode_rate(scans, n=40):
    from bwcolor.data import open_image

    paths = sorted(scans.iterdir())[:n]
    t = time.perf_counter()
    for p in paths:
        open_image(p)
    return len(paths) / (time.perf_counter() - t)


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--photos", type=int, default=200)
    p.add_argument("--model", default="default")
    p.add_argument("--cpus", type=int, default=os.cpu_count(), help="CPUs of the local Ray")
    p.add_argument("--read-mb-s", type=float, default=500.0,
                   help="the storage's read rate for the projection (MB/s)")
    args = p.parse_args()

    from bwcolor import _backend

    _backend.enable_compilation_cache()
    with tempfile.TemporaryDirectory() as tmp:
        scans = make_photos(Path(tmp) / "scans", args.photos)
        mb_per_photo = sum(f.stat().st_size for f in scans.iterdir()) / args.photos / 1e6
        small = Path(tmp) / "small"
        small.mkdir()
        for f in sorted(scans.iterdir())[:max(2, args.photos // 5)]:
            os.link(f, small / f.name)
        plain = run_plain(scans, small, Path(tmp) / "plain", args.model)
        ray1 = run_ray(scans, small, Path(tmp) / "ray1", args.model, 1, args.cpus)
        ray2 = run_ray(scans, small, Path(tmp) / "ray2", args.model, 2, args.cpus)
        decode = decode_rate(scans)
    overhead = 1 / ray1["steady_photos_s"] - 1 / plain["steady_photos_s"]
    per_actor = ray1["steady_photos_s"]
    decode_cpus = max(0.5, args.cpus / 4)
    bounds = {"decode_photos_s_per_cpu": round(decode, 2),
              "storage_photos_s": round(args.read_mb_s / mb_per_photo, 1)}
    projection = {
        str(n): {"photos_s": round(min(n * per_actor, bounds["storage_photos_s"]), 2),
                 "decode_cpus_needed": round(min(n * per_actor, bounds["storage_photos_s"])
                                             / decode, 1)}
        for n in (1, 2, 4, 8, 16, 64)}
    print(json.dumps({
        "benchmark": "ray_colorize", "model": args.model, "backend": _backend.name(),
        "devices": _backend.devices(), "cpus": args.cpus, "photos": args.photos,
        "mb_per_photo": round(mb_per_photo, 3), "plain_cli": plain, "ray_1_actor": ray1,
        "ray_2_actors": ray2, "ray_overhead_s_per_photo": round(overhead, 4),
        "projection": {"per_actor_photos_s": per_actor, "bounds": bounds,
                       "decode_cpus_here": decode_cpus, "by_actors": projection,
                       "formula": "min(N x per-actor rate, read MB/s / MB per photo), as long as "
                                  "decode_cpus_needed CPUs are left to the decode tasks"}}))


if __name__ == "__main__":
    main()
