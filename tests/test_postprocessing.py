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


@pytest.mark.parametrize("photo, grid", [((50, 70), (12, 17)), ((1, 1), (1, 1)), ((3, 5), (1, 1)),
                                         ((7, 1), (2, 1)), ((33, 47), (33, 47)), ((5, 9), (12, 17))])
def test_guided_upsample_keeps_a_constant_ab_exactly(photo, grid, rng):
    """Any L* texture, odd and tiny sizes, a grid as large as the photo (or larger): a constant
    a*b* comes out the same constant, to the last bit (the clamp holds it)."""
    lightness = rng.uniform(0, 100, photo).astype(np.float32)
    ab = np.full((*grid, 2), (12.0, -7.0), np.float32)
    out = guided_upsample(lightness, ab)
    assert out.shape == (*photo, 2) and out.dtype == np.float32
    np.testing.assert_array_equal(out, np.broadcast_to(np.float32([12.0, -7.0]), out.shape))


def test_guided_upsample_of_a_gray_photo_is_the_bilinear_resize(rng):
    """Flat L* (a gray card, a blank sky): nothing to align to, so a*b* is the plain bilinear
    resize of its window-smoothed fit, and within the range of the cells around each pixel."""
    lightness = np.full((40, 56), 63.0, np.float32)
    ab = rng.uniform(-30, 30, (10, 14, 2)).astype(np.float32)
    out = guided_upsample(lightness, ab, radius=0)  # a window of one cell: no smoothing either
    np.testing.assert_allclose(out, postprocessing._resize(ab, 40, 56), atol=1e-4)


def _cells_range_per_pixel(ab, height, width):
    """Per photo pixel, the min and max of a*b* over the 3 x 3 cells around its nearest cell."""
    h, w = ab.shape[:2]
    rows = np.minimum(((np.arange(height) + 0.5) * h / height).astype(int), h - 1)
    cols = np.minimum(((np.arange(width) + 0.5) * w / width).astype(int), w - 1)
    padded = np.pad(ab, ((1, 1), (1, 1), (0, 0)), mode="edge")
    stack = np.stack([padded[rows + i][:, cols + j] for i in range(3) for j in range(3)])
    return stack.min(axis=0), stack.max(axis=0)


def test_guided_upsample_never_leaves_the_colors_the_model_predicted_nearby(rng):
    """A smooth a*b* ramp under a random L* texture (pebbles, foliage): the linear fit of a*b* on
    L* extrapolates chance correlations into colors the model never predicted there (the plain
    guided filter went 3.3 a*b* units outside them); each pixel stays within the a*b* of the
    cells around it."""
    lightness = rng.uniform(10, 90, (64, 96)).astype(np.float32)
    ramp = np.linspace(-20, 20, 24, dtype=np.float32)
    ab = np.stack(np.broadcast_arrays(ramp[None, :], 0.5 * ramp[None, :] + np.zeros((16, 1))),
                  axis=-1).astype(np.float32)
    out = guided_upsample(lightness, ab)
    low, high = _cells_range_per_pixel(ab, 64, 96)
    assert np.all(out >= low - 1e-4) and np.all(out <= high + 1e-4)


def _white_square_on_blue():
    """A white object (L* 95) on a darker blue ground (L* 45), its corners off the 4-px cells,
    and the a*b* a model gives it: the ground's blue on the coarse grid, half of it on the cells
    the object's edge crosses, none inside the object."""
    lightness = np.full((61, 83), 45.0, np.float32)
    lightness[18:43, 22:59] = 95.0
    cover = postprocessing._resize((lightness[..., None] == 95.0).astype(np.float32), 15, 21)
    ab = ((1.0 - cover) * np.float32([5.0, -40.0])).astype(np.float32)
    return lightness, ab


def test_guided_upsample_leaves_less_color_on_a_white_object_than_bilinear():
    """The halo: bilinear carries the ground's blue a cell or two onto the white object; the
    guided filter stops it at the object's L* edge, and keeps the ground's color on the ground."""
    lightness, ab = _white_square_on_blue()
    white = lightness == 95.0
    bilinear = postprocessing._resize(ab, *lightness.shape)
    guided = guided_upsample(lightness, ab)
    chroma = lambda x: np.linalg.norm(x, axis=-1)  # noqa: E731
    assert chroma(guided)[white].mean() < 0.5 * chroma(bilinear)[white].mean()
    ground = ~white
    assert chroma(guided - [5.0, -40.0])[ground].mean() <= chroma(bilinear - [5.0, -40.0])[ground].mean()


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


