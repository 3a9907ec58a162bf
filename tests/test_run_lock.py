"""One fit at a time per run folder, released by the OS however its process ends."""

import subprocess
import sys

import pytest

from bwcolor.training.run_lock import LOCK_FILE, run_lock

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="flock is POSIX")

HOLD = """
import sys, time
from bwcolor.training.run_lock import run_lock
with run_lock(sys.argv[1]):
    print("held", flush=True)
    time.sleep(120)
"""


def _holder(run):
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(run)], stdout=subprocess.PIPE,
                            text=True)
    assert proc.stdout.readline().strip() == "held"
    return proc


def _stop(proc):
    proc.kill()
    proc.wait()
    proc.stdout.close()


def test_a_second_process_is_refused_until_the_first_is_gone_even_by_sigkill(tmp_path):
    run = tmp_path / "run"
    proc = _holder(run)
    try:
        held = rf"in use by another training \(process {proc.pid}\).*checkpoint_dir='.*run'"
        with pytest.raises(ValueError, match=held), run_lock(run):
            pytest.fail("entered a held run folder")
    finally:
        _stop(proc)  # SIGKILL: no cleanup runs, the kernel drops the lock
    with run_lock(run):
        assert (run / LOCK_FILE).read_text().strip() != str(proc.pid)
    assert not (run / LOCK_FILE).exists()


def test_folders_it_made_go_when_left_empty_and_stay_otherwise(tmp_path):
    with pytest.raises(RuntimeError), run_lock(tmp_path / "a" / "b"):
        raise RuntimeError("the photos were unusable")
    assert list(tmp_path.iterdir()) == []
    with run_lock(tmp_path / "a" / "b"):
        (tmp_path / "a" / "b" / "state.json").write_text("{}")
    assert [p.name for p in (tmp_path / "a" / "b").iterdir()] == ["state.json"]
    existing = tmp_path / "mine"
    existing.mkdir()
    with run_lock(existing):
        pass
    assert existing.is_dir()  # the user's folder, even empty, is never removed


def test_fit_refuses_a_run_folder_another_training_holds(tmp_path, photo_dir, monkeypatch):
    from bwcolor import Colorizer

    run = tmp_path / "run"
    proc = _holder(run)
    try:
        monkeypatch.setattr("bwcolor.data.scan", lambda *a, **k: pytest.fail("scanned photos"))
        c = Colorizer("default", image_size=32, architecture_config=dict(widths=(8, 8), blocks=(1, 1)))
        with pytest.raises(ValueError, match="in use by another training"):
            c.fit(photo_dir, checkpoint_dir=run, verbose=0)
    finally:
        _stop(proc)


def test_without_locking_the_fit_goes_on_and_leaves_no_lock_file(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "fcntl", None)  # as on Windows
    with run_lock(tmp_path / "run"):
        (tmp_path / "run" / "state.json").write_text("{}")
    assert [p.name for p in (tmp_path / "run").iterdir()] == ["state.json"]
    with pytest.raises(RuntimeError), run_lock(tmp_path / "new"):
        raise RuntimeError("failed before its first checkpoint")
    assert not (tmp_path / "new").exists()
