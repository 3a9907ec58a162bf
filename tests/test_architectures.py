import math

import keras
import numpy as np
import pytest
from helpers import run_model_test, run_serialization_test

from bwcolor import _backend, architectures, losses
from bwcolor.architectures import GrayToRGB

TINY = {
    "default": dict(widths=(8, 8), blocks=(1, 1)),
    # The EfficientNet-Lite0 encoder has no size knob; random weights read nothing.
    "pretrained_unet": dict(backbone_weights=None, widths=(4, 4, 4, 4), global_width=4),
    "unet": dict(widths=(4, 8), normalization="group"),
    "wallner_alpha": {},
    "wallner_beta": {},
    "wallner_full": dict(width_scale=0.0625, global_width=4),
}
HEADS = ["regression", "classification"]


def _cases():
    # XLA compiles every model twice (~5 s each on 2 cores): JAX runs one head per
    # architecture (the one it is used with); the cheaper torch backend runs the whole matrix.
    # pretrained_unet's EfficientNet-Lite0 encoder makes it the slow one on JAX (~20 s on 2
    # cores, 2 s on torch).
    used_with = {"default": "classification", "pretrained_unet": "classification"}
    jax = keras.backend.backend() == "jax"
    for name in TINY:
        for head in HEADS:
            marks = [pytest.mark.slow] if name == "pretrained_unet" and jax else []
            if head != used_with.get(name, "regression"):
                marks.append(pytest.mark.skipif(jax, reason="full matrix runs on torch"))
            yield pytest.param(name, head, id=f"{name}-{head}", marks=marks)


def test_registry():
    assert architectures.available() == sorted(TINY)
    with pytest.raises(ValueError, match="unknown architecture"):
        architectures.get("resnet")
    with pytest.raises(ValueError, match=r"unknown config.*depthh"):
        architectures.get("unet", depthh=3)


def test_registry_defaults_sit_beside_each_architecture():
    # The tutorial nets were trained as tanh regressors; the others use the classification head.
    expected = {"default": "classification", "pretrained_unet": "classification",
                "unet": "classification", "wallner_alpha": "mse", "wallner_beta": "mse",
                "wallner_full": "mse"}
    assert {name: architectures.recommended_loss(name) for name in architectures.available()} == expected
    for name in architectures.available():
        d = architectures.defaults(name)
        assert d == {"loss": expected[name],
                     "supports_hints": name in ("default", "pretrained_unet")}
        # supports_hints means exactly: the builder takes hints=True and then reads 4 channels.
        if d["supports_hints"]:
            # Only the structure is read: zero initializers (as a preset is loaded) spare the
            # first EfficientNet-Lite build its random ones (2 s, not 11-20 s on 2 cores).
            with _backend.weights_will_be_loaded():
                tiny = architectures.get(name, hints=True, **TINY[name])
            assert architectures.accepts_hints(tiny) and architectures.input_channels(tiny) == 4
        else:
            with pytest.raises(ValueError, match="unknown config"):
                architectures.get(name, hints=True)
        losses.head_for(d["loss"])  # a loss name the Colorizer accepts
        d["loss"] = "l1"  # a copy: callers cannot change the registry
    assert architectures.recommended_loss("default") == "classification"
    for accessor in (architectures.recommended_loss, architectures.defaults):
        with pytest.raises(ValueError, match=r"unknown architecture. Received: name='resnet'"):
            accessor("resnet")


@pytest.mark.parametrize("name, head", list(_cases()))
def test_build_fit_serialize(name, head, tmp_path):
    num_bins = len(losses.ab_bins())
    model = architectures.get(name, head=head, num_bins=num_bins, **TINY[name])
    size = 2 * architectures.input_multiple(model)
    if head == "classification":
        loss = losses.RebalancedCrossEntropy(weights=np.ones(num_bins))
    else:
        loss = losses.RegressionLoss("mse")
    x, pred = run_model_test(model, loss, size)
    stride = architectures.output_stride(model)
    assert pred.shape == (2, size // stride, size // stride, 2 if head == "regression" else num_bins)
    if head == "regression":
        assert np.abs(pred).max() <= 1
    run_serialization_test(model, x, tmp_path)


def test_fully_convolutional_on_non_square_inputs():
    model = architectures.get("default", **TINY["default"])
    m = architectures.input_multiple(model)
    out = model.compute_output_spec(keras.KerasTensor((1, 3 * m, 5 * m, 1)))
    assert out.shape[1:3] == (3 * m // 4, 5 * m // 4)


def test_tutorial_beta_layer_for_layer():
    model = architectures.get("wallner_beta")
    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    assert [c.filters for c in convs] == [64, 64, 128, 128, 256, 256, 512, 256, 128, 64, 32, 2]
    assert [c.strides[0] for c in convs] == [1, 2, 1, 2, 1, 2, 1, 1, 1, 1, 1, 1]
    assert sum(isinstance(layer, keras.layers.UpSampling2D) for layer in model.layers) == 3
    assert model.layers[-1].__class__.__name__ == "UpSampling2D"
    assert model.count_params() == 3_892_194


def test_default_is_cheaper_with_at_least_as_much_context():
    beta, default = architectures.get("wallner_beta"), architectures.get("default")
    assert architectures.flops(beta, 256) >= 5 * architectures.flops(default, 256)
    assert architectures.receptive_field(default) >= architectures.receptive_field(beta)
    assert architectures.receptive_field(default) == math.inf  # global context branch
    assert architectures.receptive_field(beta) == 93


def test_flops_of_a_single_conv():
    inputs = keras.Input((None, None, 1))
    model = keras.Model(inputs, keras.layers.Conv2D(4, 3, padding="same")(inputs))
    assert architectures.flops(model, 10) == 2 * 10 * 10 * 4 * 9 * 1


def test_backbone_fusion_uses_a_passed_model(tmp_path):
    backbone_in = keras.Input((32, 32, 3))
    feat = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(6, 3, strides=2)(backbone_in))
    backbone = keras.Model(backbone_in, keras.layers.Dense(5, activation="softmax")(feat), name="tiny_backbone")
    model = architectures.get("wallner_full", backbone=backbone, backbone_input_size=32,
                              width_scale=0.0625)
    assert any(layer.name == "tiny_backbone" for layer in model.layers)
    x, _ = run_model_test(model, losses.RegressionLoss(), 16)
    run_serialization_test(model, x, tmp_path)


def test_gray_to_rgb_feeds_backbones_correctly_scaled():
    layer = GrayToRGB((-1.0, 1.0))
    x = np.array([[[[-1.0], [1.0]]]], dtype="float32")  # L = 0 and L = 100
    out = keras.ops.convert_to_numpy(layer(x))
    np.testing.assert_allclose(out[0, 0, 0], [-1, -1, -1], atol=1e-5)
    np.testing.assert_allclose(out[0, 0, 1], [1, 1, 1], atol=1e-5)
    mid = keras.ops.convert_to_numpy(GrayToRGB((0.0, 255.0))(np.zeros((1, 1, 1, 1), "float32")))
    np.testing.assert_allclose(mid[0, 0, 0, 0], 0.4663 * 255, atol=0.1)  # L = 50 is gray 0.4663


def test_unet_validates_arguments():
    with pytest.raises(ValueError, match="normalization"):
        architectures.get("unet", normalization="layer")
    with pytest.raises(ValueError, match="widths"):
        architectures.get("unet", widths=(8,))