def test_join_without_refined_chroma_is_the_bilinear_join(rng):
    """refine_chroma=False gives the colors of earlier versions, to the bit: a*b* resized
    bilinearly (Pillow), joined with L*, chroma reduced into the gamut, rounded."""
    from PIL import Image

    lightness = np.clip(rng.normal(55, 20, (40, 57)), 0, 100).astype(np.float32)
    ab = rng.uniform(-60, 60, (10, 14, 2)).astype(np.float32)
    full = np.dstack([np.asarray(Image.fromarray(ab[..., c], mode="F").resize((57, 40),
                                                                              Image.BILINEAR))
                      for c in range(2)])
    lab = np.concatenate([lightness[..., None], full], axis=-1)
    expected = (color.lab_to_rgb(color.reduce_chroma_to_gamut(lab)) * 255.0 + 0.5).astype(np.uint8)
    np.testing.assert_array_equal(join(lightness, ab, refine_chroma=False), expected)
    assert not np.array_equal(join(lightness, ab), expected)  # the default refines


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


def _two_rooms(line_width):
    """L* 60 on both sides of a dark vertical line (L* 15) down the middle of a 64 x 96 photo."""
    lightness = np.full((64, 96), 60.0, np.float32)
    lightness[:, 48 - line_width // 2:48 + (line_width + 1) // 2] = 15.0
    return lightness


@pytest.mark.parametrize("line_width", [2, 4])
def test_spread_hints_keeps_a_hint_on_its_side_of_a_line_of_another_lightness(line_width):
    """Two regions of one L*, split by a dark line half an a*b* cell or one cell wide: a hint on one
    colors it, and barely the other, however close (the straight-line reach with an L* affinity
    colored both alike)."""
    from bwcolor.hints import parse_hints
    from bwcolor.postprocessing import spread_hints

    lightness = _two_rooms(line_width)
    ab = np.zeros((16, 24, 2), np.float32)
    hints = parse_hints([(36, 32, "#2050d0")], 64, 96)  # 12 px left of the line
    change = np.linalg.norm(spread_hints(lightness, ab, hints) - ab, axis=-1)
    hinted = np.linalg.norm(hints[0].ab)
    # 4-px cells: the line is in columns 11 and 12, the hint in 9.
    assert change[:, 8:10].min() > 0.5 * hinted  # its own side, to the photo's top and bottom
    assert change[:, 14:16].max() < 0.05 * hinted  # as close to the line, on the other side
    assert change[:, :10].mean() > 20 * change[:, 14:].mean()


def test_spread_hints_edge_cost_zero_ignores_edges_of_equal_lightness():
    from bwcolor.hints import parse_hints
    from bwcolor.postprocessing import spread_hints

    lightness = _two_rooms(4)
    ab = np.zeros((16, 24, 2), np.float32)
    hints = parse_hints([(36, 32, "#2050d0")], 64, 96)
    change = np.linalg.norm(spread_hints(lightness, ab, hints, edge_cost=0.0) - ab, axis=-1)
    np.testing.assert_allclose(change[8, 14], change[8, 9], rtol=0.2)  # mirror images


def test_geodesic_distance_is_the_shortest_path_over_the_grid():
    """Against Dijkstra on the same 8-neighbour graph: the sweeps find every shortest path,
    including ones that wind around a wall."""
    from bwcolor.postprocessing import _geodesic_distance

    features = np.zeros((12, 15), np.float32)
    features[2:12, 7] = 100.0  # a wall with a gap at the top: the way round is a detour
    seeds = np.zeros((2, 12, 15), bool)
    seeds[0, 10, 2] = True
    seeds[1, 0:2, 13:15] = True
    d = _geodesic_distance(features, seeds, edge_cost=1.0, iterations=10)
    np.testing.assert_allclose(d, _dijkstra(features, seeds, 1.0), rtol=1e-5)
    assert d[0, 10, 12] > 10 + 3 * np.sqrt(2)  # round the wall, not through it
    free = _geodesic_distance(features, seeds, edge_cost=0.0)  # chamfer distance in cells
    assert free[0, 10, 12] == pytest.approx(10.0)
    assert free[0, 0, 0] == pytest.approx(8 + 2 * np.sqrt(2))


def _dijkstra(features, seeds, edge_cost):
    import heapq

    h, w = features.shape
    out = np.empty(seeds.shape, np.float64)
    for k, seed in enumerate(seeds):
        dist = np.where(seed, 0.0, np.inf)
        heap = [(0.0, i, j) for i, j in zip(*np.nonzero(seed))]
        while heap:
            d, i, j = heapq.heappop(heap)
            if d > dist[i, j]:
                continue
            for di in (-1, 0, 1):
                for dj in (-1, 0, 1):
                    y, x = i + di, j + dj
                    if (di or dj) and 0 <= y < h and 0 <= x < w:
                        step = np.sqrt(di * di + dj * dj
                                       + (edge_cost * (features[i, j] - features[y, x])) ** 2)
                        if d + step < dist[y, x]:
                            dist[y, x] = d + step
                            heapq.heappush(heap, (d + step, y, x))
        out[k] = dist
    return out


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
