"""Training objectives for L -> ab: regression (MSE/L1/Huber) and rebalanced ab classification.

Regression on ab averages the plausible colors of an object, and the average of many colors is
brown/gray: the tutorial's known sepia failure. Classification over quantized ab (Zhang et al.
2016 [1]_) keeps multimodal predictions, class rebalancing stops common desaturated bins dominating the
loss, and the annealed mean picks a vivid but spatially coherent color at decoding time.

References
----------
.. [1] R. Zhang, P. Isola, A. A. Efros, "Colorful Image Colorization", ECCV 2016.
"""

from __future__ import annotations

import functools

import keras
import numpy as np
from keras import ops

from bwcolor.color import _constants as C
from bwcolor.color import ops as color_ops
from bwcolor.color import uint8_rgb_to_lab

__all__ = [
    "DEFAULT_REBALANCING_LAMBDA",
    "DEFAULT_TEMPERATURE",
    "RGBTargets",
    "RebalancedCrossEntropy",
    "RegressionLoss",
    "ab_bins",
    "ab_prior",
    "annealed_mean",
    "available",
    "get",
    "head_for",
    "rebalancing_weights",
]

DEFAULT_TEMPERATURE = 0.38
DEFAULT_REBALANCING_LAMBDA = 0.5

_REGRESSION = ("mse", "l1", "huber")
_CLASSIFICATION = ("classification",)


@functools.lru_cache(maxsize=8)
def _ab_bins_cached(grid_step):
    # The cells that some 8-bit sRGB color reaches are the bins. The most saturated colors lie on
    # the surface of the RGB cube, so that is sampled at every code value (6 x 65,536 colors) and
    # the interior on a coarse lattice: the same bins as all 16.7 M colors, in a fraction of the time.
    full = np.arange(256, dtype=np.uint8)
    u, v = (g.ravel() for g in np.meshgrid(full, full, indexing="ij"))
    faces = []
    for axis in range(3):
        for value in (0, 255):
            face = np.empty((u.size, 3), dtype=np.uint8)
            face[:, axis] = value
            face[:, [i for i in range(3) if i != axis]] = np.stack([u, v], -1)
            faces.append(face)
    coarse = np.arange(0, 256, 8, dtype=np.uint8)
    interior = np.stack(np.meshgrid(coarse, coarse, coarse, indexing="ij"), -1).reshape(-1, 3)
    ab = uint8_rgb_to_lab(np.concatenate([*faces, interior]))[:, 1:].astype(np.float64)
    cell = np.round(ab / grid_step).astype(np.int64)
    lo = cell.min(axis=0)
    hit = np.zeros(tuple(cell.max(axis=0) - lo + 1), dtype=bool)
    hit[cell[:, 0] - lo[0], cell[:, 1] - lo[1]] = True
    return ((np.argwhere(hit) + lo) * grid_step).astype(np.float32)


def ab_bins(grid_step=10):
    """Centers of the quantized ab cells that sRGB colors reach, shape (Q, 2), a* then b*.

    With ``grid_step=10`` (Zhang et al.) this gives Q = 261 bins, computed here from the gamut
    rather than read from a downloaded file. (Zhang et al.'s published table has 313: it was
    derived with a looser gamut test; every bin here is reached by a real sRGB color.)
    """
    return _ab_bins_cached(float(grid_step)).copy()


def ab_prior(ab_values, bins):
    """Empirical distribution of ab over the bins (nearest bin), from an iterable of ab arrays.

    Parameters
    ----------
    ab_values : iterable of arrays, shape (..., 2)
        a*, b* in Lab units (not scaled).
    bins : array, shape (Q, 2)

    Returns
    -------
    prior : array, shape (Q,), sums to 1
    """
    counts = np.zeros(len(bins), dtype=np.float64)
    b2 = (bins.astype(np.float32) ** 2).sum(-1)
    for ab in ab_values:
        ab = np.asarray(ab, dtype=np.float32).reshape(-1, 2)
        d2 = b2[None, :] - 2 * ab @ bins.T.astype(np.float32)
        counts += np.bincount(np.argmin(d2, axis=1), minlength=len(bins))
    if counts.sum() == 0:
        raise ValueError("ab_prior needs at least one pixel")
    return counts / counts.sum()


