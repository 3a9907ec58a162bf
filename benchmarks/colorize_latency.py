"""End-to-end colorize latency (decode -> predict -> encode) with the bundled default preset.

    python benchmarks/colorize_latency.py

Photos of 256x256, ~1 MP and ~12 MP are made from a bundled sample photo and written as JPEG;
each is colorized from the file to a PNG, after one warm-up per size class (compiled prediction
is reused per render size). Also measures the folder throughput of 256 px photos through the
CLI's pipelined loop. Prints one JSON object per line.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from PIL import Image


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="default")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--no-refine-chroma", dest="refine_chroma", action="store_false",
                   help="colorize's refine_chroma=False (bilinear a*b*), as before issue #26")
    p.add_argument("--folder-files", type=int, nargs=2, default=[40, 240],
                   help="two folder sizes: the difference gives the steady rate, without startup")
    args = p.parse_args()

    from bwcolor import _backend
    from bwcolor.cli import main as cli_main
    from bwcolor.colorizer import Colorizer
    from bwcolor.data import open_image, sample_photos

    _backend.enable_compilation_cache()
    t = time.perf_counter()
    colorizer = Colorizer.from_preset(args.model)
    load_s = time.perf_counter() - t
    print(json.dumps({"benchmark": "preset_load", "model": args.model, "seconds": round(load_s, 3),
                      "backend": _backend.name()}), flush=True)
    source = Image.fromarray(sample_photos(["astronaut"])["astronaut"]).convert("L")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for name, (w, h) in {"256x256": (256, 256), "1MP": (1155, 866), "12MP": (4000, 3000)}.items():
            path = tmp / f"{name}.jpg"
            source.resize((w, h), Image.BICUBIC).save(path, quality=92)
            out = tmp / f"{name}.png"

            def once(path=path, out=out):
                t0 = time.perf_counter()
                rgb = colorizer.colorize(open_image(path), refine_chroma=args.refine_chroma)
                Image.fromarray(rgb).save(out, compress_level=1)  # as the CLI writes
                return time.perf_counter() - t0

            first = once()
            times = [once() for _ in range(args.repeats)]
            print(json.dumps({"benchmark": "colorize_latency", "photo": name, "pixels": w * h,
                              "first_call_s": round(first, 3),
                              "median_s": round(statistics.median(times), 3),
                              "refine_chroma": args.refine_chroma,
                              "backend": _backend.name()}), flush=True)
        import contextlib
        import io

        seconds = {}
        for n in args.folder_files:
            folder = tmp / f"folder{n}"
            folder.mkdir()
            for i in range(n):
                source.resize((256, 256)).rotate(i).save(folder / f"{i:03d}.jpg", quality=92)
            flags = [] if args.refine_chroma else ["--no-refine-chroma"]
            cli_main(["colorize", str(folder / "000.jpg"), "-o", str(tmp / "warm.png"),
                      "--model", args.model, "--overwrite", *flags])
            t = time.perf_counter()
            with contextlib.redirect_stderr(io.StringIO()):
                cli_main(["colorize", str(folder), "-o", str(tmp / f"out{n}"), "--model", args.model,
                          *flags])
            seconds[n] = time.perf_counter() - t
            print(json.dumps({"benchmark": "folder_throughput", "photos": n, "size": "256x256",
                              "seconds": round(seconds[n], 2), "photos_per_s": round(n / seconds[n], 2),
                              "note": "one CLI call, loading the preset included"}), flush=True)
        small, large = args.folder_files
        print(json.dumps({"benchmark": "folder_throughput_steady", "size": "256x256",
                          "photos_per_s": round((large - small) / (seconds[large] - seconds[small]), 2),
                          "note": f"({large} - {small}) photos / difference of the two calls' times"}),
              flush=True)


if __name__ == "__main__":
    main()
