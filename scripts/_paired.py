"""The paired comparison of two models' per-photo CIEDE2000 that the measurement scripts print."""

from __future__ import annotations

import numpy as np

RESAMPLES = 10_000


def paired_difference(ours, theirs, resamples=RESAMPLES, seed=0):
    """``ours - theirs`` per photo (same photos, same order): its mean, the photos where ours is
    lower, and a paired bootstrap 95% interval of the mean (photos resampled with replacement)."""
    diff = np.asarray(ours, dtype=np.float64) - np.asarray(theirs, dtype=np.float64)
    rng = np.random.default_rng(seed)
    means = diff[rng.integers(0, len(diff), (resamples, len(diff)))].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return {"mean_difference": round(float(diff.mean()), 4), "lower_on": int((diff < 0).sum()),
            "photos": len(diff), "bootstrap_95": [round(float(low), 4), round(float(high), 4)]}