def rebalancing_weights(prior, bins, *, lam=DEFAULT_REBALANCING_LAMBDA, sigma=5.0):
    """Class-rebalancing weights (Zhang et al. 2016, eq. 4), normalized to mean 1 under the prior.

    ``w ∝ ((1 - lam) * p~ + lam / Q) ** -1`` where p~ is the prior smoothed by a Gaussian of
    ``sigma`` (ab units) over the bin centers.
    """
    if not 0 < lam <= 1:  # at 0, bins that the smoothed prior never reaches get infinite weight
        raise ValueError(f"lam must be in (0, 1]. Received: lam={lam}")
    prior = np.asarray(prior, dtype=np.float64)
    d2 = ((bins[:, None, :] - bins[None, :, :]) ** 2).sum(-1)
    kernel = np.exp(-d2 / (2 * sigma**2))
    smoothed = kernel @ prior
    smoothed /= smoothed.sum()
    w = 1.0 / ((1 - lam) * smoothed + lam / len(bins))
    w /= (smoothed * w).sum()
    return w.astype(np.float32)


def annealed_mean(logits, bins, temperature=DEFAULT_TEMPERATURE):
    """Decode ab-bin logits (..., Q) to ab (..., 2) by the annealed mean.

    ``softmax(log p / T)`` re-weights the distribution; T = 1 gives the mean (desaturated), T -> 0
    the mode (vivid, patchy); Zhang et al. use T = 0.38. Computed in float32.
    """
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0. Received: temperature={temperature}")
    logits = ops.cast(logits, "float32")
    p = ops.softmax(logits / float(temperature), axis=-1)
    return ops.matmul(p, ops.convert_to_tensor(np.asarray(bins, dtype=np.float32)))


@keras.saving.register_keras_serializable(package="bwcolor")
class RegressionLoss(keras.losses.Loss):
    """MSE / L1 / Huber on scaled ab (ab / 128), with an optional colorfulness term.

    The colorfulness term, ``colorfulness_weight * relu(mean chroma(target) - mean chroma(pred))``
    per image, only penalizes predictions that are duller than the truth (as DDColor's
    colorfulness loss aims to).
    """

    def __init__(self, kind="mse", colorfulness_weight=0.0, huber_delta=0.1, name=None, **kwargs):
        if kind not in _REGRESSION:
            raise ValueError(f"kind must be one of {_REGRESSION}. Received: kind={kind!r}")
        super().__init__(name=name or kind, **kwargs)
        self.kind = kind
        self.colorfulness_weight = float(colorfulness_weight)
        self.huber_delta = float(huber_delta)

    def call(self, y_true, y_pred):
        y_true = ops.cast(y_true, "float32")
        y_pred = ops.cast(y_pred, "float32")
        diff = y_pred - y_true
        if self.kind == "mse":
            per_pixel = ops.square(diff)
        elif self.kind == "l1":
            per_pixel = ops.abs(diff)
        else:
            a = ops.abs(diff)
            d = self.huber_delta
            per_pixel = ops.where(a <= d, 0.5 * ops.square(diff), d * (a - 0.5 * d))
        loss = ops.mean(per_pixel, axis=(1, 2, 3))
        if self.colorfulness_weight:
            def chroma(t):
                return ops.mean(ops.sqrt(ops.sum(ops.square(t), axis=-1) + 1e-6), axis=(1, 2))

            loss = loss + self.colorfulness_weight * ops.relu(chroma(y_true) - chroma(y_pred))
        return loss

    def get_config(self):
        return {**super().get_config(), "kind": self.kind,
                "colorfulness_weight": self.colorfulness_weight, "huber_delta": self.huber_delta}


