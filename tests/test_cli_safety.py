"""The CLI as a careless or hostile user runs it: no input is ever written, no result is lost,
every mistake is one line and exit 2 before any model is loaded, closed pipes change nothing."""

import inspect
import json
import os
import signal
import subprocess
import sys
import time

import pytest
from helpers import digest, make_scans
from PIL import Image

from bwcolor import cli


@pytest.fixture
def scans(tmp_path, photos):
    return make_scans(tmp_path / "scans", photos)


def run(*args, capsys=None):
    """cli.main in-process: (exit code, stderr)."""
    code = cli.main([str(a) for a in args])
    err = capsys.readouterr().err if capsys else ""
    return code, err


@pytest.fixture
def no_model_load(monkeypatch):
    def refuse(name):
        raise AssertionError("a model was loaded for a command that must stop before that")

    monkeypatch.setattr(cli._common, "load_colorizer", refuse)


def bwcolor(*args, timeout=240, **kw):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.run([sys.executable, "-m", "bwcolor", *map(str, args)], capture_output=True,
                          text=True, env=env, timeout=timeout, **kw)


# ------------------------------------------------------------------ inputs are never written
@pytest.mark.parametrize("output", ["{scans}", "{scans}/colored", "{scans}/../scans/x", "{link}/y"])
def test_output_inside_the_input_is_refused_before_loading(scans, tmp_path, output, no_model_load,
                                                           capsys, tiny_model):
    (tmp_path / "link").symlink_to(scans)
    before = digest(scans)
    code, err = run("colorize", scans, "-o", output.format(scans=scans, link=tmp_path / "link"),
                    "--model", tiny_model, "--overwrite", capsys=capsys)
    assert code == 2 and "inside the input folder" in err and len(err.strip().splitlines()) == 1
    assert digest(scans) == before


def test_overwrite_never_replaces_an_input(scans, tiny_model, no_model_load, capsys, monkeypatch):
    Image.new("RGB", (40, 30), (90, 60, 30)).save(scans / "c.png")
    before = digest(scans)
    monkeypatch.chdir(scans)
    for out in ["c.png", "./c.png", str(scans / "c.png"), "../scans/c.png"]:
        code, err = run("colorize", "c.png", "-o", out, "--overwrite", "--model", tiny_model,
                        capsys=capsys)
        assert code == 2 and "would overwrite the input" in err
    # A folder of PNGs colorized into itself, file by file:
    code, err = run("colorize", "c.png", "-o", ".", "--model", tiny_model, "--overwrite", capsys=capsys)
    assert code == 2
    assert digest(scans) == before


def test_overwrite_never_replaces_an_input_under_another_name(scans, tmp_path, tiny_model,
                                                             no_model_load, capsys):
    """A hard link (or, on a case-insensitive disk, another spelling) is the input itself."""
    Image.new("RGB", (40, 30), (90, 60, 30)).save(scans / "c.png")
    out = tmp_path / "out"
    out.mkdir()
    os.link(scans / "c.png", out / "c.png")  # the archive's copy, hard-linked into the output
    before = digest(scans)
    for target in (out, out / "c.png"):
        code, err = run("colorize", scans / "c.png", "-o", target, "--overwrite",
                        "--model", tiny_model, capsys=capsys)
        assert code == 2 and "under another name" in err and len(err.strip().splitlines()) == 1
    assert digest(scans) == before and (out / "c.png").stat().st_nlink == 2


def test_collisions_are_kept_apart_and_layout_is_documented(scans, tmp_path, tiny_model, capsys):
    Image.new("RGB", (40, 30), (90, 60, 30)).save(scans / "a.png")  # a.jpg and a.png
    out = tmp_path / "out"
    code, err = run("colorize", scans, "-o", out, "--model", tiny_model, "--suffix", "_color",
                    "--ext", "webp", capsys=capsys)
    assert code == 0, err
    made = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert made == ["a_jpg_color.webp", "a_png_color.webp", "box/b_color.webp"]
    assert "keep their input's extension" in err
    with Image.open(out / "box/b_color.webp") as im:
        assert im.format == "WEBP" and im.size == (64, 48)


