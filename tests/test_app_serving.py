"""Serving the app and the command line's edges, each one line (issue #29): an empty hint field,
a port in use or a bad host (named before anything is announced), Ctrl-C after serving (exit
130 with bwcolor's line), Gradio's copies kept where a killed app's are swept, compare given a
folder, and warnings as one console line."""

import gc
import os
import socket
import subprocess
import sys
import uuid

import numpy as np
import pytest
from PIL import Image

from bwcolor import _io, cli

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning",
                                        "ignore::pytest.PytestUnraisableExceptionWarning",
                                        "ignore:Passing a tuple to 'row_count':DeprecationWarning")


def _photo(width=40, height=30):
    from bwcolor.app import _Photo

    return _Photo("a.png", Image.new("L", (width, height), 128), "a_color.png")


# ------------------------------------------------------------------ the hint fields
@pytest.mark.parametrize("x, y, empty", [(None, 3, "x is empty"), (4, None, "y is empty"),
                                         (None, None, "x and y are empty"),
                                         ("", 3, "x is empty")])
def test_add_hint_with_an_empty_field_says_so(x, y, empty):
    photo = _photo()
    with pytest.raises(ValueError, match=f"type both x \\(column\\) and y \\(row\\).*; {empty}$"):
        photo.add_hint(x, y, "#ff0000", 0)
    assert photo.hints == []


@pytest.mark.parametrize("x, y, color, radius, words", [
    (10 ** 400, 3, "#ff0000", 0, "x must be a finite number. Received: x=an int of about 401"),
    (4, 3, "#ff0000", 10 ** 400, "radius must be a finite number"),
    (4, 3, f"rgba({'9' * 400}, 0, 0, 1)", 0, "a hint color must be"),
    (4, 3, "rgba(1.2.3, 0, 0, 1)", 0, "a hint color must be"),
    (40, 3, "#ff0000", 0, "lies outside the 40 x 30 photo"),
])
def test_add_hint_refuses_bad_values_in_one_line(x, y, color, radius, words):
    photo = _photo()
    with pytest.raises(ValueError) as info:
        photo.add_hint(x, y, color, radius)
    assert words in str(info.value) and "\n" not in str(info.value)
    assert not str(info.value).startswith("hint 0:")  # one hint: no index to name


def test_add_hint_keeps_checked_values():
    photo = _photo()
    photo.add_hint(4, 3.5, "rgba(255, 0, 0, 1)", 6)
    photo.add_hint(5, 6, "#00ff00", 0)
    assert photo.hints == [{"x": 4.0, "y": 3.5, "color": "#ff0000", "radius": 6.0},
                           {"x": 5.0, "y": 6.0, "color": "#00ff00", "radius": None}]


# ------------------------------------------------------------------ host and port
@pytest.fixture
def busy_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield s.getsockname()[1]


def test_a_port_in_use_is_named(busy_port):
    from bwcolor.app import check_address

    with pytest.raises(ValueError, match=f"port {busy_port} is in use at 127.0.0.1"):
        check_address("127.0.0.1", busy_port)


@pytest.mark.parametrize("host, words", [
    ("no-such-host.invalid", "host 'no-such-host.invalid' is not an address or a name this "
                             "machine can resolve"),
    ("192.0.2.1", "host '192.0.2.1' is not an address of this machine"),  # TEST-NET-1
])
def test_a_bad_host_is_blamed_on_the_host(host, words):
    from bwcolor.app import check_address

    with pytest.raises(ValueError, match=words):
        check_address(host, 7860)


def _refuse_model_load(monkeypatch):
    def load(model):
        raise AssertionError("the model was loaded before the address was checked")

    monkeypatch.setattr(cli._common, "load_colorizer", load)


@pytest.mark.parametrize("host, words", [("127.0.0.1", "is in use"),
                                         ("192.0.2.1", "is not an address of this machine")])
def test_app_command_checks_host_and_port_before_announcing(busy_port, host, words, monkeypatch,
                                                            capsys):
    pytest.importorskip("gradio")
    _refuse_model_load(monkeypatch)
    assert cli.main(["app", "--host", host, "--port", str(busy_port)]) == cli.EXIT_USAGE
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith(f"bwcolor app: error: --host {host} --port "
                                               f"{busy_port}: ") and words in err[0], err


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tiny_colorizer():
    from bwcolor import Colorizer

    return Colorizer(architecture="default", image_size=32, loss="mse",
                     architecture_config={"hints": True, "widths": (8, 8), "blocks": (1, 1)})


