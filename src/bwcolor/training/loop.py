""":meth:`bwcolor.Colorizer.fit`'s work, step by step: check the arguments, open the run, load
the photos, set up the model (distribution, mixed precision, class rebalancing, loss), train with
the run-folder callbacks, then record and score.

The functions here take the Colorizer being trained and use only its ``model``, ``config``,
``metadata``, ``report``, ``head``, ``save``, ``evaluate`` and ``type(c).from_preset``, and its
model hooks ``_attach(model)``, ``_rebuild_keeping_weights()``, ``_inference_model`` and
``_write_metadata_into(folder)``. Nothing here imports the Colorizer.
"""

from __future__ import annotations

import functools
import json
import time
from pathlib import Path

import keras

from bwcolor import _backend, architectures, losses
from bwcolor.architectures import backbones
from bwcolor.device_crops import DeviceCropModel
from bwcolor.training import callbacks, checks, devices, features, loaders, rebalancing, resume
from bwcolor.training.run_lock import run_lock


def fit(colorizer, data_source, options):
    """Train ``colorizer`` on ``data_source`` with :class:`~bwcolor.training.FitOptions`;
    return the ``keras.callbacks.History``."""
    o = checks.check_fit_options(options, data_source)
    run = Path(o.checkpoint_dir) if o.checkpoint_dir else None
    # In a multi-process job only process 0 writes the run folder; the others read it (resume).
    written = run if devices.writes_run_folder() else None
    if written is not None:
        checks.check_run_folder(written, colorizer.model.count_params())
    with run_lock(written):
        # Again, holding the folder: a fit that finished while this one started wrote there.
        checks.check_no_earlier_run(o)
        return _fit_holding_the_run(colorizer, data_source, o, run, written)


def _fit_holding_the_run(colorizer, data_source, o, run, written):
    start, precision = _open(colorizer, run, o, data_source)
    hints = architectures.accepts_hints(colorizer.model)
    device_crops, rgb_targets = devices.place_crops_and_targets(o, start.model, hints)
    cached = features.use_cache(colorizer.model, o, data_source, device_crops, start.model)
    splits = _scan(colorizer, data_source, o)
    stride = architectures.output_stride(colorizer.model)
    if splits is None:  # a PyDataset: its batches' shapes, before the first step
        checks.check_batches(data_source, colorizer.model, stride)
        if o.validation_data is not None:
            checks.check_batches(o.validation_data, colorizer.model, stride, "validation_data")
    share, loader_options = devices.process_share(splits, o)  # all of them on one process
    with loaders.training_data(data_source, loader_options, share,
                               image_size=colorizer.config["image_size"], output_stride=stride,
                               device_crops=device_crops, rgb_targets=rgb_targets,
                               hints=hints) as td:
        td.splits = splits  # class weights and the test split: of all photos, on every process
        # Only now, with usable data in hand, change the model: a failed fit leaves it as it was.
        trainer = _prepare_model(colorizer, o, td, start, precision, cached)
        started = time.time()
        _record_settings(colorizer, o, td, cached)
        nonfinite = callbacks.StopOnNonFiniteLoss()
        if start.epoch >= o.epochs:
            if o.verbose:
                print(f"Nothing to do: the run already trained {start.epoch} of {o.epochs} epochs.")
            return keras.callbacks.History()
        with devices.checkpoint_folder(run) as folder:
            cbs = _callbacks(colorizer, folder, o, start, nonfinite,
                             checks.data_record(data_source))
            history = _train(colorizer, trainer, td, o, cbs, start.epoch)
        if devices.process_count() > 1:  # scoring is local: weights as arrays of this process
            keras.distribution.set_distribution(None)
        _after_training(colorizer, history, td, nonfinite, written, o, started, start.epoch)
        return history


def make_loss(config):
    """The loss of ``config`` (its class weights included)."""
    # rebalancing_lambda only shapes the weights computed in fit; the loss takes the weights.
    kwargs = {k: v for k, v in config["loss_config"].items() if k != "rebalancing_lambda"}
    return losses.get(config["loss"], **kwargs)


def make_optimizer(config):
    """A fresh optimizer of ``config``."""
    if config["optimizer"] == "rmsprop":
        return keras.optimizers.RMSprop(config["learning_rate"])
    return keras.optimizers.Adam(config["learning_rate"])


def _open(colorizer, run, o, data_source):
    """(Start, mixed precision): a resumed run's own config and metadata replace the
    Colorizer's (the checkpoint decides the precision); otherwise "auto" is resolved."""
    if not o.resume:
        return resume.Start(), devices.resolve_mixed_precision(o.mixed_precision)
    start = resume.open_run(run, colorizer.config)
    checks.check_same_data(data_source, start.state)
    checks.check_same_splits(o, start.state)
    colorizer.config = start.state["config"]
    colorizer.metadata = start.state.get("metadata", {})
    return start, None


def _scan(colorizer, data_source, o):
    """The photos' train/validation/test splits (None for a PyDataset); sets ``report``."""
    if isinstance(data_source, keras.utils.PyDataset):
        return None
    splits, colorizer.report = loaders.scan_photos(data_source, o, colorizer.config["image_size"])
    return splits


