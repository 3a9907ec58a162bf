"""The tutorial's Full model with a named keras.applications backbone: weights from a local
file, frozen while training, saved and reloaded without network (issue #19).

Offline throughout: the backbone's "pretrained" weights are a randomly initialised
MobileNetV3Small's, written to a file; ImageNet weights are never downloaded.
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import time

import keras
import numpy as np
import pytest

from bwcolor import Colorizer, _backend, architectures, cli
from bwcolor.architectures import backbones

SMALL = dict(width_scale=0.0625, global_width=4, backbone="MobileNetV3Small",
             backbone_input_size=32)


@pytest.fixture(scope="module")
def backbone_file(tmp_path_factory):
    """A MobileNetV3Small (with its top, as wallner_full builds it) of random weights, saved."""
    with _backend.weights_will_be_loaded():  # zeros first: 2 s instead of 16 s on JAX
        model = keras.applications.MobileNetV3Small(weights=None, include_top=True,
                                                    input_shape=(32, 32, 3))
    rng = np.random.default_rng(0)
    model.set_weights([(rng.uniform(0.5, 1.5, v.shape) if "variance" in v.path
                        else rng.normal(0, 0.05, v.shape)).astype("float32")
                       for v in model.weights])
    path = tmp_path_factory.mktemp("backbone") / "mobilenet_v3_small.weights.h5"
    model.save_weights(path)
    return path, model


def _backbone(model):
    (nested,) = [layer for layer in model.layers if isinstance(layer, keras.Model)]
    return nested


def _assert_same_weights(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)


@pytest.fixture
def no_network(monkeypatch, tmp_path):
    """Every connection refused, and an empty Keras download cache."""
    def refuse(*args, **kwargs):
        raise OSError("network is unreachable (test)")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))


@pytest.mark.slow  # ~15 s each on JAX: fits, saves and resumes a Full model
def test_file_weights_frozen_through_fit_then_save_load_resume(backbone_file, photo_dir, tmp_path,
                                                               no_network):
    path, reference = backbone_file
    own = tmp_path / "backbone.weights.h5"
    own.write_bytes(path.read_bytes())
    c = Colorizer("wallner_full", image_size=32,
                  architecture_config={**SMALL, "backbone_weights": own})
    assert c.config["architecture_config"]["backbone_weights"] == str(own)  # JSON config
    backbone = _backbone(c.model)
    assert not backbone.trainable and backbone.name == "MobileNetV3Small"
    _assert_same_weights(backbone.get_weights(), reference.get_weights())

    before = c.model.get_weights()
    run = tmp_path / "run"
    c.fit(photo_dir, epochs=1, batch_size=2, validation_split=0.2, test_split=0.0,
          checkpoint_dir=run, verbose=0)
    # Frozen: kernels and batch-norm statistics as loaded; the rest of the net learned.
    _assert_same_weights(_backbone(c.model).get_weights(), reference.get_weights())
    assert any(not np.array_equal(a, b) for a, b in zip(before, c.model.get_weights()))

    own.unlink()  # a preset holds the backbone's weights: its file is no longer needed
    x = np.random.default_rng(1).uniform(-1, 1, (1, 32, 32, 1)).astype("float32")
    expected = c._predictor().predict(x, verbose=0)  # float32 (fit may train in bfloat16)
    preset = c.save(tmp_path / "preset")
    loaded = Colorizer.from_preset(preset)
    np.testing.assert_allclose(loaded.model.predict(x, verbose=0), expected, atol=1e-5)
    assert not _backbone(loaded.model).trainable

    resumed = Colorizer.resume(run)
    _assert_same_weights(resumed.model.get_weights(), c.model.get_weights())
    assert Colorizer.from_preset(run).config["architecture_config"]["backbone"] == "MobileNetV3Small"

    # A preset of ImageNet weights loads without network too: it never downloads them again.
    config = json.loads((preset / "config.json").read_text())
    config["architecture_config"]["backbone_weights"] = "imagenet"
    (preset / "config.json").write_text(json.dumps(config))
    again = Colorizer.from_preset(preset)
    np.testing.assert_allclose(again.model.predict(x, verbose=0), expected, atol=1e-5)


def test_imagenet_without_network_fails_fast_and_says_what_to_do(no_network, photo_dir, tmp_path,
                                                                 capsys):
    start = time.perf_counter()
    with pytest.raises(ValueError, match=r"backbone_weights='imagenet' needs the network.*"
                                         r"backbone_weights='/path/to/file.h5'"):
        Colorizer("wallner_full", image_size=32,
                  architecture_config={**SMALL, "backbone_weights": "imagenet"})
    assert time.perf_counter() - start < 5  # before building anything
    # The command says so before scanning a photo.
    code = cli.main(["train", str(photo_dir), "-o", str(tmp_path / "run"), "--architecture",
                     "wallner_full", "--backbone", "MobileNetV3Small", "--image-size", "32"])
    err = capsys.readouterr().err
    assert code != 0 and "--backbone-weights FILE" in err
    assert "scanning" not in capsys.readouterr().out
    assert not (tmp_path / "run").exists()


def test_bad_backbones_are_refused_naming_the_value(tmp_path):
    with pytest.raises(ValueError, match=r"unknown backbone. Received: backbone='ResNet5'"):
        architectures.get("wallner_full", backbone="ResNet5", backbone_weights=None)
    missing = tmp_path / "nope.h5"
    with pytest.raises(ValueError, match=r"not found. Received: backbone_weights='.*nope.h5'"):
        architectures.get("wallner_full", backbone="MobileNetV3Small", backbone_weights=missing)
    with pytest.raises(ValueError, match=r"backbone_weights must be"):
        architectures.get("wallner_full", backbone="MobileNetV3Small", backbone_weights=3)
    # A model instance cannot be a Colorizer's config: refused when built, not when saved.
    inputs = keras.Input((32, 32, 3))
    model = keras.Model(inputs, keras.layers.GlobalAveragePooling2D()(inputs))
    with pytest.raises(ValueError, match=r"architecture_config values must be JSON.*"
                                         r"Received: backbone=Functional"):
        Colorizer("wallner_full", image_size=32, architecture_config={"backbone": model})


@pytest.mark.parametrize("name, first_pixel", [
    ("InceptionResNetV2", -1.0),  # "tf": [-1, 1]
    ("ResNet50", 0 - 103.939),  # "caffe": BGR minus the ImageNet mean
    ("DenseNet121", (0 - 0.485) / 0.229),  # "torch": ImageNet mean / std
    ("MobileNetV3Small", 0.0),  # rescales inside the model
])
def test_backbone_input_is_the_applications_own_preprocessing(name, first_pixel):
    rgb = np.stack([np.linspace(0, 255, 6, dtype="float32").reshape(1, 2, 3)] * 3, axis=-1)
    family = backbones.family(name)
    layer = backbones.ApplicationPreprocess(family)
    out = keras.ops.convert_to_numpy(layer(rgb))
    expected = getattr(keras.applications, family).preprocess_input(rgb.copy())
    np.testing.assert_allclose(out, expected, rtol=1e-6, atol=1e-4)
    np.testing.assert_allclose(out[0, 0, 0, 0], first_pixel, rtol=1e-5)
    assert backbones.ApplicationPreprocess.from_config(layer.get_config()).family == family


def test_mobilenet_v3_rescales_its_input_itself(backbone_file):
    # Why its preprocess_input passes pixels through: the model holds a [0, 255] -> [-1, 1] layer.
    rescaling = [layer for layer in backbone_file[1].layers
                 if isinstance(layer, keras.layers.Rescaling)]
    assert [(layer.scale, layer.offset) for layer in rescaling] == [(1 / 127.5, -1.0)]


@pytest.mark.slow
def test_cli_trains_with_a_local_backbone_file_then_colorizes(backbone_file, photo_dir, tmp_path):
    run, out = tmp_path / "run", tmp_path / "out"
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "KERAS_HOME": str(tmp_path / "keras_home")}

    def bwcolor(*args):
        return subprocess.run([sys.executable, "-m", "bwcolor", *map(str, args)],
                              capture_output=True, text=True, env=env, timeout=600)

    r = bwcolor("train", photo_dir, "-o", run, "--architecture", "wallner_full", "--backbone",
                "MobileNetV3Small", "--backbone-weights", backbone_file[0], "--image-size", "32",
                "--epochs", "1", "--batch-size", "2")
    assert r.returncode == 0, r.stderr
    r = bwcolor("colorize", photo_dir / "rocket.jpg", "-o", out, "--model", run)
    assert r.returncode == 0, r.stderr
    assert len(list(out.iterdir())) == 1


def test_cached_features_give_the_uncached_loss_and_train_the_same_weights(backbone_file):
    path, _ = backbone_file
    model = architectures.get("wallner_full", **SMALL, backbone_weights=path)
    features, head = backbones.split_features(model)
    assert _backbone(model) not in head.layers  # the head never runs the classifier
    rng = np.random.default_rng(2)
    x = rng.uniform(-1, 1, (2, 32, 32, 1)).astype("float32")
    y = rng.uniform(-0.4, 0.4, (2, 32, 32, 2)).astype("float32")
    cached = features.predict(x, verbose=0)  # once per photo, reused every epoch
    model.compile(optimizer="adam", loss="mse")
    head.compile(optimizer="adam", loss="mse")
    uncached_loss = model.test_on_batch(x, y)
    np.testing.assert_allclose(head.test_on_batch([x, cached], y), uncached_loss, rtol=1e-5)
    before = [w.copy() for w in _backbone(model).get_weights()]
    head.train_on_batch([x, cached], y)
    _assert_same_weights(_backbone(model).get_weights(), before)  # shared and frozen
    assert model.test_on_batch(x, y) != uncached_loss  # the fused net's own weights trained
    with _backend.weights_will_be_loaded():
        plain = architectures.get("wallner_full", width_scale=0.0625, global_width=4)
    with pytest.raises(ValueError, match="needs a net with a backbone"):
        backbones.split_features(plain)


def test_backbone_flags_need_wallner_full(photo_dir, tmp_path, capsys):
    for flags, message in [(["--backbone", "MobileNetV3Small"], "--backbone and --backbone-weights "
                             "are for --architecture wallner_full or pretrained_unet. Received: "
                             "--architecture default"),
                           (["--architecture", "wallner_full", "--backbone-weights", "none"],
                            "--backbone-weights needs --backbone NAME")]:
        code = cli.main(["train", str(photo_dir), "-o", str(tmp_path / "run"), *flags])
        assert code != 0 and message in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def _cached_colorizer(path):
    return Colorizer("wallner_full", image_size=32,
                     architecture_config={**SMALL, "backbone_weights": str(path)})


def test_cached_features_dataset_gives_the_every_step_loss(backbone_file, photo_dir, tmp_path):
    from PIL import Image

    from bwcolor import data
    from bwcolor.training import features as cached

    c = _cached_colorizer(backbone_file[0])
    features, head = backbones.split_features(c.model)
    # 32 x 32 photos, center crops: the crop is the whole photo, so both paths see one input.
    paths = []
    for photo in sorted(photo_dir.iterdir())[:2]:
        paths.append(tmp_path / f"{photo.stem}.png")
        Image.open(photo).convert("RGB").resize((32, 32)).save(paths[-1])
    plain = data.ColorizationDataset(paths, 32, 2, training=False)
    with_features = cached.FeatureDataset.like(plain, cached.photo_features(plain, features))
    (x, vectors), y = with_features[0]
    x_plain, y_plain = plain[0]
    np.testing.assert_array_equal(x, x_plain)
    np.testing.assert_array_equal(y, y_plain)
    assert vectors.shape == (2, features.output.shape[-1]) and vectors.dtype == np.float32
    c.model.compile(loss="mse")
    head.compile(loss="mse")
    np.testing.assert_allclose(head.test_on_batch([x, vectors], y), c.model.test_on_batch(x, y),
                               rtol=1e-5)
    # Training crops carry their whole photo's feature, the same for every crop and epoch.
    train = cached.FeatureDataset.like(
        data.ColorizationDataset(paths, 32, 2, training=True), with_features.features)
    (_, again), _ = train[0]
    assert {tuple(v) for v in again} == {tuple(v) for v in vectors}


@pytest.mark.slow  # ~15 s each on JAX: fits, saves and resumes a Full model
def test_fit_with_cached_features_freezes_resumes_and_saves(backbone_file, photo_dir, tmp_path):
    path, reference = backbone_file
    c = _cached_colorizer(path)
    before = c.model.get_weights()
    run = tmp_path / "run"
    c.fit(photo_dir, epochs=1, batch_size=2, validation_split=0.2, test_split=0.0,
          checkpoint_dir=run, verbose=0, backbone_features="cache")
    _assert_same_weights(_backbone(c.model).get_weights(), reference.get_weights())
    assert any(not np.array_equal(a, b) for a, b in zip(before, c.model.get_weights()))
    assert keras.models.load_model(run / "last.keras").name.endswith("_head")
    assert c.metadata["training"]["backbone_features"] == "cache"

    resumed = Colorizer.resume(run)
    _assert_same_weights(resumed.model.get_weights(), c.model.get_weights())
    resumed.fit(photo_dir, epochs=2, batch_size=2, validation_split=0.2, test_split=0.0,
                checkpoint_dir=run, resume=True, verbose=0)
    _assert_same_weights(_backbone(resumed.model).get_weights(), reference.get_weights())
    again = _cached_colorizer(path)
    history = again.fit(photo_dir, epochs=3, batch_size=2, validation_split=0.2, test_split=0.0,
                        checkpoint_dir=run, resume=True, verbose=0)
    assert history.epoch == [2]
    _assert_same_weights(Colorizer.resume(run).model.get_weights(), again.model.get_weights())
    rgb = Colorizer.from_preset(run / "best").colorize(photo_dir / "rocket.jpg")
    assert rgb.dtype == np.uint8 and rgb.ndim == 3
    # last.keras holds only the head: without best/ there is no backbone to resume with.
    shutil.rmtree(run / "best")
    with pytest.raises(ValueError, match="best/"):
        Colorizer.resume(run)


def test_cached_features_refused_where_impossible(backbone_file, photo_dir, tmp_path):
    from bwcolor import data

    c = _cached_colorizer(backbone_file[0])
    with pytest.raises(ValueError, match="crops_on_device=True"):
        c.fit(photo_dir, epochs=1, crops_on_device=True, backbone_features="cache", verbose=0)
    source = data.ColorizationDataset(sorted(photo_dir.iterdir())[:2], 32, 2, training=True)
    with pytest.raises(ValueError, match="a PyDataset source"):
        c.fit(source, epochs=1, backbone_features="cache", verbose=0)
    with pytest.raises(ValueError, match="backbone_features must be"):
        c.fit(photo_dir, epochs=1, backbone_features="yes", verbose=0)
    with pytest.raises(ValueError, match="needs a wallner_full net"):
        Colorizer("wallner_beta", image_size=32).fit(photo_dir, epochs=1, verbose=0,
                                                     backbone_features="cache")
