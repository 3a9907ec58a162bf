"""ONNX export: the file computes what colorize computes, on both backends, and is refused
cleanly when it cannot be written."""

import sys

import keras
import numpy as np
import pytest

from bwcolor import Colorizer, color
from bwcolor.export import export_onnx

REASON = 'the onnx extra is not installed: pip install "bwcolor[onnx]"'
ort = pytest.importorskip("onnxruntime", reason=REASON)
pytest.importorskip("onnx", reason=REASON)
pytest.importorskip("jax2onnx" if keras.backend.backend() == "jax" else "onnxscript",
                    reason=REASON)

TINY = dict(widths=(8, 8), blocks=(1, 1))


def _randomize(model, seed):
    """Random weights everywhere (a fresh net's last layers are zeros): batch-norm variances
    positive, so the outputs are finite and vary."""
    rng = np.random.default_rng(seed)
    for w in model.weights:
        shape = tuple(w.shape)
        if w.path.endswith("moving_variance"):
            w.assign(rng.uniform(0.5, 1.5, shape).astype("float32"))
        else:
            w.assign(rng.normal(0, 0.3, shape).astype("float32"))


@pytest.fixture(scope="module")
def hint_net():
    """A classification net with hint channels: the export takes its automatic part."""
    c = Colorizer("default", image_size=32, architecture_config={**TINY, "hints": True})
    _randomize(c.model, 0)
    return c


def _lightness(height, width, seed=1):
    return np.random.default_rng(seed).uniform(0, 100, (1, height, width, 1)).astype("float32")


def _reference(colorizer, lightness, temperature=None):
    x = np.zeros((*lightness.shape[:3], 4 if colorizer.accepts_hints else 1), np.float32)
    x[..., 0] = color.lightness_to_input(lightness[..., 0])
    ab = colorizer.predict_ab(x, annealing_temperature=temperature)
    assert np.isfinite(ab).all() and ab.std() > 1.0  # a comparison that can fail
    return ab


def _run(path, lightness):
    session = ort.InferenceSession(str(path))
    return session, session.run(None, {"lightness": lightness})[0]


def test_the_file_decodes_like_colorize_with_its_metadata(hint_net, tmp_path):
    path = export_onnx(hint_net, tmp_path / "models" / "net.onnx", height=64, width=96)
    lightness = _lightness(64, 96)
    session, ab = _run(path, lightness)
    assert [(i.name, i.shape) for i in session.get_inputs()] == [("lightness", [1, 64, 96, 1])]
    assert [(o.name, o.shape) for o in session.get_outputs()] == [("ab", [1, 16, 24, 2])]
    np.testing.assert_allclose(ab, _reference(hint_net, lightness), atol=2e-3)
    meta = session.get_modelmeta().custom_metadata_map
    assert meta["output_stride"] == "4" and meta["annealing_temperature"] == "0.38"
    assert '"hints": true' in meta["config"]
    assert [p.name for p in path.parent.iterdir()] == ["net.onnx"]  # no scratch file left


def test_the_temperature_is_baked_in(hint_net, tmp_path):
    lightness = _lightness(32, 32, seed=2)
    path = export_onnx(hint_net, tmp_path / "t1.onnx", annealing_temperature=1.0)
    _, ab = _run(path, lightness)
    np.testing.assert_allclose(ab, _reference(hint_net, lightness, 1.0), atol=2e-3)
    assert not np.allclose(ab, _reference(hint_net, lightness, 0.2), atol=0.5)


def test_a_regression_net_exports_its_scaling(tmp_path):
    c = Colorizer("default", image_size=32, loss="mse", architecture_config=TINY)
    _randomize(c.model, 3)
    lightness = _lightness(32, 64, seed=4)
    _, ab = _run(export_onnx(c, tmp_path / "r.onnx", height=32, width=64), lightness)
    np.testing.assert_allclose(ab, _reference(c, lightness), atol=2e-3)


@pytest.mark.parametrize("kwargs, error, words", [
    ({"height": 36}, ValueError, r"height must be a multiple of 8 in \[8, 4096\] for this net. Received: height=36"),
    ({"width": 0}, ValueError, "width"),
    ({"width": 64.0}, TypeError, "width"),
    ({"height": 8192}, ValueError, "height=8192"),
    ({"annealing_temperature": 0}, ValueError, "annealing_temperature"),
])
def test_bad_options_are_named_before_any_work(hint_net, tmp_path, kwargs, error, words):
    with pytest.raises(error, match=words):
        export_onnx(hint_net, tmp_path / "x.onnx", **kwargs)
    assert not list(tmp_path.iterdir())


