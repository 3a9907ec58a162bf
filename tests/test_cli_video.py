"""``bwcolor colorize film.mp4 -o film_color.mp4``: videos told by content, timing and audio
kept, the photo safety rules (never over an input, --overwrite for earlier outputs), and every
broken video, mistake or Ctrl-C reported in one line with nothing half-written left."""

import json

import numpy as np
import pytest

av = pytest.importorskip("av", reason="the video extra (PyAV) is not installed")
pytest.importorskip("cv2", reason="the video extra (opencv-python-headless) is not installed")

from test_video import TINY, audio_bytes, write_clip  # noqa: E402

from bwcolor import Colorizer, cli, video  # noqa: E402
from bwcolor.cli import _common  # noqa: E402


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("video_models")
    Colorizer("default", image_size=32, loss="mse", architecture_config=TINY).save(root / "plain")
    Colorizer("default", image_size=32, loss="mse",
              architecture_config={"hints": True, **TINY}).save(root / "hints")
    return root


@pytest.fixture
def film(tmp_path, photos):
    clip, _ = video.synthetic_clip(photos["astronaut"], 6, (48, 64))
    return write_clip(tmp_path / "film.mp4", clip, fps=12, audio="aac")


def run(capsys, *args):
    try:
        code = cli.main([str(a) for a in args])
    except SystemExit as e:
        code = e.code
    return code, capsys.readouterr().err


def one_error_line(err):
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def test_a_video_is_told_by_content_and_keeps_its_timing_and_sound(tmp_path, film, models, capsys):
    disguised = tmp_path / "film.dat"  # no video suffix: its content says what it is
    disguised.write_bytes(film.read_bytes())
    code, err = run(capsys, "colorize", disguised, "-o", tmp_path / "film_color.mp4",
                    "--model", models / "plain")
    assert code == 0, err
    assert "colorized 1 video, skipped 0 existing" in err
    out = video.probe_video(tmp_path / "film_color.mp4")
    assert (out.frames, out.fps, out.width, out.height) == (6, 12, 64, 48)
    assert audio_bytes(tmp_path / "film_color.mp4") == audio_bytes(film)
    before = (tmp_path / "film_color.mp4").read_bytes()
    code, err = run(capsys, "colorize", film, "-o", tmp_path / "film_color.mp4",
                    "--model", models / "plain", "--consistency", "none")
    assert code == 0 and "skipped 1 existing (use --overwrite)" in err
    assert (tmp_path / "film_color.mp4").read_bytes() == before
    code, err = run(capsys, "colorize", film, "-o", tmp_path / "out", "--suffix", "_color",
                    "--model", models / "plain")
    assert code == 0, err
    assert video.probe_video(tmp_path / "out" / "film_color.mp4").frames == 6


def test_never_over_the_input(tmp_path, film, models, capsys):
    before = film.read_bytes()
    for output in (film, tmp_path / "." / "film.mp4"):
        code, err = run(capsys, "colorize", film, "-o", output, "--overwrite",
                        "--model", models / "plain")
        assert code == 2 and "would overwrite the input" in one_error_line(err)
    assert film.read_bytes() == before


def test_broken_videos_fail_in_one_line(tmp_path, film, models, capsys):
    data = film.read_bytes()
    (tmp_path / "cut.mp4").write_bytes(data[:len(data) // 2])  # its index (moov) is at the end
    (tmp_path / "zero.mp4").write_bytes(b"")
    for broken, message in [("cut.mp4", "cannot be read as a video"),
                            ("zero.mp4", "cannot be read as a video")]:
        code, err = run(capsys, "colorize", tmp_path / broken, "-o", tmp_path / "x.mp4",
                        "--model", models / "plain")
        assert code == 2 and message in one_error_line(err), err
    clip = [np.random.default_rng(i).integers(0, 256, (48, 64, 3), dtype=np.uint8)
            for i in range(24)]
    fast = write_clip(tmp_path / "fast.mp4", clip, options={"movflags": "faststart"})
    (tmp_path / "fast_cut.mp4").write_bytes(fast.read_bytes()[:fast.stat().st_size // 2])
    code, err = run(capsys, "colorize", tmp_path / "fast_cut.mp4", "-o", tmp_path / "y.mp4",
                    "--model", models / "plain")
    assert code == 1 and "FAILED" in err and "Traceback" not in err, err
    assert not (tmp_path / "x.mp4").exists() and not (tmp_path / "y.mp4").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".bwcolor-")]


def test_mistakes_are_one_line(tmp_path, film, models, capsys, photos):
    from PIL import Image

    Image.fromarray(photos["coffee"][:40, :50]).save(tmp_path / "photo.png")
    red = [{"x": 5, "y": 5, "color": "red"}]
    (tmp_path / "hints.json").write_text(json.dumps({"0": red, "3": red}))
    cases = [
        ((film, tmp_path / "photo.png", "-o", tmp_path / "o"), "videos and photos in separate"),
        ((film, "-o", tmp_path / "x.png"), "-o for a video must end in"),
        ((film, "-o", tmp_path / "x.mp4", "--ext", "jpg"), "--ext is for photos"),
        ((film, "-o", tmp_path / "x.mp4", "--hints", tmp_path / "hints.json"),
         "does not take color hints"),
    ]
    for args, message in cases:
        code, err = run(capsys, "colorize", *args, "--model", models / "plain")
        assert code == 2 and message in one_error_line(err), err
    (tmp_path / "late.json").write_text(json.dumps({"99": red}))
    code, err = run(capsys, "colorize", film, "-o", tmp_path / "x.mp4", "--hints",
                    tmp_path / "late.json", "--model", models / "hints")
    assert code == 2 and "past the video's end" in one_error_line(err)
    assert not (tmp_path / "x.mp4").exists()
    code, err = run(capsys, "colorize", film, "-o", tmp_path / "x.mp4", "--hints",
                    tmp_path / "hints.json", "--model", models / "hints")
    assert code == 0, err


def test_ctrl_c_leaves_no_half_written_video(tmp_path, film, models, capsys, monkeypatch):
    original = _common.console.progress

    def interrupting(total, label=""):
        progress = original(total, label)

        def advance(message, steps=1):
            raise KeyboardInterrupt

        progress.advance = advance
        return progress

    monkeypatch.setattr(_common.console, "progress", interrupting)
    (tmp_path / "out").mkdir()
    code, err = run(capsys, "colorize", film, "-o", tmp_path / "out" / "film.mp4",
                    "--model", models / "plain")
    assert code == 130
    assert "interrupted (SIGINT)" in err and "no half-written video is left" in err
    assert list((tmp_path / "out").iterdir()) == []
