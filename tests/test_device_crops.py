"""Crops made on the device (DeviceCropModel) must be the host pipeline's crops, losses and runs."""

import json
import warnings

import keras
import numpy as np
import pytest

from bwcolor import Colorizer, architectures, losses
from bwcolor.data import ColorizationDataset, Degradations, scan
from bwcolor.data import crops as crop_geometry
from bwcolor.device_crops import BOX_FIELDS, DeviceCropModel, crop_windows, resize_weights

TINY = dict(widths=(8, 8), blocks=(1, 1))


@pytest.fixture(scope="module")
def photo_paths(photo_dir):
    return scan(photo_dir, image_size=32, fractions=(1.0, 0.0, 0.0))[0]["train"]


def _host_crops(ds, index):
    """What the host pipeline crops for batch ``index`` (same random draws as __getitem__)."""
    idx = ds._order[index * ds.batch_size:(index + 1) * ds.batch_size]
    return np.stack([
        ds._crop(ds._load_uint8(ds.paths[j]),
                 np.random.default_rng([ds.seed, ds.epoch, index * ds.batch_size + k]))
        for k, j in enumerate(idx)]).astype(np.float32)


@pytest.mark.parametrize("training", [True, False])
def test_device_crops_are_the_pillow_crops(photo_paths, training):
    """Same windows, same bilinear filter as Pillow: within Pillow's own rounding (< 1 level)
    for random crops, and exact for evaluation's center crops (no resampling there)."""
    kw = dict(training=training, seed=3)
    host = ColorizationDataset(photo_paths, 32, 6, **kw)
    device = ColorizationDataset(photo_paths, 32, 6, crop_on_device=True, **kw)
    for index in range(len(host)):
        (windows, boxes), = device[index]
        assert windows.dtype == np.uint8 and windows.shape[1:] == (device.window_side,) * 2 + (3,)
        assert boxes.shape == (len(windows), len(BOX_FIELDS))
        crops = keras.ops.convert_to_numpy(crop_windows(windows, boxes, 32))
        expected = _host_crops(host, index)
        assert np.abs(crops - expected).max() < (1.0 if training else 1e-3)
    assert np.any(boxes[:, 6] == 1.0) == training  # some flips, and only when training


@pytest.mark.parametrize("shape", [(32, 32), (32, 90), (200, 33), (47, 47)])
def test_device_crops_never_see_the_padding(shape, tmp_path):
    """Windows at the photo's edges are padded with zeros; a flat photo must still give flat
    crops, so no padding reaches a crop."""
    rgb = np.full((*shape, 3), (200, 90, 30), dtype=np.uint8)
    ds = ColorizationDataset([tmp_path / "unused.png"], 32, 1, training=True, crop_on_device=True)
    P = ds.window_side
    windows, boxes = np.zeros((50, P, P, 3), np.uint8), np.zeros((50, 7), np.float32)
    for seed in range(50):
        sub, box, flip = crop_geometry.random_window(rgb, ds.image_size, np.random.default_rng(seed))
        windows[seed, :sub.shape[0], :sub.shape[1]] = sub
        boxes[seed] = (*box, sub.shape[1], sub.shape[0], flip)
    crops = keras.ops.convert_to_numpy(crop_windows(windows, boxes, 32))
    np.testing.assert_allclose(crops, np.broadcast_to([200, 90, 30], crops.shape), atol=1e-3)


def test_resize_weights_rows_sum_to_one_and_flip_reverses():
    w = keras.ops.convert_to_numpy(resize_weights(
        np.array([0.0, 2.5]), np.array([24.0, 10.0]), np.array([24.0, 12.0]), 30, 16))
    np.testing.assert_allclose(w.sum(-1), 1.0, atol=1e-6)
    assert np.all(w[0, :, 24:] == 0) and np.all(w[1, :, 12:] == 0)  # padding never weighs
    ramp = np.broadcast_to(np.arange(20, dtype=np.uint8)[None, :, None], (20, 20, 3))
    box = np.array([[0, 0, 20, 20, 20, 20, 0], [0, 0, 20, 20, 20, 20, 1]], np.float32)
    plain, flipped = keras.ops.convert_to_numpy(crop_windows(np.stack([ramp, ramp]), box, 20))
    np.testing.assert_allclose(flipped, plain[:, ::-1], atol=1e-4)


def test_degradations_and_device_crops_exclude_each_other(photo_paths, photo_dir):
    with pytest.raises(ValueError, match="degradations"):
        ColorizationDataset(photo_paths, 32, 2, training=True, crop_on_device=True,
                            degradations=Degradations())
    c = Colorizer("default", image_size=32, architecture_config=TINY)
    with pytest.raises(ValueError, match="degradations"):
        c.fit(photo_dir, crops_on_device=True, degradations=True)
    with pytest.raises(ValueError, match="targets_on_device=False"):
        c.fit(photo_dir, crops_on_device=True, targets_on_device=False)
    with pytest.raises(ValueError, match="crops_on_device must be"):
        c.fit(photo_dir, crops_on_device="gpu")
    for bad in (-1, 1.5, "2", True):
        with pytest.raises(ValueError, match=f"workers={bad!r}"):
            c.fit(photo_dir, workers=bad)
    with pytest.raises(ValueError, match="validation_data"):
        c.fit(photo_dir, crops_on_device=True,
              validation_data=ColorizationDataset(photo_paths, 32, 2, training=False))


