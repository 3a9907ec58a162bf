"""Start-up: a ``bwcolor colorize`` with nothing to do answers without Keras or a backend."""

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from bwcolor import cli, presets

# Imports that take seconds and that a rerun with every output in place does not need.
HEAVY = ("keras", "jax", "jaxlib", "torch", "tensorflow", "scipy", "matplotlib", "h5py")

_CHILD = """
import json, sys
from bwcolor.cli import main
code = main(sys.argv[1:])
heavy = sorted({m.split(".")[0] for m in sys.modules} & set(json.loads(HEAVY)))
print(json.dumps({"code": code, "heavy": heavy}))
"""


def _photos(folder, n=2):
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(n):
        Image.fromarray(rng.integers(0, 255, (24, 32), dtype=np.uint8)).save(folder / f"p{i}.png")
    return folder


def _run_fresh(*argv):
    """``bwcolor.cli.main(argv)`` in a new interpreter: (exit code, heavy modules, stderr)."""
    code = _CHILD.replace("json.loads(HEAVY)", repr(list(HEAVY)))
    r = subprocess.run([sys.executable, "-c", code, *map(str, argv)], capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout.strip().splitlines()[-1])
    return out["code"], out["heavy"], r.stderr


def test_a_rerun_with_nothing_to_do_imports_no_backend(tmp_path):
    scans = _photos(tmp_path / "scans")
    out = tmp_path / "out"
    out.mkdir()
    for photo in scans.iterdir():  # the outputs of an earlier run
        shutil.copy(photo, out / photo.name)
    code, heavy, err = _run_fresh("colorize", scans, "-o", out)
    assert (code, heavy) == (0, []), err
    assert "colorized 0, skipped 2 existing" in err
    # a preset folder given by path, and one file to one output file, the same
    code, heavy, err = _run_fresh("colorize", scans / "p0.png", "-o", out / "p0.png",
                                  "--model", presets.resolve("default"))
    assert (code, heavy) == (0, []), err


def test_a_model_the_registries_refuse_stops_before_any_photo(tmp_path, capsys):
    # The checks left for when a photo needs the model still run before any output.
    scans = _photos(tmp_path / "scans")
    model = tmp_path / "model"
    shutil.copytree(presets.resolve("default"), model)
    config = json.loads((model / "config.json").read_text())
    (model / "config.json").write_text(json.dumps({**config, "architecture": "nope"}))
    out = tmp_path / "out"
    code = cli.main(["colorize", str(scans), "-o", str(out), "--model", str(model)])
    err = capsys.readouterr().err
    assert code == cli.EXIT_USAGE and "unknown architecture" in err
    assert len(err.strip().splitlines()) == 1 and not out.exists()


# Keras imports these at start-up when installed; the command line never uses what they are for.
_LEAN_CHILD = """
import json, sys
from bwcolor import _backend
if sys.argv[1] == "colorize":
    from bwcolor.cli import main
    code = main(sys.argv[1:])
else:
    _backend.import_keras_lean()
    code = 0
import keras
seen = sorted(n for n in _backend.KERAS_OPTIONAL_IMPORTS if n in sys.modules)
import matplotlib.pyplot  # and each imports normally afterwards
print(json.dumps({"code": code, "seen": seen, "keras": keras.ops.ones(2).shape[0]}))
"""


def _lean(*argv):
    r = subprocess.run([sys.executable, "-c", _LEAN_CHILD, *map(str, argv)], capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout.strip().splitlines()[-1])


def test_keras_is_imported_without_its_optional_packages():
    pytest.importorskip("matplotlib")  # installed with the test extra: Keras would import it
    assert _lean("import") == {"code": 0, "seen": [], "keras": 2}


@pytest.mark.slow
def test_colorize_imports_none_of_keras_optional_packages(tmp_path):
    pytest.importorskip("matplotlib")
    photo = _photos(tmp_path / "scans", n=1) / "p0.png"
    assert _lean("colorize", photo, "-o", tmp_path / "out.png") == {"code": 0, "seen": [],
                                                                    "keras": 2}
    assert (tmp_path / "out.png").is_file()
