"""User color hints (issue #20): format and checks, hint channels, random true-color hints for
training, weight transfer into a hint net, hint datasets and ``Colorizer.colorize(hints=)``."""

import json
import re

import keras
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bwcolor import Colorizer, architectures, color
from bwcolor.hints import (
    DEFAULT_RADIUS,
    HINT_CHANNELS,
    MAX_RADIUS,
    Hint,
    hint_channels,
    load_hints_file,
    parse_color,
    parse_hints,
    reveal_random_hints,
)

TINY = dict(widths=(8, 8), blocks=(1, 1))


def expected_ab(rgb):
    """The scaled a*b* of an sRGB color, computed here from bwcolor.color's own conversion."""
    lab = color.rgb_to_lab(np.array(rgb, np.float64).reshape(1, 1, 3) / 255.0)[0, 0]
    return color.ab_to_target(lab[1:])


# ------------------------------------------------------------------ colors and hint format
@pytest.mark.parametrize("value, rgb", [
    ("#7a5230", (122, 82, 48)), ("7A5230", (122, 82, 48)), (" #fa0 ", (255, 170, 0)),
    ((1, 2, 3), (1, 2, 3)), ([0, 255, 128], (0, 255, 128)), (np.array([9, 8, 7]), (9, 8, 7)),
    ("red", (255, 0, 0)), ("SkyBlue", (135, 206, 235)), (" forest green ", (34, 139, 34)),
    ("grey", (128, 128, 128))])
def test_parse_color_accepts_hex_names_and_int_triples(value, rgb):
    assert parse_color(value) == rgb


@pytest.mark.parametrize("value", ["blurple", "red-ish", "rgb(1, 2)", "#12345", "#ggg000", "", (1, 2), (256, 0, 0), (-1, 0, 0),
                                   (1.0, 2, 3), (True, 0, 0), None, 0x7A5230])
def test_parse_color_errors_name_the_value(value):
    with pytest.raises(ValueError, match=re.escape(f"color={value!r}")):
        parse_color(value)


def test_parse_hints_normalizes_every_form():
    hints = parse_hints([{"x": 1, "y": 2, "color": "#FA0"}, (3, 4, (1, 2, 3), 5),
                         [5.5, 6, "010203"], Hint(7, 8, "#000000", 0)], height=10, width=10)
    assert hints == [Hint(1.0, 2.0, "#ffaa00"), Hint(3.0, 4.0, "#010203", 5.0),
                     Hint(5.5, 6.0, "#010203"), Hint(7.0, 8.0, "#000000", 0.0)]
    assert parse_hints(None, 10, 10) == [] and parse_hints([], 10, 10) == []


@pytest.mark.parametrize("hints, names", [
    ([{"x": 1, "y": 2}], ["hint 0", "{'x': 1, 'y': 2}"]),
    ([{"x": 1, "y": 2, "color": "#fff", "size": 3}], ["hint 0", "'size': 3"]),
    ([(1, 2, "#fff"), (1, "2", "#fff")], ["hint 1", "y='2'"]),
    ([(float("nan"), 2, "#fff")], ["hint 0", "x=nan"]),
    ([(True, 2, "#fff")], ["hint 0", "x=True"]),
    ([(1, 2, "#fff", -1)], ["hint 0", "radius=-1"]),
    ([(1, 2, "bleu")], ["hint 0", "color='bleu'"]),
    ([(1, 2)], ["hint 0", "(1, 2)"]),
    ([(1, 2, "#fff"), (10, 2, "#fff")], ["hint 1", "x=10", "10 x 8"]),
    ([(1, 8, "#fff")], ["hint 0", "y=8"]),
    ([(-0.5, 2, "#fff")], ["hint 0", "x=-0.5"]),
    ({"x": 1, "y": 2, "color": "#fff"}, ["one photo", "'x': 1"]),
    ("#fff", ["one photo", "'#fff'"]),
])
def test_parse_hints_errors_name_the_hint_and_value(hints, names):
    with pytest.raises(ValueError) as info:
        parse_hints(hints, height=8, width=10)
    for name in names:
        assert name in str(info.value), (name, str(info.value))