def test_device_crop_loss_is_the_host_pipeline_loss(photo_paths):
    """The same weights and the same random crops give the same loss, whichever side crops."""
    from bwcolor.color import ops as color_ops

    def value(t):
        return float(keras.ops.convert_to_numpy(t))

    bins = losses.ab_bins()
    core = architectures.get("default", head="classification", num_bins=len(bins), **TINY)
    weights = np.random.default_rng(0).uniform(0.5, 2, len(bins))
    loss = losses.RebalancedCrossEntropy(weights=weights)
    kw = dict(training=True, seed=7, output_stride=4)
    x, y = ColorizationDataset(photo_paths, 32, 6, **kw)[0]
    (windows, boxes), = ColorizationDataset(photo_paths, 32, 6, crop_on_device=True, **kw)[0]
    trainer = DeviceCropModel(core, 32)
    wrapped = losses.RGBTargets(loss, output_stride=4)
    trainer.compile(loss=wrapped)
    device_loss = value(trainer.compute_loss((windows, boxes), None, trainer((windows, boxes))))
    # Wiring: the crops' L* in, the crops themselves as targets.
    crops = crop_windows(windows, boxes, 32)
    lightness = color_ops.rgb_to_lab(crops / 255.0)[..., :1]
    manual = value(wrapped(crops, core(color_ops.lightness_to_input(lightness))))
    assert device_loss == pytest.approx(manual, rel=1e-5)
    # Against the host pipeline, whose crops are rounded to uint8 first (< 1 level apart).
    assert device_loss == pytest.approx(value(loss(y, core(x))), rel=1e-2)
    assert trainer.compute_dtype == "float32"  # crop boxes never go through bfloat16
    clone = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(trainer))
    assert isinstance(clone, DeviceCropModel) and clone.image_size == 32


def test_fit_and_resume_with_crops_on_device(photo_dir, tmp_path, training_datasets):
    run = tmp_path / "run"
    c = Colorizer("default", image_size=32, architecture_config=TINY)
    cached = []
    probe = keras.callbacks.LambdaCallback(on_train_begin=lambda *_: cached.append(
        len(list(training_datasets[0].cache_dir.glob("*.npy")))))
    c.fit(photo_dir, epochs=1, batch_size=2, checkpoint_dir=run, verbose=0, crops_on_device=True,
          callbacks=[probe])
    # "auto": photos decoded into a temporary cache before training; slicing needs no threads.
    (ds,) = training_datasets
    assert ds.workers == 1 and cached[0] >= len(ds.paths) and not ds.cache_dir.exists()
    assert c.metadata["training"]["crops_on_device"] is True
    assert c.metadata["training"]["targets_on_device"] is True
    saved = keras.models.load_model(run / "last.keras", safe_mode=True)
    assert isinstance(saved, DeviceCropModel) and isinstance(saved.loss, losses.RGBTargets)
    steps = int(keras.ops.convert_to_numpy(saved.optimizer.iterations))
    resumed = Colorizer("default", image_size=32, architecture_config=TINY)
    history = resumed.fit(photo_dir, epochs=2, batch_size=2, checkpoint_dir=run, resume=True,
                          verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
    assert resumed.metadata["training"]["crops_on_device"] is True
    assert not isinstance(resumed.model, DeviceCropModel)  # the Colorizer keeps the plain model
    assert json.loads((run / "state.json").read_text())["epoch"] == 2
    last = keras.models.load_model(run / "last.keras", safe_mode=True)
    assert int(keras.ops.convert_to_numpy(last.optimizer.iterations)) == 2 * steps
    best = Colorizer.from_preset(run / "best")  # a plain preset: colorizes like any other
    assert best.colorize(np.zeros((40, 40), np.uint8)).shape == (40, 40, 3)


def test_grain_pipeline_sends_the_same_windows(photo_paths):
    pytest.importorskip("grain")
    from bwcolor.data import grain_dataset

    kw = dict(training=False, crop_on_device=True)
    (windows, boxes), = next(iter(grain_dataset(photo_paths, 32, 4, **kw)))
    (expected_windows, expected_boxes), = ColorizationDataset(photo_paths, 32, 4, **kw)[0]
    np.testing.assert_array_equal(windows, expected_windows)
    np.testing.assert_array_equal(boxes, expected_boxes)


def test_no_room_for_the_decode_cache_warns_and_decodes(photo_dir, monkeypatch, training_datasets):
    import types

    import bwcolor.training.loaders

    monkeypatch.setattr(bwcolor.training.loaders.shutil, "disk_usage", lambda _: types.SimpleNamespace(free=10**4))
    c = Colorizer("default", image_size=32, architecture_config=TINY)
    # Recorded rather than pytest.warns, which re-raises the backends' own deprecation chatter.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        c.fit(photo_dir, epochs=1, batch_size=2, steps_per_epoch=1, verbose=0,
              crops_on_device=True, validation_split=0.0, test_split=0.0)
    assert any("not caching decoded photos" in str(w.message) for w in caught)
    (ds,) = training_datasets
    assert ds.cache_dir is None and ds.workers == 2  # decoding every visit needs the threads


def test_grain_keeps_two_read_threads_with_crops_on_device(photo_dir, monkeypatch):
    """workers="auto" drops to 1 for Keras' PyDataset only, whose single worker means no loader
    thread at all; Grain's read threads always run beside the loop."""
    pytest.importorskip("grain")
    import bwcolor.data

    class Stop(Exception):
        pass

    def record(paths, image_size, batch_size, **kwargs):
        raise Stop(kwargs["num_threads"], kwargs["crop_on_device"])

    monkeypatch.setattr(bwcolor.data, "grain_dataset", record)
    c = Colorizer("default", image_size=32, architecture_config=TINY)
    with pytest.raises(Stop) as stopped:
        c.fit(photo_dir, loader="grain", crops_on_device=True, verbose=0)
    assert stopped.value.args == (2, True)
