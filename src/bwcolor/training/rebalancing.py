"""Class rebalancing for classification heads: the a*b* prior of the training photos, and the
loss weights that up-weight rare colors (Zhang et al. 2016)."""

from __future__ import annotations

import keras
import numpy as np

from bwcolor import color, data, losses


def rebalancing_weights(source, config, output_stride, max_images=256):
    """Loss weights (a list, one per a*b* bin of ``config``) estimated from the training photos
    (center crops of at most ``max_images``; never the test ones) or a PyDataset's targets."""
    bins = losses.ab_bins(config["loss_config"].get("grid_step", 10))
    if isinstance(source, keras.utils.PyDataset):
        ab = (color.target_to_ab(np.asarray(source[i][1])) for i in range(min(len(source), 16)))
    else:
        ds = data.ColorizationDataset(source[:max_images], config["image_size"], 16,
                                      training=False, output_stride=output_stride)
        ab = (color.target_to_ab(ds[i][1]) for i in range(len(ds)))
    prior = losses.ab_prior(ab, bins)
    lam = config["loss_config"].get("rebalancing_lambda", losses.DEFAULT_REBALANCING_LAMBDA)
    weights = losses.rebalancing_weights(prior, bins, lam=lam)
    return [round(float(w), 5) for w in weights]
