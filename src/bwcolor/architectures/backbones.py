"""Pretrained ``keras.applications`` classifiers as the global feature of the Full net.

Everything about a backbone is config (its class name, ``"imagenet"`` (or ``"auto"``, the
same here) / a weights file / None, whether it is frozen, its input size), so a net that holds
one saves as a preset, checkpoints as ``last.keras`` and resumes. Inside
:func:`bwcolor._backend.weights_will_be_loaded` (loading a preset or checkpoint) no backbone
weights are read: the caller's weights replace them, so a saved Full net loads without network.

>>> from bwcolor.architectures import backbones
>>> backbones.family("MobileNetV3Small"), backbones.default_input_size("InceptionResNetV2")
('mobilenet_v3', 299)
"""

from __future__ import annotations

import contextlib
import os
import socket
from pathlib import Path

import keras
from keras import layers

from bwcolor import _backend

__all__ = ["ApplicationPreprocess", "available", "build", "default_input_size", "family",
           "split_features"]

# Input sizes the ImageNet weights were trained at, where not 224.
_INPUT_SIZES = {
    "InceptionResNetV2": 299, "InceptionV3": 299, "Xception": 299, "NASNetLarge": 331,
    "EfficientNetB1": 240, "EfficientNetB2": 260, "EfficientNetB3": 300, "EfficientNetB4": 380,
    "EfficientNetB5": 456, "EfficientNetB6": 528, "EfficientNetB7": 600,
    "EfficientNetV2B1": 240, "EfficientNetV2B2": 260, "EfficientNetV2B3": 300,
    "EfficientNetV2S": 384, "EfficientNetV2M": 480, "EfficientNetV2L": 480,
}
# Where keras.applications downloads ImageNet weights from.
_WEIGHTS_HOST = ("storage.googleapis.com", 443)


def available():
    """The ``keras.applications`` classifiers a backbone may name, sorted."""
    return sorted(name for name in dir(keras.applications)
                  if name[:1].isupper() and callable(getattr(keras.applications, name)))


def _check_name(name):
    if not isinstance(name, str) or name not in available():
        raise ValueError(f"unknown backbone. Received: backbone={name!r}; a keras.applications "
                         f"classifier name is needed, one of {available()}")


def family(name):
    """The ``keras.applications`` module of classifier ``name`` (``"mobilenet_v3"``...), whose
    ``preprocess_input`` the backbone's input goes through."""
    _check_name(name)
    return getattr(keras.applications, name).__module__.rsplit(".", 1)[-1]


def default_input_size(name):
    """The square input size classifier ``name``'s ImageNet weights were trained at."""
    _check_name(name)
    return _INPUT_SIZES.get(name, 224)


@keras.saving.register_keras_serializable(package="bwcolor")
class ApplicationPreprocess(layers.Layer):
    """``keras.applications.<family>.preprocess_input`` as a layer, on RGB pixels in [0, 255].

    So a backbone sees its own preprocessing ("tf": [-1, 1]; "caffe": BGR minus the ImageNet
    mean; "torch": ImageNet mean/std; MobileNetV3, EfficientNet and ConvNeXt models rescale
    inside themselves and their ``preprocess_input`` passes pixels through).
    """

    def __init__(self, family="inception_resnet_v2", **kwargs):
        super().__init__(**kwargs)
        if not hasattr(getattr(keras.applications, family, None), "preprocess_input"):
            raise ValueError(f"no keras.applications.{family}.preprocess_input. "
                             f"Received: family={family!r}")
        self.family = family

    def call(self, x):
        # preprocess_input divides in place: give it a tensor of its own.
        return getattr(keras.applications, self.family).preprocess_input(x * 1.0)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "family": self.family}


def _check_weights(weights):
    if weights in ("auto", "imagenet"):  # ImageNet's are the only pretrained ones there are
        return "imagenet"
    if weights is None:
        return weights
    if not isinstance(weights, (str, os.PathLike)):
        raise ValueError(f"backbone_weights must be 'auto', 'imagenet', a weights file or None. "
                         f"Received: backbone_weights={weights!r}")
    return existing_weights_file(weights)