@pytest.mark.slow
def test_ctrl_c_while_serving_closes_the_server_and_propagates(monkeypatch):
    pytest.importorskip("gradio")
    from bwcolor import app

    def ctrl_c():
        raise KeyboardInterrupt

    monkeypatch.setattr(app, "_serve_until_stopped", ctrl_c)
    port, ready = _free_port(), []
    with pytest.raises(KeyboardInterrupt):  # Gradio's own blocking swallowed it: exit 0
        app.launch(_tiny_colorizer(), port=port, quiet=True, on_ready=lambda: ready.append(1))
    assert ready == [1]
    app.check_address("127.0.0.1", port)  # the server was closed: the port is free again
    gc.collect()  # Gradio's loops and sockets: here, where the warnings filter above applies


def test_app_command_says_serving_once_up_and_exits_130_on_ctrl_c(monkeypatch, capsys):
    pytest.importorskip("gradio")
    from bwcolor import app

    def launch(colorizer, *, on_ready, **options):
        on_ready()
        raise KeyboardInterrupt  # what launch lets through on Ctrl-C

    monkeypatch.setattr(cli._common, "load_colorizer", lambda model: "a colorizer")
    monkeypatch.setattr(app, "launch", launch)
    port = _free_port()
    assert cli.main(["app", "--port", str(port)]) == 130
    assert capsys.readouterr().err.splitlines() == [
        f"serving default at http://127.0.0.1:{port} (Ctrl+C stops it)",
        "bwcolor app: interrupted (SIGINT)"]


# ------------------------------------------------------------------ Gradio's copies
def _dead_pid():
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_gradios_copies_live_in_a_folder_the_next_app_sweeps(tmp_path, monkeypatch):
    gradio = pytest.importorskip("gradio")
    import tempfile

    from bwcolor import app

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.delenv("GRADIO_TEMP_DIR", raising=False)
    # What a kill -9 leaves: a dead app's folder, with Gradio's copy of an upload in it.
    stale = tmp_path / f".bwcolor-{_io._HOST}-{_dead_pid()}-{uuid.uuid4().hex[:8]}.tmp.dir"
    (stale / "gradio" / "abc123").mkdir(parents=True)
    (stale / "gradio" / "abc123" / "private.png").write_bytes(b"a person's photo")
    demo = app.build_app(_tiny_colorizer())
    try:
        assert not stale.exists()
        cache = os.environ["GRADIO_TEMP_DIR"]
        assert demo.GRADIO_CACHE == cache == gradio.utils.get_upload_folder()
        folder = os.path.dirname(cache)
        assert os.path.dirname(folder) == str(tmp_path)
        assert _io._TEMP_RE.match(os.path.basename(folder)), folder  # named for this process
    finally:
        demo.close()
        gc.collect()


def test_a_gradio_temp_dir_set_by_the_user_is_kept(tmp_path, monkeypatch):
    pytest.importorskip("gradio")
    from bwcolor import app

    mine = str(tmp_path / "my-gradio-cache")
    monkeypatch.setenv("GRADIO_TEMP_DIR", mine)
    app._keep_gradios_copies_in(str(tmp_path / "bwcolor-folder" / "gradio"))
    assert os.environ["GRADIO_TEMP_DIR"] == mine


# ------------------------------------------------------------------ compare and warnings
def test_compare_given_a_folder_says_it_is_a_folder(tmp_path, capsys):
    folder = tmp_path / "album"
    folder.mkdir()
    assert cli.main(["compare", str(folder), "-o", str(tmp_path / "sheet.png")]) == cli.EXIT_USAGE
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and f"{str(folder)!r} is a folder; compare takes photo files" in err[0]
    assert "image not found" not in err[0]


@pytest.mark.filterwarnings("always::UserWarning")  # as a user's Python shows it, not an error
def test_warnings_are_one_console_line(tmp_path, capsys):
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (48, 48, 3), dtype=np.uint8)).save(tmp_path / "a.png")
    Image.fromarray(rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)).save(tmp_path / "b.png")
    assert cli.main(["evaluate", str(tmp_path), "--model", "gray", "--size", "32"]) == cli.EXIT_OK
    err = capsys.readouterr().err.splitlines()
    assert err == [f"warning: evaluate skips a photo smaller than the 32 px crop (16x16). "
                   f"Received: path={str(tmp_path / 'b.png')!r}"], err
