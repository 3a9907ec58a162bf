"""bwcolor.data.decode: formats by content, regular files only, ICC profiles, float modes."""

import os
import struct
import threading

import numpy as np
import pytest
from PIL import Image

from bwcolor.data import ImageDecodeError, open_image, pil_to_lightness, scan, sniff_format
from bwcolor.data.decode import load_rgb


def _s15(v):
    return struct.pack(">i", round(v * 65536))


def _tag_xyz(x, y, z):
    return b"XYZ " + b"\0" * 4 + _s15(x) + _s15(y) + _s15(z)


def _tag_desc(text):
    ascii_ = text.encode("ascii") + b"\0"
    return (b"desc" + b"\0" * 4 + struct.pack(">I", len(ascii_)) + ascii_
            + struct.pack(">II", 0, 0) + struct.pack(">HB", 0, 0) + b"\0" * 67)


def icc_profile(space="RGB ", gamma=1.0):
    """A minimal ICC v2 display profile: sRGB primaries (D50) with a pure gamma curve. With
    gamma 1.0 the pixel values are linear light, so a scan tagged with it must come out much
    lighter once converted to sRGB than if its numbers were read as sRGB."""
    curve = b"curv" + b"\0" * 4 + struct.pack(">IH", 1, round(gamma * 256)) + b"\0\0"
    tags = [(b"desc", _tag_desc("bwcolor test linear")), (b"wtpt", _tag_xyz(0.9642, 1.0, 0.8249)),
            (b"cprt", b"text" + b"\0" * 4 + b"public domain\0\0\0\0")]
    if space == "RGB ":
        tags += [(b"rXYZ", _tag_xyz(0.4361, 0.2225, 0.0139)), (b"gXYZ", _tag_xyz(0.3851, 0.7169, 0.0971)),
                 (b"bXYZ", _tag_xyz(0.1431, 0.0606, 0.7141)),
                 (b"rTRC", curve), (b"gTRC", curve), (b"bTRC", curve)]
    else:
        tags += [(b"kTRC", curve)]
    offset = 128 + 4 + 12 * len(tags)
    table, body = b"", b""
    for sig, data in tags:
        data += b"\0" * (-len(data) % 4)
        table += sig + struct.pack(">II", offset + len(body), len(data))
        body += data
    size = offset + len(body)
    header = (struct.pack(">I", size) + b"\0" * 4 + bytes([2, 0x10, 0, 0]) + b"mntr"
              + space.encode() + b"XYZ " + b"\0" * 12 + b"acsp" + b"\0" * 24 + b"\0" * 4
              + _s15(0.9642) + _s15(1.0) + _s15(0.8249) + b"\0" * 48)
    assert len(header) == 128
    return header + struct.pack(">I", len(tags)) + table + body


@pytest.mark.parametrize("mode", ["RGB", "L"])
def test_icc_tagged_scans_are_converted_to_srgb(tmp_path, mode):
    # Linear light 0.2 has L* 51.8; the same number read as sRGB would give L* 21.2 (darker).
    value = round(0.2 * 255)
    img = Image.new(mode, (16, 12), (value,) * 3 if mode == "RGB" else value)
    path = tmp_path / "tagged.png"
    img.save(path, icc_profile=icc_profile("RGB " if mode == "RGB" else "GRAY"))
    lightness = pil_to_lightness(open_image(path))
    assert abs(float(lightness.mean()) - 51.8) < 1.5
    untagged = tmp_path / "untagged.png"
    img.save(untagged)
    assert abs(float(pil_to_lightness(open_image(untagged)).mean()) - 21.2) < 1.5


def test_a_damaged_icc_profile_warns_and_keeps_the_pixels(tmp_path):
    path = tmp_path / "bad_icc.png"
    Image.new("RGB", (8, 8), (120, 60, 30)).save(path, icc_profile=b"not a profile at all")
    with pytest.warns(UserWarning, match="ICC"):
        rgb = load_rgb(path)
    np.testing.assert_allclose(rgb[0, 0] * 255, (120, 60, 30), atol=0.5)


@pytest.mark.parametrize("fmt,suffix", [("PPM", ".ppm"), ("TGA", ".tga"), ("JPEG2000", ".jp2"),
                                        ("QOI", ".qoi"), ("SGI", ".rgb"), ("PCX", ".pcx")])
def test_formats_pillow_decodes_are_accepted_by_content(tmp_path, fmt, suffix):
    img = Image.new("RGB", (40, 30), (200, 100, 50))
    path = tmp_path / f"scan{suffix}.dat"  # the extension says nothing
    img.save(path, format=fmt)
    assert sniff_format(path) is not None
    rgb = load_rgb(path)
    assert rgb.shape == (30, 40, 3)
    np.testing.assert_allclose(rgb[15, 20] * 255, (200, 100, 50), atol=8)


def test_pgm_and_pbm_from_scanners(tmp_path):
    Image.new("L", (10, 8), 77).save(tmp_path / "a.pgm")
    Image.new("1", (10, 8), 1).save(tmp_path / "b.pbm")
    assert sniff_format(tmp_path / "a.pgm") == "pnm" and sniff_format(tmp_path / "b.pbm") == "pnm"
    assert load_rgb(tmp_path / "a.pgm").shape == (8, 10, 3)


def test_heic_without_a_plugin_says_what_to_install(tmp_path):
    pytest.importorskip("PIL")
    try:
        import pillow_heif  # noqa: F401

        pytest.skip("pillow-heif is installed: HEIC decodes")
    except ImportError:
        pass
    path = tmp_path / "phone.heic"
    path.write_bytes(b"\0\0\0\x18ftypheic\0\0\0\0mif1heic" + b"\0" * 64)
    assert sniff_format(path) == "heif"
    with pytest.raises(ImageDecodeError, match="pillow-heif") as info:
        open_image(path)
    assert info.value.reason == "unsupported"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_a_fifo_is_never_opened(tmp_path):
    fifo = tmp_path / "pipe.jpg"
    os.mkfifo(fifo)
    result = {}

    def attempt():  # a read of a FIFO with no writer would block forever
        for fn in (sniff_format, open_image):
            try:
                fn(fifo)
            except ImageDecodeError as e:
                result.setdefault("reasons", []).append(e.reason)

    t = threading.Thread(target=attempt, daemon=True)
    t.start()
    t.join(10)
    assert not t.is_alive(), "a FIFO was opened and blocked"
    assert result["reasons"] == ["not_regular", "not_regular"]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_scan_counts_special_files(tmp_path, photos):
    Image.fromarray(photos["coffee"]).save(tmp_path / "ok.jpg")
    os.mkfifo(tmp_path / "pipe.jpg")
    (tmp_path / "broken_link.jpg").symlink_to(tmp_path / "gone.jpg")
    _splits, report = scan(tmp_path, image_size=32, fractions=(1, 0, 0))
    assert report.skipped["not_regular"] == 1 and report.skipped["not_found"] == 1
    assert report.used["train"] == 1
    assert "never opened" in str(report)


def test_mode_f_images_are_scaled_like_float_arrays():
    from bwcolor.data import pil_to_rgb

    arr = np.full((4, 5), 0.5, np.float32)
    rgb = pil_to_rgb(Image.fromarray(arr, mode="F"))
    np.testing.assert_allclose(rgb, 0.5)
    with pytest.raises(ValueError, match=r"\[0, 1\].*max=2"):
        pil_to_rgb(Image.fromarray(arr * 4, mode="F"))
