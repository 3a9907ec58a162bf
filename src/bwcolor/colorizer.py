"""Colorizer: the workflow (fit, colorize, evaluate, save, load). The submodules do the work."""

from __future__ import annotations

import functools
import json
import math
import os
import shutil
import tempfile
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import keras
import numpy as np
from PIL import Image

from bwcolor import _backend, architectures, color, data, losses, metrics, presets
from bwcolor.data.decode import ImageDecodeError
from bwcolor.data.discover import is_image_file
from bwcolor.device_crops import DeviceCropModel

__all__ = ["Colorizer"]

_MIXED = {"bfloat16": "mixed_bfloat16", "float16": "mixed_float16", None: "float32"}
_JOIN_BAND_PIXELS = 1 << 19
#: Aspect ratios from 1:1 to 8:1 (2^3) are rounded to 2^(3 k / _ASPECT_STEPS): one compiled
#: render shape per step and orientation.
_ASPECT_STEPS = 12


def _cpu_has_bf16():
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            flags = f.read()
    except OSError:
        return False
    return "amx_bf16" in flags or "avx512_bf16" in flags


def _resolve_mixed_precision(value):
    if value == "auto":
        # Measured (benchmarks/train_speed.py): on CPUs with AMX / AVX-512 BF16, torch's oneDNN
        # trains 2-2.5x faster in bf16 (wallner_beta; 1.2-1.9x for default); JAX's CPU backend
        # gains nothing, and on GPUs users choose.
        return "bfloat16" if _backend.name() == "torch" and _cpu_has_bf16() and not _torch_cuda() else None
    if value not in _MIXED:
        raise ValueError(f"mixed_precision must be 'bfloat16', 'float16', 'auto' or None. "
                         f"Received: mixed_precision={value!r}")
    return value


def _resolve_workers(value, slicing_only):
    if value == "auto":
        # Measured on an H100's 16-core host (benchmarks/fit_loop_ceiling.py, 256 px, batch 64):
        # when the host only slices windows (~8 ms a batch), Keras' synchronous path (workers=1:
        # no enqueuer threads; JAX's async dispatch still overlaps it with the GPU) takes 7,635
        # crops/s, 2 threads 3,439 and 4 threads 3,766; wallner_beta trained at 4,296 vs 3,289
        # img/s. Host crops (resizing, L*) and decoding need the threads: 2 gave 1.7x one on 2
        # cores.
        return 1 if slicing_only else 2
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"workers must be 'auto' or an int >= 0. Received: workers={value!r}")
    return value


def _temporary_cache(n_photos, image_size):
    """A temporary folder for fit's decoded photos, or None (with a warning) when the temp disk
    lacks room for them: at most ~2 x 3 x (1.5 S)^2 bytes a photo (training crops' source size,
    aspect up to 2:1), and never more than half the free space."""
    folder = tempfile.gettempdir()
    needed = n_photos * 2 * 3 * math.ceil(1.5 * image_size) ** 2
    free = shutil.disk_usage(folder).free
    if needed > free / 2:
        warnings.warn(f"not caching decoded photos: they may need {needed / 2**30:.1f} GiB and "
                      f"{folder} has {free / 2**30:.1f} GiB free. Every crop decodes its photo "
                      f"again (slow); pass cache_dir= a folder with room, or None to silence this",
                      stacklevel=3)
        return None
    return tempfile.TemporaryDirectory(prefix="bwcolor-cache-")


def _torch_cuda():
    if _backend.name() != "torch":
        return False
    import torch

    return torch.cuda.is_available()


def _is_single(images):
    return isinstance(images, (str, os.PathLike, Image.Image, np.ndarray))


def _check_int(name, value, low=1, allow_none=False):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int. Received: {name}={value!r}")
    if value < low:
        raise ValueError(f"{name} must be >= {low}. Received: {name}={value!r}")
    return int(value)


def _check_positive(name, value, allow_none=False):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number. Received: {name}={value!r}")
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number > 0. Received: {name}={value!r}")
    return float(value)


