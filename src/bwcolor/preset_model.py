"""PresetModel: the net a config describes, and the preset folders it is saved as and loaded from.

The model side of :class:`~bwcolor.Colorizer`, as keras-hub's ``Task`` is of its tasks: the
validated config (what a preset's ``config.json`` holds), the Keras model built from it with its
:class:`~bwcolor.preprocessing.Preprocessor` and :class:`~bwcolor.postprocessing.Postprocessor`,
the float32 copy that inference runs, the metadata, and the round trip through preset folders
(``save``, ``from_preset``, ``get_config``, ``from_config``). The Colorizer subclasses it and adds
the workflow (fit, colorize, evaluate, resume), which needs :mod:`bwcolor.training`; this module
never imports training, so a preset loads without it.
"""

from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import keras
import numpy as np

from bwcolor import _backend, architectures, losses, presets
from bwcolor._arguments import check_positive
from bwcolor._io import atomic_write_json
from bwcolor._version import __version__
from bwcolor.postprocessing import Postprocessor
from bwcolor.preprocessing import Preprocessor

if sys.version_info >= (3, 11):  # resolvable, so the docs show the Colorizer's signatures whole
    from typing import Self
elif TYPE_CHECKING:
    from typing_extensions import Self

__all__ = ["PresetModel", "StrPath"]

#: A file or folder path.
StrPath = str | os.PathLike

#: Keyword arguments of the constructor that a config may hold.
_INIT_KEYS = ("architecture_config", "loss_config", "optimizer", "learning_rate",
              "annealing_temperature")


