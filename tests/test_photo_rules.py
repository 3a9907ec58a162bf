"""What colorize and evaluate do with a photo, said and kept (issue #29, "Say what happens"):
EXIF rotation for files and PIL images alike, the first frame of multi-frame files (with a
warning), hint radius and ``spread_hints=False`` acting in post-processing on any model, the
render-size rule as the guide's table states it, and evaluate skipping photos smaller than its
crop."""

import re
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from bwcolor.hints import parse_hints
from bwcolor.postprocessing import spread_hints
from bwcolor.preprocessing import Preprocessor

GUIDE = Path(__file__).resolve().parents[1] / "docs" / "guide.rst"


# ------------------------------------------------------------------ EXIF orientation
def _rotated_jpeg(path, orientation=6):
    """A 40 x 20 JPEG, white on its left quarter, tagged to be shown rotated."""
    pixels = np.zeros((20, 40), np.uint8)
    pixels[:, :10] = 255
    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.fromarray(pixels).save(path, exif=exif.tobytes(), quality=95)
    return path


@pytest.mark.parametrize("orientation, shape", [(6, (40, 20)), (3, (20, 40)), (8, (40, 20))])
def test_a_pil_image_gets_the_exif_rotation_a_path_gets(tmp_path, orientation, shape):
    path = _rotated_jpeg(tmp_path / "rotated.jpg", orientation)
    pre = Preprocessor(32, 8)
    from_path = pre.lightness(path)
    with Image.open(path) as img:
        from_pil = pre.lightness(img)
    assert from_path.shape == from_pil.shape == shape
    np.testing.assert_array_equal(from_pil, from_path)


def test_an_upright_pil_image_is_read_as_it_is(tmp_path):
    path = _rotated_jpeg(tmp_path / "upright.jpg", orientation=1)
    with Image.open(path) as img:
        assert Preprocessor(32, 8).lightness(img).shape == (20, 40)


# ------------------------------------------------------------------ several frames
def _frames():
    return [Image.fromarray(np.full((12, 16), v, np.uint8)).convert("RGB") for v in (20, 200, 120)]


@pytest.mark.parametrize("name, options", [("anim.gif", {}), ("anim.png", {}),
                                           ("pages.tif", {})])
def test_a_file_of_several_frames_gives_its_first_with_a_warning_naming_it(tmp_path, name,
                                                                           options):
    path = tmp_path / name
    first, *rest = _frames()
    first.save(path, save_all=True, append_images=rest, **options)
    pre = Preprocessor(32, 8)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        lightness = pre.lightness(path)
    messages = [str(w.message) for w in caught if "frames" in str(w.message)]
    assert messages == [f"{path}: has 3 frames (an animated image or a multi-page file); only "
                        f"the first is used"]
    single = tmp_path / "first.png"
    first.save(single)
    np.testing.assert_allclose(lightness, pre.lightness(single), atol=0.5)


def test_a_pil_image_of_several_frames_uses_its_current_frame_and_says_so(tmp_path):
    path = tmp_path / "anim.gif"
    first, *rest = _frames()
    first.save(path, save_all=True, append_images=rest)
    with Image.open(path) as img, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        img.seek(1)
        Preprocessor(32, 8).lightness(img)
    assert any("has 3 frames" in str(w.message) and "only frame 2 is used" in str(w.message)
               for w in caught)