@keras.saving.register_keras_serializable(package="bwcolor")
class RebalancedCrossEntropy(keras.losses.Loss):
    """Cross-entropy against soft-encoded ab targets, weighted per pixel by class rarity.

    ``y_true`` is the scaled ab target (B, h, w, 2); each pixel's ab is soft-encoded over its
    ``neighbors`` nearest bins with a Gaussian of ``sigma`` (ab units), as in Zhang et al.
    ``y_pred`` are logits (B, h, w, Q). ``weights`` (Q,) come from :func:`rebalancing_weights`;
    None weighs every pixel 1 (no rebalancing).
    """

    def __init__(self, weights=None, grid_step=10, sigma=5.0, neighbors=5, name="classification",
                 **kwargs):
        super().__init__(name=name, **kwargs)
        self.grid_step = float(grid_step)
        self.sigma = float(sigma)
        self.neighbors = int(neighbors)
        self.bins = ab_bins(self.grid_step)
        if weights is not None:
            weights = np.asarray(weights, dtype=np.float32)
            if weights.shape != (len(self.bins),) or not np.all(np.isfinite(weights)):
                raise ValueError(f"weights must be {len(self.bins)} finite numbers. "
                                 f"Received: shape={weights.shape}")
        self.weights = weights

    @property
    def num_bins(self):
        return len(self.bins)

    def _candidates(self):
        """Lookup table from grid cell to bin index (-1 where no bin), and its origin."""
        cells = np.round(self.bins / self.grid_step).astype(np.int64)
        lo = cells.min(axis=0) - 3  # margin: candidate blocks reach 2 cells past any bin
        table = -np.ones(tuple(cells.max(axis=0) - lo + 4), dtype=np.int32)
        table[cells[:, 0] - lo[0], cells[:, 1] - lo[1]] = np.arange(len(cells), dtype=np.int32)
        return table, lo

    def call(self, y_true, y_pred):
        # The nearest bins of a point on a square lattice lie in the 4 x 4 block of lattice points
        # around it (the 4 corners of its cell are nearest; the 5th is one of the 12 around them),
        # so distances are computed to those 16 candidates only, not to all Q bins: that made the
        # loss 4x cheaper. Candidates that are not bins (outside the gamut) are masked out.
        logits = ops.cast(y_pred, "float32")
        q = self.num_bins
        table, lo = self._candidates()
        step = self.grid_step
        ab = ops.reshape(ops.cast(y_true, "float32") * C.AB_SCALE, (-1, 2))
        offsets = np.stack(np.meshgrid(np.arange(-1, 3), np.arange(-1, 3), indexing="ij"), -1)
        offsets = ops.convert_to_tensor(offsets.reshape(1, 16, 2).astype("float32"))
        cell = ops.expand_dims(ops.floor(ab / step), 1) + offsets  # (N, 16, 2) lattice coords
        ia = ops.clip(ops.cast(cell[..., 0], "int32") - int(lo[0]), 0, table.shape[0] - 1)
        ib = ops.clip(ops.cast(cell[..., 1], "int32") - int(lo[1]), 0, table.shape[1] - 1)
        index = ops.take(ops.convert_to_tensor(table.reshape(-1)), ia * table.shape[1] + ib)
        valid = index >= 0
        d2 = ops.sum(ops.square(cell * step - ops.expand_dims(ab, 1)), axis=-1)
        d2 = ops.where(valid, d2, 1e9)
        kth = -ops.top_k(-d2, self.neighbors, sorted=True)[0][:, -1:]
        soft = ops.where(valid & (d2 <= kth), ops.exp(-ops.minimum(d2, 1e4) / (2 * self.sigma**2)), 0.0)
        soft = soft / ops.maximum(ops.sum(soft, -1, keepdims=True), 1e-12)
        index = ops.maximum(index, 0)
        log_p = ops.log_softmax(ops.reshape(logits, (-1, q)), axis=-1)
        ce = -ops.sum(soft * ops.take_along_axis(log_p, index, axis=1), axis=-1)
        if self.weights is not None:
            nearest = ops.take_along_axis(index, ops.expand_dims(ops.argmin(d2, axis=-1), -1), axis=1)
            ce = ce * ops.take(ops.convert_to_tensor(self.weights), nearest[:, 0])
        batch = ops.shape(y_true)[0]
        return ops.mean(ops.reshape(ce, (batch, -1)), axis=-1)

    def reference_call(self, y_true, y_pred):
        """The same loss computed against all Q bins (slow; used to test :meth:`call`)."""
        logits = ops.cast(y_pred, "float32")
        q = self.num_bins
        ab = ops.reshape(ops.cast(y_true, "float32") * C.AB_SCALE, (-1, 2))
        bins = ops.convert_to_tensor(self.bins)
        d2 = ops.sum(ops.square(ops.expand_dims(ab, 1) - bins[None]), axis=-1)
        kth = -ops.top_k(-d2, self.neighbors, sorted=True)[0][:, -1:]
        soft = ops.where(d2 <= kth, ops.exp(-d2 / (2 * self.sigma**2)), 0.0)
        soft = soft / ops.sum(soft, -1, keepdims=True)
        ce = -ops.sum(soft * ops.log_softmax(ops.reshape(logits, (-1, q)), axis=-1), axis=-1)
        if self.weights is not None:
            ce = ce * ops.take(ops.convert_to_tensor(self.weights), ops.argmin(d2, axis=-1))
        return ops.mean(ops.reshape(ce, (ops.shape(y_true)[0], -1)), axis=-1)

    def get_config(self):
        return {**super().get_config(), "grid_step": self.grid_step, "sigma": self.sigma,
                "neighbors": self.neighbors,
                "weights": None if self.weights is None else self.weights.tolist()}


