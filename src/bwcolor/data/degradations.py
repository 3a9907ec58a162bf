"""Random "old photo" damage for the model's input L*: noise, blur, film grain, JPEG, faded tone."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageFilter

__all__ = ["DEGRADATIONS", "Degradations"]

DEGRADATIONS = ("noise", "blur", "grain", "jpeg", "tone")


class Degradations:
    """Random "old photo" damage applied to the model's input L only, never to the target.

    Parameters
    ----------
    kinds : sequence of str
        Any of ``"noise"``, ``"blur"``, ``"grain"``, ``"jpeg"``, ``"tone"``.
    probability : float
        Chance that each kind is applied to a given image.
    """

    def __init__(self, kinds=DEGRADATIONS, probability=0.3):
        unknown = set(kinds) - set(DEGRADATIONS)
        if unknown:
            raise ValueError(f"unknown degradation. Received: {sorted(unknown)}; "
                             f"available: {list(DEGRADATIONS)}")
        if not 0 <= probability <= 1:
            raise ValueError(f"probability must be in [0, 1]. Received: probability={probability}")
        self.kinds = tuple(kinds)
        self.probability = float(probability)

    def get_config(self):
        return {"kinds": list(self.kinds), "probability": self.probability}

    def __call__(self, lightness, rng):
        """Degrade L* (float array in [0, 100], shape (H, W)); returns a new array."""
        L = lightness.astype(np.float32)
        for kind in self.kinds:
            if rng.random() >= self.probability:
                continue
            if kind == "tone":  # faded print: lifted blacks, lowered whites, a gamma shift
                lo, hi = rng.uniform(0, 15), rng.uniform(85, 100)
                gamma = rng.uniform(0.7, 1.4)
                L = lo + (hi - lo) * (np.clip(L, 0, 100) / 100) ** gamma
            elif kind == "noise":
                L = L + rng.normal(0, rng.uniform(1, 5), L.shape).astype(np.float32)
            elif kind == "grain":  # film grain is spatially correlated: blurred noise
                from scipy.ndimage import gaussian_filter

                g = gaussian_filter(rng.normal(0, 1, L.shape).astype(np.float32),
                                    rng.uniform(0.5, 1.5))
                L = L + g / (g.std() + 1e-6) * rng.uniform(1, 4)
            elif kind in ("blur", "jpeg"):
                img = Image.fromarray((np.clip(L, 0, 100) * 2.55 + 0.5).astype(np.uint8))
                if kind == "blur":
                    img = img.filter(ImageFilter.GaussianBlur(rng.uniform(0.5, 1.5)))
                else:
                    buf = io.BytesIO()
                    img.save(buf, format="JPEG", quality=int(rng.integers(15, 60)))
                    img = Image.open(io.BytesIO(buf.getvalue()))
                L = np.asarray(img, dtype=np.float32) / 2.55
        return np.clip(L, 0, 100)