def test_two_folders_with_one_name_are_refused(tmp_path, photos, tiny_model, capsys, no_model_load):
    for parent in ("x", "y"):
        (tmp_path / parent / "scans").mkdir(parents=True)
        Image.fromarray(photos["coffee"][:40, :40]).save(tmp_path / parent / "scans" / "a.jpg")
    code, err = run("colorize", tmp_path / "x" / "scans", tmp_path / "y" / "scans", "-o",
                    tmp_path / "out", "--model", tiny_model, capsys=capsys)
    assert code == 2 and "x/scans/a.jpg" in err and "y/scans/a.jpg" in err


def test_nothing_to_do_loads_no_model(scans, tmp_path, tiny_model, capsys, monkeypatch):
    out = tmp_path / "out"
    assert run("colorize", scans, "-o", out, "--model", tiny_model, capsys=capsys)[0] == 0

    def refuse(name):
        raise AssertionError("loaded a model with nothing to do")

    monkeypatch.setattr(cli._common, "load_colorizer", refuse)
    code, err = run("colorize", scans, "-o", out, "--model", tiny_model, capsys=capsys)
    assert code == 0 and "colorized 0, skipped 2 existing" in err


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
@pytest.mark.slow
def test_special_and_non_image_files(scans, tmp_path, tiny_model):
    os.mkfifo(scans / "pipe.jpg")
    (scans / "README.txt").write_text("scanned in 1998")
    (scans / "a.xmp").write_text("<x:xmpmeta/>")
    r = bwcolor("colorize", scans, "-o", tmp_path / "out", "--model", tiny_model, timeout=120)
    assert r.returncode == 0, r.stderr  # skipped files are not failures
    assert "skipped 2 non-image files" in r.stderr and "never opened" in r.stderr
    assert "colorized 2" in r.stderr
    # Named explicitly, a FIFO or a text file is a failure (exit 1), and still never opened.
    r = bwcolor("colorize", scans / "pipe.jpg", scans / "README.txt", scans / "a.jpg", "-o",
                tmp_path / "out2", "--model", tiny_model, timeout=120)
    assert r.returncode == 1 and "FAILED" in r.stderr and "colorized 1" in r.stderr


@pytest.mark.slow
def test_two_processes_on_one_folder_both_finish(scans, tmp_path, tiny_model, photos):
    for i in range(6):
        Image.fromarray(photos["astronaut"][:96, :96]).rotate(10 * i).save(scans / f"r{i}.jpg")
    cmd = [sys.executable, "-m", "bwcolor", "colorize", str(scans), "-o", str(tmp_path / "out"),
           "--model", str(tiny_model), "--overwrite"]
    procs = [subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = [(p.communicate(timeout=240)[1], p.returncode)[::-1] for p in procs]
    for code, err in results:
        assert code == 0, err
    names = sorted(p.name for p in (tmp_path / "out").rglob("*"))
    assert not [n for n in names if n.startswith(".")], names  # no temp file left
    assert len([n for n in names if n.endswith(".png")]) == 8


# ------------------------------------------------------------------------- closed streams
@pytest.mark.slow
def test_a_closed_stderr_pipe_does_not_stop_the_job(scans, tmp_path, tiny_model):
    cmd = [sys.executable, "-m", "bwcolor", "colorize", str(scans), "-o", str(tmp_path / "out"),
           "--model", str(tiny_model)]
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, stdout=subprocess.PIPE)
    proc.stderr.close()  # like `2>&1 | head -1`: the reader goes away
    proc.stdout.close()
    assert proc.wait(timeout=240) == 0
    assert len(list((tmp_path / "out").rglob("*.png"))) == 2


@pytest.mark.slow
def test_closed_standard_file_descriptors(scans, tmp_path, tiny_model):
    # `bwcolor ... 2>&- >&-`: nothing may be written into an output file that took fd 1 or 2.
    cmd = [sys.executable, "-m", "bwcolor", "colorize", str(scans), "-o", str(tmp_path / "out"),
           "--model", str(tiny_model)]

    closed = ["sh", "-c", 'exec "$@" >&- 2>&-', "sh", *cmd]
    assert subprocess.run(closed, timeout=240).returncode == 0
    for png in (tmp_path / "out").rglob("*.png"):
        with Image.open(png) as im:
            im.load()  # a valid image, nothing interleaved


