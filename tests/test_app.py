"""The local web app (``bwcolor app``): its command line, and its page driven through Gradio's
own API client on 127.0.0.1, as the browser drives it (upload, hints, download)."""

import builtins
import gc
import os
import socket
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from bwcolor import cli
from bwcolor.color import lab_to_rgb, rgb_to_lab

# Gradio's server and client leave event loops and sockets to the garbage collector.
# Gradio 5.50 warns about its own Dataframe arguments.
pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning",
                                        "ignore::pytest.PytestUnraisableExceptionWarning",
                                        "ignore:Passing a tuple to 'row_count':DeprecationWarning")

INSTALL_LINE = 'bwcolor app: error: install the app extra: pip install "bwcolor[app]"'


# ------------------------------------------------------------------ without Gradio
def test_importing_bwcolor_never_imports_gradio():
    code = ("import sys, bwcolor, bwcolor.cli, bwcolor.colorizer; "
            "sys.exit('gradio' in sys.modules)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_app_without_gradio_exits_2_in_one_line(monkeypatch, capsys):
    real_import = builtins.__import__

    def no_gradio(name, *args, **kwargs):
        if name == "gradio" or name.startswith("gradio."):
            raise ImportError("No module named 'gradio'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_gradio)
    for name in [m for m in sys.modules if m == "gradio" or m.startswith("gradio.")]:
        monkeypatch.delitem(sys.modules, name)
    loaded = []
    monkeypatch.setattr(cli._common, "load_colorizer", loaded.append)  # must not be reached
    assert cli.main(["app"]) == cli.EXIT_USAGE
    captured = capsys.readouterr()
    assert captured.err.splitlines() == [INSTALL_LINE] and not captured.out
    assert not loaded


@pytest.mark.parametrize("flags, words", [
    (["--port", "0"], "argument --port: must be >= 1. Received: port=0"),
    (["--port", "70000"], "argument --port: must be <= 65535"),
    (["--max-upload-mb", "0"], "argument --max-upload-mb: must be > 0"),
    (["--max-pixels", "10"], "argument --max-pixels: must be >= 1024"),
    (["--max-pixels", "many"], "argument --max-pixels: must be an integer"),
    (["--model", "no_such_preset"], "--model: not a preset name"),
])
def test_app_flags_are_checked_in_one_line(flags, words, capsys):
    try:
        code = cli.main(["app", *flags])
    except SystemExit as e:  # argparse's checks
        code = e.code
    assert code == cli.EXIT_USAGE
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and words in err[0], err


def test_app_help_shows_the_defaults_and_they_are_the_apps(capsys):
    with pytest.raises(SystemExit):
        cli.main(["app", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for default in ("(default: default)", "(default: 127.0.0.1)", "(default: 7860)",
                    "(default: 50)", "(default: 50000000)"):
        assert default in text
    import inspect

    from bwcolor import app

    params = inspect.signature(app.launch).parameters
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if a.dest == "command").choices["app"]
    got = {a.dest: a.default for a in sub._actions}
    for name in ("host", "port", "max_upload_mb", "max_pixels"):
        assert got[name] == params[name].default, name


# ------------------------------------------------------------------ with Gradio
def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tiny_hint_colorizer():
    from bwcolor import Colorizer

    return Colorizer(architecture="default", image_size=32, loss="mse", learning_rate=3e-3,
                     architecture_config={"hints": True, "widths": (8, 8), "blocks": (1, 1)})


class _Page:
    """A launched app and a gradio_client session on it; outputs by name."""

    NAMES = ("photo", "original", "result", "hints", "which", "download", "info", "note")

    def __init__(self, colorizer, **limits):
        pytest.importorskip("gradio", reason="the app extra (gradio) is not installed: "
                            'pip install "bwcolor[app]"')
        from gradio_client import Client

        from bwcolor.app import launch

        port = _free_port()
        self.demo = launch(colorizer, port=port, block=False, quiet=True, **limits)
        self.url = f"http://127.0.0.1:{port}/"
        self.client = Client(self.url, verbose=False)

    def call(self, api_name, *args, render_size=32, temperature=0.38):
        out = self.client.predict(*args, render_size, temperature, api_name=api_name)
        return dict(zip(self.NAMES, out))

    def upload(self, *paths, **options):
        from gradio_client import handle_file

        return self.call("/load_photos", [handle_file(str(p)) for p in paths], **options)

    def close(self):
        self.demo.close()
        gc.collect()  # here, where the warnings filter above applies, not in a later test


@pytest.fixture(scope="module")
def page():
    p = _Page(_tiny_hint_colorizer(), max_upload_mb=1, max_pixels=200_000)
    yield p
    p.close()


def _textured_gray(path, height=64, width=96, seed=0):
    rng = np.random.default_rng(seed)
    gray = (128 + 40 * rng.standard_normal((height, width))).clip(0, 255).astype(np.uint8)
    Image.fromarray(gray).save(path)
    return path


def test_app_binds_localhost_and_serves_the_page(page):
    import urllib.request

    assert page.url.startswith("http://127.0.0.1:")
    with urllib.request.urlopen(page.url, timeout=30) as r:  # our own server
        assert r.status == 200 and b"bwcolor" in r.read()


def test_upload_hints_remove_and_download(page, tmp_path):
    from gradio_client import Client

    page.client = Client(page.url, verbose=False)  # a fresh session
    a = _textured_gray(tmp_path / "a.png")
    b = _textured_gray(tmp_path / "b.png", 40, 50, seed=1)
    out = page.upload(a, b)
    assert out["photo"]["value"] == "b.png"  # the last one dropped is shown
    assert [c[0] for c in out["photo"]["choices"]] == ["a.png", "b.png"]
    out = page.call("/pick", "a.png")
    assert out["info"].startswith("a.png: 96 x 64 pixels, 0 hints")
    assert np.asarray(Image.open(out["result"])).shape == (64, 96, 3)
    out = page.call("/add_hint", 10, 20, "#ff0000", 0)
    out = page.call("/add_hint", 70, 40, "rgba(0, 0, 255, 1)", 6)
    assert out["hints"]["data"] == [[1, 10, 20, "#ff0000", "default"],
                                    [2, 70, 40, "#0000ff", "6"]]
    # The original is shown with the hints drawn on it: a red dot at (10, 20).
    assert tuple(np.asarray(Image.open(out["original"]).convert("RGB"))[20, 10]) == (255, 0, 0)
    full = Image.open(out["download"]["value"])
    assert full.format == "PNG" and full.size == (96, 64)
    out = page.call("/remove_hint", "1: (10, 20) #ff0000")
    assert out["hints"]["data"] == [[1, 70, 40, "#0000ff", "6"]]
    out = page.call("/clear_hints")
    assert out["hints"]["data"] == [] and out["info"].endswith("0 hints")
    # b.png kept its own (no) hints, and the page can switch back to it.
    assert page.call("/pick", "b.png")["info"].startswith("b.png: 50 x 40 pixels")


def test_photos_sharing_a_name_keep_their_own_results(page, tmp_path):
    """a.png and a.jpg, and one name dropped twice: each download is its own photo's."""
    from gradio_client import Client

    page.client = Client(page.url, verbose=False)
    (tmp_path / "again").mkdir()
    sizes = {}
    for path, (h, w) in ((tmp_path / "a.png", (64, 96)), (tmp_path / "a.jpg", (40, 50)),
                         (tmp_path / "again" / "a.png", (48, 32))):
        Image.open(_textured_gray(tmp_path / "t.png", h, w)).save(path)
        sizes[path] = (w, h)
    out = page.upload(*sizes)
    names = [c[0] for c in out["photo"]["choices"]]
    assert names == ["a.png", "a.jpg", "a.png (2)"]
    for name, size in [*zip(names, sizes.values()), *zip(names, sizes.values())]:  # twice
        download = page.call("/pick", name)["download"]["value"]
        assert Image.open(download).size == size, name
    assert {os.path.basename(page.call("/pick", n)["download"]["value"]) for n in names} == {
        "a_color.png", "a_jpg_color.png", "a_png_color.png"}


@pytest.mark.parametrize("content, words", [
    (b"this is not a photo", "bad.jpg: not an image Pillow can read"),
    (b"\xff\xd8\xff\xe0" + b"\x00" * 64, "bad.jpg: corrupt or"),
])
def test_a_bad_file_gives_one_line_on_the_page(page, tmp_path, content, words):
    from gradio_client import Client
    from gradio_client.exceptions import AppError

    page.client = Client(page.url, verbose=False)
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(content)
    with pytest.raises(AppError) as info:
        page.upload(bad)
    message = str(info.value)
    assert words in message, message
    assert "\n" not in message and "Traceback" not in message and str(tmp_path) not in message


def test_limits_and_bad_hints_are_one_line_messages(page, tmp_path):
    from gradio_client import Client
    from gradio_client.exceptions import AppError

    page.client = Client(page.url, verbose=False)
    with pytest.raises(AppError, match="drop a photo first"):
        page.call("/add_hint", 1, 1, "#ff0000", 0)
    big = _textured_gray(tmp_path / "big.png", 500, 500)  # 250,000 > max_pixels 200,000
    with pytest.raises(AppError, match=r"big.png: the photo has 500 x 500 pixels, more than the "
                                       r"limit of 200000 pixels"):
        page.upload(big)
    # A good photo and a bad one: the good one is shown, the bad one named in the note.
    (tmp_path / "notes.png").write_text("not a photo")
    out = page.upload(_textured_gray(tmp_path / "good.png"), tmp_path / "notes.png")
    assert out["photo"]["value"] == "good.png" and "notes.png: not an image" in out["note"]
    with pytest.raises(AppError, match=r"hint 0 lies outside the 96 x 64 photo"):
        page.call("/add_hint", 96, 1, "#ff0000", 0)
    with pytest.raises(AppError, match="a hint color must be"):
        page.call("/add_hint", 1, 1, "red-ish", 0)


def test_an_upload_over_the_size_limit_is_refused(page, tmp_path):
    from gradio_client import Client

    page.client = Client(page.url, verbose=False)
    noise = np.random.default_rng(0).integers(0, 256, (800, 800), dtype=np.uint8)
    Image.fromarray(noise).save(tmp_path / "huge.png")  # ~0.6 MB of noise; over 1 MB below
    Image.fromarray(np.tile(noise, (2, 1))).save(tmp_path / "huger.png")
    assert (tmp_path / "huger.png").stat().st_size > 2**20
    with pytest.raises(Exception, match=r"(?i)file.*(size|large|limit)") as info:
        page.upload(tmp_path / "huger.png")
    assert "Traceback" not in str(info.value)


# ------------------------------------------------------------------ hints change the colors
def _hint_copying_colorizer():
    """The tiny hint Colorizer (regression head) with, as its model, a net that outputs the hint
    channels' a*b* (pooled to the output's 1/4 resolution): the hint's color where a hint is,
    gray elsewhere. It follows hints exactly, whatever the hint architecture of the day learns,
    so the test below checks the page's part: positions, x and y, colors, channels, results."""
    import keras

    colorizer = _tiny_hint_colorizer()
    inputs = keras.Input((None, None, 4))
    pick_ab = keras.layers.Conv2D(2, 1, use_bias=False, trainable=False)  # channels 1, 2
    pooled = keras.layers.AveragePooling2D(4)(pick_ab(inputs))
    pick_ab.set_weights([np.eye(4, 2, k=-1, dtype="float32").reshape(1, 1, 4, 2)])
    colorizer.model = keras.Model(inputs, pooled)
    assert colorizer.accepts_hints and colorizer.head == "regression"
    return colorizer


def _lab_hex(lightness, chroma, degrees):
    angle = np.deg2rad(degrees)
    lab = np.array([[lightness, chroma * np.cos(angle), chroma * np.sin(angle)]])
    r, g, b = (np.clip(lab_to_rgb(lab), 0, 1)[0] * 255).round().astype(int)
    return f"#{r:02x}{g:02x}{b:02x}"


def _mean_ab(rgb):
    return rgb_to_lab(rgb.reshape(-1, 3) / 255.0)[:, 1:].mean(axis=0)


def _hue_alignment(rgb, color):
    """cos of the angle between the mean a*b* of ``rgb`` and the a*b* of ``color`` (hex)."""
    ab = _mean_ab(rgb)
    target = rgb_to_lab(np.array([[int(color[i:i + 2], 16) for i in (1, 3, 5)]]) / 255.0)[0, 1:]
    return float(ab @ target / (np.linalg.norm(ab) * np.linalg.norm(target) + 1e-9))


@pytest.mark.parametrize("degrees", [30, 150, 270])
def test_a_hint_gives_its_hue_where_it_was_placed(tmp_path, degrees):
    """A hint placed through the page (x = column, away from the diagonal so that a swap of x
    and y shows) colors the photo there with its hue, where the photo was gray without it, and
    leaves the mirrored place gray; the downloaded PNG is the photo's full size."""
    page = _Page(_hint_copying_colorizer())
    try:
        photo = _textured_gray(tmp_path / "gray.png", 96, 128, seed=3)
        near, mirrored = np.s_[20:29, 84:93], np.s_[84:93, 20:29]  # around (x=88, y=24)
        before = np.asarray(Image.open(page.upload(photo, render_size=64)["download"]["value"]))
        color = _lab_hex(55, 45, degrees)
        out = page.call("/add_hint", 88, 24, color, 10, render_size=64)
        after = np.asarray(Image.open(out["download"]["value"]))
        assert after.shape == before.shape == (96, 128, 3)
        assert np.linalg.norm(_mean_ab(before[near])) < 3  # gray without the hint
        assert _hue_alignment(after[near], color) > 0.95, _mean_ab(after[near])
        assert np.linalg.norm(_mean_ab(after[near])) > 15
        assert np.linalg.norm(_mean_ab(after[mirrored])) < 3
    finally:
        page.close()


def test_uploads_are_deleted_from_gradios_cache_when_the_app_stops(tmp_path):
    """Gradio copies every upload into its temp folder; a person's photo must not outlive the
    page there."""
    import uuid

    from gradio.utils import get_upload_folder

    p = _Page(_tiny_hint_colorizer())
    name = f"private-{uuid.uuid4().hex}.png"
    _textured_gray(tmp_path / name)
    try:
        p.upload(tmp_path / name)

        def copies():
            return [f for _, _, files in os.walk(get_upload_folder()) for f in files if f == name]

        assert copies(), "the test did not find Gradio's copy of the upload"
    finally:
        p.close()
    assert copies() == []