class PresetModel:
    """A colorization net built from a validated config, saved as and loaded from presets.

    The base class of :class:`bwcolor.Colorizer`, whose docstring describes the parameters and
    attributes: use the Colorizer. What is here needs no training code.
    """

    def __init__(self, architecture="default", image_size=256, loss="auto", *,
                 architecture_config=None, loss_config=None, optimizer="adam",
                 learning_rate=1e-3, annealing_temperature=losses.DEFAULT_TEMPERATURE):
        self.config = _new_config(architecture, image_size, loss, architecture_config,
                                  loss_config, optimizer, learning_rate, annealing_temperature)
        self.metadata = {}
        self.report = None
        self._attach(self._build_model())
        if self.config["image_size"] % self.preprocessor.input_multiple:
            raise ValueError(f"image_size must be a multiple of {self.preprocessor.input_multiple} "
                             f"for architecture {architecture!r}. Received: image_size={image_size}")

    # ------------------------------------------------------------------ model
    @property
    def head(self):
        """``"classification"`` (a*b*-bin logits) or ``"regression"`` (a*b*): the model's
        output, as the config's loss needs it."""
        return losses.head_for(self.config["loss"])

    @property
    def bins(self):
        """The a*b* bin centers (Q, 2) a classification head predicts over (the config's
        ``loss_config["grid_step"]``, default 10)."""
        return losses.ab_bins(self.config["loss_config"].get("grid_step", 10))

    @property
    def accepts_hints(self) -> bool:
        """Whether :meth:`colorize` takes color ``hints`` (the model has hint channels)."""
        return self.preprocessor.hints

    @property
    def _multiple(self):  # the model's input multiple, read by tests
        return self.preprocessor.input_multiple

    def _attach(self, model):
        """Make ``model`` this one's, with the pre- and postprocessor that fit it."""
        self.model = model
        self._inference_model = None
        self._automatic = (None, None)  # (the model it is of, its automatic part)
        self.preprocessor = Preprocessor(self.config["image_size"],
                                         architectures.input_multiple(model),
                                         hints=architectures.accepts_hints(model))
        self.postprocessor = Postprocessor(self.head, self.bins)

    def _build_model(self, mixed_precision="from config"):
        if mixed_precision == "from config":
            mixed_precision = self.config["mixed_precision"]
        return _build_network(self.config, self.head, self.bins, mixed_precision)

    def _rebuild_keeping_weights(self):
        weights = self.model.get_weights()
        with _backend.weights_will_be_loaded():
            self._attach(self._build_model())
        self.model.set_weights(weights)

    def _predictor(self, hints=True):
        """The model colorize uses: ``self.model``, or its float32 copy if it is mixed precision;
        for a batch without hints (``hints=False``), a hint net's automatic part alone
        (:func:`bwcolor.architectures.automatic_part`: the same output, without the hint
        branch's cost).

        On torch's CPU backend the first forward pass of a mixed-bfloat16 model came out all NaN
        (seen with torch 2.13 and Keras 3.15, nondeterministically), and inference in float32
        costs little. The copy is rebuilt after every ``fit``.
        """
        model = self.model
        if model.dtype_policy.name != "float32":
            if self._inference_model is None:
                with _backend.weights_will_be_loaded():
                    self._inference_model = self._build_model(mixed_precision=None)
                self._inference_model.set_weights(self.model.get_weights())
            model = self._inference_model
        if hints or not self.accepts_hints:
            return model
        if self._automatic[0] is not model:
            self._automatic = (model, architectures.automatic_part(model))
        return self._automatic[1]

    def render_shape(self, height: int, width: int,
                     render_size: int | None = None) -> tuple[int, int]:
        """(h, w) the model sees for an H x W photo.

        The short side is ``render_size`` (default: the training size), rounded to the model's
        input multiple; a ``render_size`` larger than the photo's own short side is lowered to
        it (never below the training size), as more pixels than the photo has add nothing. The
        aspect ratio is rounded to the nearest step of the ladder 2^(k/4), k = 0..12 (1:1 to
        8:1, at most 9% off; longer strips are squeezed to 8:1), then each side to the input
        multiple (the bundled default's 32 keeps it within 15%), so photos of any sizes compile
        at most 25 shapes per render size (13 landscape, 12 portrait); the predicted colors are
        resized back to the photo's exact size.
        """
        return self.preprocessor.render_shape(height, width, render_size)

    def predict_ab(self, lightness_batch: np.ndarray, annealing_temperature: float | None = None,
                   flip_average: bool = False) -> np.ndarray:
        """Model inputs (B, h, w, 1 or 4) scaled L (and hints) -> ab (B, h/k, w/k, 2) in Lab
        units, float32."""
        if annealing_temperature is None:
            annealing_temperature = self.config["annealing_temperature"]
        hinted = self.accepts_hints and bool(lightness_batch[..., 1:].any())
        predict = self._predictor(hints=hinted).predict_on_batch
        flipped = predict(lightness_batch[:, :, ::-1].copy()) if flip_average else None
        return self.postprocessor.ab(predict(lightness_batch), annealing_temperature, flipped)

    # ----------------------------------------------------------- save / load
    def save(self, path: StrPath, *, overwrite: bool = False,
             weights_dtype: str = "float32") -> Path:
        """Write a preset folder (config.json, model.weights.h5, metadata.json).

        Only the model's weights are stored, never optimizer state (a training run's
        ``last.keras`` keeps that for ``resume``). ``weights_dtype="float16"`` halves the file;
        weights are cast back to the model's dtype when loaded.

        Parameters
        ----------
        path : path
            The preset folder to write. It is built beside the target and renamed into place,
            so a crash never leaves a half-written preset.
        overwrite : bool
            Replace an existing folder, which must itself be a preset (a folder of anything
            else, or a file, is never deleted).
        weights_dtype : {"float32", "float16"}

        Returns
        -------
        pathlib.Path
            The preset folder.
        """
        if weights_dtype not in ("float32", "float16"):
            raise ValueError(f"weights_dtype must be 'float32' or 'float16'. "
                             f"Received: weights_dtype={weights_dtype!r}")

        def save_weights(file):
            presets.save_model_weights(self.model, file, weights_dtype)

        meta = {**self._full_metadata(), "weights_dtype": weights_dtype}
        return presets.write_preset(path, self.config, save_weights, meta, overwrite=overwrite)

    def _full_metadata(self):
        return {**self.metadata, "bwcolor_version": __version__, "keras_version": keras.__version__,
                "parameters": int(self.model.count_params()),
                "flops_per_256px_image": architectures.flops(self.model, 256)}

    def _write_metadata_into(self, folder, **overrides):
        atomic_write_json(Path(folder) / presets.METADATA_FILE,
                          {**self._full_metadata(), **overrides})

    def get_config(self) -> dict:
        """The Colorizer's config: what ``config.json`` of a preset holds (a copy).

        Returns
        -------
        dict
            Of JSON types only (tuples become lists), with the keys of
            :data:`bwcolor.presets.CONFIG_SCHEMA`: ``architecture``, ``image_size``, ``loss``,
            their ``architecture_config`` and ``loss_config``, the optimizer's settings,
            ``annealing_temperature``, ``mixed_precision`` and ``format_version``.
        """
        return presets.as_json(self.config)

    @classmethod
    def from_config(cls, config: dict) -> Self:
        """Build a Colorizer (fresh weights) from :meth:`get_config`'s dict, validated first.

        Parameters
        ----------
        config : dict
            As :meth:`get_config` returns it. ``architecture``, ``image_size`` and ``loss`` are
            required; the other keys, when left out, take the constructor's defaults.

        Returns
        -------
        Colorizer
            With newly initialized weights (:meth:`from_preset` loads a preset's).
        """
        config = presets.validate_config(presets.as_json(config))
        obj = cls(config["architecture"], config["image_size"], config["loss"],
                  **{k: config[k] for k in _INIT_KEYS if k in config})
        obj.config["mixed_precision"] = config.get("mixed_precision")
        return obj

    @classmethod
    def from_preset(cls, name_or_dir: StrPath) -> Self:
        """Load a built-in preset (``"default"``...) or a preset/run folder.

        A bundled name always means the bundled preset; write ``"./default"`` for a folder of
        that name. Nothing from the folder is executed: the config is validated (keys, types
        and values), the architecture is rebuilt from bwcolor's registry by
        :meth:`from_config`, and weights are loaded from HDF5.

        Parameters
        ----------
        name_or_dir : str or path
            A bundled preset's name, a preset folder, or a training run folder (its ``best/``
            preset).

        Returns
        -------
        Colorizer
            In float32, with the preset's weights and its ``metadata.json`` as ``metadata``.
        """
        folder, config, metadata = presets.read_preset(name_or_dir)
        # A second script run then skips XLA compiles (measured warm: load 1.04 -> 0.36 s, first
        # colorize 1.41 -> 0.61 s); BWCOLOR_NO_COMPILATION_CACHE=1 opts out.
        _backend.enable_compilation_cache()
        config = {**config, "mixed_precision": None}  # presets are for float32 inference
        with _backend.gc_paused():  # building and loading make objects that all stay alive
            return cls._from_folder(folder, config, metadata)

    @classmethod
    def _from_folder(cls, folder, config, metadata):
        with _backend.weights_will_be_loaded():
            try:
                obj = cls.from_config(config)
            except (TypeError, ValueError) as e:
                raise ValueError(f"{folder / presets.CONFIG_FILE}: {e}") from None
        obj.metadata = metadata
        weights = folder / presets.WEIGHTS_FILE
        try:
            with warnings.catch_warnings():
                # A mismatched file makes Keras warn once per layer before it raises.
                warnings.filterwarnings("ignore", message="Skipping nested container")
                presets.load_model_weights(obj.model, weights)
        except Exception as e:
            first = str(e).strip().splitlines()[0][:300] if str(e).strip() else type(e).__name__
            raise ValueError(f"{_weights_problem(weights)}. Received: path={str(weights)!r}: "
                             f"{first}") from None
        return obj

    def __repr__(self):
        c = self.config
        return (f"{type(self).__name__}(architecture={c['architecture']!r}, "
                f"image_size={c['image_size']}, loss={c['loss']!r})")