@pytest.mark.slow
def test_info_into_a_closed_pipe():
    proc = subprocess.Popen([sys.executable, "-m", "bwcolor", "info"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    proc.stdout.close()
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0 and b"Traceback" not in err


# --------------------------------------------------------------- mistakes: one line, exit 2
BAD_ARGS = [
    ("colorize", "{img}", "-o", "{out}", "--render-size", "0"),
    ("colorize", "{img}", "-o", "{out}", "--render-size", "99999"),
    ("colorize", "{img}", "-o", "{out}", "--render-size", "big"),
    ("colorize", "{img}", "-o", "{out}", "--temperature", "0"),
    ("colorize", "{img}", "-o", "{out}", "--temperature", "nan"),
    ("colorize", "{img}", "-o", "{out}", "--ext", "gif"),
    ("colorize", "{img}", "-o", "{out}", "--model", "no_such_preset"),
    ("colorize", "{missing}", "-o", "{out}"),
    ("colorize", "-o", "{out}"),
    ("colorize", "{scans}", "-o", "{out}/x.png"),
    ("colorize", "{img}", "-o", "{textfile}"),
    ("colorize", "{scans}", "-o", "{textfile}/out"),
    ("colorize", "{img}", "-o", "{textfile}/out.png"),
    ("colorize", "{img}", "-o", "{out}/photo.gif"),
    ("colorize", "{scans}", "-o", "{out}/colored.jp2"),
    ("train", "{scans}", "-o", "{run}", "--epochs", "0"),
    ("train", "{scans}", "-o", "{run}", "--batch-size", "-1"),
    ("train", "{scans}", "-o", "{run}", "--learning-rate", "0"),
    ("train", "{scans}", "-o", "{run}", "--image-size", "0"),
    ("train", "{scans}", "-o", "{run}", "--image-size", "33"),
    ("train", "{scans}", "-o", "{run}", "--architecture", "resnet"),
    ("train", "{scans}", "-o", "{run}", "--validation-split", "1.5"),
    ("train", "{missing}", "-o", "{run}"),
    ("train", "{scans}", "-o", "{run}", "--resume"),
    ("train", "{scans}", "-o", "{textfile}"),
    ("train", "{scans}", "-o", "{scans}/run"),
    ("train", "{scans}", "-o", "{run}", "--cache-dir", "{scans}/cache"),
    ("evaluate", "{missing}"),
    ("evaluate", "{scans}", "--size", "0"),
    ("evaluate", "{scans}", "--model", "no_such_preset"),
    ("compare", "{img}", "-o", "{out}/sheet.txt"),
    ("compare", "{img}", "-o", "{img}"),
    ("compare", "{img}", "-o", "{textfile}/sheet.png"),
    ("compare", "{img}", "-o", "{existing}"),
    ("frobnicate",),
]


@pytest.mark.parametrize("argv", BAD_ARGS, ids=lambda a: " ".join(a[:1] + a[3:])[:60])
def test_user_mistakes_are_one_line_exit_2(argv, scans, tmp_path, capsys, no_model_load, monkeypatch):
    (tmp_path / "notes.txt").write_text("x")
    (tmp_path / "earlier.png").write_bytes(b"a file bwcolor must not replace")
    monkeypatch.setattr("bwcolor.colorizer.Colorizer.fit", lambda *a, **k: pytest.fail("trained"))
    fill = dict(img=scans / "a.jpg", out=tmp_path / "out", missing=tmp_path / "missing",
                scans=scans, run=tmp_path / "run", textfile=tmp_path / "notes.txt",
                existing=tmp_path / "earlier.png")
    before = digest(tmp_path)
    try:
        code = cli.main([a.format(**fill) for a in argv])
    except SystemExit as e:  # argparse's own errors exit from inside parse_args
        code = e.code
    err = capsys.readouterr().err
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "error" in lines[0] and "Traceback" not in err, err
    assert digest(tmp_path) == before  # nothing written, nothing removed


@pytest.mark.slow
def test_no_traceback_in_a_subprocess_either(tmp_path):
    r = bwcolor("colorize", tmp_path / "missing.jpg", "-o", tmp_path / "x.png")
    assert r.returncode == 2 and "Traceback" not in r.stderr and len(r.stderr.splitlines()) == 1
    r = bwcolor("train", tmp_path, "-o", tmp_path / "run", "--epochs", "-3")
    assert r.returncode == 2 and "--epochs" in r.stderr and "-3" in r.stderr


# ------------------------------------------------------------------------------ help & defaults
@pytest.mark.slow
def test_help_version_and_seed():
    r = bwcolor("--version")
    assert r.returncode == 0 and r.stdout.startswith("bwcolor ")
    r = bwcolor("train", "--help")
    assert r.returncode == 0
    shown = " ".join(r.stdout.split())  # argparse wraps lines at the terminal width
    for text in ("--seed", "default: 16; with --resume: the run's", "default: 256", "wallner_beta",
                 "default: 10; with --resume: the run's"):
        assert text in shown, text
    shown = " ".join(bwcolor("colorize", "--help").stdout.split())
    for text in ("--suffix", "--ext {jpg,png,tif,webp}", "--overwrite", "(never inputs)"):
        assert text in shown, text


def test_cli_defaults_and_choices_equal_the_api():
    from bwcolor import Colorizer, architectures, losses

    init = inspect.signature(Colorizer.__init__).parameters
    fit = inspect.signature(Colorizer.fit).parameters
    d = cli.TRAIN_DEFAULTS
    for key in ("architecture", "image_size", "loss", "learning_rate"):
        assert d[key] == init[key].default, key
    for key in ("epochs", "batch_size", "validation_split", "test_split", "seed"):
        assert d[key] == fit[key].default, key
    assert list(cli.ARCHITECTURES) == architectures.available()
    assert sorted(cli.LOSSES) == sorted(losses.available())


# ----------------------------------------------------------------------------- training runs
@pytest.mark.slow
def test_resume_needs_no_flags_and_refuses_contradicting_ones(photo_dir, tmp_path):
    run = tmp_path / "run"
    r = bwcolor("train", photo_dir, "-o", run, "--architecture", "wallner_alpha", "--image-size",
                "32", "--epochs", "1", "--batch-size", "2", "--seed", "3")
    assert r.returncode == 0, r.stderr
    r = bwcolor("train", photo_dir, "-o", run, "--resume", "--epochs", "2", "--batch-size", "2")
    assert r.returncode == 0, r.stderr
    state = json.loads((run / "state.json").read_text())
    assert state["epoch"] == 2 and state["config"]["architecture"] == "wallner_alpha"
    r = bwcolor("train", photo_dir, "-o", run, "--resume", "--epochs", "3", "--image-size", "64")
    assert r.returncode == 2 and "image_size=32" in r.stderr and "64" in r.stderr
    assert json.loads((run / "state.json").read_text())["epoch"] == 2
    r = bwcolor("colorize", photo_dir / "chelsea.jpg", "-o", tmp_path / "c.png", "--model", run)
    assert r.returncode == 0, r.stderr


@pytest.mark.slow
def test_a_killed_training_run_resumes_without_leftovers(photo_dir, tmp_path):
    """A run killed while writing leaves only files of its own naming, removed on resume."""
    run = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "bwcolor", "train", str(photo_dir), "-o",
                             str(run), "--architecture", "wallner_alpha", "--image-size", "32",
                             "--epochs", "30", "--batch-size", "2"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        end = time.time() + 200
        while time.time() < end and not (run / "state.json").exists():
            time.sleep(0.2)
        time.sleep(0.5)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    finally:
        proc.kill()
    r = bwcolor("train", photo_dir, "-o", run, "--resume", "--epochs",
                json.loads((run / "state.json").read_text())["epoch"] + 1, "--batch-size", "2")
    assert r.returncode == 0, r.stderr
    assert not [p for p in run.iterdir() if p.name.startswith(".bwcolor-")]


def test_training_on_no_usable_photos_is_one_line_and_leaves_no_run_folder(tmp_path, capsys):
    photos = tmp_path / "scans"
    photos.mkdir()
    for i in range(3):  # gray scans: skipped, they would teach desaturation
        Image.new("RGB", (64, 64), (40 * i, 40 * i, 40 * i)).save(photos / f"{i}.png")
    (photos / "notes.txt").write_text("not a photo")
    code, err = run("train", photos, "-o", tmp_path / "runs" / "first", "--architecture",
                    "wallner_alpha", "--image-size", "32", capsys=capsys)
    assert code == 2
    assert err.strip().splitlines() == [
        f"bwcolor train: error: no usable training photos: 4 files in {photos}, 0 used, "
        f"4 skipped (3 near-gray, 1 not-image)"]
    assert not (tmp_path / "runs").exists()


def test_an_interrupted_train_says_what_is_kept(photo_dir, tmp_path, capsys, monkeypatch):
    from bwcolor import Colorizer

    def interrupted(self, *args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(Colorizer, "fit", interrupted)
    run_dir = tmp_path / "run"
    code, err = run("train", photo_dir, "-o", run_dir, "--architecture", "wallner_alpha",
                    "--image-size", "32", capsys=capsys)
    assert code == 130
    assert err.strip().splitlines() == [
        "bwcolor train: interrupted (SIGINT); no epoch finished, so nothing was kept"]


def test_export_refuses_before_loading_and_writes_one_file(tmp_path, capsys, monkeypatch):
    pytest.importorskip("onnx", reason='the onnx extra is not installed: pip install "bwcolor[onnx]"')
    target = tmp_path / "m.onnx"
    target.write_bytes(b"keep")
    monkeypatch.setattr(cli._common, "load_colorizer", lambda name: pytest.fail("loaded a model"))
    for args, words in ((["-o", target], "-o exists; pass --overwrite"),
                        (["-o", tmp_path], "not a folder"),
                        (["-o", tmp_path / "n.onnx", "--model", "nope"], "--model: not a preset")):
        code, err = run("export", *args, capsys=capsys)
        assert code == 2 and words in err and len(err.strip().splitlines()) == 1, err
    assert target.read_bytes() == b"keep" and sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx"]


@pytest.mark.slow
def test_resume_continues_with_the_runs_own_settings(photo_dir, tmp_path, capsys):
    """--resume without flags: the run's epoch target, batch size, splits and seed, not the
    defaults (a default validation split would have moved photos between the splits)."""
    run_dir = tmp_path / "run"
    code, err = run("train", photo_dir, "-o", run_dir, "--architecture", "wallner_alpha",
                    "--image-size", "32", "--epochs", "3", "--batch-size", "2",
                    "--validation-split", "0.2", "--seed", "3", "--degrade",
                    "--time-budget", "0.001", capsys=capsys)  # stops after its first epoch
    assert code == 0, err
    assert json.loads((run_dir / "state.json").read_text())["epoch"] == 1
    code, err = run("train", photo_dir, "-o", run_dir, "--resume", capsys=capsys)
    assert code == 0, err
    state = json.loads((run_dir / "state.json").read_text())
    assert state["epoch"] == 3
    training = state["metadata"]["training"]
    assert (training["epochs"], training["batch_size"], training["validation_split"],
            training["seed"]) == (3, 2, 0.2, 3)
    assert training["degradations"] is not None
    code, err = run("train", photo_dir, "-o", run_dir, "--resume", "--epochs", "4",
                    "--validation-split", "0.05", capsys=capsys)
    assert code == 2 and "validation_split=0.2" in err and len(err.strip().splitlines()) == 1


def test_no_refine_chroma_gives_colorizes_bilinear_colors(tmp_path, photos, tiny_model, capsys):
    """--no-refine-chroma reaches colorize (refine_chroma=False); without it the command writes
    colorize's default, the guided-filter colors."""
    import numpy as np

    from bwcolor import Colorizer

    src = tmp_path / "c.png"
    Image.fromarray(photos["chelsea"][:90, :130]).save(src)
    assert run("colorize", src, "-o", tmp_path / "plain.png", "--model", tiny_model,
               "--no-refine-chroma", capsys=capsys)[0] == 0
    assert run("colorize", src, "-o", tmp_path / "refined.png", "--model", tiny_model,
               capsys=capsys)[0] == 0
    c = Colorizer.from_preset(tiny_model)
    plain = np.asarray(Image.open(tmp_path / "plain.png"))
    refined = np.asarray(Image.open(tmp_path / "refined.png"))
    np.testing.assert_array_equal(plain, c.colorize(src, refine_chroma=False))
    np.testing.assert_array_equal(refined, c.colorize(src))
    assert not np.array_equal(plain, refined)
