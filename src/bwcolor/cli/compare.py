"""``bwcolor compare``: a sheet of each photo, its colors removed, and each model's result."""

from __future__ import annotations

from pathlib import Path

from bwcolor.cli import _common
from bwcolor.cli._common import EXIT_OK, RENDER, Formatter, UsageError, console


def run(args):
    from bwcolor._plan import OUTPUT_SUFFIXES

    out = Path(args.output)
    if out.suffix.lower() not in OUTPUT_SUFFIXES or out.is_dir():
        raise UsageError(f"-o must be an image file path ending in one of "
                         f"{sorted(OUTPUT_SUFFIXES)}. Received: -o {str(out)!r}")
    from bwcolor.plotting import _check_target, _pyplot, plot_comparison

    try:  # the same checks plot_comparison makes, before any model is loaded
        _check_target(out, args.overwrite, args.images)
    except ValueError:
        raise UsageError(f"-o would overwrite an input. Received: -o {str(out)!r}") from None
    except FileExistsError:
        raise UsageError(f"-o exists; compare replaces a file only with --overwrite. "
                         f"Received: -o {str(out)!r}") from None
    blocking = next((p for p in out.parents if p.exists() and not p.is_dir()), None)
    if blocking is not None:
        raise UsageError(f"-o lies under {str(blocking)!r}, which is a file, not a folder. "
                         f"Received: -o {str(out)!r}")
    for image in args.images:
        _check_photo_file(image)
    models = args.model or ["default"]
    for m in models:
        _common.check_model(m)
    from bwcolor._io import InputFiles, OutputIsInputError

    try:  # nor any model's files, under any name, --overwrite or not
        InputFiles([*args.images, *(f for m in models for f in _common.model_files(m))]).check(
            out, advice="choose another -o")
    except OutputIsInputError as e:
        raise UsageError(str(e)) from None
    try:  # before loading any model: without the plot extra there is nothing to draw with
        _pyplot()
    except ImportError as e:
        raise UsageError(str(e)) from None
    colorizers = {m: _common.load_colorizer(m) for m in models}
    out.parent.mkdir(parents=True, exist_ok=True)  # as colorize does for its output folder
    try:
        plot_comparison(args.images, colorizers, out, render_size=args.render_size,
                        overwrite=args.overwrite)
    except ValueError as e:
        raise UsageError(str(e)) from None
    console.log(f"wrote {out}")
    return EXIT_OK


def _check_photo_file(image):
    """A compare input is one photo file: a folder, a pipe or a device is named as such (each
    was "image not found")."""
    path = Path(image)
    if path.is_dir():
        raise UsageError(f"{image!r} is a folder; compare takes photo files (one row each), e.g. "
                         f"{str(path / '*.jpg')!r} to name the JPEGs in it. Received: {image!r}")
    if path.exists() and not path.is_file():
        raise UsageError(f"{image!r} is not a regular file (a pipe, socket or device); compare "
                         f"takes photo files. Received: {image!r}")
    if not path.is_file():
        raise UsageError(f"image not found. Received: {image!r}")


def add_parser(sub):
    m = sub.add_parser("compare", help="sheet: original / colors removed / each model",
                       formatter_class=Formatter)
    m.add_argument("images", nargs="+", help="photos to show, one row each")
    m.add_argument("-o", "--output", required=True, help="image file to write (PNG)")
    m.add_argument("--model", action="append", help="repeat for several models (default: default)")
    m.add_argument("--render-size", type=RENDER, default=None, help="short side the models see")
    m.add_argument("--overwrite", action="store_true", help="replace -o if it exists (never an input)")
    m.set_defaults(func=run)