def test_parse_hints_without_a_size_checks_all_but_the_far_edges():
    assert parse_hints([(10_000, 20_000, "#fff")])[0].x == 10_000  # checked later, per photo
    with pytest.raises(ValueError, match=r"y=-1"):
        parse_hints([(3, -1, "#fff")])
    with pytest.raises(ValueError, match=r"color='#ff'"):
        parse_hints([(3, 1, "#ff")])


def test_load_hints_file(tmp_path):
    one = [{"x": 1, "y": 2, "color": "#fff"}]
    (tmp_path / "one.json").write_text(json.dumps(one))
    (tmp_path / "many.json").write_text(json.dumps({"a.jpg": one, "box/b.png": []}))
    assert load_hints_file(tmp_path / "one.json") == one
    assert load_hints_file(str(tmp_path / "many.json")) == {"a.jpg": one, "box/b.png": []}
    bad = {"broken.json": "[{", "scalar.json": "3", "values.json": '{"a.jpg": {"x": 1}}',
           "twice.json": '{"a.jpg": [], "a.jpg": [[1, 2, "#fff"]]}', "latin1.json": b"\xff["}
    for name, text in bad.items():
        path = tmp_path / name
        path.write_bytes(text if isinstance(text, bytes) else text.encode())
        with pytest.raises(ValueError, match=re.escape(repr(str(path)))):
            load_hints_file(path)
    with pytest.raises(ValueError, match="twice"):
        load_hints_file(tmp_path / "twice.json")
    with pytest.raises(ValueError, match=r"missing\.json"):
        load_hints_file(tmp_path / "missing.json")


# ------------------------------------------------------------------------- hint channels
@pytest.mark.parametrize("rgb", [(122, 82, 48), (0, 90, 200), (255, 0, 0), (20, 200, 30)])
def test_hint_channels_hold_the_colors_scaled_chroma_and_the_mask(rgb):
    hints = parse_hints([(20, 10, rgb)], 40, 60)
    out = hint_channels(hints, (40, 60), (40, 60))
    assert out.shape == (40, 60, HINT_CHANNELS) and out.dtype == np.float32
    r = DEFAULT_RADIUS
    patch = out[10 - r:10 + r + 1, 20 - r:20 + r + 1]
    np.testing.assert_allclose(patch[..., :2], np.broadcast_to(expected_ab(rgb), (2 * r + 1,) * 2 + (2,)),
                               atol=1e-6)
    assert np.all(patch[..., 2] == 1)
    assert out[..., 2].sum() == (2 * r + 1) ** 2  # nothing outside the patch
    assert np.count_nonzero(out[..., :2].any(axis=-1)) <= (2 * r + 1) ** 2


def test_hint_channels_use_only_chroma():
    """Grays of any lightness are the same hint: a* = b* = 0 with the mask set."""
    outs = [hint_channels(parse_hints([(5, 5, g)], 16, 16), (16, 16), (16, 16))
            for g in ("#000000", "#808080", "#ffffff")]
    for out in outs:
        np.testing.assert_allclose(out, outs[0], atol=1e-6)
    assert np.abs(outs[0][..., :2]).max() < 1e-6 and outs[0][..., 2].max() == 1
    dark, light = (hint_channels(parse_hints([(5, 5, c)], 16, 16), (16, 16), (16, 16))
                   for c in ("#400000", "#ff8080"))  # one hue at two lightnesses: a* differs
    assert not np.allclose(dark, light)


@pytest.mark.parametrize("photo, render", [((40, 60), (20, 30)), ((60, 40), (30, 20)),
                                           ((32, 128), (16, 64)), ((90, 30), (45, 15))])