def _prepare_model(colorizer, o, td, start, precision, cached=False):
    """The model fit trains, compiled: after distribution, precision and class rebalancing; with
    ``cached`` backbone features, the net's head, and ``td``'s datasets carry the features."""
    distributed = devices.setup_distribution(o.distribute, o.batch_size)
    if not o.resume:  # before the rebuild lays them out over every process's devices
        devices.same_weights_everywhere(colorizer.model)
    config = colorizer.config
    if not o.resume and (distributed or precision != config["mixed_precision"]):
        # Layers take their dtype policy, and variables their layout, when they are built.
        config["mixed_precision"] = precision
        colorizer._rebuild_keeping_weights()
    stride = architectures.output_stride(colorizer.model)
    if colorizer.head == "classification" and "weights" not in config["loss_config"]:
        config["loss_config"]["weights"] = rebalancing.rebalancing_weights(
            td.splits["train"] if td.splits else td.train, config, stride)
    if cached:  # the backbone's feature of each photo, once; then the head (split last: saving
        # a head fails once the net was split again after it, keras' node keys moved on)
        features.cached_datasets(td, backbones.split_features(colorizer.model)[0])
        if o.resume:
            return features.resumed_head(colorizer.model, start.model)
    elif o.resume:
        colorizer._attach(start.model.model if td.device_crops else start.model)
        if distributed:  # the checkpoint was loaded before the distribution was set
            devices.lay_out_variables(start.model)
        return start.model
    loss = make_loss(config)
    if td.rgb_targets:
        loss = losses.RGBTargets(loss, output_stride=stride)
    # The model that fit() trains; its weights are colorizer.model's (the head shares them).
    trainer = (DeviceCropModel(colorizer.model, config["image_size"]) if td.device_crops
               else backbones.split_features(colorizer.model)[1] if cached
               else colorizer.model)
    trainer.compile(optimizer=make_optimizer(config), loss=loss)
    return trainer


def _record_settings(colorizer, o, td, cached=False):
    if cached and o.verbose:
        print("The frozen backbone's feature of each photo is computed once for the run "
              "(backbone_features='cache').", flush=True)
    colorizer.metadata.setdefault("training", {}).update({
        "backbone_features": "cache" if cached else "every_step",
        "epochs": o.epochs, "batch_size": o.batch_size, "seed": o.seed,
        "validation_split": float(o.validation_split), "test_split": float(o.test_split),
        "mixed_precision": colorizer.config["mixed_precision"], "backend": _backend.name(),
        "devices": _backend.devices(), "time_budget": o.time_budget,
        "degradations": td.degradations.get_config() if td.degradations else None,
        "targets_on_device": bool(td.rgb_targets), "crops_on_device": bool(td.device_crops),
    })
    if colorizer.report is not None:
        colorizer.metadata["dataset"] = colorizer.report.as_dict()


def _callbacks(colorizer, run, o, start, nonfinite, data=None):
    cbs = [nonfinite, *(o.callbacks or [])]
    if run is not None:
        cbs.append(callbacks.RunCheckpoint(
            run, config=colorizer.config, metadata=colorizer.metadata,
            save_best=functools.partial(colorizer.save, overwrite=True),
            best=start.state.get("best"), resume=o.resume, initial_epoch=start.epoch,
            data=data))
    if o.time_budget is not None:
        cbs.append(callbacks.TimeBudget(o.time_budget))
    return cbs


def _train(colorizer, trainer, td, o, cbs, initial_epoch):
    if o.verbose:
        print(f"Training from epoch {initial_epoch + 1} to {o.epochs}; the first steps "
              f"compile the model for this machine (seconds to minutes)...", flush=True)
    try:
        # shuffle=False: bwcolor's datasets shuffle themselves (per epoch, from the seed).
        return trainer.fit(td.train, validation_data=td.validation, epochs=o.epochs,
                           initial_epoch=initial_epoch, steps_per_epoch=td.steps_per_epoch,
                           callbacks=cbs, verbose=o.verbose, shuffle=False)
    finally:
        colorizer._inference_model = None  # weights changed: rebuild the float32 copy on demand


def _after_training(colorizer, history, td, nonfinite, run, o, started, initial_epoch):
    """Broken photos counted, a NaN loss reported, time and epochs recorded, test split scored."""
    record = colorizer.metadata["training"]
    broken = getattr(td.train, "broken_photos", None)
    if broken:
        record["photos_broken_during_training"] = len(broken)
        if o.verbose:
            print(f"Skipped {len(broken)} photos that vanished or broke during training: "
                  + "; ".join(list(broken.values())[:5]), flush=True)
    if nonfinite.stopped_at is not None:
        resume.recover_from_nonfinite_loss(colorizer.model, nonfinite, run)
    record["seconds"] = round(record.get("seconds", 0) + time.time() - started, 1)
    record["epochs_completed"] = initial_epoch + len(history.epoch)
    test = td.splits["test"] if td.splits and devices.writes_run_folder() else []
    _score_test_split(colorizer, test, run, o.verbose)


def _score_test_split(colorizer, test, run, verbose):
    """Final weights into ``metadata["test_metrics"]``; best/'s own weights into its metadata."""
    if test:
        colorizer.metadata["test_metrics"] = colorizer.evaluate(test)
        if verbose:
            print("Test split:", json.dumps(colorizer.metadata["test_metrics"]), flush=True)
    if run is None or not (run / "best").is_dir():
        return
    scores = {}
    if test:
        # best/ holds the best validation epoch, not the last: score its own weights.
        scores["test_metrics"] = type(colorizer).from_preset(run / "best").evaluate(test)
        if verbose:
            print("Test split, best/ weights:", json.dumps(scores["test_metrics"]), flush=True)
    colorizer._write_metadata_into(run / "best", **scores)
