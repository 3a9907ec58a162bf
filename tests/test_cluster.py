"""bwcolor.cluster: colorize on Ray gives the single-process command's files, survives a killed
worker without writing a photo twice, and refuses unsafe plans before Ray starts."""

import contextlib
import os
import signal
import sys
import threading
import time

import numpy as np
import pytest
from PIL import Image

from bwcolor import cli, cluster
from bwcolor._plan import PlanError


def make_archive(root, photos, n=40):
    """``n`` photos of mixed sizes, modes and formats in a tree, plus broken files and a text
    file: the kind of folder an archive hands over."""
    rng = np.random.default_rng(0)
    for box in range(3):
        (root / f"box{box}").mkdir(parents=True, exist_ok=True)
    names = sorted(photos)
    formats = [("png", "PNG"), ("jpg", "JPEG"), ("tif", "TIFF"), ("webp", "WEBP"),
               ("bmp", "BMP")]
    for i in range(n):
        photo = photos[names[i % len(names)]]
        h, w = (int(v) for v in rng.integers(24, 90, 2))
        y, x = (int(v) for v in rng.integers(0, 40, 2))
        image = Image.fromarray(photo[y:y + h, x:x + w])
        if i % 3 == 0:
            image = image.convert("L")
        ext, fmt = formats[i % len(formats)]
        image.save(root / f"box{i % 3}" / f"scan{i:02d}.{ext}", format=fmt)
    (root / "box0" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0" + bytes(50))
    (root / "box1" / "truncated.png").write_bytes((root / "box0" / "scan00.png").read_bytes()[:60])
    (root / "box2" / "notes.txt").write_text("box 2: family photos, 1950s\n")
    return root


def outputs(folder):
    """{path inside ``folder``: bytes} of every file under it."""
    return {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}


def test_without_the_extra_the_error_names_the_pip_line(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "ray", None)  # as if Ray were not installed
    with pytest.raises(ImportError, match=r'pip install "bwcolor\[ray\]"'):
        cluster.colorize_on_ray([tmp_path], tmp_path / "out")


@pytest.mark.parametrize(("cpus", "gpus", "actors", "expected"), [
    (2, 0, None, cluster.PoolShape(1, 1.5, 0.0)),
    (2, 0, 2, cluster.PoolShape(2, 0.75, 0.0)),
    (64, 0, None, cluster.PoolShape(12, 4.0, 0.0)),
    (32, 4, None, cluster.PoolShape(4, 2.0, 1.0)),
    (8, 2, 4, cluster.PoolShape(4, 1.5, 0.5)),
])
def test_the_pool_leaves_cpus_for_decoding(cpus, gpus, actors, expected):
    shape = cluster.pool_shape(cpus, gpus, actors)
    assert shape == expected
    # What the actors hold leaves at least half a CPU to the decode tasks (two 1-CPU actors
    # on 2 CPUs starved them: the job never progressed).
    assert cpus - shape.actors * shape.cpus >= 0.5
    assert shape.actors * shape.gpus <= max(gpus, 0)


def test_a_pool_that_cannot_fit_is_refused():
    with pytest.raises(ValueError, match="too few CPUs"):
        cluster.pool_shape(0.5, 0)
    with pytest.raises(ValueError, match="actors must be an int >= 1"):
        cluster.pool_shape(4, 0, 0)


@pytest.mark.slow
def test_an_unsafe_plan_is_refused_before_ray_starts(tmp_path, photos):
    ray = pytest.importorskip("ray")
    scans = make_archive(tmp_path / "scans", photos, n=3)
    with pytest.raises(PlanError, match="lies inside the input folder"):
        cluster.colorize_on_ray([scans], scans / "colored")
    with pytest.raises(PlanError, match="would overwrite the input"):
        cluster.colorize_on_ray([scans / "box0" / "scan00.png"], scans / "box0" / "scan00.png")
    assert not ray.is_initialized()


@pytest.mark.parametrize("value", [0, 1, "no", None])
def test_a_refine_chroma_that_is_not_a_bool_is_refused_before_ray_starts(tmp_path, photos,
                                                                         value):
    ray = pytest.importorskip("ray")
    scans = make_archive(tmp_path / "scans", photos, n=2)
    with pytest.raises(TypeError, match="refine_chroma must be a bool"):
        cluster.colorize_on_ray([scans], tmp_path / "out", refine_chroma=value)
    todo = [(scans / "box0" / "scan00.png", tmp_path / "out" / "scan00.png")]
    with pytest.raises(TypeError, match="refine_chroma must be a bool"):
        cluster.run_jobs(todo, refine_chroma=value)
    assert not ray.is_initialized() and not (tmp_path / "out").exists()


def _jax_only():
    """The Ray job runs the backend's colorize like the command; its file handling is the same
    on every backend, so CI runs these minutes once, on JAX."""
    import keras

    if keras.backend.backend() != "jax":
        pytest.skip("Ray jobs are tested once, on the JAX backend")


@pytest.mark.slow
def test_ray_writes_the_commands_bytes_and_a_rerun_skips_all(tmp_path, photos, tiny_model,
                                                             capsys):
    pytest.importorskip("ray")
    _jax_only()
    scans = make_archive(tmp_path / "scans", photos)
    code = cli.main(["colorize", str(scans), "-o", str(tmp_path / "plain"), "--model", str(tiny_model)])
    assert code == 1  # the two broken files
    capsys.readouterr()

    seen = []
    result = cluster.colorize_on_ray(
        [scans], tmp_path / "ray", model=tiny_model, num_cpus=2, actors=2,
        progress=lambda done, total, src, dst, error: seen.append((done, total, error)))
    plain, on_ray = outputs(tmp_path / "plain"), outputs(tmp_path / "ray")
    assert len(plain) == 40 and plain.keys() == on_ray.keys()
    assert [p for p in plain if plain[p] != on_ray[p]] == []
    assert result.written == 40 and result.existing == 0 and result.actors == 2
    assert sorted(p.name for p, _ in result.failures) == ["broken.jpg", "truncated.png"]
    assert dict(result.plan.skipped) == {"not_image": [scans / "box2" / "notes.txt"]}
    assert [d for d, _, _ in seen] == list(range(1, 43)) and {t for _, t, _ in seen} == {42}
    assert os.path.isdir(result.ray_logs)
    assert capsys.readouterr().out == ""  # Ray's progress and logs stay off the terminal

    # The rerun writes nothing: only the two broken photos are tried again (and fail again),
    # as the plain command retries them.
    again = cluster.colorize_on_ray([scans], tmp_path / "ray", model=tiny_model, num_cpus=2)
    assert (again.written, again.existing, len(again.failures)) == (0, 40, 2)
    assert outputs(tmp_path / "ray") == on_ray


@pytest.mark.slow
def test_ray_no_refine_chroma_writes_the_commands_bilinear_bytes(tmp_path, photos, tiny_model,
                                                                 capsys):
    """``--ray --no-refine-chroma`` reaches the actors: the files are those of the plain
    command with --no-refine-chroma, not the guided-filter default's."""
    pytest.importorskip("ray")
    _jax_only()
    scans = make_archive(tmp_path / "scans", photos, n=2)  # a gray and a color photo
    model = ["--model", str(tiny_model)]
    for name, flags in [("plain", ["--no-refine-chroma"]), ("refined", []),
                        ("ray", ["--no-refine-chroma", "--ray", "--ray-actors", "1"])]:
        code = cli.main(["colorize", str(scans), "-o", str(tmp_path / name), *model, *flags])
        assert code == 1  # the two broken files
    capsys.readouterr()
    plain, on_ray = outputs(tmp_path / "plain"), outputs(tmp_path / "ray")
    refined = outputs(tmp_path / "refined")
    assert len(plain) == 2 and on_ray.keys() == plain.keys() == refined.keys()
    assert [p for p in plain if plain[p] != on_ray[p]] == []
    assert [p for p in plain if plain[p] != refined[p]] != []  # the option changes the colors


def _actor_pids():
    """Process ids of the Ray workers that host a colorizing actor (their title names it)."""
    from pathlib import Path

    pids = []
    for proc in Path("/proc").iterdir():
        with contextlib.suppress(OSError):
            if proc.name.isdigit() and b"_ColorizeActor" in (proc / "cmdline").read_bytes():
                pids.append(int(proc.name))
    return pids


@pytest.mark.slow
def test_a_killed_worker_leaves_every_photo_written_once(tmp_path, photos, tiny_model):
    pytest.importorskip("ray")
    if not os.path.isdir("/proc"):
        pytest.skip("finds the actor's process in /proc (Linux)")
    _jax_only()
    scans = make_archive(tmp_path / "scans", photos)
    out = tmp_path / "ray"
    inodes, stop = {}, threading.Event()

    def watch():  # each output's file number, as long as the job runs: a rewrite changes it
        while not stop.is_set():
            for p in out.rglob("scan*.png") if out.exists() else []:
                with contextlib.suppress(FileNotFoundError):
                    inodes.setdefault(p, set()).add(p.stat().st_ino)
            time.sleep(0.01)

    killed = []

    def progress(done, total, src, dst, error):
        if done == 6 and not killed:
            pids = _actor_pids()
            assert pids, "no colorizing actor found"
            os.kill(pids[0], signal.SIGKILL)
            killed.append(pids[0])

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        result = cluster.colorize_on_ray([scans], out, model=tiny_model, num_cpus=2, actors=2,
                                         batch_size=4, progress=progress)
    finally:
        stop.set()
        watcher.join()
    assert killed
    written = sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file())
    assert len(written) == 40 and all(p.name.startswith("scan") for p in written)
    assert [p for p, seen in inodes.items() if len(seen) > 1] == []  # none written twice
    assert result.written == 40 and len(result.failures) == 2
    again = cluster.colorize_on_ray([scans], out, model=tiny_model, num_cpus=2)
    assert (again.written, again.existing) == (0, 40)


def test_ray_without_the_extra_exits_2_with_the_pip_line(monkeypatch, tmp_path, photos,
                                                        capsys):
    scans = make_archive(tmp_path / "scans", photos, n=2)
    monkeypatch.setitem(sys.modules, "ray", None)
    code = cli.main(["colorize", str(scans), "-o", str(tmp_path / "out"), "--ray"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert 'pip install "bwcolor[ray]"' in err
    assert not (tmp_path / "out").exists()
