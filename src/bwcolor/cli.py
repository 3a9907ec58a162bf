"""The ``bwcolor`` command line: colorize, train, evaluate, compare, info.

Exit codes: 0 everything done; 1 some inputs failed (each is reported, the rest are done);
2 usage error (bad arguments, unknown model, nothing to do).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

EXIT_OK, EXIT_SOME_FAILED, EXIT_USAGE = 0, 1, 2
_IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp"}


class UsageError(Exception):
    pass


def _log(msg):
    from bwcolor.data.report import printable

    print(printable(msg), file=sys.stderr, flush=True)


def _remove_stale_temp_files(plan):
    """Temp files a killed earlier run left beside its outputs (never the user's files)."""
    for _, dst in plan:
        if dst.parent.is_dir():
            for stale in dst.parent.glob(f".{dst.stem}.*{dst.suffix}.tmp"):
                stale.unlink(missing_ok=True)


def _load_colorizer(name):
    from bwcolor import Colorizer, _backend

    _backend.enable_compilation_cache()
    try:
        return Colorizer.from_preset(name)
    except ValueError as e:
        raise UsageError(str(e)) from None


def _plan_outputs(inputs, output):
    """[(input file, output file)], mirroring folder trees under ``output``."""
    from bwcolor.data import find_files

    output = Path(output)
    single_file_out = (len(inputs) == 1 and Path(inputs[0]).is_file()
                       and output.suffix.lower() in _IMAGE_SUFFIXES)
    if single_file_out:
        return [(Path(inputs[0]), output)]
    plan = []
    for item in inputs:
        item = Path(item)
        if item.is_dir():
            for f in find_files(item):
                plan.append((f, output / item.name / f.relative_to(item).with_suffix(".png")))
        elif item.exists() or item.is_symlink():
            plan.append((item, output / item.with_suffix(".png").name))
        else:
            raise UsageError(f"input not found. Received: {str(item)!r}")
    return plan


def _write_image_atomic(rgb, path):
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    # Not mkstemp: its files are private (0600); outputs get the user's usual permissions.
    tmp = str(path.with_name(f".{path.stem}.{uuid.uuid4().hex[:12]}{path.suffix}.tmp"))
    try:
        with open(tmp, "xb") as f:
            fmt = {".jpg": "JPEG", ".jpeg": "JPEG", ".tif": "TIFF", ".tiff": "TIFF", ".bmp": "BMP",
                   ".webp": "WEBP"}.get(path.suffix.lower(), "PNG")
            # PNG at zlib level 1: ~5x faster than the default 6 for ~10% larger files.
            options = {"JPEG": {"quality": 95}, "PNG": {"compress_level": 1}}.get(fmt, {})
            Image.fromarray(rgb).save(f, format=fmt, **options)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def cmd_colorize(args):
    from bwcolor.data import ImageDecodeError, open_image, sniff_format

    plan = _plan_outputs(args.inputs, args.output)
    if not plan:
        raise UsageError("no input files found")
    _remove_stale_temp_files(plan)
    todo = [(src, dst) for src, dst in plan if args.overwrite or not dst.exists()]
    skipped_existing = len(plan) - len(todo)
    colorizer = _load_colorizer(args.model)
    failed = []

    def decode(src):
        if sniff_format(src) is None:
            raise ImageDecodeError(f"not an image. Received: path={str(src)!r}", path=src,
                                   reason="not_image")
        return open_image(src)  # colorize() takes its L* by lookup tables, not the float RGB

    # Decoding the next photo and encoding the last one overlap with the model's prediction.
    with ThreadPoolExecutor(2) as pool:
        pending_writes = []
        futures = [pool.submit(decode, src) for src, _ in todo[:2]]
        for i, (src, dst) in enumerate(todo):
            t0 = time.time()
            if i + 2 < len(todo):
                futures.append(pool.submit(decode, todo[i + 2][0]))
            try:
                rgb = futures[i].result()
                futures[i] = None
                out = colorizer.colorize(rgb, render_size=args.render_size,
                                         annealing_temperature=args.temperature)
                pending_writes.append((src, pool.submit(_write_image_atomic, out, dst)))
                _log(f"[{i + 1}/{len(todo)}] {src} -> {dst} ({time.time() - t0:.2f} s)")
            except (ImageDecodeError, OSError, ValueError) as e:
                failed.append((src, str(e)))
                _log(f"[{i + 1}/{len(todo)}] FAILED {src}: {e}")
        for src, fut in pending_writes:
            try:
                fut.result()
            except OSError as e:
                failed.append((src, f"could not write output: {e}"))
                _log(f"FAILED writing output for {src}: {e}")
    done = len(todo) - len(failed)
    _log(f"colorized {done}, skipped {skipped_existing} existing (use --overwrite), failed {len(failed)}")
    return EXIT_SOME_FAILED if failed else EXIT_OK


def cmd_train(args):
    from bwcolor import Colorizer, _backend

    _backend.enable_compilation_cache()
    if args.resume:
        colorizer = Colorizer(args.architecture, image_size=args.image_size, loss=args.loss)
    else:
        if Path(args.output).exists() and any(Path(args.output).iterdir()):
            raise UsageError(f"run folder exists and is not empty; use --resume to continue it. "
                             f"Received: {args.output!r}")
        colorizer = Colorizer(args.architecture, image_size=args.image_size, loss=args.loss,
                              learning_rate=args.learning_rate)
    try:
        colorizer.fit(args.data_dir, epochs=args.epochs, batch_size=args.batch_size,
                      validation_split=args.validation_split, checkpoint_dir=args.output,
                      resume=args.resume, degradations=args.degrade, time_budget=args.time_budget,
                      mixed_precision=None if args.mixed_precision == "none" else args.mixed_precision,
                      cache_dir=args.cache_dir, verbose=2)
    except (ValueError, FileNotFoundError) as e:
        raise UsageError(str(e)) from None
    _log(f"run folder: {args.output} (best epoch preset: {Path(args.output) / 'best'})")
    return EXIT_OK


def cmd_evaluate(args):
    if args.model == "gray":
        from bwcolor.colorizer import evaluate_gray_baseline

        scores = evaluate_gray_baseline(args.data_dir, split=args.split, size=args.size or 256)
    else:
        colorizer = _load_colorizer(args.model)
        try:
            scores = colorizer.evaluate(args.data_dir, split=args.split, size=args.size,
                                        annealing_temperature=args.temperature)
        except (ValueError, FileNotFoundError) as e:
            raise UsageError(str(e)) from None
    if args.json:
        print(json.dumps(scores))
    else:
        for k, v in scores.items():
            print(f"{k:>24}: {v:.4f}" if isinstance(v, float) else f"{k:>24}: {v}")
    return EXIT_OK


def cmd_compare(args):
    from bwcolor.plotting import plot_comparison

    models = args.model or ["default"]
    colorizers = {m: _load_colorizer(m) for m in models}
    plot_comparison(args.images, colorizers, args.output, render_size=args.render_size)
    _log(f"wrote {args.output}")
    return EXIT_OK


def cmd_info(args):
    import keras

    from bwcolor import __version__, _backend, architectures, presets

    info = {"bwcolor": __version__, "keras": keras.__version__, "backend": _backend.name(),
            "devices": _backend.devices(), "presets": presets.available(),
            "architectures": architectures.available()}
    if args.json:
        print(json.dumps(info))
    else:
        for k, v in info.items():
            print(f"{k:>14}: {', '.join(v) if isinstance(v, list) else v}")
    return EXIT_OK


def build_parser():
    p = argparse.ArgumentParser(prog="bwcolor", description="Colorize black-and-white photos.",
                                epilog="Exit codes: 0 done, 1 some inputs failed, 2 usage error.")
    sub = p.add_subparsers(dest="command", required=True)

    c = sub.add_parser("colorize", help="colorize photos (files or folders)")
    c.add_argument("inputs", nargs="+", help="image files or folders")
    c.add_argument("-o", "--output", required=True,
                   help="output file (one input) or folder (mirrors input folders, writes .png)")
    c.add_argument("--model", default="default", help="preset name or preset/run folder")
    c.add_argument("--render-size", type=int, default=None, help="short side the model sees")
    c.add_argument("--temperature", type=float, default=None, help="annealed-mean T (classifiers)")
    c.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    c.set_defaults(func=cmd_colorize)

    t = sub.add_parser("train", help="train on a folder of color photos")
    t.add_argument("data_dir")
    t.add_argument("-o", "--output", required=True, help="run folder")
    t.add_argument("--architecture", default="default")
    t.add_argument("--loss", default="auto")
    t.add_argument("--image-size", type=int, default=128)
    t.add_argument("--epochs", type=int, default=20)
    t.add_argument("--batch-size", type=int, default=16)
    t.add_argument("--learning-rate", type=float, default=1e-3)
    t.add_argument("--validation-split", type=float, default=0.05)
    t.add_argument("--time-budget", type=float, default=None, help="seconds")
    t.add_argument("--mixed-precision", default="auto", choices=["auto", "bfloat16", "float16", "none"])
    t.add_argument("--degrade", action="store_true", help="old-photo degradations on input L")
    t.add_argument("--resume", action="store_true")
    t.add_argument("--cache-dir", default="auto",
                   help="keep decoded photos here for later runs (default: a temporary folder)")
    t.set_defaults(func=cmd_train)

    e = sub.add_parser("evaluate", help="score a model on a folder of color photos")
    e.add_argument("data_dir")
    e.add_argument("--model", default="default", help="preset, folder, or 'gray' (a = b = 0 baseline)")
    e.add_argument("--split", choices=["train", "validation", "test"], default=None)
    e.add_argument("--size", type=int, default=None, help="short side of the center crops")
    e.add_argument("--temperature", type=float, default=None)
    e.add_argument("--json", action="store_true")
    e.set_defaults(func=cmd_evaluate)

    m = sub.add_parser("compare", help="sheet: original / colors removed / each model")
    m.add_argument("images", nargs="+")
    m.add_argument("-o", "--output", required=True, help="PNG path")
    m.add_argument("--model", action="append", help="repeat for several models (default: default)")
    m.add_argument("--render-size", type=int, default=None)
    m.set_defaults(func=cmd_compare)

    i = sub.add_parser("info", help="version, backend, devices, presets, architectures")
    i.add_argument("--json", action="store_true")
    i.set_defaults(func=cmd_info)
    return p


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except UsageError as e:
        _log(f"bwcolor {args.command}: error: {e}")
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
