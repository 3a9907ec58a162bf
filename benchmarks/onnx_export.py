"""ONNX export of a preset: export time, file size, and how far ONNX Runtime's a*b* is from the
library's own decoding of the same input.

    python benchmarks/onnx_export.py                       # default, 128 x 192
    KERAS_BACKEND=torch python benchmarks/onnx_export.py --model seed --height 256 --width 256

Needs the onnx extra (``pip install "bwcolor[onnx]"``). The input is the L* of a bundled sample
photo resized to the export's shape; the reference is ``Colorizer.predict_ab`` on the same L*.
Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="default")
    p.add_argument("--height", type=int, default=128)
    p.add_argument("--width", type=int, default=192)
    args = p.parse_args()

    import onnxruntime
    from PIL import Image

    from bwcolor import Colorizer, _backend, color
    from bwcolor.data import sample_photo
    from bwcolor.export import export_onnx

    colorizer = Colorizer.from_preset(args.model)
    with Image.open(sample_photo()) as photo:
        rgb = np.asarray(photo.convert("RGB").resize((args.width, args.height), Image.BILINEAR))
    lightness = color.rgb_to_lab(rgb / 255.0)[..., 0].astype(np.float32)
    x = np.zeros((1, args.height, args.width, 4 if colorizer.accepts_hints else 1), np.float32)
    x[0, ..., 0] = color.lightness_to_input(lightness)
    reference = colorizer.predict_ab(x)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "model.onnx"
        t0 = time.perf_counter()
        export_onnx(colorizer, path, height=args.height, width=args.width)
        seconds = time.perf_counter() - t0
        session = onnxruntime.InferenceSession(str(path))
        ab = session.run(None, {"lightness": lightness[None, ..., None]})[0]
        size = path.stat().st_size
    print(json.dumps({"benchmark": "onnx_export", "model": args.model, "backend": _backend.name(),
                      "height": args.height, "width": args.width,
                      "export_s": round(seconds, 2), "file_mb": round(size / 1e6, 2),
                      "max_abs_ab_difference": float(np.abs(ab - reference).max()),
                      "mean_abs_ab_difference": float(np.abs(ab - reference).mean()),
                      "ab_std": float(reference.std())}))


if __name__ == "__main__":
    main()
