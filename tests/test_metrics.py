"""bwcolor.metrics: each score against its definition and against the obvious cases."""

import numpy as np
import pytest
from skimage.color import deltaE_ciede2000, rgb2lab

from bwcolor import metrics


def test_identical_images_score_perfectly(photos):
    img = photos["coffee"]
    m = metrics.image_metrics(img, img)
    assert m["psnr"] == np.inf and m["ssim"] == pytest.approx(1.0) and m["delta_e2000"] == 0
    assert m["colorfulness"] == m["colorfulness_reference"] > 0


def test_gray_has_no_colorfulness_and_vivid_colors_have_a_lot():
    gray = np.full((8, 8, 3), 128, np.uint8)
    assert metrics.colorfulness(gray) == 0
    checker = np.zeros((8, 8, 3), np.uint8)
    checker[::2, :, 0] = 255
    checker[1::2, :, 1] = 255
    assert metrics.colorfulness(checker) > 100
    # Float input in [0, 1] is the same photo as its uint8 version.
    assert metrics.colorfulness(checker / 255.0) == pytest.approx(metrics.colorfulness(checker))


def test_colorfulness_matches_hasler_and_suesstrunk_by_hand():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (16, 16, 3)).astype(np.uint8)
    r, g, b = (img[..., i].astype(float) for i in range(3))
    rg, yb = r - g, 0.5 * (r + g) - b
    expected = np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean())
    assert metrics.colorfulness(img) == pytest.approx(expected)


def test_ciede2000_is_the_mean_of_skimages(photos):
    ref = photos["coffee"][:64, :64]
    out = np.roll(ref, 1, axis=-1)  # channels rotated: a large color error
    expected = deltaE_ciede2000(rgb2lab(ref), rgb2lab(out)).mean()
    assert metrics.image_metrics(ref, out)["delta_e2000"] == pytest.approx(expected, rel=1e-4)


def test_psnr_of_a_known_error():
    ref = np.full((10, 10, 3), 100, np.uint8)
    out = ref.copy()
    out[..., 0] += 10  # MSE = 100 / 3
    expected = 10 * np.log10(255**2 / (100 / 3))
    assert metrics.image_metrics(ref, out)["psnr"] == pytest.approx(expected)


def test_shape_mismatch_and_empty_mean_are_errors():
    with pytest.raises(ValueError, match="shapes differ"):
        metrics.image_metrics(np.zeros((8, 8, 3), np.uint8), np.zeros((8, 9, 3), np.uint8))
    with pytest.raises(ValueError, match="no images"):
        metrics.mean_metrics([])


def test_mean_metrics_averages_and_counts():
    scores = [{"psnr": 20.0, "delta_e2000": 4.0}, {"psnr": 30.0, "delta_e2000": 6.0}]
    assert metrics.mean_metrics(scores) == {"psnr": 25.0, "delta_e2000": 5.0, "n_images": 2}