def test_a_single_frame_photo_warns_nothing(tmp_path):
    path = tmp_path / "one.png"
    _frames()[0].save(path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Preprocessor(32, 8).lightness(path)


# ------------------------------------------------------------------ hints in post-processing
def _changed_cells(out, ab):
    return int((np.abs(out - ab).sum(axis=-1) > 1.0).sum())


def test_a_larger_radius_carries_a_hints_color_further():
    lightness = np.full((80, 120), 50.0, np.float32)
    ab = np.zeros((20, 30, 2), np.float32)
    reach = [_changed_cells(spread_hints(lightness, ab, parse_hints(
        [{"x": 60, "y": 40, "color": "#b03020", "radius": r}], 80, 120), distance=0.05), ab)
        for r in (None, 0, 8, 20)]
    assert reach[0] == reach[1] < reach[2] < reach[3]


def test_a_hints_square_takes_its_color_whatever_the_lightness_inside_it():
    lightness = np.full((40, 40), 30.0, np.float32)
    lightness[:, 20:] = 80.0  # the square straddles an edge: inside it, the hint's color anyway
    ab = np.zeros((10, 10, 2), np.float32)
    hint = parse_hints([{"x": 18, "y": 20, "color": "#2050d0", "radius": 6}], 40, 40)
    out = spread_hints(lightness, ab, hint)
    target = hint[0].ab
    for row, col in [(5, 4), (5, 5), (4, 5), (6, 3)]:  # cells within 6 px of (18, 20)
        np.testing.assert_allclose(out[row, col], target, rtol=0.06)


def test_without_spreading_a_hint_colors_its_square_and_nothing_beyond():
    lightness = np.full((80, 120), 50.0, np.float32)
    ab = np.random.default_rng(0).normal(0, 10, (20, 30, 2)).astype(np.float32)
    hints = parse_hints([{"x": 60, "y": 40, "color": "#b03020", "radius": 8},
                         {"x": 10, "y": 10, "color": "#20b030"}], 80, 120)
    out = spread_hints(lightness, ab, hints, spread=False)
    changed = np.abs(out - ab).sum(axis=-1) > 1e-6
    square = np.zeros_like(changed)
    square[8:13, 13:18] = True  # rows/cols within 8 px (2 cells) of the first hint's cell (10, 15)
    square[2, 2] = True  # the second hint's own cell
    np.testing.assert_array_equal(changed, square)
    residual = np.abs(hints[0].ab - ab[10, 15]).max()  # the prediction keeps prior / (1 + prior)
    np.testing.assert_allclose(out[10, 15], hints[0].ab, atol=0.05 * residual + 1e-3)
    spread = spread_hints(lightness, ab, hints)
    assert _changed_cells(spread, ab) > 3 * int(square.sum())


@pytest.mark.slow
def test_spread_hints_false_and_radius_change_a_model_whose_hint_channels_do_nothing():
    """The bundled default ships its hint correction as zero; a fresh tiny hint net's is zero
    too, so this holds for whichever default is bundled: hints act in post-processing."""
    from bwcolor import Colorizer

    c = Colorizer("default", image_size=32, loss="mse",
                  architecture_config={"hints": True, "global_context": False,
                                       "widths": (8, 8), "blocks": (1, 1)})
    gray = np.full((64, 96), 120, np.uint8)
    plain = c.colorize(gray).astype(int)
    small = c.colorize(gray, hints=[(48, 32, "#20a040", 2)], spread_hints=False).astype(int)
    large = c.colorize(gray, hints=[(48, 32, "#20a040", 12)], spread_hints=False).astype(int)
    changed = [int((np.abs(x - plain).sum(axis=-1) > 6).sum()) for x in (small, large)]
    assert 0 < changed[0] < changed[1]
    assert np.abs(small - plain)[:, :20].max() == 0  # nothing beyond the square


# ------------------------------------------------------------------ render size
def _guide_render_examples():
    """(photo W, H, render_size or None, render W, H) of the guide's render-size table."""
    text = GUIDE.read_text(encoding="utf-8")
    table = text.split(":name: render-size-examples", 1)[1].split("\n\n", 2)[1]
    cells = re.findall(r"^\s+(?:\* )?- (.+)$", table, flags=re.M)
    rows = [cells[i:i + 3] for i in range(3, len(cells), 3)]  # after the header row
    examples = []
    for photo, size, render in rows:
        pw, ph = map(int, photo.split(" x "))
        rw, rh = map(int, render.split(" x "))
        examples.append((pw, ph, None if size == "default" else int(size), rw, rh))
    return examples


def test_the_guides_render_size_table_is_what_colorize_renders():
    examples = _guide_render_examples()
    assert len(examples) >= 6
    pre = Preprocessor(192, 32)  # "a model trained at 192 px with an input multiple of 32"
    for pw, ph, size, rw, rh in examples:
        assert pre.render_shape(ph, pw, size) == (rh, rw), (pw, ph, size)


def test_the_guide_claims_no_other_render_size_rule():
    text = " ".join(GUIDE.read_text(encoding="utf-8").split())
    assert "never above the photo's own short side, nor below" not in text


# ------------------------------------------------------------------ evaluate
class _Gray:
    """Anything with .colorize can be evaluated: this one returns the gray photo."""

    def colorize(self, images, **_):
        return [np.repeat(np.asarray(Image.fromarray(i).convert("L"))[..., None], 3, -1)
                for i in images]


def _color_photo(path, size):
    rng = np.random.default_rng(size)
    Image.fromarray(rng.integers(0, 255, (size, size, 3), dtype=np.uint8)).save(path)


def test_evaluate_skips_and_counts_photos_smaller_than_its_crop(tmp_path):
    from bwcolor.evaluation import evaluate

    _color_photo(tmp_path / "big.png", 48)
    _color_photo(tmp_path / "tiny.png", 16)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        scores = evaluate(_Gray(), tmp_path, size=32, per_image=True)
    assert scores["n_images"] == 1 and scores["n_skipped"] == 1
    assert [Path(p["path"]).name for p in scores["per_image"]] == ["big.png"]
    assert any("smaller than the 32 px crop (16x16)" in str(w.message) and "tiny.png"
               in str(w.message) for w in caught)


def test_evaluate_of_only_small_photos_says_so(tmp_path):
    from bwcolor.evaluation import evaluate

    _color_photo(tmp_path / "tiny.png", 16)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ValueError, match=r"no photo to evaluate at size 32: 1 smaller than "
                                             r"the 32 px crop \(the largest has a short side of "
                                             r"16 px"):
            evaluate(_Gray(), tmp_path / "tiny.png", size=32)
