"""The bwcolor command in real subprocesses, as a user runs it."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

# Every test here starts real `bwcolor` processes (Keras import, model load): the slow tier.
pytestmark = pytest.mark.slow


def image(path):
    with Image.open(path) as im:
        im.load()
        return im.copy()


def bwcolor(*args, cwd=None):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.run([sys.executable, "-m", "bwcolor", *map(str, args)], capture_output=True,
                          text=True, cwd=cwd, env=env, timeout=300)


@pytest.fixture(scope="module")
def run_dir(photo_dir, tmp_path_factory):
    run = tmp_path_factory.mktemp("cli") / "run"
    cache = run.parent / "cache"
    r = bwcolor("train", photo_dir, "-o", run, "--architecture", "wallner_alpha",
                "--image-size", "32", "--epochs", "1", "--batch-size", "2", "--cache-dir", cache)
    assert r.returncode == 0, r.stderr
    assert "Dataset in" in r.stdout and "6 used" in r.stdout  # the report is shown first
    assert len(list(cache.glob("*.npy"))) >= 5  # decoded photos kept for the next run
    return run


@pytest.fixture(scope="module")
def messy_folder(photo_dir, tmp_path_factory):
    folder = tmp_path_factory.mktemp("messy") / "scans"
    (folder / "box1").mkdir(parents=True)
    for name in ["chelsea.jpg", "coffee.jpg"]:
        (folder / "box1" / name).write_bytes((photo_dir / name).read_bytes())
    image(photo_dir / "rocket.jpg").convert("L").save(folder / "rocket_gray.png")
    (folder / "box1" / "broken.jpg").write_bytes((photo_dir / "rocket.jpg").read_bytes()[:500])
    (folder / "readme.txt").write_text("scanned in 1998")
    return folder


def test_info():
    r = bwcolor("info", "--json")
    assert r.returncode == 0
    info = json.loads(r.stdout)
    assert "default" in info["presets"] and "wallner_beta" in info["architectures"]
    assert info["hint presets"] == ["default"]  # seed takes no hints
    assert info["app"].startswith(("gradio ", "not installed"))
    assert info["onnx export"].startswith(("onnx ", "not installed"))


def test_train_refuses_a_nonempty_run_folder_without_resume(run_dir, photo_dir):
    r = bwcolor("train", photo_dir, "-o", run_dir, "--architecture", "wallner_alpha", "--image-size", "32")
    assert r.returncode == 2 and "--resume" in r.stderr


def test_colorize_a_folder_with_bad_files(run_dir, messy_folder, tmp_path):
    out = tmp_path / "out"
    r = bwcolor("colorize", messy_folder, "-o", out, "--model", run_dir)
    assert r.returncode == 1, r.stderr  # some inputs failed, the rest were done
    assert "FAILED" in r.stderr and "broken.jpg" in r.stderr
    assert "skipped 1 non-image file: " in r.stderr and "readme.txt" in r.stderr  # not a failure
    # One input folder: its tree goes directly under -o (as Real-ESRGAN's folder mode).
    made = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.png"))
    assert made == ["box1/chelsea.png", "box1/coffee.png", "rocket_gray.png"]
    assert not [p for p in out.rglob("*") if p.name.startswith(".")]  # no temp files left
    src = np.asarray(image(messy_folder / "box1" / "chelsea.jpg"))
    assert np.asarray(image(out / "box1/chelsea.png")).shape == src.shape
    # second run: existing outputs are kept, only failures are retried
    before = (out / "box1/chelsea.png").stat().st_mtime_ns
    r = bwcolor("colorize", messy_folder, "-o", out, "--model", run_dir)
    assert "skipped 3 existing" in r.stderr
    assert (out / "box1/chelsea.png").stat().st_mtime_ns == before
    r = bwcolor("colorize", messy_folder / "box1" / "coffee.jpg", "-o", out / "c.jpg",
                "--model", run_dir, "--overwrite", "--render-size", "64")
    assert r.returncode == 0 and (out / "c.jpg").is_file()


def test_colorize_with_the_bundled_default(photo_dir, tmp_path):
    r = bwcolor("colorize", photo_dir / "astronaut.jpg", "-o", tmp_path / "a.png")
    assert r.returncode == 0, r.stderr
    assert image(tmp_path / "a.png").size == image(photo_dir / "astronaut.jpg").size


def test_usage_errors_exit_2(tmp_path):
    assert bwcolor("colorize", tmp_path / "missing.jpg", "-o", tmp_path / "x.png").returncode == 2
    r = bwcolor("colorize", tmp_path, "-o", tmp_path / "o", "--model", "nope")
    assert r.returncode == 2
    assert bwcolor("evaluate").returncode == 2  # argparse


def test_evaluate_json_and_gray_baseline(run_dir, photo_dir):
    r = bwcolor("evaluate", photo_dir, "--model", run_dir, "--json")
    assert r.returncode == 0, r.stderr
    scores = json.loads(r.stdout)
    assert scores["n_images"] == 6 and scores["psnr"] > 10
    r = bwcolor("evaluate", photo_dir, "--model", "gray", "--size", "32", "--json")
    assert json.loads(r.stdout)["colorfulness"] < 0.5


def test_compare_sheet(run_dir, photo_dir, tmp_path):
    sheet = tmp_path / "new" / "folder" / "sheet.png"  # folders are made, as colorize makes them
    r = bwcolor("compare", photo_dir / "chelsea.jpg", photo_dir / "coffee.jpg", "-o", sheet,
                "--model", run_dir, "--model", "default")
    assert r.returncode == 0, r.stderr
    w, h = image(sheet).size
    assert w > 2 * h * 0.9  # 4 columns, 2 rows
    before = sheet.read_bytes()
    r = bwcolor("compare", photo_dir / "chelsea.jpg", "-o", sheet, "--model", run_dir)
    assert r.returncode == 2 and "--overwrite" in r.stderr and sheet.read_bytes() == before
    r = bwcolor("compare", photo_dir / "chelsea.jpg", "-o", sheet, "--model", run_dir, "--overwrite")
    assert r.returncode == 0, r.stderr
    assert image(sheet).size[1] < h  # one row now


def test_resume_from_the_cli(run_dir, photo_dir):
    r = bwcolor("train", photo_dir, "-o", run_dir, "--architecture", "wallner_alpha",
                "--image-size", "32", "--epochs", "2", "--batch-size", "2", "--resume")
    assert r.returncode == 0, r.stderr
    assert json.loads((run_dir / "state.json").read_text())["epoch"] == 2


def test_outputs_get_ordinary_permissions(run_dir, photo_dir, tmp_path):
    old = os.umask(0o022)
    try:
        r = bwcolor("colorize", photo_dir / "coffee.jpg", "-o", tmp_path / "c.png", "--model", run_dir)
    finally:
        os.umask(old)
    assert r.returncode == 0
    assert (tmp_path / "c.png").stat().st_mode & 0o777 == 0o644
    assert (run_dir / "best").stat().st_mode & 0o777 == 0o755