def existing_weights_file(weights):
    """``weights`` as a path to an existing file, or a ValueError naming it."""
    path = Path(weights).expanduser()
    if not path.is_file():
        raise ValueError(f"backbone weights file not found. Received: backbone_weights="
                         f"{str(weights)!r}")
    return path


def _check_network(name):
    """Fail in seconds, not after a build and a hung download, when ImageNet weights cannot be
    fetched: no connection to Keras' weights host and nothing in Keras' download cache."""
    try:
        socket.create_connection(_WEIGHTS_HOST, timeout=5).close()
        return
    except OSError as e:
        reason = e
    cache = Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")) / "models"
    if cache.is_dir() and any(cache.iterdir()):
        return  # Keras may find the file there; a miss fails in _imagenet below
    raise ValueError(_offline_message(name, reason))


def _offline_message(name, reason):
    return (f"backbone_weights='imagenet' needs the network to download {name}'s ImageNet "
            f"weights, which failed ({reason}). Download the file where there is network "
            f"(keras.applications.{name}(weights='imagenet') prints its URL) and pass its path: "
            f"backbone_weights='/path/to/file.h5' (CLI: --backbone-weights FILE), or put it in "
            f"~/.keras/models/")


def build(name, weights="imagenet", input_size=None, freeze=True):
    """Classifier ``name`` with its top (the class scores are the global feature), its weights
    from ``weights`` (``"imagenet"``, a weights file, or None for random ones; ``"auto"`` is
    ``"imagenet"``), frozen or not.

    Raises
    ------
    ValueError
        An unknown name, a missing weights file, ImageNet weights without network, or a file
        that does not fit the classifier, each naming the value.
    """
    _check_name(name)
    size = int(input_size or default_input_size(name))
    if _backend.weights_are_being_loaded():
        weights = None  # the caller's weights replace the backbone's (the file may be gone)
    weights = _check_weights(weights)
    if weights == "imagenet":
        _check_network(name)
    builder = getattr(keras.applications, name)
    # Random initializers are wasted work when weights are read right after (on JAX each
    # compiles: MobileNetV3Small took 16 s to build on 2 CPU cores, most of it this).
    loading = _backend.weights_will_be_loaded() if weights else contextlib.nullcontext()
    with loading:
        try:
            model = builder(weights="imagenet" if weights == "imagenet" else None,
                            include_top=True, input_shape=(size, size, 3))
        except Exception as e:
            if weights == "imagenet" and "URL fetch failure" in str(e):
                raise ValueError(_offline_message(name, e)) from None
            raise
    if isinstance(weights, Path):
        try:
            model.load_weights(weights)
        except Exception as e:
            raise ValueError(f"backbone weights file does not fit {name} (include_top=True). "
                             f"Received: backbone_weights={str(weights)!r}: {e}") from None
    model.trainable = not freeze
    return model


def split_features(model):
    """(features, head): the Full net ``model`` cut where its backbone's feature enters.

    ``features`` maps the L input to the backbone's global feature ``(B, D)``; ``head`` maps
    ``[L, feature]`` to the output, without running the backbone. Both share ``model``'s layers
    and weights, so training ``head`` on features computed once (a frozen backbone's features
    do not change) trains ``model``, and ``head([L, features(L)])`` equals ``model(L)``.

    Raises
    ------
    ValueError
        When ``model`` has no ``tile_global`` layer fed by a backbone (a ``wallner_full`` built
        without one).
    """
    try:
        vector = model.get_layer("tile_global").input[0]
    except ValueError:
        raise ValueError(f"split_features needs a wallner_full net. Received: model "
                         f"{model.name!r}") from None
    if not any(isinstance(layer, keras.Model) for layer in model.layers):
        raise ValueError(f"split_features needs a net with a backbone; {model.name!r} has a "
                         f"trainable global encoder instead")
    features = keras.Model(model.inputs, vector, name=f"{model.name}_features")
    head = keras.Model([*model.inputs, vector], model.outputs[0], name=f"{model.name}_head")
    return features, head
