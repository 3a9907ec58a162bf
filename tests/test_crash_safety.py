"""Real processes killed with SIGKILL (training resumes, colorizing leaves no half-written file,
the next run removes the dead run's photo cache) or stopped with SIGTERM (they unwind)."""

import json
import os
import signal
import subprocess
import sys
import tempfile
import time

import numpy as np
import pytest
from PIL import Image

TRAIN = """
import sys
from bwcolor import Colorizer
c = Colorizer("default", image_size=32, architecture_config=dict(widths=(8, 8), blocks=(1, 1)))
c.fit(sys.argv[1], epochs=50, batch_size=2, checkpoint_dir=sys.argv[2], verbose=0, repeats=4)
"""


def _wait_for(predicate, timeout=120):
    end = time.time() + timeout
    while time.time() < end:
        if predicate():
            return True
        time.sleep(0.1)
    return False


@pytest.mark.slow
def test_sigkill_during_fit_then_resume(photo_dir, tmp_path, monkeypatch):
    from bwcolor import Colorizer

    run, temp = tmp_path / "run", tmp_path / "tmp"
    temp.mkdir()
    proc = subprocess.Popen([sys.executable, "-c", TRAIN, str(photo_dir), str(run)],
                            env={**os.environ, "TMPDIR": str(temp)})
    try:
        def epochs_done():
            try:
                return json.loads((run / "state.json").read_text())["epoch"] >= 2
            except (OSError, ValueError):
                return False

        assert _wait_for(epochs_done), "training never finished an epoch"
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    finally:
        proc.kill()
    done = json.loads((run / "state.json").read_text())["epoch"]
    orphans = [p for p in temp.iterdir() if p.is_dir()]
    assert orphans, "the killed run had a temporary photo cache"  # it could not remove it
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    c = Colorizer("default", image_size=32, architecture_config=dict(widths=(8, 8), blocks=(1, 1)))
    c.fit(photo_dir, epochs=done + 1, batch_size=2, checkpoint_dir=run, resume=True, verbose=0, repeats=4)
    state = json.loads((run / "state.json").read_text())
    assert state["epoch"] == done + 1  # continued from the last completed epoch
    rows = (run / "history.csv").read_text().strip().splitlines()[1:]
    assert [int(r.split(",")[0]) for r in rows][-1] == done + 1
    assert not [p for p in run.iterdir() if ".tmp" in p.name]
    assert not list(temp.iterdir()), "the dead run's cache (and this run's) should be gone"


@pytest.fixture
def many_photos(photo_dir, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    with Image.open(photo_dir / "astronaut.jpg") as im:
        big = im.convert("L").resize((600, 600))
    for i in range(24):
        big.rotate(i).save(folder / f"{i:02d}.png")
    return folder


@pytest.mark.slow
def test_sigkill_during_colorize_leaves_no_partial_files(many_photos, tmp_path):
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "bwcolor", "colorize", str(many_photos), "-o", str(out)]
    proc = subprocess.Popen(cmd, stderr=subprocess.DEVNULL)
    try:
        assert _wait_for(lambda: len(list(out.rglob("[!.]*.png"))) >= 3)  # finished, not temp
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    finally:
        proc.kill()
    finished = list(out.rglob("[!.]*.png"))
    assert 3 <= len(finished) < 24
    for path in finished:  # every file under its final name is a complete image
        with Image.open(path) as im:
            assert np.asarray(im).shape == (600, 600, 3)
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert f"skipped {len(finished)} existing" in r.stderr
    assert len(list(out.rglob("*.png"))) == 24
    assert not [p for p in out.rglob("*") if p.name.startswith(".")], "temp files left behind"
    os.sync()


@pytest.mark.slow
@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_sigterm_stops_training_cleanly(photo_dir, tmp_path):
    """A scheduler's stop: exit 143 with one line, no photo cache or temporary file left, and
    the run resumes from its last epoch."""
    run, temp = tmp_path / "run", tmp_path / "tmp"
    temp.mkdir()
    cmd = [sys.executable, "-m", "bwcolor", "train", str(photo_dir), "-o", str(run),
           "--architecture", "wallner_alpha", "--image-size", "32", "--batch-size", "2"]
    proc = subprocess.Popen([*cmd, "--epochs", "100"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "TMPDIR": str(temp)})
    try:
        assert _wait_for(lambda: (run / "state.json").exists() and any(temp.iterdir()))
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 128 + signal.SIGTERM, err
    done = json.loads((run / "state.json").read_text())["epoch"]
    assert err.strip().splitlines()[-1] == (
        f"bwcolor train: interrupted (SIGTERM); {run} keeps {done} finished epochs; continue "
        f"with: bwcolor train {photo_dir} -o {run} --resume")
    assert "Traceback" not in err
    assert not list(temp.iterdir()), "the photo cache outlived the run"
    assert not [p for p in run.iterdir() if p.name.startswith(".bwcolor-")]
    r = subprocess.run([*cmd, "--resume", "--epochs", str(done + 1)], capture_output=True,
                       text=True, timeout=300, env={**os.environ, "TMPDIR": str(temp)})
    assert r.returncode == 0, r.stderr
    assert json.loads((run / "state.json").read_text())["epoch"] == done + 1
