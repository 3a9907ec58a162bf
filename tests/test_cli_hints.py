"""``bwcolor colorize --hints FILE``: which photo each key names, and every mistake refused in
one line (exit 2) before any photo is colorized; a hint outside its photo fails that photo only."""

import json

import numpy as np
import pytest
from helpers import digest, make_scans
from PIL import Image

from bwcolor import Colorizer, cli

TINY = dict(widths=(8, 8), blocks=(1, 1))
RED = {"x": 3, "y": 4, "color": "#d02020", "radius": 3}


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """Tiny untrained presets, one with hint channels and one without."""
    root = tmp_path_factory.mktemp("hint_models")
    Colorizer("default", image_size=32, loss="mse",
              architecture_config={"hints": True, **TINY}).save(root / "hints")
    Colorizer("default", image_size=32, loss="mse", architecture_config=TINY).save(root / "plain")
    return root


@pytest.fixture
def scans(tmp_path, photos):
    """scans/a.jpg (64 x 80), scans/box/b.png (48 x 64), scans/box/a.jpg (40 x 48)."""
    root = make_scans(tmp_path / "scans", photos)
    Image.fromarray(photos["rocket"][:40, :48]).save(root / "box" / "a.jpg")
    return root


def write(path, value):
    path.write_text(value if isinstance(value, str) else json.dumps(value))
    return path


def run(capsys, *args):
    try:
        code = cli.main([str(a) for a in args])
    except SystemExit as e:  # argparse's own errors exit from inside parse_args
        code = e.code
    return code, capsys.readouterr().err


@pytest.fixture
def seen_hints(monkeypatch):
    """{photo width: the hints colorize got}; the three photos have three widths."""
    seen = {}
    original = Colorizer.colorize

    def spy(self, image, **kwargs):
        seen[image.size[0]] = kwargs.get("hints")
        return original(self, image, **kwargs)

    monkeypatch.setattr(Colorizer, "colorize", spy)
    return seen


@pytest.fixture
def no_model_load(monkeypatch):
    def refuse(name):
        raise AssertionError("a model was loaded for a command that must stop before that")

    monkeypatch.setattr(cli._common, "load_colorizer", refuse)


