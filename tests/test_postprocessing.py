"""Postprocessing: flip averaging of model outputs, the guided a*b* upsampling, join."""

import numpy as np
import pytest

from bwcolor import color, losses, postprocessing
from bwcolor.postprocessing import Postprocessor, box_mean, guided_upsample, join


def _step_photo():
    """L* with a vertical edge at column 32 of 64, and a*b* (16 x 16) stepping at the same place."""
    lightness = np.full((64, 64), 30.0, np.float32)
    lightness[:, 32:] = 80.0
    ab = np.zeros((16, 16, 2), np.float32)
    ab[:, 8:] = (40.0, -25.0)
    return lightness, ab


def test_box_mean_equals_brute_force_with_clipped_windows(rng):
    x = rng.normal(size=(9, 13, 2))
    r = 2
    expected = np.empty_like(x)
    for i in range(9):
        for j in range(13):
            expected[i, j] = x[max(0, i - r):i + r + 1, max(0, j - r):j + r + 1].mean(axis=(0, 1))
    np.testing.assert_allclose(box_mean(x, r), expected, atol=1e-12)


def test_guided_upsample_keeps_a_constant_ab_constant(rng):
    lightness = rng.uniform(0, 100, (50, 70)).astype(np.float32)  # any texture at all
    ab = np.full((12, 17, 2), (12.0, -7.0), np.float32)
    out = guided_upsample(lightness, ab)
    assert out.shape == (50, 70, 2) and out.dtype == np.float32
    np.testing.assert_allclose(out, np.broadcast_to([12.0, -7.0], out.shape), atol=1e-3)


def test_guided_upsample_keeps_an_ab_edge_on_its_lightness_edge():
    """An a*b* step on an L* step: the guided filter leaves less color across the edge than the
    bilinear upsampling (and than a box blur of it)."""
    lightness, ab = _step_photo()
    ideal = np.zeros((64, 64, 2), np.float32)
    ideal[:, 32:] = (40.0, -25.0)
    guided = np.abs(guided_upsample(lightness, ab) - ideal).mean()
    bilinear = np.abs(postprocessing._resize(ab, 64, 64) - ideal).mean()
    blurred = np.abs(box_mean(postprocessing._resize(ab, 64, 64), 4) - ideal).mean()
    assert guided < 0.5 * bilinear < blurred


def test_join_with_refined_chroma_keeps_the_lightness(rng):
    lightness = np.clip(rng.normal(55, 20, (40, 57)), 0, 100).astype(np.float32)
    ab = rng.uniform(-40, 40, (10, 14, 2)).astype(np.float32)
    out = join(lightness, ab, refine_chroma=True)
    assert out.shape == (40, 57, 3) and out.dtype == np.uint8
    assert np.abs(color.rgb_to_lab(out / 255.0)[..., 0] - lightness).max() < 0.6


@pytest.mark.parametrize("head", ["classification", "regression"])
def test_flip_average_is_equivariant_and_a_no_op_on_symmetric_outputs(head, rng):
    bins = losses.ab_bins() if head == "classification" else None
    k = len(bins) if head == "classification" else 2
    post = Postprocessor(head, bins)
    a = rng.normal(size=(2, 4, 6, k)).astype(np.float32)
    b = rng.normal(size=(2, 4, 6, k)).astype(np.float32)
    # f(x) averaged with mirror(f(mirror x)): mirroring the input mirrors the result.
    np.testing.assert_allclose(post.ab(a, flipped=b)[:, :, ::-1], post.ab(b, flipped=a), atol=1e-4)
    # A model whose outputs already mirror with its input gets the same a*b* as without averaging.
    np.testing.assert_allclose(post.ab(a, flipped=a[:, :, ::-1]), post.ab(a), atol=1e-3)


def _lab_ab(rgb):
    from bwcolor import color

    return color.rgb_to_lab(np.asarray(rgb, np.float32).reshape(1, 1, 3) / 255.0)[0, 0, 1:]


def test_spread_hints_gives_the_hint_color_under_it_and_leaves_far_cells_alone():
    from bwcolor.hints import parse_hints
    from bwcolor.postprocessing import spread_hints

    lightness = np.full((80, 120), 50.0, np.float32)
    ab = np.zeros((20, 30, 2), np.float32)
    hints = parse_hints([{"x": 10, "y": 10, "color": "#b03020"}], 80, 120)
    out = spread_hints(lightness, ab, hints, distance=0.05)
    target = _lab_ab((0xb0, 0x30, 0x20))
    np.testing.assert_allclose(out[2, 2], target, rtol=0.06)  # within prior / (1 + prior)
    np.testing.assert_array_equal(out[19, 29], ab[19, 29])  # far away: the model's own color
    assert np.all(np.linalg.norm(out - target, axis=-1) <= np.linalg.norm(ab - target, axis=-1) + 1e-4)
    np.testing.assert_array_equal(spread_hints(lightness, ab, []), ab)


def test_spread_hints_stops_at_lightness_edges():
    from bwcolor.hints import parse_hints
    from bwcolor.postprocessing import spread_hints

    lightness = np.full((40, 40), 30.0, np.float32)
    lightness[:, 20:] = 80.0  # an edge down the middle; the hint sits on the dark side
    ab = np.zeros((10, 10, 2), np.float32)
    hints = parse_hints([(16, 20, "#2050d0")], 40, 40)
    out = spread_hints(lightness, ab, hints)
    same_side, across = np.abs(out[5, 2]).sum(), np.abs(out[5, 6]).sum()  # both 2 cells away
    assert same_side > 5 * across


def test_colorize_spreads_hints_only_when_asked(hint_colorizer_for_spread):
    c, photo = hint_colorizer_for_spread
    hints = [(20, 20, "#20a040", 3)]
    spread = c.colorize(photo, hints=hints).astype(int)
    channels_only = c.colorize(photo, hints=hints, spread_hints=False).astype(int)
    assert np.abs(spread - channels_only).max() > 10
    with pytest.raises(TypeError, match="spread_hints"):
        c.colorize(photo, spread_hints="yes")


@pytest.fixture(scope="module")
def hint_colorizer_for_spread():
    from bwcolor import Colorizer

    c = Colorizer(architecture="default", image_size=32, loss="mse",
                  architecture_config={"hints": True, "widths": (8, 8), "blocks": (1, 1)})
    photo = np.full((64, 64), 120, np.uint8)
    return c, photo