def _check_fraction(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number. Received: {name}={value!r}")
    if not 0 <= value < 1:
        raise ValueError(f"{name} must be in [0, 1). Received: {name}={value!r}")
    return float(value)


def _check_data_source(data_source):
    """Fail in a second, naming the path, when the training photos are not there."""
    items = [data_source] if isinstance(data_source, (str, os.PathLike)) else data_source
    if not isinstance(items, (list, tuple)):
        raise TypeError(f"data_source must be a folder, a list of paths or a keras PyDataset. "
                        f"Received: {type(data_source).__name__}")
    if not items:
        raise ValueError("data_source is an empty list: no photos to train on")
    for item in items:
        if not isinstance(item, (str, os.PathLike)):
            raise TypeError(f"data_source paths must be str or os.PathLike. "
                            f"Received: {type(item).__name__}")
    if isinstance(data_source, (str, os.PathLike)) and not Path(data_source).exists():
        raise FileNotFoundError(f"training data not found. Received: data_source={str(data_source)!r}")


def _check_run_folder(run, n_params):
    """Before the first epoch: the run folder can be written and has room for checkpoints."""
    from bwcolor._io import atomic_write

    try:
        run.mkdir(parents=True, exist_ok=True)
        with atomic_write(run / ".bwcolor-write-check") as f:
            f.write(b"ok")
        (run / ".bwcolor-write-check").unlink()
    except OSError as e:
        raise ValueError(f"the run folder cannot be written ({e.strerror}). "
                         f"Received: checkpoint_dir={str(run)!r}") from None
    # last.keras (weights + 2 Adam slots) and best/ (weights), each twice while it is replaced.
    needed = 2 * (4 * 3 * n_params + 4 * n_params) + (8 << 20)
    free = shutil.disk_usage(run).free
    if free < needed:
        raise ValueError(f"the run folder's disk has {free / 2**20:.0f} MiB free; checkpoints "
                         f"need about {needed / 2**20:.0f} MiB. Received: checkpoint_dir={str(run)!r}")


def _as_json(value):
    """``value`` as it reads back from JSON (tuples become lists), for comparing configs."""
    return json.loads(json.dumps(value))


def _progress_printer(what, verbose):
    """``progress(done, total)`` printing about ten lines (every line on a terminal), or None."""
    if not verbose:
        return None
    import sys

    tty = sys.stdout.isatty()

    def progress(done, total):
        if tty or done == total or done % max(1, total // 10) == 0:
            end = "\n" if done == total or not tty else ""
            print(f"\r{what}: {done}/{total}", end=end, flush=True)

    return progress


#: What a resumed run must share with the Colorizer that resumes it.
_RUN_DEFINING_KEYS = ("architecture", "architecture_config", "image_size", "loss")


def _read_run_state(run_dir):
    """state.json of a training run, validated; ValueError naming the file otherwise."""
    run = Path(run_dir)
    if not (run / "last.keras").is_file() or not (run / "state.json").is_file():
        raise ValueError(f"resume=True needs a run folder with last.keras and state.json from "
                         f"a finished epoch. Received: checkpoint_dir={str(run)!r}")
    state = presets.read_json(run / "state.json", "state.json")
    if not isinstance(state, dict) or not isinstance(state.get("epoch"), int) or "config" not in state:
        raise ValueError(f"{run / 'state.json'} is not a bwcolor run state (needs 'epoch' and "
                         f"'config')")
    presets.validate_config(state["config"], source=str(run / "state.json"))
    return state


class Colorizer:
    """Colorize black-and-white photos; train on your own color photos.

    Parameters
    ----------
    architecture : str
        A name from :func:`bwcolor.architectures.available` (``"default"``, ``"wallner_beta"``...).
    image_size : int
        Training crop size S, and the default render size for colorizing.
    loss : str
        ``"auto"`` (the architecture's recommended loss: classification for ``default`` and
        ``unet``, ``mse`` for the tutorial nets), or a name from :func:`bwcolor.losses.available`.
    architecture_config, loss_config : dict, optional
        Keyword arguments for the architecture builder and the loss. For the classification
        loss, ``loss_config["rebalancing_lambda"]`` (default 0.5, as Zhang et al.) sets how
        strongly rare colors are up-weighted: 1 weighs every color alike, near 0 inverts the
        color prior; the weights are then estimated from the training photos in ``fit``.
    optimizer : {"adam", "rmsprop"}
    learning_rate : float
    annealing_temperature : float
        Default T for decoding classification heads (Zhang et al.: 0.38).

    Examples
    --------
    >>> from bwcolor import Colorizer
    >>> rgb = Colorizer.from_preset("default").colorize("old.jpg")       # doctest: +SKIP
    >>> c = Colorizer(architecture="default", image_size=128)             # doctest: +SKIP
    >>> c.fit("my_color_photos/", epochs=20, checkpoint_dir="runs/a")     # doctest: +SKIP
    """

    def __init__(self, architecture="default", image_size=256, loss="auto", *,
                 architecture_config=None, loss_config=None, optimizer="adam",
                 learning_rate=1e-3, annealing_temperature=losses.DEFAULT_TEMPERATURE):
        if loss == "auto":
            loss = architectures.recommended_loss(architecture)
        losses.head_for(loss)  # validates the name
        if isinstance(image_size, bool) or not isinstance(image_size, (int, np.integer)):
            raise TypeError(f"image_size must be an int. Received: image_size={image_size!r}")
        _check_positive("learning_rate", learning_rate)
        _check_positive("annealing_temperature", annealing_temperature)
        if optimizer not in ("adam", "rmsprop"):
            raise ValueError(f"optimizer must be 'adam' or 'rmsprop'. Received: optimizer={optimizer!r}")
        self.config = {
            "format_version": presets.FORMAT_VERSION,
            "architecture": architecture,
            "architecture_config": dict(architecture_config or {}),
            "image_size": int(image_size),
            "loss": loss,
            "loss_config": dict(loss_config or {}),
            "optimizer": optimizer,
            "learning_rate": float(learning_rate),
            "annealing_temperature": float(annealing_temperature),
            "mixed_precision": None,
        }
        presets.validate_config(self.config)
        self.metadata = {}
        self.report = None
        self._attach(self._build_model())
        if self.config["image_size"] % self._multiple:
            raise ValueError(f"image_size must be a multiple of {self._multiple} for architecture "
                             f"{architecture!r}. Received: image_size={image_size}")

    # ------------------------------------------------------------------ model
    @property
    def head(self):
        return losses.head_for(self.config["loss"])

    @property
    def bins(self):
        return losses.ab_bins(self.config["loss_config"].get("grid_step", 10))

    def _attach(self, model):
        self.model = model
        self._inference_model = None
        self._multiple = architectures.input_multiple(model)
        self._stride = architectures.output_stride(model)

    def _build_model(self, mixed_precision="from config"):
        cfg = dict(self.config["architecture_config"], head=self.head)
        if self.head == "classification":
            cfg["num_bins"] = len(self.bins)
        if mixed_precision == "from config":
            mixed_precision = self.config["mixed_precision"]
        previous = keras.config.dtype_policy()
        keras.config.set_dtype_policy(_MIXED[mixed_precision])
        try:
            return architectures.get(self.config["architecture"], **cfg)
        finally:
            keras.config.set_dtype_policy(previous)

    def _rebuild_keeping_weights(self):
        weights = self.model.get_weights()
        with _backend.weights_will_be_loaded():
            self._attach(self._build_model())
        self.model.set_weights(weights)

    def _predictor(self):
        """The model colorize uses: ``self.model``, or its float32 copy if it is mixed precision.

        On torch's CPU backend the first forward pass of a mixed-bfloat16 model came out all NaN
        (seen with torch 2.13 and Keras 3.15, nondeterministically), and inference in float32
        costs little. The copy is rebuilt after every ``fit``.
        """
        if self.model.dtype_policy.name == "float32":
            return self.model
        if self._inference_model is None:
            with _backend.weights_will_be_loaded():
                self._inference_model = self._build_model(mixed_precision=None)
            self._inference_model.set_weights(self.model.get_weights())
        return self._inference_model

    def _loss(self):
        # rebalancing_lambda only shapes the weights computed in fit; the loss takes the weights.
        config = {k: v for k, v in self.config["loss_config"].items() if k != "rebalancing_lambda"}
        return losses.get(self.config["loss"], **config)

    def _optimizer(self):
        lr = self.config["learning_rate"]
        if self.config["optimizer"] == "rmsprop":
            return keras.optimizers.RMSprop(lr)
        return keras.optimizers.Adam(lr)

    # -------------------------------------------------------------------- fit
    def fit(self, data_source, epochs=10, batch_size=16, validation_split=0.05, *,
            test_split=0.05, checkpoint_dir=None, resume=False, mixed_precision="auto",
            steps_per_epoch=None, validation_data=None, degradations=None, cache_dir="auto",
            workers="auto", use_multiprocessing=False, loader="pydataset", seed=0, repeats=1,
            time_budget=None, distribute=None, targets_on_device="auto", crops_on_device="auto",
            verbose="auto", callbacks=None):
        """Train on a folder (or list) of color photos, or on a ``keras.utils.PyDataset``.

        Parameters
        ----------
        data_source : folder, list of paths, or PyDataset yielding (L input, ab target)
        epochs, batch_size : int
        validation_split, test_split : float
            Fractions of the photos held out, by a stable hash of each relative path (adding
            photos never moves existing ones between splits). The test split is never trained on;
            it is scored at the end: the final weights into ``metadata["test_metrics"]``, and
            the ``best/`` preset's own weights into its ``metadata.json``.
        checkpoint_dir : path, optional
            Run folder: ``last.keras`` (model + optimizer, for ``resume``), ``best/`` (preset of
            the best validation epoch), ``history.csv``, ``curves.png``, ``state.json``.
        resume : bool
            Continue from ``checkpoint_dir/last.keras`` with its optimizer state.
        mixed_precision : {"auto", "bfloat16", "float16", None}
            "auto" picks bfloat16 on the torch backend on CPUs with AMX/AVX-512 BF16 (the fast
            path there) and float32 elsewhere. Losses and ab decoding stay in float32.
        cache_dir : "auto", path or None
            Where photos are kept decoded (uint8 ``.npy``, resized to what the crops can use)
            after their first visit, so later epochs read arrays instead of decoding files.
            "auto": a temporary folder, removed when ``fit`` returns (no cache, with a warning,
            when the temp disk lacks room); a path: kept and reused by later runs (entries are
            keyed by the photo's path, modification time and size); None: decode on every visit.
            With ``workers`` 1 the cache is filled on every core before the first epoch.
        workers : "auto" or int
            Data loading threads (or processes). "auto": 2 when the host makes the crops; 1 (no
            loader threads: batches are sliced in the training loop, which JAX's asynchronous
            dispatch overlaps with the accelerator) when ``crops_on_device`` reads a cache
            through the PyDataset loader, where threads only contend for the GIL (1.3x faster
            on an H100).
        use_multiprocessing : bool
            Processes instead of threads: faster on many-core machines with host crops
            (decoding and Lab conversion hold Python's GIL often), but forking after JAX has
            started can deadlock (keras-team/keras#20619).
        loader : {"pydataset", "grain"}
            How photos become batches: a ``keras.utils.PyDataset`` (default), or a Grain
            pipeline (:func:`bwcolor.data.grain_dataset`; needs ``pip install grain``), same
            crops and augmentation.
        repeats : int
            Visit every training photo this many times per epoch (different random crops).
        degradations : Degradations or True, optional
            Old-photo damage applied to the input L during training (True: the defaults).
        time_budget : float, optional
            Stop after the epoch during which this many seconds have passed.
        distribute : {None, "auto"}
            "auto": with JAX and more than one device, train data-parallel over all of them
            (``keras.distribution.DataParallel``).
        targets_on_device : {"auto", True, False}
            Where photo crops become a*, b* targets: True sends the uint8 crops and converts
            them inside the train step (:class:`bwcolor.losses.RGBTargets`), False converts on
            the host. "auto": True on a GPU/TPU, whose host pipeline is otherwise the bottleneck;
            False on CPU. Folder/list sources only (a PyDataset brings its own targets).
        crops_on_device : {"auto", True, False}
            True: the host only slices each photo's window out of the (cached) image; resizing,
            flipping, L* and the targets are computed in the train step
            (:class:`bwcolor.device_crops.DeviceCropModel`). Implies ``targets_on_device``; not
            with ``degradations`` or ``validation_data``. "auto": True on a GPU/TPU when neither
            is given. Folder/list sources only.

        Returns
        -------
        keras.callbacks.History
        """
        for option, value in (("targets_on_device", targets_on_device),
                              ("crops_on_device", crops_on_device)):
            if value not in ("auto", True, False):
                raise ValueError(f"{option} must be 'auto', True or False. Received: {option}={value!r}")
        _resolve_workers(workers, False)  # validate before any work
        epochs = _check_int("epochs", epochs)
        batch_size = _check_int("batch_size", batch_size)
        repeats = _check_int("repeats", repeats)
        seed = _check_int("seed", seed, low=0)
        steps_per_epoch = _check_int("steps_per_epoch", steps_per_epoch, allow_none=True)
        time_budget = _check_positive("time_budget", time_budget, allow_none=True)
        if not isinstance(data_source, keras.utils.PyDataset):
            _check_fraction("validation_split", validation_split)
            _check_fraction("test_split", test_split)
            if validation_split + test_split >= 1:
                raise ValueError(f"validation_split + test_split must be < 1. Received: "
                                 f"validation_split={validation_split}, test_split={test_split}")
            _check_data_source(data_source)
        if loader not in ("pydataset", "grain"):
            raise ValueError(f"loader must be 'pydataset' or 'grain'. Received: loader={loader!r}")
        if crops_on_device is True and targets_on_device is False:
            raise ValueError("crops_on_device=True computes the targets on the device; it cannot "
                             "be combined with targets_on_device=False")
        if crops_on_device is True and degradations not in (None, False):
            raise ValueError("degradations act on the host's L*, which crops_on_device=True does "
                             "not compute; pass one or the other")
        if crops_on_device is True and validation_data is not None:
            raise ValueError("crops_on_device=True trains on photo windows; a validation_data "
                             "dataset of (L input, target) batches cannot be scored by it. Use "
                             "validation_split, or crops_on_device=False")
        run = Path(checkpoint_dir) if checkpoint_dir else None
        initial_epoch = 0
        state = {}
        if resume:
            if run is None:
                raise ValueError("resume=True needs checkpoint_dir, the run folder to continue. "
                                 "Received: checkpoint_dir=None")
            state = _read_run_state(run)
            for key in _RUN_DEFINING_KEYS:
                if _as_json(state["config"].get(key)) != _as_json(self.config.get(key)):
                    raise ValueError(
                        f"this Colorizer has {key}={self.config.get(key)!r}, but the run being "
                        f"resumed was trained with {key}={state['config'].get(key)!r}; use "
                        f"Colorizer.resume({str(run)!r}) to continue the run as it was")
            # Before scanning the photos: a bad checkpoint should fail in a second, not an hour.
            try:
                resumed_model = keras.models.load_model(run / "last.keras", safe_mode=True)
            except Exception as e:
                raise ValueError(f"cannot load the checkpoint {run / 'last.keras'}: {e}") from None
            self.config = state["config"]
            self.metadata = state.get("metadata", {})
        else:
            precision = _resolve_mixed_precision(mixed_precision)  # validate before any work
        if resume:  # the checkpoint decides where its crops and targets are made
            device_crops = isinstance(resumed_model, DeviceCropModel)
            rgb_targets = isinstance(getattr(resumed_model, "loss", None), losses.RGBTargets)
        else:
            device_crops = (_backend.has_accelerator() and degradations in (None, False)
                            and validation_data is None
                            if crops_on_device == "auto" else crops_on_device)
            rgb_targets = (_backend.has_accelerator() if targets_on_device == "auto"
                           else targets_on_device) or device_crops

        if run is not None:
            _check_run_folder(run, self.model.count_params())

        temp_cache = None  # cache_dir="auto": removed however fit ends
        try:
            splits = None
            if isinstance(data_source, keras.utils.PyDataset):
                train_ds, val_ds = data_source, validation_data
                rgb_targets = device_crops = False
            else:
                val_fraction, test_fraction = float(validation_split), float(test_split)
                fractions = (1 - val_fraction - test_fraction, val_fraction, test_fraction)
                splits, self.report = data.scan(data_source, image_size=self.config["image_size"],
                                                fractions=fractions,
                                                progress=_progress_printer("scanning photos", verbose))
                if verbose:
                    print(self.report, flush=True)
                if not splits["train"]:
                    raise ValueError(f"no usable training photos.\n{self.report}")
                if cache_dir == "auto":
                    temp_cache = _temporary_cache(sum(map(len, splits.values())),
                                                  self.config["image_size"])
                    cache_dir = temp_cache and temp_cache.name
                # Keras' PyDataset with 1 worker has no loader threads; Grain's 1 read thread
                # still runs beside the loop, and was not measured against 2.
                workers = _resolve_workers(workers, device_crops and cache_dir is not None
                                           and loader == "pydataset")
                if degradations is True:
                    degradations = data.Degradations()
                elif degradations is False:
                    degradations = None
                val_ds = validation_data
                shared = dict(image_size=self.config["image_size"], batch_size=batch_size,
                              output_stride=self._stride, cache_dir=cache_dir, seed=seed,
                              targets="rgb" if rgb_targets else "ab", crop_on_device=device_crops)
                if loader == "grain":
                    common = dict(shared, num_threads=max(1, workers))
                    train_ds = data.grain_dataset(splits["train"], training=True,
                                                  degradations=degradations, **common)
                    if steps_per_epoch is None:  # the Grain training stream is endless
                        steps_per_epoch = max(1, len(splits["train"]) * repeats // batch_size)
                    if val_ds is None and splits["validation"]:
                        val_ds = data.grain_dataset(splits["validation"], training=False, **common)
                elif loader == "pydataset":
                    common = dict(shared, workers=workers, use_multiprocessing=use_multiprocessing)
                    train_ds = data.ColorizationDataset(splits["train"], training=True,
                                                        repeats=repeats, degradations=degradations,
                                                        **common)
                    if workers <= 1 and cache_dir is not None:
                        # Without loader threads the training loop would decode the photos
                        # itself, one at a time, during the first epoch.
                        train_ds.fill_cache(progress=_progress_printer("decoding photos into the cache",
                                                                       verbose))
                    if val_ds is None and splits["validation"]:
                        val_ds = data.ColorizationDataset(splits["validation"], training=False, **common)
                else:
                    raise ValueError(f"loader must be 'pydataset' or 'grain'. Received: loader={loader!r}")

            # Only now, with usable data in hand, change the model: a failed fit leaves it as it was.
            distributed = self._setup_distribution(distribute, batch_size)
            if not resume and (distributed or precision != self.config["mixed_precision"]):
                # Layers take their dtype policy, and variables their layout, when they are built.
                self.config["mixed_precision"] = precision
                self._rebuild_keeping_weights()

            if self.head == "classification" and "weights" not in self.config["loss_config"]:
                self._estimate_rebalancing_weights(splits["train"] if splits else train_ds)

            if resume:
                trainer = resumed_model
                self._attach(resumed_model.model if device_crops else resumed_model)
                initial_epoch = int(state["epoch"])
            else:
                loss = self._loss()
                if rgb_targets:
                    loss = losses.RGBTargets(loss, output_stride=self._stride)
                # The model that fit() trains; its weights are self.model's.
                trainer = (DeviceCropModel(self.model, self.config["image_size"]) if device_crops
                           else self.model)
                trainer.compile(optimizer=self._optimizer(), loss=loss)

            started = time.time()
            self.metadata.setdefault("training", {}).update({
                "epochs": epochs, "batch_size": batch_size, "seed": seed,
                "mixed_precision": self.config["mixed_precision"], "backend": _backend.name(),
                "devices": _backend.devices(), "time_budget": time_budget,
                "degradations": degradations.get_config() if degradations else None,
                "targets_on_device": bool(rgb_targets), "crops_on_device": bool(device_crops),
            })
            if self.report is not None:
                self.metadata["dataset"] = self.report.as_dict()
            from bwcolor._callbacks import RunCheckpoint, StopOnNonFiniteLoss, TimeBudget

            nonfinite = StopOnNonFiniteLoss()
            cbs = [nonfinite, *(callbacks or [])]
            if run is not None:
                cbs.append(RunCheckpoint(self, run, best=state.get("best"), resume=resume,
                                         initial_epoch=initial_epoch))
            if time_budget is not None:
                cbs.append(TimeBudget(time_budget))
            if initial_epoch >= epochs:
                if verbose:
                    print(f"Nothing to do: the run already trained {initial_epoch} of {epochs} epochs.")
                return keras.callbacks.History()
            if verbose:
                print(f"Training from epoch {initial_epoch + 1} to {epochs}; the first steps "
                      f"compile the model for this machine (seconds to minutes)...", flush=True)
            try:
                # shuffle=False: bwcolor's datasets shuffle themselves (per epoch, from the seed).
                history = trainer.fit(train_ds, validation_data=val_ds, epochs=epochs,
                                      initial_epoch=initial_epoch, steps_per_epoch=steps_per_epoch,
                                      callbacks=cbs, verbose=verbose, shuffle=False)
            finally:
                self._inference_model = None  # weights changed: rebuild the float32 copy on demand
            broken = getattr(train_ds, "broken_photos", None)
            if broken:
                self.metadata["training"]["photos_broken_during_training"] = len(broken)
                if verbose:
                    print(f"Skipped {len(broken)} photos that vanished or broke during training: "
                          + "; ".join(list(broken.values())[:5]), flush=True)
            if nonfinite.stopped_at is not None:
                self._recover_from_nonfinite_loss(nonfinite, run)
            self.metadata["training"]["seconds"] = round(
                self.metadata["training"].get("seconds", 0) + time.time() - started, 1)
            self.metadata["training"]["epochs_completed"] = initial_epoch + len(history.epoch)
            if splits and splits["test"]:
                self.metadata["test_metrics"] = self.evaluate(splits["test"])
                if verbose:
                    print("Test split:", json.dumps(self.metadata["test_metrics"]), flush=True)
            if run is not None and (run / "best").is_dir():
                scores = {}
                if splits and splits["test"]:
                    # best/ holds the best validation epoch, not the last: score its own weights.
                    scores["test_metrics"] = Colorizer.from_preset(run / "best").evaluate(splits["test"])
                    if verbose:
                        print("Test split, best/ weights:", json.dumps(scores["test_metrics"]), flush=True)
                self._write_metadata_into(run / "best", **scores)
            return history
        finally:
            if temp_cache is not None:
                temp_cache.cleanup()

    def _recover_from_nonfinite_loss(self, nonfinite, run):
        """Put back the last good weights (the run's last checkpoint) and say what happened."""
        epoch, step, value = nonfinite.stopped_at
        where = f"the training loss became {value} at epoch {epoch}, step {step}"
        if run is not None and (run / "last.keras").is_file():
            good = keras.models.load_model(run / "last.keras", safe_mode=True)
            self.model.set_weights(getattr(good, "model", good).get_weights())
            kept = (f"the model holds the last good checkpoint's weights; {run} keeps it and "
                    f"best/ (resume with resume=True / --resume)")
        else:
            kept = "the model's weights are not usable (train with checkpoint_dir= to keep them)"
        raise FloatingPointError(f"{where}; training stopped. {kept}. Try a lower "
                                 f"learning_rate or mixed_precision=None.")

    def _setup_distribution(self, distribute, batch_size):
        """Set keras.distribution.DataParallel when asked and useful; True when it was set."""
        if distribute is None:
            return False
        if distribute != "auto":
            raise ValueError(f"distribute must be None or 'auto'. Received: distribute={distribute!r}")
        n = _backend.device_count()
        if n <= 1:
            return False
        if _backend.name() != "jax":
            raise ValueError(f"distribute='auto' needs the JAX backend. Received: backend={_backend.name()!r}")
        if batch_size % n:
            raise ValueError(f"batch_size must be divisible by the {n} devices for data-parallel "
                             f"training. Received: batch_size={batch_size}")
        keras.distribution.set_distribution(keras.distribution.DataParallel())
        return True

    def _estimate_rebalancing_weights(self, source, max_images=256):
        """The class prior comes from the training photos (center crops), never from test ones."""
        if isinstance(source, keras.utils.PyDataset):
            ab = (color.target_to_ab(np.asarray(source[i][1])) for i in range(min(len(source), 16)))
        else:
            ds = data.ColorizationDataset(source[:max_images], self.config["image_size"], 16,
                                          training=False, output_stride=self._stride)
            ab = (color.target_to_ab(ds[i][1]) for i in range(len(ds)))
        prior = losses.ab_prior(ab, self.bins)
        lam = self.config["loss_config"].get("rebalancing_lambda", losses.DEFAULT_REBALANCING_LAMBDA)
        weights = losses.rebalancing_weights(prior, self.bins, lam=lam)
        self.config["loss_config"]["weights"] = [round(float(w), 5) for w in weights]

    # --------------------------------------------------------------- colorize
    def _lightness(self, image):
        """Full-resolution L* (float32, H x W) of a path, PIL image or array; gray or color."""
        if isinstance(image, (str, os.PathLike)):
            image = data.open_image(image)
        if isinstance(image, Image.Image):
            return data.pil_to_lightness(image)
        if isinstance(image, np.ndarray):
            rgb = data.validate_image_array(image, keep_uint8=True)
            if rgb.dtype == np.uint8:  # lookup tables, not a color conversion per pixel
                return (color.uint8_gray_to_lightness(rgb) if rgb.ndim == 2
                        else color.uint8_rgb_to_lightness(rgb))
            return color.rgb_to_lab(rgb)[..., 0]
        raise TypeError(f"image must be a path, a PIL image or a numpy array. "
                        f"Received: {type(image).__name__}")

    def _check_render_size(self, render_size):
        """The render size to use (default: the training size), or a ValueError naming it."""
        if render_size is None:
            return self.config["image_size"]
        low = max(presets.MIN_RENDER_SIZE, self._multiple)
        if isinstance(render_size, bool) or not isinstance(render_size, (int, np.integer)):
            raise TypeError(f"render_size must be an int. Received: render_size={render_size!r}")
        if not low <= render_size <= presets.MAX_RENDER_SIZE:
            raise ValueError(f"render_size must be in [{low}, {presets.MAX_RENDER_SIZE}]. "
                             f"Received: render_size={render_size!r}")
        return int(render_size)

    def _check_colorize_options(self, render_size=None, annealing_temperature=None, batch_size=1):
        """Validate colorize's photo-independent options (the CLI calls this before any photo)."""
        self._check_render_size(render_size)
        _check_positive("annealing_temperature", annealing_temperature, allow_none=True)
        _check_int("batch_size", batch_size)

    def render_shape(self, height, width, render_size=None):
        """(h, w) the model sees for an H x W photo.

        The short side is ``render_size`` (default: the training size), rounded to the model's
        input multiple; a ``render_size`` larger than the photo's own short side is lowered to
        it (never below the training size), as more pixels than the photo has add nothing. The
        aspect ratio is rounded to the nearest step of the ladder 2^(k/4), k = 0..12 (1:1 to
        8:1, at most 9% off; longer strips are squeezed to 8:1), so photos of any sizes compile
        at most 25 shapes per render size (13 landscape, 12 portrait); the predicted colors are
        resized back to the photo's exact size.
        """
        size = self._check_render_size(render_size)
        if min(height, width) < 1:
            raise ValueError(f"a photo needs at least 1 x 1 pixels. Received: {height} x {width}")
        short, long_side = min(height, width), max(height, width)
        size = min(size, max(short, self.config["image_size"]))
        m = self._multiple
        s = max(m, round(size / m) * m)
        step = min(_ASPECT_STEPS, max(0, round(_ASPECT_STEPS / 3 * math.log2(long_side / short))))
        long_render = max(s, round(s * 2 ** (3 * step / _ASPECT_STEPS) / m) * m)
        return (s, long_render) if height <= width else (long_render, s)

    def predict_ab(self, lightness_batch, annealing_temperature=None):
        """Model inputs (B, h, w, 1) scaled L -> ab (B, h/k, w/k, 2) in Lab units, float32."""
        out = self._predictor().predict_on_batch(lightness_batch)
        if self.head == "classification":
            t = self.config["annealing_temperature"] if annealing_temperature is None else annealing_temperature
            ab = keras.ops.convert_to_numpy(losses.annealed_mean(out, self.bins, t))
        else:
            ab = color.target_to_ab(keras.ops.convert_to_numpy(out).astype(np.float32))
        return ab.astype(np.float32)

    def colorize(self, images, *, render_size=None, annealing_temperature=None, batch_size=8):
        """Colorize photos at their full resolution.

        The model predicts ab at ``render_size`` (short side; default the training size), the ab
        is upsampled bilinearly to the photo's size and joined with the photo's own L, so the
        output keeps every detail and its L* equals the input's (within rounding). Color input is
        first reduced to its L* channel. Out-of-gamut colors lose chroma, never lightness.

        Parameters
        ----------
        images : path, PIL image, numpy array (uint8, or float in [0, 1]; H x W or H x W x 1/3/4),
            or a list of these
        render_size : int, optional
        annealing_temperature : float, optional
            For classification heads; lower is more vivid.
        batch_size : int

        Returns
        -------
        uint8 array (H, W, 3), or a list of them for a list input.
        """
        self._check_colorize_options(render_size, annealing_temperature, batch_size)
        single = _is_single(images)
        if not single and not isinstance(images, (list, tuple)):
            raise TypeError(f"images must be a path, a PIL image, a numpy array, or a list of "
                            f"these. Received: {type(images).__name__}")
        items = [images] if single else list(images)
        results = [None] * len(items)
        prepared = []
        for i, item in enumerate(items):
            L = self._lightness(item)
            h, w = self.render_shape(*L.shape, render_size)
            prepared.append((i, L, (h, w)))
        by_shape = {}
        for i, L, shape in prepared:
            by_shape.setdefault(shape, []).append((i, L))
        for (h, w), group in by_shape.items():
            for start in range(0, len(group), batch_size):
                chunk = group[start:start + batch_size]
                x = np.zeros((batch_size if len(group) > 1 else 1, h, w, 1), dtype=np.float32)
                for j, (_, L) in enumerate(chunk):
                    small = Image.fromarray(L, mode="F").resize((w, h), Image.BILINEAR)
                    x[j, ..., 0] = color.lightness_to_input(np.asarray(small))
                ab = self.predict_ab(x, annealing_temperature)
                for j, (i, L) in enumerate(chunk):
                    results[i] = _join(L, ab[j])
        return results[0] if single else results

    # --------------------------------------------------------------- evaluate
    def evaluate(self, data_source, *, split=None, size=None, annealing_temperature=None,
                 per_image=False):
        """Score colorizations of color photos against the originals.

        Each photo is resized (short side ``size``, default the training size) and center
        cropped, its color removed, colorized, and compared: PSNR, SSIM, mean CIEDE2000,
        colorfulness of the output and of the reference.

        Parameters
        ----------
        data_source : folder or list of paths
        split : {None, "train", "validation", "test"}
            Score only that split (same hash split as ``fit``, with 5% / 5% held out).
        per_image : bool
            Also return each photo's scores, under ``"per_image"`` (with its ``"path"``), e.g.
            to see on how many photos one model beats another.

        Returns
        -------
        dict
            Means over the photos of ``psnr``, ``ssim``, ``delta_e2000``, ``colorfulness``,
            ``colorfulness_reference``; ``n_images`` scored and ``n_skipped`` unreadable files
            (each also reported with a warning).
        """
        size = int(size or self.config["image_size"])
        references, paths, n_skipped = _reference_crops(data_source, size, split)
        scores = []
        for start in range(0, len(references), 8):
            batch = references[start:start + 8]
            outs = self.colorize([r for r in batch], annealing_temperature=annealing_temperature,
                                 render_size=size)
            scores += [metrics.image_metrics(r, o) for r, o in zip(batch, outs)]
        return _summary(scores, paths, n_skipped, per_image)

    # ----------------------------------------------------------- save / load
    def save(self, path, *, overwrite=False, weights_dtype="float32"):
        """Write a preset folder (config.json, model.weights.h5, metadata.json).

        Only the model's weights are stored, never optimizer state (a training run's
        ``last.keras`` keeps that for ``resume``). ``weights_dtype="float16"`` halves the file;
        weights are cast back to the model's dtype when loaded.
        """
        if weights_dtype not in ("float32", "float16"):
            raise ValueError(f"weights_dtype must be 'float32' or 'float16'. "
                             f"Received: weights_dtype={weights_dtype!r}")

        def save_weights(file):
            presets.save_model_weights(self.model, file, weights_dtype)

        meta = {**self._full_metadata(), "weights_dtype": weights_dtype}
        return presets.write_preset(path, self.config, save_weights, meta, overwrite=overwrite)

    def _full_metadata(self):
        return {**self.metadata, "bwcolor_version": _version(), "keras_version": keras.__version__,
                "parameters": int(self.model.count_params()),
                "flops_per_256px_image": architectures.flops(self.model, 256)}

    def _write_metadata_into(self, folder, **overrides):
        from bwcolor._io import atomic_write_json

        atomic_write_json(Path(folder) / presets.METADATA_FILE,
                          {**self._full_metadata(), **overrides})

    def get_config(self):
        """The Colorizer's config: what ``config.json`` of a preset holds (a copy)."""
        return _as_json(self.config)

    @classmethod
    def from_config(cls, config):
        """Build a Colorizer (fresh weights) from :meth:`get_config`'s dict, validated first."""
        config = presets.validate_config(_as_json(config))
        obj = cls(config["architecture"], config["image_size"], config["loss"],
                  architecture_config=config.get("architecture_config"),
                  loss_config=config.get("loss_config"),
                  optimizer=config.get("optimizer", "adam"),
                  learning_rate=config.get("learning_rate", 1e-3),
                  annealing_temperature=config.get("annealing_temperature",
                                                   losses.DEFAULT_TEMPERATURE))
        obj.config["mixed_precision"] = config.get("mixed_precision")
        return obj

    @classmethod
    def from_preset(cls, name_or_dir):
        """Load a built-in preset (``"default"``...) or a preset/run folder.

        A bundled name always means the bundled preset; write ``"./default"`` for a folder of
        that name. Nothing from the folder is executed: the config is validated (keys, types
        and values), the architecture is rebuilt from bwcolor's registry by
        :meth:`from_config`, and weights are loaded from HDF5.
        """
        folder, config, metadata = presets.read_preset(name_or_dir)
        config = {**config, "mixed_precision": None}  # presets are for float32 inference
        with _backend.weights_will_be_loaded():
            try:
                obj = cls.from_config(config)
            except (TypeError, ValueError) as e:
                raise ValueError(f"{folder / presets.CONFIG_FILE}: {e}") from None
        obj.metadata = metadata
        try:
            obj.model.load_weights(folder / presets.WEIGHTS_FILE)
        except Exception as e:
            raise ValueError(f"weights do not match the preset's architecture. "
                             f"Received: path={str(folder / presets.WEIGHTS_FILE)!r}: {e}") from None
        return obj

    @classmethod
    def resume(cls, run_dir):
        """The Colorizer of a training run folder, rebuilt from the run's own config, with the
        weights of its last finished epoch.

        Continue training with ``.fit(data, epochs=N, checkpoint_dir=run_dir, resume=True)``;
        nothing of any other Colorizer's settings can leak into the run.
        """
        state = _read_run_state(run_dir)
        with _backend.weights_will_be_loaded():
            obj = cls.from_config({**state["config"], "mixed_precision": None})
        obj.metadata = state.get("metadata", {})
        trained = keras.models.load_model(Path(run_dir) / "last.keras", safe_mode=True)
        trained = getattr(trained, "model", trained)  # a DeviceCropModel wraps the colorizer net
        obj.model.set_weights(trained.get_weights())
        obj.config["mixed_precision"] = state["config"].get("mixed_precision")
        return obj

    def __repr__(self):
        c = self.config
        return (f"Colorizer(architecture={c['architecture']!r}, image_size={c['image_size']}, "
                f"loss={c['loss']!r})")


def _version():
    from bwcolor import __version__

    return __version__


def _join(lightness, ab_small):
    """Upsample ab to the photo's size and join it with the photo's own L; return uint8 sRGB."""
    h, w = lightness.shape
    ab = np.stack([np.asarray(Image.fromarray(np.ascontiguousarray(ab_small[..., c]), mode="F")
                              .resize((w, h), Image.BILINEAR)) for c in range(2)], axis=-1)
    rgb = np.empty((h, w, 3), np.uint8)

    def convert(r0):
        lab = np.concatenate([lightness[r0:r0 + rows, :, None], ab[r0:r0 + rows]], axis=-1)
        fitted = color.lab_to_rgb(color.reduce_chroma_to_gamut(lab.astype(np.float32, copy=False)))
        rgb[r0:r0 + rows] = (fitted * 255.0 + 0.5).astype(np.uint8)

    # Bands of ~0.5 MP: NumPy releases the GIL inside them, so large photos use every core, and
    # the float temporaries stay ~100 MB instead of ~1 GB for 12 MP.
    rows = max(1, _JOIN_BAND_PIXELS // w)
    if h <= rows:
        convert(0)
    else:
        list(_join_pool().map(convert, range(0, h, rows)))
    return rgb


@functools.lru_cache(maxsize=1)
def _join_pool():
    return ThreadPoolExecutor(max(1, os.cpu_count() or 1), thread_name_prefix="bwcolor-join")


def evaluate_gray_baseline(data_source, *, split=None, size=256, per_image=False):
    """Scores of the gray baseline (a* = b* = 0: the photo with its colors removed), in the
    form of :meth:`Colorizer.evaluate`."""
    references, paths, n_skipped = _reference_crops(data_source, size, split)
    scores = []
    for ref in references:
        lightness = color.rgb_to_lab(ref / 255.0)[..., :1]
        gray = color.lab_to_rgb(np.concatenate([lightness, np.zeros_like(lightness),
                                                np.zeros_like(lightness)], axis=-1))
        scores.append(metrics.image_metrics(ref, (gray * 255 + 0.5).astype(np.uint8)))
    return _summary(scores, paths, n_skipped, per_image)


def _summary(scores, paths, n_skipped, per_image):
    summary = {**metrics.mean_metrics(scores), "n_skipped": n_skipped}
    if per_image:
        summary["per_image"] = [{"path": str(p), **m} for p, m in zip(paths, scores)]
    return summary


def _reference_crops(data_source, size, split):
    """uint8 center crops (short side resized to ``size``) of the photos to evaluate on, their
    paths, and how many files could not be read (each is warned about, never silently dropped)."""
    if isinstance(data_source, (str, os.PathLike)):
        if not Path(data_source).exists():
            raise FileNotFoundError(f"photos to evaluate not found. "
                                    f"Received: data_source={str(data_source)!r}")
        single_file = not Path(data_source).is_dir()
    elif isinstance(data_source, (list, tuple)) and all(
            isinstance(p, (str, os.PathLike)) for p in data_source):
        single_file = False
    else:
        raise TypeError(f"evaluate needs color photos: a folder, a photo's path, or a list of "
                        f"paths. Received: {type(data_source).__name__}")
    if split is not None and split not in data.SPLITS:
        raise ValueError(f"split must be None or one of {data.SPLITS}. Received: split={split!r}")
    if single_file:
        if split is not None:
            raise ValueError(f"split= chooses photos from a folder; a single photo has no "
                             f"splits. Received: data_source={str(data_source)!r}, split={split!r}")
        paths = [Path(data_source)]
    elif split is not None:
        splits, _report = data.scan(data_source, image_size=size, min_chroma=0.0)
        paths = splits[split]
    elif isinstance(data_source, (str, os.PathLike)):
        paths = [p for p in data.find_files(data_source) if is_image_file(p)]
    else:
        paths = list(data_source)
    crops, read, skipped = [], [], 0
    # The same deterministic resize + center crop as validation batches.
    cropper = data.ColorizationDataset(paths, size, 1, training=False) if paths else None
    for p in paths:
        try:
            crops.append(cropper.rgb_crop(p))
            read.append(p)
        except ImageDecodeError as e:
            warnings.warn(f"evaluate skips an unreadable file: {e}", stacklevel=3)
            skipped += 1
    if not crops:
        raise ValueError(f"no readable photos to evaluate. Received: {data_source!r}")
    return crops, read, skipped
