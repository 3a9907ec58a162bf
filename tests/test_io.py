"""bwcolor._io: atomic writes, temporary names, and which stale files may be removed."""

import os
import subprocess
import sys

import pytest

from bwcolor import _io


def test_atomic_write_replaces_whole_or_not_at_all(tmp_path):
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError), _io.atomic_write(target) as f:
        f.write(b"half of the new")
        raise RuntimeError("killed mid-write")
    assert target.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["out.bin"]  # the temporary file is gone
    with _io.atomic_write(target) as f:
        f.write(b"new")
    assert target.read_bytes() == b"new"


def test_files_get_the_users_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        with _io.atomic_write(tmp_path / "a.png") as f:
            f.write(b"x")
    finally:
        os.umask(old)
    assert (tmp_path / "a.png").stat().st_mode & 0o777 == 0o644


def test_temp_names_are_short_and_unique_whatever_the_final_name(tmp_path):
    long_name = "x" * 250 + ".png"  # NAME_MAX is 255 bytes on most file systems
    names = {_io.temp_name(".png") for _ in range(1000)}
    assert len(names) == 1000 and max(map(len, names)) < 60
    with _io.atomic_path(tmp_path / long_name) as tmp:
        assert len(tmp.name) < 60 and tmp.suffix == ".png"
        tmp.write_bytes(b"x")
    assert (tmp_path / long_name).read_bytes() == b"x"
    assert _io.temp_name(".weird suffix!").endswith(".tmp")  # not a plain extension: dropped


def test_stale_files_of_dead_processes_only_are_removed(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    dead_pid = int(dead.stdout)
    mine = _io.temp_name(".png")
    theirs_dead = mine.replace(f"-{os.getpid()}-", f"-{dead_pid}-")
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        theirs_alive = mine.replace(f"-{os.getpid()}-", f"-{alive.pid}-")
        host = "000000" if _io._HOST != "000000" else "111111"  # a shared folder's other machine
        other_host = theirs_dead.replace(_io._HOST, host, 1)
        names = [mine, theirs_dead, theirs_alive, other_host, ".a.jpg.tmp", "photo.png",
                 ".bwcolor-notes.txt"]
        for name in names:
            (tmp_path / name).write_bytes(b"x")
        assert _io.remove_stale_temp_files(tmp_path) == 1
        left = set(os.listdir(tmp_path))
        assert left == set(names) - {theirs_dead}
    finally:
        alive.kill()
        alive.wait()


def test_atomic_write_json(tmp_path):
    _io.atomic_write_json(tmp_path / "s.json", {"b": 1, "a": [1, 2]})
    assert (tmp_path / "s.json").read_text() == '{\n  "a": [\n    1,\n    2\n  ],\n  "b": 1\n}\n'


def test_temporary_folders_of_dead_processes_are_removed_by_the_next_one(tmp_path):
    """A training cache left by a killed run (its process cannot clean up) goes with the next."""
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    first = _io.temporary_folder(tmp_path)
    (first / "photo.npy").write_bytes(b"x" * 100)
    stale = first.with_name(first.name.replace(f"-{os.getpid()}-", f"-{int(dead.stdout)}-"))
    first.rename(stale)
    untouched = tmp_path / "bwcolor-cache-old"  # not named by temp_name: not provably ours
    untouched.mkdir()
    second = _io.temporary_folder(tmp_path)
    assert second.is_dir() and not any(second.iterdir())
    assert (second.stat().st_mode & 0o777) == 0o700  # decoded photos are the user's alone
    assert not stale.exists() and untouched.is_dir()
    third = _io.temporary_folder(tmp_path)  # a live process's folder (ours) is kept
    assert second.is_dir() and third != second


def test_removing_what_is_not_ours_to_remove_is_not_an_error(tmp_path, monkeypatch):
    """In a shared /tmp another user's stale file may not be removable: skip it, count it not."""
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    name = _io.temp_name(".png").replace(f"-{os.getpid()}-", f"-{int(dead.stdout)}-")
    (tmp_path / name).write_bytes(b"x")

    def refuse(path):
        raise PermissionError(13, "Operation not permitted", str(path))

    monkeypatch.setattr(os, "remove", refuse)
    assert _io.remove_stale_temp_files(tmp_path) == 0
    assert (tmp_path / name).exists()


def test_liveness_is_never_probed_with_a_signal_off_posix(monkeypatch):
    """On Windows os.kill(pid, 0) terminates the process: an unknown owner counts as alive."""
    def must_not_be_called(*args):
        raise AssertionError("os.kill called")

    monkeypatch.setattr(os, "name", "nt")
    monkeypatch.setattr(os, "kill", must_not_be_called)
    assert _io._alive(12345)


def test_without_file_numbers_files_are_told_apart_by_path(tmp_path, monkeypatch):
    """Some network shares report inode 0 for every file: identity is unknown, paths decide."""
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    a.write_bytes(b"a")
    b.write_bytes(b"b")
    assert _io.same_file(a, tmp_path / "." / "a.png") and not _io.same_file(a, b)
    real_stat = os.stat

    def no_numbers(path, *args, **kwargs):
        st = real_stat(path, *args, **kwargs)
        return os.stat_result((st.st_mode, 0, *tuple(st)[2:]))

    monkeypatch.setattr(os, "stat", no_numbers)
    assert _io.file_identity(a) is None
    assert _io.same_file(a, tmp_path / "." / "a.png") and not _io.same_file(a, b)
    assert not _io.same_file(tmp_path / "missing.png", tmp_path / "missing.png")


def test_an_output_is_found_among_the_inputs_under_any_name(tmp_path):
    """The one check every command makes: by real path, by file identity, and folders whole."""
    preset = tmp_path / "p"
    preset.mkdir()
    weights = preset / "model.weights.h5"
    weights.write_bytes(b"w")
    photos = tmp_path / "photos"
    (photos / "sub").mkdir(parents=True)
    (photos / "sub" / "a.jpg").write_bytes(b"a")
    os.link(weights, tmp_path / "linked.onnx")
    (tmp_path / "symlinked.onnx").symlink_to(weights)
    reads = _io.InputFiles([weights, photos])
    assert reads.find(tmp_path / "p" / "." / "model.weights.h5") == (weights, "")
    assert reads.find(tmp_path / "symlinked.onnx") == (weights, "")
    assert reads.find(tmp_path / "linked.onnx") == (weights, " under another name (a hard link)")
    assert reads.find(photos / "sub" / "new.png")[0] == photos
    assert reads.find(tmp_path / "photos" / "..")[1] == " (it lies inside the output)"
    assert reads.find(tmp_path / "other.onnx") is None
    assert reads.find(preset / "new.onnx") is None
    with pytest.raises(_io.OutputIsInputError, match=r"would overwrite .*model\.weights\.h5.*"
                       r"under another name \(a hard link\); choose another -o"):
        reads.check(tmp_path / "linked.onnx", advice="choose another -o")
    reads.check(tmp_path / "other.onnx", advice="-")  # not read: fine


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="zombies are read from Linux's /proc")
def test_an_exited_process_not_yet_reaped_is_not_alive():
    """A killed writer whose parent has not reaped it (a zombie) still answers os.kill(pid, 0);
    its temporary files are stale all the same."""
    import time

    child = subprocess.Popen(["true"])
    try:
        for _ in range(200):
            if _io._zombie(child.pid):
                break
            time.sleep(0.01)
        assert _io._zombie(child.pid)
        assert not _io._alive(child.pid)
        assert _io._alive(os.getpid())
    finally:
        child.wait()