@keras.saving.register_keras_serializable(package="bwcolor")
class RGBTargets(keras.losses.Loss):
    """Wrap a loss so that its targets can be the uint8 sRGB crops themselves.

    The wrapped loss expects scaled a*, b* at the model's output resolution; this converts the
    (B, S, S, 3) uint8 targets to that inside the compiled train step (Lab, then an area average
    over ``output_stride`` x ``output_stride`` blocks, then the 1/128 scaling), on the accelerator.
    That takes the costliest per-pixel work off the host data pipeline, which starved a GPU
    otherwise. The result equals what :class:`bwcolor.data.ColorizationDataset` computes on the
    host with ``targets="ab"``, to float32 rounding.
    """

    def __init__(self, loss, output_stride=1, name=None, **kwargs):
        if isinstance(loss, dict):
            loss = keras.saving.deserialize_keras_object(loss)
        super().__init__(name=name or loss.name, **kwargs)
        self.loss = loss
        self.output_stride = int(output_stride)

    def convert_targets(self, rgb):
        """sRGB (B, S, S, 3), uint8 or float in [0, 255] -> scaled ab (B, S/k, S/k, 2), float32."""
        lab = color_ops.rgb_to_lab(ops.cast(rgb, "float32") / 255.0)
        ab = lab[..., 1:]
        k = self.output_stride
        if k > 1:
            ab = ops.average_pool(ab, pool_size=k, strides=k, padding="valid")
        return color_ops.ab_to_target(ab)

    def call(self, y_true, y_pred):
        return self.loss.call(self.convert_targets(y_true), y_pred)

    def get_config(self):
        return {**super().get_config(), "loss": keras.saving.serialize_keras_object(self.loss),
                "output_stride": self.output_stride}


def available():
    """Loss names accepted by :func:`get`."""
    return [*_REGRESSION, *_CLASSIFICATION]


def head_for(name):
    """'regression' or 'classification': the model head a loss needs."""
    if name in _REGRESSION:
        return "regression"
    if name in _CLASSIFICATION:
        return "classification"
    raise ValueError(f"unknown loss. Received: loss={name!r}; available: {available()}")


def get(name, **config):
    """Build a loss by name: ``mse``, ``l1``, ``huber`` (with ``colorfulness_weight=``) or
    ``classification`` (with ``weights=`` from :func:`rebalancing_weights`)."""
    head = head_for(name)
    if head == "regression":
        return RegressionLoss(kind=name, **config)
    return RebalancedCrossEntropy(**config)
