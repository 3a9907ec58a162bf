"""Messy archives: every case is made here with a few lines of Pillow, then fed both to a
training scan (a counted skip with a reason, or used) and to colorize (an image, or a clear
error naming the file). The closing note of the reliability issue lists these outcomes."""

import os
import sys
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from PIL import Image

from bwcolor import Colorizer
from bwcolor.data import ImageDecodeError, find_files, scan

TINY = dict(widths=(8, 8), blocks=(1, 1))
SIZE = 32


def _photo(photos, h=96, w=128):
    return Image.fromarray(photos["coffee"][:h, :w])


def _truncated(path, img, fmt):
    img.save(path, format=fmt)
    path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 3])


def _exif_rotated(path, img):
    exif = Image.Exif()
    exif[0x0112] = 6
    img.save(path, format="JPEG", exif=exif.tobytes())


def _palette_transparent(path, img):
    p = img.convert("P")
    p.save(path, transparency=0)


def _animated(path, img):
    img.save(path, save_all=True, append_images=[img.transpose(Image.FLIP_LEFT_RIGHT)])


# name -> (make(path, photo), scan outcome, colorize outcome)
# scan outcome: "used" or a skip reason; colorize outcome: "ok" or the exception type.
CASES = {
    "zero_byte.jpg": (lambda p, i: p.write_bytes(b""), "damaged", ImageDecodeError),
    "truncated.jpg": (lambda p, i: _truncated(p, i, "JPEG"), "unreadable", ImageDecodeError),
    "truncated.png": (lambda p, i: _truncated(p, i, "PNG"), "unreadable", ImageDecodeError),
    "text_named.jpg": (lambda p, i: p.write_text("not an image"), "damaged", ImageDecodeError),
    "png_named.jpg": (lambda p, i: i.save(p, format="PNG"), "used", "ok"),
    "cmyk.jpg": (lambda p, i: i.convert("CMYK").save(p, format="JPEG"), "used", "ok"),
    "gray16.png": (lambda p, i: Image.fromarray(np.asarray(i.convert("L")).astype(np.uint16) * 257).save(p),
                   "near_gray", "ok"),
    "gray16.tiff": (lambda p, i: Image.fromarray(np.asarray(i.convert("L")).astype(np.uint16) * 257).save(p),
                    "near_gray", "ok"),
    "rgba.png": (lambda p, i: i.convert("RGBA").save(p), "used", "ok"),
    "palette_transparent.png": (_palette_transparent, "used", "ok"),
    "exif_rotated.jpg": (_exif_rotated, "used", "ok"),
    "one_pixel.png": (lambda p, i: i.resize((1, 1)).save(p), "too_small", "ok"),
    "strip_3x5000.png": (lambda p, i: i.resize((5000, 3)).save(p), "too_small", "ok"),
    "animated.gif": (_animated, "used", "ok"),
    "gray_photo.jpg": (lambda p, i: i.convert("L").save(p), "near_gray", "ok"),
    "emoji_\U0001f4f7.jpg": (lambda p, i: i.save(p), "used", "ok"),
    "webp.webp": (lambda p, i: i.save(p, format="WEBP"), "used", "ok"),
    "bmp.bmp": (lambda p, i: i.save(p), "used", "ok"),
}