def _new_config(architecture, image_size, loss, architecture_config, loss_config, optimizer,
                learning_rate, annealing_temperature):
    """The config of the constructor's arguments, validated."""
    if loss == "auto":
        loss = architectures.recommended_loss(architecture)
    losses.head_for(loss)  # validates the name
    if isinstance(image_size, bool) or not isinstance(image_size, (int, np.integer)):
        raise TypeError(f"image_size must be an int. Received: image_size={image_size!r}")
    check_positive("learning_rate", learning_rate)
    check_positive("annealing_temperature", annealing_temperature)
    if optimizer not in ("adam", "rmsprop"):
        raise ValueError(f"optimizer must be 'adam' or 'rmsprop'. Received: optimizer={optimizer!r}")
    return presets.validate_config({
        "format_version": presets.FORMAT_VERSION,
        "architecture": architecture,
        "architecture_config": {k: os.fspath(v) if isinstance(v, os.PathLike) else v
                                for k, v in (architecture_config or {}).items()},
        "image_size": int(image_size),
        "loss": loss,
        "loss_config": dict(loss_config or {}),
        "optimizer": optimizer,
        "learning_rate": float(learning_rate),
        "annealing_temperature": float(annealing_temperature),
        "mixed_precision": None,
    })


def _build_network(config, head, bins, mixed_precision):
    """The net of ``config``, its layers built under the dtype policy of ``mixed_precision``."""
    kwargs = dict(config["architecture_config"], head=head)
    if head == "classification":
        kwargs["num_bins"] = len(bins)
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(_backend.DTYPE_POLICIES[mixed_precision])
    try:
        return architectures.get(config["architecture"], **kwargs)
    finally:
        keras.config.set_dtype_policy(previous)


def _weights_problem(path):
    """Why a preset's weights file did not load: damaged (cut short, not HDF5), or another
    net's weights."""
    import h5py

    try:
        with h5py.File(path, "r"):
            pass
    except OSError:
        return "the weights file is damaged (not a readable HDF5 file: cut short?)"
    return "weights do not match the preset's architecture"