def test_hint_positions_map_from_photo_to_render_pixels(photo, render):
    """At half size, photo pixel (x, y) lies in render pixel (x // 2, y // 2)."""
    H, W = photo
    points = [(0, 0), (W - 1, H - 1), (W - 1, 0), (0, H - 1), (W // 2 + 1, H // 3)]
    for x, y in points:
        out = hint_channels(parse_hints([(x, y, "#c04020", 0)], H, W), photo, render)
        assert list(zip(*np.nonzero(out[..., 2]))) == [(y // 2, x // 2)], (x, y)


def test_hint_positions_at_unequal_scales():
    """A 100 x 300 photo rendered at 32 x 64: x and y are scaled separately, fractions too."""
    for x, y, expect in [(0.0, 0.0, (0, 0)), (299.9, 99.9, (31, 63)), (150, 50, (16, 32)),
                         (149.2, 49.2, (15, 31)), (4.0, 3.0, (1, 0))]:
        out = hint_channels(parse_hints([(x, y, "#c04020", 0)], 100, 300), (100, 300), (32, 64))
        assert list(zip(*np.nonzero(out[..., 2]))) == [expect], (x, y)


def test_hint_radius_is_in_photo_pixels_and_clipped():
    def side(radius, photo=(64, 64), render=(32, 32)):
        hints = parse_hints([(photo[1] // 2, photo[0] // 2, "#c04020", radius)], *photo)
        mask = hint_channels(hints, photo, render)[..., 2]
        rows, cols = np.nonzero(mask)
        assert np.ptp(rows) == np.ptp(cols)  # a square
        return np.ptp(rows) + 1

    assert side(None) == 2 * DEFAULT_RADIUS + 1  # render pixels, whatever the photo's size
    assert side(None, photo=(640, 640)) == 2 * DEFAULT_RADIUS + 1
    assert side(0) == 1
    assert side(6) == 7  # 6 photo pixels = 3 render pixels at half size
    assert side(1000) == 2 * MAX_RADIUS + 1


def test_a_later_hint_overwrites_an_earlier_one():
    hints = parse_hints([(8, 8, "#ff0000"), (9, 8, "#0000ff")], 16, 16)
    out = hint_channels(hints, (16, 16), (16, 16))
    np.testing.assert_allclose(out[8, 8, :2], expected_ab((0, 0, 255)), atol=1e-6)
    np.testing.assert_allclose(out[8, 6, :2], expected_ab((255, 0, 0)), atol=1e-6)


@st.composite
def photo_render_hints(draw):
    H, W = draw(st.integers(8, 400)), draw(st.integers(8, 400))
    h, w = draw(st.integers(4, 64)), draw(st.integers(4, 64))
    coords = st.tuples(st.floats(0, W, exclude_max=True), st.floats(0, H, exclude_max=True))
    points = draw(st.lists(coords, max_size=6))
    radii = st.one_of(st.none(), st.floats(0, 50))
    hints = [(x, y, draw(st.tuples(*[st.integers(0, 255)] * 3)), draw(radii)) for x, y in points]
    return (H, W), (h, w), hints


@given(photo_render_hints())
def test_every_hint_inside_the_photo_lands_inside_the_render(case):
    photo, render, raw = case
    hints = parse_hints(raw, *photo)
    out = hint_channels(hints, photo, render)
    assert out.shape == (*render, HINT_CHANNELS)
    mask = out[..., 2]
    assert set(np.unique(mask)) <= {0.0, 1.0}
    assert np.all(out[mask == 0] == 0)  # a* b* only under the mask
    assert np.all(np.abs(out[..., :2]) <= 1.0)  # scaled chroma (ab / 128), not raw a* b*
    for hint in hints:  # the render pixel holding the hint's center is covered
        cy = min(render[0] - 1, int((hint.y + 0.5) * render[0] / photo[0]))
        cx = min(render[1] - 1, int((hint.x + 0.5) * render[1] / photo[1]))
        assert mask[cy, cx] == 1
    if hints:  # the last hint is on top at its center
        np.testing.assert_allclose(out[cy, cx, :2], expected_ab(hints[-1].rgb), atol=1e-6)
    assert not hint_channels([], photo, render).any()


# ------------------------------------------------------------ random hints for training
def test_revealed_patches_hold_the_mean_true_color(rng):
    ab = rng.uniform(-1, 1, (32, 40, 2)).astype(np.float32)
    seen = 0
    for _ in range(200):
        out = reveal_random_hints(ab, rng, max_points=1)
        mask = out[..., 2]
        assert set(np.unique(mask)) <= {0.0, 1.0} and np.all(out[mask == 0] == 0)
        if not mask.any():
            continue
        seen += 1
        rows, cols = np.nonzero(mask)
        (y0, y1), (x0, x1) = (rows.min(), rows.max() + 1), (cols.min(), cols.max() + 1)
        assert mask[y0:y1, x0:x1].all() and (y1 - y0) <= 9 and (x1 - x0) <= 9  # one rectangle
        np.testing.assert_allclose(out[y0:y1, x0:x1, :2],
                                   np.broadcast_to(ab[y0:y1, x0:x1].mean(axis=(0, 1)),
                                                   (y1 - y0, x1 - x0, 2)), atol=1e-5)
    assert seen > 100


def test_about_one_crop_in_eight_gets_no_hints():
    rng = np.random.default_rng(1)
    ab = np.zeros((16, 16, 2), np.float32)
    none = np.mean([not reveal_random_hints(ab, rng)[..., 2].any() for _ in range(4000)])
    assert abs(none - 1 / 8) < 0.025  # binomial sd 0.005


def test_reveal_random_hints_is_seeded_and_fills_out(rng):
    ab = rng.uniform(-1, 1, (24, 24, 2)).astype(np.float32)
    draws = [[reveal_random_hints(ab, np.random.default_rng(seed)) for _ in range(2)]
             for seed in (7, 7, 8)]
    for a, b in zip(draws[0], draws[1]):
        np.testing.assert_array_equal(a, b)
    assert any(not np.array_equal(a, c) for a, c in zip(draws[0], draws[2]))
    out = np.full((24, 24, 3), 5.0, np.float32)
    result = reveal_random_hints(ab, np.random.default_rng(7), out=out)
    assert result is out and np.array_equal(out, draws[0][0])  # zeroed first, then filled


# ------------------------------------------------------------------- nets and datasets
def test_transfer_weights_keeps_the_automatic_output(rng):
    source = architectures.get("default", head="regression", **TINY)
    target = architectures.get("default", head="regression", hints=True, **TINY)
    assert not architectures.accepts_hints(source) and architectures.accepts_hints(target)
    assert architectures.input_channels(target) == 1 + HINT_CHANNELS
    x = rng.uniform(-1, 1, (2, 32, 48, 1)).astype(np.float32)
    zero_hints = np.concatenate([x, np.zeros((2, 32, 48, 3), np.float32)], -1)
    before = keras.ops.convert_to_numpy(target(zero_hints, training=False))
    copied = architectures.transfer_weights(source, target)
    assert any(name.startswith("stem0") for name in copied)  # the grown first convolution
    auto = keras.ops.convert_to_numpy(source(x, training=False))
    after = keras.ops.convert_to_numpy(target(zero_hints, training=False))
    np.testing.assert_allclose(after, auto, atol=1e-5)
    assert not np.allclose(before, auto, atol=1e-3)  # the copy changed the target


def test_hint_branch_is_gated_per_image_and_automatic_part_can_be_frozen(rng):
    # Zero hints must give exactly the automatic net's output, whatever the hint branch learned;
    # an image with a hint gets the correction, its batch neighbour without one does not.
    net = architectures.get("default", head="regression", hints=True, freeze_automatic=True, **TINY)
    branch = [w for w in net.trainable_weights if "hint" in w.path]
    assert branch and len(branch) == len(net.trainable_weights)  # only the hint branch trains
    correction = net.get_layer("hint_correction")
    correction.set_weights([rng.normal(0, 1, w.shape).astype(np.float32)
                            for w in correction.get_weights()])  # a "trained" branch
    automatic = architectures.automatic_part(net)
    assert "hint_correction" not in [layer.name for layer in automatic.layers]
    x = np.zeros((2, 32, 32, 1 + HINT_CHANNELS), np.float32)
    x[..., 0] = rng.uniform(-1, 1, (2, 32, 32))
    x[1, 10:14, 10:14, 1:] = (0.3, -0.2, 1.0)
    out = keras.ops.convert_to_numpy(net(x, training=False))
    auto = keras.ops.convert_to_numpy(automatic(x, training=False))
    np.testing.assert_array_equal(out[0], auto[0])
    assert np.abs(out[1] - auto[1]).max() > 1e-3
    unfrozen = architectures.get("default", head="regression", hints=True, **TINY)
    assert len(unfrozen.trainable_weights) > len(net.trainable_weights)


def test_transfer_weights_refuses_other_shapes_naming_the_layer():
    source = architectures.get("default", head="regression", widths=(8, 16), blocks=(1, 1))
    target = architectures.get("default", head="regression", hints=True, **TINY)
    with pytest.raises(ValueError, match=r"layer '[^']+' has weights of shape"):
        architectures.transfer_weights(source, target)


@pytest.fixture(scope="module")
def photo_paths(photo_dir):
    return sorted(photo_dir.glob("*.jpg"))


def test_hint_datasets_reveal_true_colors(photo_paths):
    from bwcolor.data import ColorizationDataset

    train = ColorizationDataset(photo_paths, 32, 3, training=True, hints=True, seed=0)
    lit = 0
    for i in range(len(train)):
        x, y = train[i]
        assert x.shape == (3, 32, 32, 1 + HINT_CHANNELS) and y.shape == (3, 32, 32, 2)
        mask = x[..., 3]
        assert set(np.unique(mask)) <= {0.0, 1.0} and np.all(x[..., 1:3][mask == 0] == 0)
        lit += int(mask.reshape(3, -1).any(axis=1).sum())
        # a revealed patch holds true colors of its crop: within the target's range there
        assert np.all(np.abs(x[..., 1:3]) <= np.abs(y).max() + 1e-6)
    assert lit >= 3  # 6 crops, each without hints with probability 1/8
    val = ColorizationDataset(photo_paths, 32, 3, training=False, hints=True)
    x, _ = val[0]
    # validation reveals hints too (a frozen automatic net would otherwise score the same every
    # epoch), and the same ones every epoch, so epochs compare
    assert x.shape == (3, 32, 32, 4) and x[..., 3].any()
    val.on_epoch_end()
    np.testing.assert_array_equal(val[0][0], x)
    plain = ColorizationDataset(photo_paths, 32, 3, training=False)
    np.testing.assert_array_equal(plain[0][0][..., 0], x[..., 0])  # L unchanged
    with pytest.raises(ValueError, match="crop_on_device"):
        ColorizationDataset(photo_paths, 32, 3, training=True, hints=True, crop_on_device=True)


# ----------------------------------------------------------------------- colorize(hints=)
@pytest.fixture(scope="module")
def hint_colorizer():
    """A tiny untrained hint net: its hint branch adds nothing yet, so what a hint changes is
    colorize's spreading, measurable without training."""
    return Colorizer("default", image_size=32, loss="mse",
                     architecture_config={"hints": True, "global_context": False, **TINY})


@pytest.fixture(scope="module")
def gray_photo(photos):
    return color.rgb_to_gray(photos["chelsea"][:96, :192] / 255.0)


def test_colorize_with_hints_changes_colors_near_the_hint_and_keeps_lightness(hint_colorizer,
                                                                           gray_photo):
    c = hint_colorizer
    assert c.accepts_hints
    gray = (gray_photo * 255).round().astype(np.uint8)
    plain = c.colorize(gray, render_size=96)
    hint = [{"x": 20, "y": 48, "color": "#d02020", "radius": 4}]
    hinted = c.colorize(gray, render_size=96, hints=hint)
    assert hinted.shape == plain.shape == (96, 192, 3)
    lab_plain = color.rgb_to_lab(plain / 255.0)
    lab_hinted = color.rgb_to_lab(hinted / 255.0)
    assert np.abs(lab_hinted[..., 0] - lab_plain[..., 0]).max() < 1.0  # uint8 rounding only
    change = np.abs(lab_hinted[..., 1:] - lab_plain[..., 1:]).sum(axis=-1)
    near, far = change[40:57, 12:29].mean(), change[:, 150:].mean()
    assert near > 10 and far < near / 3  # the hint's color fades with distance
    # the untrained branch's correction starts at zero: without spreading, the hint colors
    # its own square (radius 4 around x=20, y=48) and nothing beyond it
    square_only = c.colorize(gray, render_size=96, hints=hint, spread_hints=False)
    np.testing.assert_array_equal(square_only[:, 40:], plain[:, 40:])
    np.testing.assert_array_equal(square_only[:30], plain[:30])
    lab_square = color.rgb_to_lab(square_only[44:53, 16:25] / 255.0)
    assert np.abs(lab_square[..., 1:] - lab_plain[44:53, 16:25, 1:]).sum(axis=-1).mean() > 10
    empty = c.colorize(gray, render_size=96, hints=[])
    np.testing.assert_array_equal(empty, plain)  # no hints: automatic mode


def test_colorize_hints_for_several_photos(hint_colorizer, gray_photo):
    c = hint_colorizer
    gray = (gray_photo * 255).round().astype(np.uint8)
    one = [(20, 48, "#2040d0")]
    outs = c.colorize([gray, gray], render_size=96, hints=[one, None])
    # Each photo gets its own hints. (A batch of two and a batch of one run differently compiled
    # kernels, whose last float bits may differ: one uint8 level is allowed; it happened once in
    # many runs.)
    np.testing.assert_allclose(outs[0], c.colorize(gray, render_size=96, hints=one), atol=1)
    np.testing.assert_allclose(outs[1], c.colorize(gray, render_size=96), atol=1)
    assert np.abs(outs[0].astype(int) - outs[1]).max() > 10  # the hint made a difference
    with pytest.raises(ValueError, match="2 lists of hints"):
        c.colorize([gray, gray], render_size=96, hints=[one])
    with pytest.raises(ValueError, match="2 lists of hints"):
        c.colorize([gray, gray], render_size=96, hints=one + one + one)  # flat, not per photo
    with pytest.raises(ValueError, match=r"photo 1: hint 0 lies outside"):
        c.colorize([gray, gray[:40]], render_size=32, hints=[one, one])


@pytest.mark.parametrize("hints, match", [
    ([(192, 10, "#ffffff")], r"outside the 192 x 96 photo.*x=192"),
    ([(10, -3, "#ffffff")], r"y=-3"),
    ([(10, 10, "#fffff")], r"color='#fffff'"),
    ([{"x": 1, "y": 1}], r"hint 0"),
])
def test_colorize_refuses_bad_hints(hint_colorizer, gray_photo, hints, match):
    with pytest.raises(ValueError, match=match):
        hint_colorizer.colorize(gray_photo, render_size=96, hints=hints)


def test_a_model_without_hint_channels_refuses_hints(gray_photo):
    c = Colorizer("default", image_size=32, loss="mse", architecture_config=TINY)
    assert not c.accepts_hints
    with pytest.raises(ValueError, match="does not take color hints"):
        c.colorize(gray_photo, render_size=32, hints=[(1, 1, "#ff0000")])


@pytest.mark.slow  # ~2 s on torch, ~10 s on JAX (compiles)
def test_a_tiny_hint_model_trains_one_epoch(photo_dir, tmp_path, training_datasets):
    c = Colorizer("default", image_size=32, loss="mse", architecture_config={"hints": True, **TINY})
    history = c.fit(photo_dir, epochs=1, batch_size=2, validation_split=0.2, test_split=0.0,
                    checkpoint_dir=tmp_path / "run", verbose=0)
    assert np.isfinite(history.history["loss"][0]) and np.isfinite(history.history["val_loss"][0])
    assert training_datasets and all(ds.hints for ds in training_datasets)
    reloaded = Colorizer.from_preset(tmp_path / "run" / "best")
    assert reloaded.accepts_hints


@pytest.mark.parametrize("rgb", [(40, 160, 60), (200, 40, 40), (40, 80, 200)])
def test_the_bundled_default_follows_a_hint_and_keeps_its_automatic_colors(rgb):
    from bwcolor.data import sample_photo
    from bwcolor.data.decode import load_rgb

    c = _bundled_default()
    assert c.accepts_hints
    photo = load_rgb(sample_photo())
    H, W = photo.shape[:2]
    x, y = W // 3, H // 3
    automatic = c.colorize(photo)
    hinted = c.colorize(photo, hints=[{"x": x, "y": y, "color": "#{:02x}{:02x}{:02x}".format(*rgb)}])
    near = (slice(y - 3, y + 4), slice(x - 3, x + 4))
    want = color.rgb_to_lab(np.asarray(rgb, np.float32).reshape(1, 1, 3) / 255.0)[0, 0, 1:]
    got = color.rgb_to_lab(hinted[near] / 255.0)[..., 1:].reshape(-1, 2).mean(axis=0)
    before = color.rgb_to_lab(automatic[near] / 255.0)[..., 1:].reshape(-1, 2).mean(axis=0)
    cosine = got @ want / (np.linalg.norm(got) * np.linalg.norm(want))
    assert cosine > 0.9 and np.linalg.norm(got - want) < 0.5 * np.linalg.norm(before - want)
    # L* is the photo's own, with or without hints
    np.testing.assert_allclose(color.rgb_to_lab(hinted / 255.0)[..., 0],
                               color.rgb_to_lab(automatic / 255.0)[..., 0], atol=1.5)


def test_without_hints_the_default_runs_its_automatic_part_with_the_same_colors(rng):
    c = _bundled_default()
    full, automatic = c._predictor(hints=True), c._predictor(hints=False)
    assert automatic is not full and len(automatic.layers) < len(full.layers)
    x = np.zeros((1, 64, 96, 1 + HINT_CHANNELS), np.float32)
    x[..., 0] = rng.uniform(-1, 1, (1, 64, 96))
    # Compiled, as colorize runs them (op by op, the EfficientNet encoder took 25 s on JAX).
    np.testing.assert_array_equal(np.asarray(full.predict_on_batch(x)),
                                  np.asarray(automatic.predict_on_batch(x)))


_DEFAULT = []


def _bundled_default():
    if not _DEFAULT:
        _DEFAULT.append(Colorizer.from_preset("default"))
    return _DEFAULT[0]


def test_a_reach_confines_the_hint_correction_near_hints(rng):
    net = architectures.get("default", head="regression", hints=True, hint_reach=2, **TINY)
    correction = net.get_layer("hint_correction")
    correction.set_weights([rng.normal(0, 1, w.shape).astype(np.float32)
                            for w in correction.get_weights()])
    x = np.zeros((1, 64, 64, 1 + HINT_CHANNELS), np.float32)
    x[..., 0] = rng.uniform(-1, 1, (1, 64, 64))
    x[0, 30:33, 30:33, 1:] = (0.3, 0.2, 1.0)  # output cells 7 and 8 (stride 4)
    changed = np.abs(keras.ops.convert_to_numpy(net(x, training=False))
                     - keras.ops.convert_to_numpy(architectures.automatic_part(net)(x, training=False)))
    rows, cols = np.nonzero(changed[0].max(axis=-1) > 0)
    assert (rows.min(), rows.max(), cols.min(), cols.max()) == (5, 10, 5, 10)
    rebuilt = keras.Model.from_config(net.get_config())  # the reach is part of the config
    assert rebuilt.get_layer("hint_gate").reach == 2