def test_an_existing_file_is_kept_unless_overwrite_and_a_folder_always(hint_net, tmp_path):
    target = tmp_path / "net.onnx"
    target.write_bytes(b"someone's file")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        export_onnx(hint_net, target)
    assert target.read_bytes() == b"someone's file"
    export_onnx(hint_net, target, overwrite=True)
    assert _run(target, _lightness(32, 32))[1].shape == (1, 8, 8, 2)
    with pytest.raises(FileExistsError, match="is a folder"):
        export_onnx(hint_net, tmp_path, overwrite=True)


def test_a_path_not_ending_in_onnx_is_refused(hint_net, tmp_path):
    """export_onnx(c, "preset/model.weights.h5", overwrite=True) replaced a model's weights."""
    weights = tmp_path / "model.weights.h5"
    weights.write_bytes(b"weights")
    for name in ["model.weights.h5", "net", "net.onnx.keras"]:
        with pytest.raises(ValueError, match=r"path must name a file ending in \.onnx"):
            export_onnx(hint_net, tmp_path / name, overwrite=True)
    assert weights.read_bytes() == b"weights" and [p.name for p in tmp_path.iterdir()] == [
        "model.weights.h5"]


def test_without_the_packages_the_message_says_what_to_install(hint_net, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)
    with pytest.raises(ImportError, match=r'pip install "bwcolor\[onnx\]".*Missing: onnx'):
        export_onnx(hint_net, tmp_path / "x.onnx")
    assert not list(tmp_path.iterdir())


def _guide_recipe():
    """The Python block of the user guide's "Export to ONNX", as the guide prints it."""
    from pathlib import Path

    text = (Path(__file__).parents[1] / "docs" / "guide.rst").read_text(encoding="utf-8")
    section = text.split("Export to ONNX\n--------------")[1].split(".. code-block:: python")[1]
    lines = []
    for line in section.splitlines()[1:]:
        if line and not line.startswith("   "):
            break
        lines.append(line[3:])
    return "\n".join(lines)


@pytest.mark.slow
def test_the_guides_recipe_around_the_file_matches_colorize(tmp_path, monkeypatch):
    from PIL import Image

    from bwcolor.data import sample_photo

    photo = np.asarray(Image.open(sample_photo()).convert("RGB").resize((288, 192)))
    Image.fromarray(photo).save(tmp_path / "photo.jpg", quality=98)
    c = Colorizer.from_preset("default")
    height, width = c.render_shape(192, 288, render_size=192)  # the shape colorize renders at
    export_onnx(c, tmp_path / "default_256.onnx", height=height, width=width)
    monkeypatch.chdir(tmp_path)
    scope = {}
    exec(_guide_recipe(), scope)  # the documented code, run as written
    expected = c.colorize(tmp_path / "photo.jpg", render_size=192, refine_chroma=False)
    diff = np.abs(scope["rgb"].astype(int) - expected.astype(int))
    assert scope["rgb"].shape == expected.shape == (192, 288, 3)
    assert diff.mean() < 1.0 and np.percentile(diff, 99) <= 6, (diff.mean(), diff.max())


def test_a_file_that_does_not_run_like_the_model_is_never_written(hint_net, tmp_path, monkeypatch):
    """JAX's converter wrote a MaxPool that ONNX Runtime refuses (the unet); any such file,
    or one whose output drifts, is caught by running it before it is written."""
    real = ort.InferenceSession

    class Drifting:
        def __init__(self, *args, **kwargs):
            self.session = real(*args, **kwargs)

        def run(self, *args, **kwargs):
            return [out + 1.0 for out in self.session.run(*args, **kwargs)]

    monkeypatch.setattr(ort, "InferenceSession", Drifting)
    with pytest.raises(RuntimeError, match=r"does not reproduce the model in ONNX Runtime "
                                           r"\(a\*b\* up to 1 away.*nothing was written"):
        export_onnx(hint_net, tmp_path / "x.onnx")

    def refusing(*args, **kwargs):
        raise ValueError("Unsupported pooling size.")

    monkeypatch.setattr(ort, "InferenceSession", refusing)
    with pytest.raises(RuntimeError, match="ValueError: Unsupported pooling size"):
        export_onnx(hint_net, tmp_path / "x.onnx")
    assert not list(tmp_path.iterdir())