# ------------------------------------------------------------------------ what keys name
def test_keys_name_photos_by_path_as_given_inside_their_folder_or_file_name(
        scans, tmp_path, models, capsys, seen_hints, monkeypatch):
    monkeypatch.chdir(tmp_path)
    hints = write(tmp_path / "h.json", {
        "a.jpg": [RED],                         # path inside the input folder (beats box/a.jpg's name)
        "b.png": [[1, 2, "#00f"]],              # file name, the only b.png
        "scans/box/a.jpg": [[5, 6, [0, 200, 0]]]})  # the input folder as given + the path in it
    code, err = run(capsys, "colorize", "scans", "-o", "out", "--model", models / "hints",
                    "--hints", hints)
    assert code == 0, err
    assert seen_hints == {80: [RED], 64: [[1, 2, "#00f"]], 48: [[5, 6, [0, 200, 0]]]}
    made = sorted(p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*.png"))
    assert made == ["a.png", "box/a.png", "box/b.png"]


def test_keys_for_files_named_on_the_command_line(scans, tmp_path, models, capsys, seen_hints,
                                                  monkeypatch):
    monkeypatch.chdir(scans)
    hints = write(tmp_path / "h.json", {"./box/a.jpg": [RED]})  # spelled as the shell may
    code, err = run(capsys, "colorize", "box/a.jpg", "box//b.png", "-o", tmp_path / "out",
                    "--model", models / "hints", "--hints", hints)
    assert code == 0, err
    assert seen_hints == {48: [RED], 64: None}  # a photo not named gets no hints
    hints = write(tmp_path / "h.json", {str(scans / "box" / "b.png"): [RED]})  # absolute path
    code, err = run(capsys, "colorize", "box/a.jpg", "box/b.png", "-o", tmp_path / "out",
                    "--model", models / "hints", "--hints", hints, "--overwrite")
    assert code == 0, err
    assert seen_hints == {48: None, 64: [RED]}


def test_a_list_is_one_photos_hints(scans, tmp_path, models, capsys, seen_hints):
    hints = write(tmp_path / "h.json", [RED])
    out = tmp_path / "one.png"
    code, err = run(capsys, "colorize", scans / "a.jpg", "-o", out, "--model", models / "hints",
                    "--hints", hints)
    assert code == 0, err
    assert seen_hints == {80: [RED]}
    plain = tmp_path / "plain.png"
    assert run(capsys, "colorize", scans / "a.jpg", "-o", plain, "--model", models / "hints")[0] == 0
    with Image.open(out) as a, Image.open(plain) as b:
        assert not np.array_equal(np.asarray(a), np.asarray(b))  # the hint changed the colors


# ----------------------------------------------------------------- mistakes: one line, exit 2
BAD_FILES = {
    "not json": ("[{", "not valid JSON"),
    "a number": ("3", "must hold a list of hints or an object"),
    "an object of objects": ({"a.jpg": {"x": 1}}, "must hold a list of hints or an object"),
    "a key twice": ('{"a.jpg": [], "a.jpg": []}', "'a.jpg' twice"),
    "bad color": ([{"x": 1, "y": 2, "color": "crimsonish"}], "color='crimsonish'"),
    "bad color in an object": ({"a.jpg": [[1, 2, "#12"]]}, "photo 'a.jpg': hint 0"),
    "unknown hint key": ([{"x": 1, "y": 2, "color": "#fff", "r": 3}], "'r': 3"),
    "negative position": ([[1, -2, "#fff"]], "y=-2"),
    "negative radius": ([[1, 2, "#fff", -4]], "radius=-4"),
    "a string position": ([["1", 2, "#fff"]], "x='1'"),
}


@pytest.mark.parametrize("content, message", BAD_FILES.values(), ids=BAD_FILES.keys())
def test_malformed_hints_files_are_refused_before_any_work(content, message, scans, tmp_path,
                                                           models, capsys, no_model_load):
    hints = write(tmp_path / "h.json", content)
    before = digest(tmp_path)
    code, err = run(capsys, "colorize", scans / "a.jpg", "-o", tmp_path / "out",
                    "--model", models / "hints", "--hints", hints)
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and "--hints" in lines[0] and message in lines[0], err
    assert digest(tmp_path) == before  # no output folder, nothing written


def test_a_missing_hints_file(scans, tmp_path, models, capsys, no_model_load):
    code, err = run(capsys, "colorize", scans, "-o", tmp_path / "out", "--model", models / "hints",
                    "--hints", tmp_path / "nope.json")
    assert code == 2 and "nope.json" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


MISMATCHES = {
    "a key that names no photo": ({"c.jpg": []}, "'c.jpg' names no input photo"),
    "a key for a skipped non-image file": ({"box/notes.txt": []},
                                           "'box/notes.txt' names no input photo"),
    "a file name two photos share": ({"b.png": [RED]}, "names 2 photos"),
    "two keys for one photo": ({"box/b.png": [], "{scans}/box/b.png": []}, "name one photo"),
    "one photo's list for four photos": ([RED], "there are 4 photos"),
}


@pytest.mark.parametrize("content, message", MISMATCHES.values(), ids=MISMATCHES.keys())
def test_keys_must_name_exactly_one_photo(content, message, scans, tmp_path, models, capsys,
                                          no_model_load):
    (scans / "box" / "notes.txt").write_text("scanned in 1998")
    (scans / "old").mkdir()
    (scans / "old" / "b.png").write_bytes((scans / "box" / "b.png").read_bytes())
    if isinstance(content, dict):
        content = {k.format(scans=scans): v for k, v in content.items()}
    hints = write(tmp_path / "h.json", content)
    before = digest(tmp_path)
    code, err = run(capsys, "colorize", scans, "-o", tmp_path / "out", "--model", models / "hints",
                    "--hints", hints)
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and message in lines[0], err
    assert digest(tmp_path) == before


def test_an_ambiguous_key_names_both_photos(scans, tmp_path, models, capsys):
    for folder in ("x", "y"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "a.jpg").write_bytes((scans / "a.jpg").read_bytes())
    hints = write(tmp_path / "h.json", {"a.jpg": [RED]})
    code, err = run(capsys, "colorize", tmp_path / "x", tmp_path / "y", "-o", tmp_path / "out",
                    "--model", models / "hints", "--hints", hints)
    assert code == 2 and "x/a.jpg" in err and "y/a.jpg" in err
    hints = write(tmp_path / "h.json", {str(tmp_path / "x" / "a.jpg"): [RED]})  # the full path
    code, err = run(capsys, "colorize", tmp_path / "x", tmp_path / "y", "-o", tmp_path / "out",
                    "--model", models / "hints", "--hints", hints, "--render-size", "32")
    assert code == 0, err


def test_hints_need_a_model_with_hint_channels(scans, tmp_path, models, capsys, no_model_load):
    hints = write(tmp_path / "h.json", [RED])
    code, err = run(capsys, "colorize", scans / "a.jpg", "-o", tmp_path / "out.png",
                    "--model", models / "plain", "--hints", hints)
    assert code == 2 and "does not take color hints" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out.png").exists()


def test_the_loaded_model_is_checked_too(scans, tmp_path, models, capsys, monkeypatch):
    """Should a config ever claim hint channels the built net lacks, no photo is colorized."""
    monkeypatch.setattr(cli._common, "check_model",
                        lambda name, **checks: {"architecture_config": {"hints": True}})
    monkeypatch.setattr(Colorizer, "colorize", lambda *a, **k: pytest.fail("colorized"))
    hints = write(tmp_path / "h.json", [RED])
    code, err = run(capsys, "colorize", scans / "a.jpg", "-o", tmp_path / "out.png",
                    "--model", models / "plain", "--hints", hints)
    assert code == 2 and "does not take color hints" in err
    assert not (tmp_path / "out.png").exists()


# ---------------------------------------------------------- photos, failures and outputs
def test_a_hint_outside_its_photo_fails_that_photo_only(scans, tmp_path, models, capsys):
    hints = write(tmp_path / "h.json", {"box/a.jpg": [[48, 10, "#fff"]], "b.png": [RED]})
    out = tmp_path / "out"
    code, err = run(capsys, "colorize", scans, "-o", out, "--model", models / "hints",
                    "--hints", hints)
    assert code == 1
    failed = [line for line in err.splitlines() if line.startswith("FAILED ")]
    assert len(failed) == 1 and "box/a.jpg" in failed[0] and "x=48" in failed[0]
    assert "colorized 2" in err and "failed 1" in err
    made = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert made == ["a.png", "box/b.png"]


def test_hints_never_change_which_files_are_written(scans, tmp_path, models, capsys, monkeypatch):
    out = tmp_path / "out"
    assert run(capsys, "colorize", scans, "-o", out, "--model", models / "hints")[0] == 0
    before = digest(out)
    hints = write(tmp_path / "h.json", {"a.jpg": [RED]})
    monkeypatch.setattr(cli._common, "load_colorizer", lambda name: pytest.fail("nothing to do"))
    code, err = run(capsys, "colorize", scans, "-o", out, "--model", models / "hints",
                    "--hints", hints)
    assert code == 0 and "colorized 0, skipped 3 existing" in err
    assert digest(out) == before  # a hinted photo's existing output is kept without --overwrite
    # and with nothing to do, hints for a model without hint channels are still refused
    code, err = run(capsys, "colorize", scans, "-o", out, "--model", models / "plain",
                    "--hints", hints)
    assert code == 2 and "does not take color hints" in err


def test_help_shows_the_flag(capsys):
    with pytest.raises(SystemExit):
        cli.main(["colorize", "--help"])
    shown = " ".join(capsys.readouterr().out.split())
    assert "--hints FILE" in shown and "file name" in shown
