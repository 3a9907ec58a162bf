"""A frozen backbone's global feature, computed once per photo and run instead of in every step
(issue #19): fit's ``backbone_features`` option, the datasets whose examples carry the feature,
and the head model that trains on them (sharing the full net's layers and weights)."""

from __future__ import annotations

import keras
import numpy as np
from PIL import Image

from bwcolor.architectures import backbones
from bwcolor.color import lightness_to_input, uint8_rgb_to_lightness
from bwcolor.data import ColorizationDataset
from bwcolor.data.decode import ImageDecodeError

MODES = ("auto", "cache", "every_step")


def _why_not(model, o, data_source, device_crops):
    """Why features cannot be cached for this fit, or None when they can."""
    if isinstance(data_source, keras.utils.PyDataset):
        return "a PyDataset source brings its own batches (no photos to compute features of)"
    if device_crops:
        return "crops_on_device=True crops on the device, where no photo feature is at hand"
    if o.validation_data is not None:
        return "validation_data batches carry no photo features (use validation_split)"
    if o.loader != "pydataset":
        return f"loader={o.loader!r} (only the 'pydataset' loader carries features)"
    if model is None:
        return None
    try:
        backbones.split_features(model)
    except ValueError as e:
        return str(e)
    if any(isinstance(layer, keras.Model) and layer.trainable for layer in model.layers):
        return "the backbone is trainable (freeze_backbone=False): its features change"
    return None


def check_mode(o, data_source):
    """Before any work: the option's value, and "cache" with crops_on_device=True, a PyDataset or
    Grain (what is known before the model)."""
    if o.backbone_features not in MODES:
        raise ValueError(f"backbone_features must be 'auto', 'cache' or 'every_step'. "
                         f"Received: backbone_features={o.backbone_features!r}")
    if o.backbone_features == "cache":
        why = _why_not(None, o, data_source, o.crops_on_device is True)
        if why:
            raise ValueError(f"backbone_features='cache' is impossible here: {why}")


def use_cache(model, o, data_source, device_crops, resumed=None):
    """Whether fit trains the head on cached features (a resumed run keeps its checkpoint's way)."""
    if resumed is not None:
        return is_head(resumed)
    why = _why_not(model, o, data_source, device_crops)
    if o.backbone_features == "cache" and why:
        raise ValueError(f"backbone_features='cache' is impossible here: {why}")
    return o.backbone_features != "every_step" and why is None


def is_head(model):
    """Whether ``model`` (a loaded checkpoint) is the head of :func:`split_features`."""
    # A DeviceCropModel (subclassed) has no .inputs: ask for the head's name first.
    return (isinstance(model, keras.Model) and model.name.endswith("_head")
            and len(getattr(model, "inputs", None) or ()) == 2)


def photo_input(dataset, path):
    """The whole photo's L* resized to S x S, scaled as the model's input (S, S, 1) float32."""
    rgb = np.asarray(dataset._load_uint8(path))
    S = dataset.image_size
    small = np.asarray(Image.fromarray(rgb).resize((S, S), Image.BILINEAR))
    return lightness_to_input(uint8_rgb_to_lightness(small))[..., None].astype(np.float32)


def photo_features(dataset, features, batch_size=16):
    """{path: the backbone's feature of the whole photo}, one forward pass per photo; photos that
    fail to decode are left out (their crops are then skipped as broken)."""
    paths, inputs = [], []
    for path in dict.fromkeys(dataset.paths):
        try:
            inputs.append(photo_input(dataset, path))
            paths.append(path)
        except (ImageDecodeError, OSError):
            continue
    out = {}
    for i in range(0, len(paths), batch_size):
        batch = features.predict_on_batch([np.stack(inputs[i:i + batch_size])])
        for path, vector in zip(paths[i:i + batch_size], keras.ops.convert_to_numpy(batch)):
            out[path] = vector.astype(np.float32)
    return out


class FeatureDataset(ColorizationDataset):
    """:class:`~bwcolor.data.ColorizationDataset` whose examples are ``((L crop, photo feature),
    target)``: the feature of the whole photo, computed once, for every crop and epoch."""

    def __init__(self, *args, features, **kwargs):
        super().__init__(*args, **kwargs)
        self.features = features

    @classmethod
    def like(cls, dataset, features):
        """A FeatureDataset of ``dataset``'s photos and settings."""
        return cls(dataset.paths, dataset.image_size, dataset.batch_size,
                   training=dataset.training, output_stride=dataset.output_stride,
                   degradations=dataset.degradations, cache_dir=dataset.cache_dir,
                   seed=dataset.seed, workers=dataset.workers,
                   use_multiprocessing=dataset.use_multiprocessing,
                   max_queue_size=dataset.max_queue_size, repeats=dataset.repeats,
                   targets=dataset.targets, features=features)

    def example(self, path, rng):
        if path not in self.features:
            raise OSError(f"no backbone feature for {path} (it failed to decode)")
        x, y = super().example(path, rng)
        return (x, self.features[path]), y


def cached_datasets(td, features):
    """``td``'s training and validation datasets with each photo's feature (computed once)."""
    td.train = FeatureDataset.like(td.train, photo_features(td.train, features))
    if isinstance(td.validation, ColorizationDataset):
        td.validation = FeatureDataset.like(td.validation, photo_features(td.validation, features))


def resumed_head(model, checkpoint):
    """The head of ``model`` with the ``checkpoint`` head's weights (so ``model``'s, which it
    shares; matched in order, as layer names are generated), compiled with its loss and a copy
    of its optimizer's state."""
    head = backbones.split_features(model)[1]
    head.set_weights(checkpoint.get_weights())
    old = checkpoint.optimizer
    optimizer = old.__class__.from_config(old.get_config())
    head.compile(optimizer=optimizer, loss=checkpoint.loss)
    optimizer.build(head.trainable_variables)
    if [v.shape for v in optimizer.variables] != [v.shape for v in old.variables]:
        raise ValueError("the checkpoint's optimizer state does not fit this net's head")
    for new, saved in zip(optimizer.variables, old.variables):
        new.assign(saved)
    return head
