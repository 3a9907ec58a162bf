"""Make the README's and docs' before/after picture, ``docs/images/castle_before_after.png``.

    python scripts/make_readme_image.py [-o docs/images/castle_before_after.png]

The bundled Castle Clinton photo (1961, public domain) next to the ``default`` preset's
colorization, each 480 px wide. Run it after retraining ``default``; it is not part of the docs
build, so building the docs never rewrites a tracked file.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parent.parent


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-o", "--output", type=Path, default=ROOT / "docs" / "images" / "castle_before_after.png")
    p.add_argument("--model", default="default")
    p.add_argument("--width", type=int, default=480, help="width of each half in pixels")
    args = p.parse_args()

    from bwcolor import Colorizer
    from bwcolor.data import sample_photo

    original = Image.open(sample_photo()).convert("RGB")
    colorized = Image.fromarray(Colorizer.from_preset(args.model).colorize(sample_photo()))
    w = args.width
    h = round(original.height * w / original.width)
    gap = 8
    sheet = Image.new("RGB", (2 * w + gap, h), "white")
    sheet.paste(original.resize((w, h)), (0, 0))
    sheet.paste(colorized.resize((w, h)), (w + gap, 0))
    sheet.save(args.output, optimize=True)
    print(f"wrote {args.output} ({sheet.width}x{sheet.height})")


if __name__ == "__main__":
    main()
