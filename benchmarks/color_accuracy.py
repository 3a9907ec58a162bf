"""Largest errors of bwcolor.color: RGB -> Lab -> RGB round trips, and agreement with skimage.

    KERAS_BACKEND=jax python benchmarks/color_accuracy.py

Prints one JSON object: max absolute errors over 100,000 random sRGB colors plus the 8-bit cube
corners and the gray ramp.
"""

import json

import keras
import numpy as np
import skimage.color

from bwcolor import color
from bwcolor.color import ops


def main():
    rng = np.random.default_rng(0)
    corners = np.array(np.meshgrid([0, 1], [0, 1], [0, 1])).reshape(3, -1).T
    gray = np.repeat(np.linspace(0, 1, 1001)[:, None], 3, axis=1)
    rgb = np.concatenate([rng.random((100_000, 3)), corners, gray])
    out = {"backend": keras.backend.backend(), "colors": len(rgb)}
    for dtype in ("float64", "float32"):
        x = rgb.astype(dtype)
        out[f"numpy_roundtrip_{dtype}"] = float(np.abs(color.lab_to_rgb(color.rgb_to_lab(x)) - x).max())
    x = rgb.astype("float32").reshape(1, -1, 1, 3)
    lab = keras.ops.convert_to_numpy(ops.rgb_to_lab(x))
    back = keras.ops.convert_to_numpy(ops.lab_to_rgb(lab))
    out["ops_roundtrip_float32"] = float(np.abs(back - x).max())
    out["ops_vs_numpy_lab_float32"] = float(np.abs(lab - color.rgb_to_lab(x)).max())
    ours, theirs = color.rgb_to_lab(rgb), skimage.color.rgb2lab(rgb)
    out["vs_skimage_L"] = float(np.abs(ours[:, 0] - theirs[:, 0]).max())
    out["vs_skimage_ab"] = float(np.abs(ours[:, 1:] - theirs[:, 1:]).max())
    out["gray_max_abs_ab"] = float(np.abs(color.rgb_to_lab(gray)[:, 1:]).max())
    out["skimage_gray_max_abs_ab"] = float(np.abs(skimage.color.rgb2lab(gray)[:, 1:]).max())
    print(json.dumps(out))


if __name__ == "__main__":
    main()
