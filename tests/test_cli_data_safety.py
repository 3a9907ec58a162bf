"""No command writes over anything it reads (photos, a model's files, a hints file), a photo
reached twice is colorized once, a damaged photo is a failure, and a photo's line is printed only
once its file is written (issue 29, "Data safety")."""

import errno
import json
import os

import pytest
from helpers import digest, make_scans
from PIL import Image

from bwcolor import cli

TINY = dict(widths=(8, 8), blocks=(1, 1))


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """Two small untrained presets, one with hint channels: the tests are about files."""
    from bwcolor import Colorizer

    root = tmp_path_factory.mktemp("models")
    Colorizer("default", image_size=32, loss="mse", architecture_config=TINY).save(root / "tiny")
    Colorizer("default", image_size=32, loss="mse",
              architecture_config={**TINY, "hints": True}).save(root / "hinted")
    return root


@pytest.fixture
def scans(tmp_path, photos):
    return make_scans(tmp_path / "scans", photos)


@pytest.fixture
def no_model_load(monkeypatch):
    monkeypatch.setattr(cli._common, "load_colorizer",
                        lambda name: pytest.fail("a model was loaded for a refused command"))


def run(capsys, *args):
    code = cli.main([str(a) for a in args])
    return code, capsys.readouterr().err


def test_export_never_writes_over_the_model_it_exports(models, tmp_path, capsys, no_model_load):
    """'export --model ./p -o p/model.weights.h5 --overwrite' destroyed the preset."""
    preset = tmp_path / "p"
    preset.mkdir()
    for f in (models / "tiny").iterdir():
        (preset / f.name).write_bytes(f.read_bytes())
    os.link(preset / "model.weights.h5", tmp_path / "linked.onnx")
    before = digest(tmp_path)
    for out, words in [(preset / "model.weights.h5", "-o must name a file ending in .onnx"),
                       (preset / "config.json", "-o must name a file ending in .onnx"),
                       (tmp_path / "linked.onnx", "would overwrite the input")]:
        code, err = run(capsys, "export", "--model", preset, "-o", out, "--overwrite")
        assert code == 2 and words in err and len(err.strip().splitlines()) == 1, err
    assert digest(tmp_path) == before


def test_compare_never_writes_over_a_models_file(models, scans, tmp_path, capsys, no_model_load):
    (tmp_path / "sheet.png").symlink_to(models / "tiny" / "model.weights.h5")
    before = digest(models)
    code, err = run(capsys, "compare", scans / "a.jpg", "--model", models / "tiny", "-o",
                    tmp_path / "sheet.png", "--overwrite")
    assert code == 2 and "would overwrite the input" in err and "model.weights.h5" in err
    assert digest(models) == before


def test_colorize_never_writes_over_its_model_or_hints_file(models, scans, tmp_path, capsys,
                                                            no_model_load):
    hints = tmp_path / "hints.png"  # JSON, with an unlucky name
    hints.write_text(json.dumps([{"x": 1, "y": 1, "color": "#ff0000"}]))
    out = tmp_path / "out"
    out.mkdir()
    os.link(models / "hinted" / "model.weights.h5", out / "a.png")
    before = digest(tmp_path), digest(models)
    for args in (["-o", hints, "--hints", hints], ["-o", out, "--hints", hints]):
        code, err = run(capsys, "colorize", scans / "a.jpg", "--model", models / "hinted",
                        "--overwrite", *args)
        assert code == 2 and "would overwrite the input" in err, err
        assert len(err.strip().splitlines()) == 1
    assert (digest(tmp_path), digest(models)) == before


def test_overlapping_inputs_colorize_each_photo_once(models, scans, tmp_path, capsys):
    """'colorize scans scans/box -o out' wrote out/scans/box/b.png and out/box/b.png."""
    out = tmp_path / "out"
    code, err = run(capsys, "colorize", scans, scans / "box", "-o", out, "--model", models / "tiny")
    assert code == 0, err
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*.png")) == [
        "scans/a.png", "scans/box/b.png"]
    assert "1 photos are reached through more than one input" in err
    assert "colorized 2," in err and "1 photos reached twice were colorized once" in err


def test_a_damaged_photo_in_a_folder_fails_with_exit_1(models, scans, tmp_path, capsys):
    (scans / "cut_off.jpg").write_bytes(b"")
    (scans / "README.txt").write_text("scanned 1998")
    code, err = run(capsys, "colorize", scans, "-o", tmp_path / "out", "--model", models / "tiny")
    assert code == 1
    assert any(line.startswith("FAILED") and "cut_off.jpg" in line and "damaged" in line
               for line in err.splitlines())
    assert "skipped 1 non-image file: " in err and "README.txt" in err
    assert "colorized 2, skipped 0 existing (use --overwrite), failed 1" in err


def test_a_photos_line_is_printed_only_once_its_file_is_written(models, tmp_path, photos, capsys,
                                                               monkeypatch):
    """On a full disk '[2/4] ... -> p2.png' was printed before the write failed."""
    from bwcolor.cli import colorize

    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(4):
        Image.fromarray(photos["coffee"][:40, :48]).save(folder / f"p{i}.jpg")
    real_write = colorize._write_image

    def disk_full_for_p2(rgb, path):
        if path.name == "p2.png":
            raise OSError(errno.ENOSPC, "No space left on device")
        real_write(rgb, path)

    monkeypatch.setattr(colorize, "_write_image", disk_full_for_p2)
    code, err = run(capsys, "colorize", folder, "-o", tmp_path / "out", "--model", models / "tiny")
    assert code == 1
    lines = err.splitlines()
    assert not [line for line in lines if "-> " in line and "p2.png" in line], err
    assert sum("-> " in line and ".png (" in line for line in lines) == 3
    assert any(line.startswith("FAILED writing") and "p2.png" in line for line in lines)
    assert "colorized 3," in err and "failed 1" in err
