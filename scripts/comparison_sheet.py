"""A comparison sheet of split photos chosen by a fixed rule: original / colors removed / models.

    python scripts/comparison_sheet.py PHOTOS_DIR --split test --every 3 --size 192 \\
        --model "old default=default" --model "new default=/tmp/runs/default_hints/best" \\
        --model seed=seed -o docs/images/comparison_test.png \\
        --manifest /work/shared/data/MANIFEST.tsv

The photos are every ``--every``-th photo of the split (``evaluate``'s split: the stable hash
split, no photo left out for being near gray) in sorted relative-path order, starting with the
first; at most ``--rows`` of them. Each row shows the crop ``evaluate`` scores (short side
``--size``, center square), the same with its colors removed (what the models see), and each
model's colorization of it at render size ``--size``, without hints. Tiles are ``--tile`` pixels
square, or less (in steps of 8) until the PNG fits ``--max-mb`` (photos compress poorly: 12 rows
of 5 columns need about 120 px for 1.5 MB). Prints one JSON line per chosen photo:
its path relative to PHOTOS_DIR, each model's CIEDE2000 on it, and, with ``--manifest`` (a TSV
with columns file, source, license), where it comes from and its license, for the caption.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from pathlib import Path

import numpy as np

MIN_ROWS = 12


def parse_model(spec):
    """``LABEL=PRESET`` or ``PRESET`` -> (label, preset)."""
    return tuple(spec.split("=", 1)) if "=" in spec else (spec, spec)


def choose(photos, split, size, every, rows):
    """Every ``every``-th photo of the split in sorted relative-path order (at most ``rows``):
    (relative paths, their evaluation crops)."""
    from bwcolor.evaluation import reference_crops

    crops, paths, _skipped = reference_crops(photos, size, split)
    root = Path(photos)
    order = sorted(range(len(paths)), key=lambda i: Path(paths[i]).relative_to(root).as_posix())
    chosen = order[::every][:rows]
    return [Path(paths[i]).relative_to(root).as_posix() for i in chosen], [crops[i] for i in chosen]


def sheet(columns, titles, tile):
    """A PIL image: a title row, then one row of ``tile``-pixel tiles per photo."""
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.load_default(size=max(10, tile // 11))
    header, gap = font.size + 10, 2
    n_rows = len(columns[0])
    width = len(columns) * tile + (len(columns) - 1) * gap
    out = Image.new("RGB", (width, header + n_rows * (tile + gap) - gap), "white")
    draw = ImageDraw.Draw(out)
    for c, (title, cells) in enumerate(zip(titles, columns)):
        x = c * (tile + gap)
        draw.text((x + tile / 2, header / 2), title, fill="black", font=font, anchor="mm")
        for r, cell in enumerate(cells):
            image = Image.fromarray(cell).resize((tile, tile), Image.LANCZOS)
            out.paste(image, (x, header + r * (tile + gap)))
    return out


def fit_png(columns, titles, tile, max_bytes, smallest=64):
    """The sheet's PNG bytes at the largest tile side (``tile``, ``tile`` - 8, ...) that fits."""
    while True:
        buffer = io.BytesIO()
        sheet(columns, titles, tile).save(buffer, format="PNG", optimize=True)
        if buffer.tell() <= max_bytes or tile - 8 < smallest:
            return tile, buffer.getvalue()
        tile -= 8


def read_manifest(path):
    if not path:
        return {}
    with open(path, newline="", encoding="utf-8") as f:
        return {row["file"]: row for row in csv.DictReader(f, delimiter="\t")}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("photos", help="folder of color photos")
    p.add_argument("--model", action="append", required=True,
                   help="LABEL=PRESET or PRESET, one column each (repeat)")
    p.add_argument("--split", default="test", choices=["train", "validation", "test"])
    p.add_argument("--every", type=int, default=3, help="every k-th photo of the split")
    p.add_argument("--rows", type=int, default=MIN_ROWS, help="at most this many photos")
    p.add_argument("--size", type=int, default=192, help="crop short side and render size")
    p.add_argument("--tile", type=int, default=160, help="largest tile side, pixels")
    p.add_argument("--max-mb", type=float, default=1.5, help="the PNG's size limit, MB")
    p.add_argument("--manifest", help="TSV of the photos' sources and licenses (column 'file')")
    p.add_argument("-o", "--output", required=True, help="the sheet (PNG)")
    args = p.parse_args(argv)
    if args.every < 1 or args.rows < 1 or args.tile < 32:
        p.error("--every and --rows must be >= 1, --tile >= 32")

    from bwcolor import Colorizer, color, metrics

    paths, crops = choose(args.photos, args.split, args.size, args.every, args.rows)
    if len(paths) < MIN_ROWS:
        print(f"warning: only {len(paths)} photos chosen (wanted >= {MIN_ROWS}): lower --every",
              file=sys.stderr)
    models = [parse_model(m) for m in args.model]
    gray = [np.repeat(np.round(color.rgb_to_gray(c / 255.0) * 255).astype(np.uint8)[..., None],
                      3, -1) for c in crops]
    columns, titles = [crops, gray], ["original", "colors removed"]
    scores = {}
    for label, preset in models:
        outputs = Colorizer.from_preset(preset).colorize(crops, render_size=args.size)
        columns.append(outputs)
        titles.append(label)
        scores[label] = [metrics.image_metrics(c, o)["delta_e2000"] for c, o in zip(crops, outputs)]

    manifest = read_manifest(args.manifest)
    folder = Path(args.photos).name
    for i, rel in enumerate(paths):
        entry = manifest.get(rel) or manifest.get(f"{folder}/{rel}") or {}
        print(json.dumps({"row": i + 1, "path": rel, "source": entry.get("source"),
                          "license": entry.get("license"),
                          "delta_e2000": {k: round(v[i], 2) for k, v in scores.items()}}))

    tile, png = fit_png(columns, titles, args.tile, args.max_mb * 1e6)
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_bytes(png)
    print(f"wrote {args.output}: {len(paths)} photos x {len(titles)} columns, {tile} px tiles, "
          f"{len(png) / 1e6:.2f} MB", file=sys.stderr)
    if len(png) > args.max_mb * 1e6:
        print(f"warning: over {args.max_mb} MB even at {tile} px tiles: fewer rows or models",
              file=sys.stderr)


if __name__ == "__main__":
    main()
