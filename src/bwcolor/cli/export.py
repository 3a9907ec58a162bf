"""``bwcolor export``: a model's net and decoding as an ONNX file."""

from __future__ import annotations

from pathlib import Path

from bwcolor.cli import _common
from bwcolor.cli._common import (
    EXIT_OK,
    EXIT_SOME_FAILED,
    TEMPERATURE,
    Formatter,
    UsageError,
    console,
    number,
)


def run(args):
    from bwcolor._io import InputFiles, OutputIsInputError

    out = Path(args.output)
    if out.is_dir():
        raise UsageError(f"-o must name the .onnx file to write, not a folder. Received: -o {str(out)!r}")
    if out.suffix.lower() != ".onnx":  # "-o p/model.weights.h5" replaced the preset's weights
        raise UsageError(f"-o must name a file ending in .onnx. Received: -o {str(out)!r}")
    _common.check_model(args.model)
    try:  # under any name, --overwrite or not
        InputFiles(_common.model_files(args.model)).check(out, advice="choose another -o")
    except OutputIsInputError as e:
        raise UsageError(str(e)) from None
    if out.exists() and not args.overwrite:
        raise UsageError(f"-o exists; pass --overwrite to replace it. Received: -o {str(out)!r}")
    colorizer = _common.load_colorizer(args.model)
    from bwcolor.export import export_onnx

    height = args.height or args.size or colorizer.config["image_size"]
    width = args.width or args.size or colorizer.config["image_size"]
    try:
        path = export_onnx(colorizer, out, height=height, width=width,
                           annealing_temperature=args.temperature, overwrite=args.overwrite)
    except (ValueError, TypeError, ImportError, FileExistsError) as e:
        raise UsageError(str(e)) from None
    except RuntimeError as e:  # the converter's fault, not the user's
        console.log(f"bwcolor export: error: {e}")
        return EXIT_SOME_FAILED
    console.log(f"wrote {path}: lightness (1, {height}, {width}, 1) -> ab; see the guide's "
                f"'Export to ONNX' for the steps around it")
    return EXIT_OK


def add_parser(sub):
    x = sub.add_parser("export", help="write a model as an ONNX file (needs the onnx extra)",
                       formatter_class=Formatter,
                       description="Write a model's net and decoding as ONNX, for apps that "
                       "colorize without Python: L* (1, H, W, 1) in, a*b* out (pip install "
                       "\"bwcolor[onnx]\"). The shape is fixed: export once per render shape.")
    x.add_argument("-o", "--output", required=True, help=".onnx file to write")
    x.add_argument("--model", default="default", help="preset name, or a preset / run folder")
    size = number(int, "size", low=8, high=4096)
    x.add_argument("--size", type=size, default=None,
                   help="square input side (default: the model's training size)")
    x.add_argument("--height", type=size, default=None, help="input height (overrides --size)")
    x.add_argument("--width", type=size, default=None, help="input width (overrides --size)")
    x.add_argument("--temperature", type=TEMPERATURE, default=None,
                   help="annealed-mean temperature baked in (classification models)")
    x.add_argument("--overwrite", action="store_true", help="replace -o if it exists")
    x.set_defaults(func=run)
