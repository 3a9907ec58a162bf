import keras
import numpy as np
import pytest

from bwcolor import color, losses


@pytest.fixture(scope="module")
def bins():
    return losses.ab_bins()


def test_bins_are_in_gamut_and_on_the_grid(bins):
    assert len(bins) == 261
    assert np.all(bins % 10 == 0)
    # every bin is reached by some in-gamut color: its center at some L is close to sRGB
    lab = np.concatenate([np.full((len(bins), 1), 60.0), bins], axis=1)
    fitted = color.reduce_chroma_to_gamut(lab)
    reach = np.hypot(*(fitted[:, 1:] - bins).T)
    assert np.median(reach) < 30
    assert len(losses.ab_bins(20)) < len(bins)


def test_rebalancing_weights_have_mean_one_under_the_prior(bins, rng):
    prior = rng.dirichlet(np.full(len(bins), 0.3))
    w = losses.rebalancing_weights(prior, bins)
    d2 = ((bins[:, None] - bins[None]) ** 2).sum(-1)
    smoothed = np.exp(-d2 / 50) @ prior
    smoothed /= smoothed.sum()
    np.testing.assert_allclose((smoothed * w).sum(), 1.0, rtol=1e-5)
    assert w[np.argmax(smoothed)] < 1 < w[np.argmin(smoothed)]  # rare colors weigh more


def test_ab_prior_counts_nearest_bins(bins):
    ab = np.array([[[0.0, 0.0], [1.0, 2.0], [41.0, -39.0]]])
    prior = losses.ab_prior([ab], bins)
    assert prior.sum() == pytest.approx(1)
    i0 = np.flatnonzero((bins == [0, 0]).all(1))[0]
    i1 = np.flatnonzero((bins == [40, -40]).all(1))[0]
    assert prior[i0] == pytest.approx(2 / 3) and prior[i1] == pytest.approx(1 / 3)


def test_annealed_mean_limits(bins, rng):
    logits = rng.normal(size=(4, len(bins))).astype("float32") * 3
    p = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    mean = keras.ops.convert_to_numpy(losses.annealed_mean(logits, bins, 1.0))
    np.testing.assert_allclose(mean, p @ bins, rtol=1e-4, atol=1e-3)
    cold = keras.ops.convert_to_numpy(losses.annealed_mean(logits, bins, 0.01))
    np.testing.assert_allclose(cold, bins[np.argmax(logits, -1)], atol=1e-2)
    warm = keras.ops.convert_to_numpy(losses.annealed_mean(logits, bins, 0.38))
    assert np.all(np.hypot(*warm.T) >= 0)
    with pytest.raises(ValueError, match="temperature"):
        losses.annealed_mean(logits, bins, 0)


def test_lattice_loss_equals_all_bins_reference(bins, photos, rng):
    loss = losses.RebalancedCrossEntropy(weights=losses.rebalancing_weights(
        rng.dirichlet(np.ones(len(bins))), bins))
    ab = np.stack([color.uint8_rgb_to_lab(p[:48, :48])[..., 1:] for p in
                   (photos["astronaut"], photos["coffee"])]) / 128
    logits = rng.normal(size=(*ab.shape[:3], len(bins))).astype("float32")
    fast = keras.ops.convert_to_numpy(loss.call(ab, logits))
    slow = keras.ops.convert_to_numpy(loss.reference_call(ab, logits))
    np.testing.assert_allclose(fast, slow, rtol=1e-5)


def test_classification_loss_prefers_the_right_bin(bins):
    loss = losses.RebalancedCrossEntropy()
    target = np.full((1, 2, 2, 2), [20 / 128, -30 / 128], dtype="float32")
    good = np.zeros((1, 2, 2, len(bins)), "float32")
    good[..., np.flatnonzero((bins == [20, -30]).all(1))[0]] = 10
    bad = np.zeros_like(good)
    bad[..., 0] = 10
    assert float(loss(target, good)) < float(loss(target, bad))


@pytest.mark.parametrize("kind", ["mse", "l1", "huber"])
def test_regression_losses(kind):
    y = np.zeros((2, 4, 4, 2), "float32")
    p = np.full_like(y, 0.5)
    value = float(losses.get(kind)(y, p))
    expected = {"mse": 0.25, "l1": 0.5, "huber": 0.1 * (0.5 - 0.05)}[kind]
    assert value == pytest.approx(expected, rel=1e-5)


def test_colorfulness_term_penalizes_dull_predictions_only():
    y = np.full((1, 4, 4, 2), 0.3, "float32")
    dull, vivid = np.zeros_like(y), np.full_like(y, 0.6)
    plain = losses.RegressionLoss("l1")
    colorful = losses.RegressionLoss("l1", colorfulness_weight=1.0)
    assert float(colorful(y, dull)) > float(plain(y, dull))
    assert float(colorful(y, vivid)) == pytest.approx(float(plain(y, vivid)), abs=1e-4)


def test_rgb_targets_equal_host_computed_targets(bins, photos, rng):
    """Converting uint8 crops inside the loss gives the loss of the host pipeline's ab targets."""
    crops = np.stack([photos["astronaut"][:32, :32], photos["coffee"][:32, :32]])
    for stride in (1, 4):
        lab = color.uint8_rgb_to_lab(crops)
        s = 32 // stride
        ab = lab[..., 1:].reshape(2, s, stride, s, stride, 2).mean(axis=(2, 4))
        target = color.ab_to_target(ab)
        inner = losses.RebalancedCrossEntropy(weights=rng.uniform(0.5, 2, len(bins)))
        wrapped = losses.RGBTargets(inner, output_stride=stride)
        converted = keras.ops.convert_to_numpy(wrapped.convert_targets(crops))
        np.testing.assert_allclose(converted, target, atol=2e-4)
        logits = rng.normal(size=(2, s, s, len(bins))).astype("float32")
        assert float(wrapped(crops, logits)) == pytest.approx(float(inner(target, logits)), rel=1e-4)


def test_losses_serialize(bins):
    for loss in [losses.RegressionLoss("huber", colorfulness_weight=0.5),
                 losses.RebalancedCrossEntropy(weights=np.ones(len(bins)), sigma=4.0),
                 losses.RGBTargets(losses.RegressionLoss("l1"), output_stride=4)]:
        clone = keras.losses.deserialize(keras.losses.serialize(loss))
        assert clone.get_config() == loss.get_config()
    with pytest.raises(ValueError, match="lam must be in"):
        losses.rebalancing_weights(np.ones(len(bins)) / len(bins), bins, lam=0.0)
    with pytest.raises(ValueError, match="weights must be 261"):
        losses.RebalancedCrossEntropy(weights=[1.0, 2.0])
    with pytest.raises(ValueError, match="unknown loss"):
        losses.get("perceptual")
