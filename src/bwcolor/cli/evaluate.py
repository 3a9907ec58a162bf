"""``bwcolor evaluate``: a model's scores (or the gray baseline's) on a folder of photos."""

from __future__ import annotations

import json
from pathlib import Path

from bwcolor import _backend, presets
from bwcolor.cli import _common
from bwcolor.cli._common import EXIT_OK, TEMPERATURE, Formatter, UsageError, console, number


def run(args):
    if not Path(args.data_dir).exists():
        raise UsageError(f"data not found. Received: {args.data_dir!r}")
    try:
        if args.model == "gray":
            _backend.import_keras_lean()
            from bwcolor.colorizer import evaluate_gray_baseline

            scores = evaluate_gray_baseline(args.data_dir, split=args.split, size=args.size or 256)
        else:
            _common.check_model(args.model)
            colorizer = _common.load_colorizer(args.model)
            scores = colorizer.evaluate(args.data_dir, split=args.split, size=args.size,
                                        annealing_temperature=args.temperature)
    except (ValueError, FileNotFoundError) as e:
        raise UsageError(str(e)) from None
    if args.json:
        console.print(json.dumps(scores))
    else:
        for k, v in scores.items():
            console.print(f"{k:>24}: {v:.4f}" if isinstance(v, float) else f"{k:>24}: {v}")
    return EXIT_OK


def add_parser(sub):
    e = sub.add_parser("evaluate", help="score a model on a folder of color photos",
                       formatter_class=Formatter)
    e.add_argument("data_dir", help="folder of color photos, or one photo")
    e.add_argument("--model", default="default", help="preset, folder, or 'gray' (a = b = 0 baseline)")
    e.add_argument("--split", choices=["train", "validation", "test"], default=None,
                   help="score one split of the folder (default: every photo)")
    e.add_argument("--size", type=number(int, "size", low=presets.MIN_RENDER_SIZE,
                                          high=presets.MAX_RENDER_SIZE),
                   default=None, help="short side of the center crops (default: the model's size)")
    e.add_argument("--temperature", type=TEMPERATURE, default=None,
                   help="annealed-mean temperature for classification models")
    e.add_argument("--json", action="store_true", help="print one JSON object")
    e.set_defaults(func=run)