@pytest.fixture(scope="module")
def messy(tmp_path_factory, photos):
    folder = tmp_path_factory.mktemp("messy")
    img = _photo(photos)
    for name, (make, _, _) in CASES.items():
        make(folder / name, img)
    (folder / "dir_named.jpg").mkdir()
    (folder / "dir_named.jpg" / "inside.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    (folder / "loop").mkdir()
    (folder / "loop" / "again").symlink_to(folder, target_is_directory=True)
    (folder / "dangling.jpg").symlink_to(folder / "nowhere.jpg")
    if sys.platform != "darwin":
        img.save(folder / os.fsdecode(b"latin1_\xe9t\xe9.jpg"))
    return folder


@pytest.fixture(scope="module")
def model():
    return Colorizer("default", image_size=SIZE, architecture_config=TINY)


def test_scan_counts_every_bad_file(messy):
    with pytest.warns(UserWarning, match="animated.gif: has 2 frames"):  # used, and said
        _, report = scan(messy, image_size=SIZE)
    by_reason = dict(report.skipped)
    expected = {}
    for _make, outcome, _colorize in CASES.values():
        if outcome != "used":
            expected[outcome] = expected.get(outcome, 0) + 1
    expected["unreadable"] += 1  # dir_named.jpg/inside.png
    expected["not_found"] = 1  # the dangling link
    assert by_reason == expected
    used = sum(o == "used" for _, o, _ in CASES.values()) + (sys.platform != "darwin")
    assert report.n_used == used and report.found == used + sum(expected.values())
    text = str(report)  # printable, even with undecodable bytes in a name
    text.encode("utf-8")
    assert "truncated.jpg" in text and "zero_byte.jpg" in text


@pytest.mark.parametrize("name", list(CASES))
def test_colorize_gives_an_image_or_a_clear_error(messy, model, name):
    outcome = CASES[name][2]
    path = messy / name
    if outcome == "ok":
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            out = model.colorize(path)
        frames = [str(w.message) for w in caught if "frames" in str(w.message)]
        assert frames == ([f"{path}: has 2 frames (an animated image or a multi-page file); "
                           f"only the first is used"] if name == "animated.gif" else [])
        assert out.dtype == np.uint8 and out.ndim == 3 and out.shape[2] == 3
        with Image.open(path) as im:
            w, h = im.size
        if name == "exif_rotated.jpg":
            w, h = h, w  # upright, as displayed
        assert out.shape[:2] == (h, w)
    else:
        with pytest.raises(outcome, match=name.split(".")[0]):
            model.colorize(path)


def test_directory_named_like_an_image(messy, model):
    with pytest.raises(ImageDecodeError, match="directory"):
        model.colorize(messy / "dir_named.jpg")


def test_symlink_loop_does_not_hang(messy):
    files = find_files(messy)
    assert not any("again" in p.parts for p in files)


def test_unreadable_permissions(tmp_path, photos, model, monkeypatch):
    path = tmp_path / "locked.jpg"
    _photo(photos).save(path)
    path.chmod(0)
    if os.geteuid() == 0:  # root reads anything: make the OS refusal happen anyway
        import builtins

        real_open = builtins.open

        def refusing_open(file, *args, **kwargs):
            if os.fspath(file) == str(path):
                raise PermissionError(13, "Permission denied", str(path))
            return real_open(file, *args, **kwargs)

        monkeypatch.setattr(builtins, "open", refusing_open)
    _, report = scan(tmp_path, image_size=SIZE)
    assert report.skipped["unreadable"] == 1
    with pytest.raises(ImageDecodeError, match=r"locked\.jpg"):
        model.colorize(path)


def test_decompression_bomb_in_a_folder(tmp_path, monkeypatch):
    Image.new("RGB", (300, 300), (200, 30, 30)).save(tmp_path / "bomb.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 10_000)
    _, report = scan(tmp_path, image_size=SIZE)
    assert dict(report.skipped) == {"too_large": 1}


def test_folder_with_nothing_usable_fails_before_training(tmp_path, model):
    (tmp_path / "a.jpg").write_bytes(b"")
    Image.new("L", (64, 64), 128).save(tmp_path / "gray.png")
    with pytest.raises(ValueError, match=r"no usable training photos"):
        model.fit(tmp_path, epochs=1, verbose=0)


@given(arrays(
    dtype=st.sampled_from([np.uint8, np.uint16, np.float32, np.float64, np.int32, np.bool_]),
    shape=st.one_of(st.tuples(st.integers(1, 40), st.integers(1, 40)),
                    st.tuples(st.integers(1, 40), st.integers(1, 40), st.sampled_from([1, 2, 3, 4])),
                    st.tuples(st.integers(1, 3))),
    elements=None))
def test_fuzz_colorize_arrays(model, arr):
    """Any array gives an image or one of the documented errors; never NaN, never a crash."""
    try:
        out = model.colorize(arr)
    except (TypeError, ValueError) as e:
        assert "Received" in str(e) or "NaN" in str(e)
        return
    assert out.dtype == np.uint8 and out.shape[:2] == arr.shape[:2]
