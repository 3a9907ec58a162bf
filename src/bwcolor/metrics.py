"""Image-quality metrics for colorization: PSNR, SSIM, CIEDE2000 and colorfulness.

What each rewards: PSNR and SSIM favour cautious, gray-ish output (a wrong vivid color costs more
than a dull one); CIEDE2000 measures perceived color difference; colorfulness (Hasler and
Suesstrunk) measures vividness, compared with the reference's own.
"""

from __future__ import annotations

import numpy as np

from bwcolor.color import rgb_to_lab

__all__ = ["colorfulness", "image_metrics", "mean_metrics"]


def colorfulness(rgb):
    """Hasler and Suesstrunk (2003) colorfulness M = sigma_rgyb + 0.3 mu_rgyb, on 0..255 sRGB.

    Parameters
    ----------
    rgb : uint8 array (H, W, 3), or float in [0, 1]

    References
    ----------
    .. [1] D. Hasler, S. Suesstrunk, "Measuring colourfulness in natural images", Proc. SPIE 5007,
       Human Vision and Electronic Imaging VIII, 2003.
    """
    rgb = np.asarray(rgb)
    x = rgb.astype(np.float64) * (255.0 if rgb.dtype.kind == "f" else 1.0)
    r, g, b = x[..., 0], x[..., 1], x[..., 2]
    rg = r - g
    yb = 0.5 * (r + g) - b
    sigma = np.sqrt(rg.var() + yb.var())
    mu = np.sqrt(rg.mean() ** 2 + yb.mean() ** 2)
    return float(sigma + 0.3 * mu)


def _psnr(reference, output):
    """PSNR in dB on 0..255; inf for identical images (skimage's divides by zero and warns)."""
    mse = float(np.mean((reference.astype(np.float64) - output.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else float(10 * np.log10(255.0**2 / mse))


def image_metrics(reference, output):
    """Metrics of one colorized ``output`` against its color ``reference`` (uint8, same shape)."""
    from skimage.color import deltaE_ciede2000
    from skimage.metrics import structural_similarity

    reference = np.asarray(reference)
    output = np.asarray(output)
    if reference.shape != output.shape:
        raise ValueError(f"reference and output shapes differ. Received: {reference.shape} vs {output.shape}")
    de = deltaE_ciede2000(rgb_to_lab(reference / 255.0), rgb_to_lab(output / 255.0))
    return {
        "psnr": _psnr(reference, output),
        "ssim": float(structural_similarity(reference, output, channel_axis=-1, data_range=255)),
        "delta_e2000": float(np.mean(de)),
        "colorfulness": colorfulness(output),
        "colorfulness_reference": colorfulness(reference),
    }


def mean_metrics(per_image):
    """Average a list of :func:`image_metrics` dicts; adds ``n_images``."""
    if not per_image:
        raise ValueError("no images to average")
    keys = per_image[0].keys()
    out = {k: float(np.mean([m[k] for m in per_image])) for k in keys}
    out["n_images"] = len(per_image)
    return out
