"""Real processes killed with SIGKILL: training resumes, colorizing leaves no half-written file."""

import json
import os
import signal
import subprocess
import sys
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
def test_sigkill_during_fit_then_resume(photo_dir, tmp_path):
    from bwcolor import Colorizer

    run = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-c", TRAIN, str(photo_dir), str(run)])
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
    c = Colorizer("default", image_size=32, architecture_config=dict(widths=(8, 8), blocks=(1, 1)))
    c.fit(photo_dir, epochs=done + 1, batch_size=2, checkpoint_dir=run, resume=True, verbose=0, repeats=4)
    state = json.loads((run / "state.json").read_text())
    assert state["epoch"] == done + 1  # continued from the last completed epoch
    rows = (run / "history.csv").read_text().strip().splitlines()[1:]
    assert [int(r.split(",")[0]) for r in rows][-1] == done + 1
    assert not [p for p in run.iterdir() if ".tmp" in p.name]


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
