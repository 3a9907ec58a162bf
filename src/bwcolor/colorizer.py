"""Colorizer: the workflow (fit, colorize, evaluate, save, load), as a thin front.

A Colorizer owns a Keras model, a :class:`~bwcolor.preprocessing.Preprocessor` (photo -> model
input at the render size) and a :class:`~bwcolor.postprocessing.Postprocessor` (model output ->
a*b* -> joined with the photo's own L* -> uint8 sRGB), and delegates training to
:mod:`bwcolor.training` and scoring to :mod:`bwcolor.evaluation`. Building them from a config,
``save``, ``from_preset``, ``get_config`` and ``from_config`` are its base class's,
:class:`bwcolor.preset_model.PresetModel` (as keras-hub's tasks inherit ``Task``'s).
"""

from __future__ import annotations

import os

import keras
import numpy as np
from keras.utils import PyDataset
from PIL import Image

from bwcolor import _backend, evaluation, training
from bwcolor._arguments import check_bools, check_int, check_positive
from bwcolor.data import Degradations
from bwcolor.evaluation import evaluate_gray_baseline as evaluate_gray_baseline  # re-exported
from bwcolor.preset_model import PresetModel, StrPath

__all__ = ["Colorizer"]

#: One photo as colorize takes it: a path, a PIL image, or an array (uint8, or float in [0, 1]).
Photo = str | os.PathLike | Image.Image | np.ndarray
#: A folder, a photo file, or a list of photo paths.
Photos = str | os.PathLike | list | tuple


class Colorizer(PresetModel):
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

    Attributes
    ----------
    model : keras.Model
        The net: scaled L* (B, h, w, 1) -> a*b* or a*b*-bin logits.
    preprocessor : bwcolor.preprocessing.Preprocessor
        Photos -> model inputs at their render shape.
    postprocessor : bwcolor.postprocessing.Postprocessor
        Model outputs -> a*b* -> joined with each photo's own L* -> uint8 sRGB.
    config, metadata : dict
        What a preset's ``config.json`` and ``metadata.json`` hold.
    report : bwcolor.data.DatasetReport or None
        What the last ``fit`` found in its photo folder.

    Examples
    --------
    >>> from bwcolor import Colorizer
    >>> from bwcolor.data import sample_photo
    >>> rgb = Colorizer.from_preset("default").colorize(sample_photo())   # doctest: +SKIP
    >>> c = Colorizer(architecture="default", image_size=128)             # doctest: +SKIP
    >>> c.fit("my_color_photos/", epochs=20, checkpoint_dir="runs/a")     # doctest: +SKIP
    """

    # -------------------------------------------------------------------- fit
    def _loss(self):
        return training.make_loss(self.config)

    def _optimizer(self):
        return training.make_optimizer(self.config)

    def fit(self, data_source: Photos | PyDataset, epochs: int = 10, batch_size: int = 16,
            validation_split: float = 0.05, *, test_split: float = 0.05, resume: bool = False,
            checkpoint_dir: StrPath | None = None, mixed_precision: str | None = "auto",
            steps_per_epoch: int | None = None, validation_data: PyDataset | None = None,
            degradations: Degradations | bool | None = None, cache_dir: StrPath | None = "auto",
            workers: int | str = "auto", use_multiprocessing: bool = False, seed: int = 0,
            loader: str = "pydataset", repeats: int = 1, time_budget: float | None = None,
            distribute: str | None = None, targets_on_device: bool | str = "auto",
            crops_on_device: bool | str = "auto", verbose: int | str = "auto",
            callbacks: list | None = None,
            backbone_features: str = "auto") -> keras.callbacks.History:
        """Train on a folder (or list) of color photos, or on a ``keras.utils.PyDataset``.

        Every argument is checked before any photo is read; the run folder's writability and
        free space before the first epoch. A NaN loss stops training (``FloatingPointError``)
        with the last good weights put back.

        Parameters
        ----------
        data_source : folder, list of paths, or PyDataset yielding (L input, ab target)
        epochs : int
            Train until this many epochs are done in all (resumed runs count theirs).
        batch_size : int
            Photos per step, >= 1.
        validation_split, test_split : float
            Fractions of the photos held out, by a stable hash of each relative path (adding
            photos never moves existing ones between splits). The test split is never trained on;
            it is scored at the end: the final weights into ``metadata["test_metrics"]``, and
            the ``best/`` preset's own weights into its ``metadata.json``.
        checkpoint_dir : path, optional
            Run folder: ``last.keras`` (model + optimizer, for ``resume``), ``best/`` (preset of
            the best validation epoch), ``history.csv``, ``curves.png``, ``state.json``.
        resume : bool
            Continue from ``checkpoint_dir/last.keras`` with its optimizer state; the run's config
            must match this Colorizer's (:meth:`resume` builds one that does).
        mixed_precision : {"auto", "bfloat16", "float16", None}
            "auto": bfloat16 with torch on CPUs with AMX/AVX-512 BF16, else float32.
        steps_per_epoch : int, optional
            Steps per epoch (default: one pass over the photos, ``repeats`` times).
        validation_data : PyDataset, optional
            Validation batches to use instead of the validation split.
        cache_dir : "auto", path or None
            Where photos are kept decoded (uint8 ``.npy``) after their first visit. "auto": a
            temporary folder, removed when ``fit`` returns (none, with a warning, when the disk
            lacks room); a path: kept for later runs (keyed by path, mtime and size); None:
            decode on every visit. Damaged entries are decoded again and replaced.
        workers : "auto" or int
            Loader threads (or processes). "auto": 2 when the host makes the crops; 1 when
            ``crops_on_device`` reads a cache (threads would only contend for the GIL).
        use_multiprocessing : bool
            Processes instead of threads (forking after JAX started can deadlock).
        loader : {"pydataset", "grain"}
            A ``keras.utils.PyDataset`` (default) or a Grain pipeline, same crops.
        seed : int
            Shuffling, crops and augmentation derive from it.
        repeats : int
            Visit every training photo this many times per epoch (different random crops).
        degradations : Degradations or True, optional
            Old-photo damage applied to the input L during training (True: the defaults).
        time_budget : float, optional
            Stop after the epoch during which this many seconds have passed.
        distribute : {None, "auto"}
            "auto": data-parallel over every JAX device (``keras.distribution.DataParallel``).
        targets_on_device, crops_on_device : {"auto", True, False}
            Make the a*b* targets (and the crops: resize, flip, L*) inside the train step
            (:class:`bwcolor.losses.RGBTargets`, :class:`bwcolor.device_crops.DeviceCropModel`).
            "auto": True on a GPU/TPU, False on CPU. Folder/list sources only.
        verbose : "auto", 0, 1 or 2
            As ``keras.Model.fit``; also prints the dataset report and scan progress.
        callbacks : list of keras.callbacks.Callback, optional
        backbone_features : {"auto", "cache", "every_step"}
            "cache": a frozen wallner_full backbone's photo features, once a run ("auto": if it can).

        Returns
        -------
        keras.callbacks.History
        """
        # Every argument after data_source, by name (FitOptions refuses one it does not know).
        options = {k: v for k, v in locals().items() if k not in ("self", "data_source")}
        return training.fit(self, data_source, training.FitOptions(**options))

    def _check_colorize_options(self, render_size=None, annealing_temperature=None, batch_size=1,
                                refine_chroma=True):
        """Validate colorize's photo-independent options (the CLI and the Ray actors call this
        before any photo)."""
        self.preprocessor.check_render_size(render_size)
        check_positive("annealing_temperature", annealing_temperature, allow_none=True)
        check_int("batch_size", batch_size)
        check_bools(refine_chroma=refine_chroma)

    def colorize(self, images: Photo | list[Photo], *, render_size: int | None = None,
                 annealing_temperature: float | None = None, batch_size: int = 8,
                 flip_average: bool = False, refine_chroma: bool = True,
                 hints: list | None = None,
                 spread_hints: bool = True) -> np.ndarray | list[np.ndarray]:
        """Colorize photos at their full resolution.

        The model predicts ab at ``render_size`` (short side; default the training size), the ab
        is upsampled to the photo's size along its L* edges and joined with the photo's own L, so
        the output keeps every detail and its L* equals the input's (within rounding). Color input
        is first reduced to its L* channel. Out-of-gamut colors lose chroma, never lightness.

        Parameters
        ----------
        images : path, PIL image, numpy array (uint8, or float in [0, 1]; H x W or H x W x 1/3/4),
            or a list of these
        render_size : int, optional
            The short side, in pixels, at which the model sees each photo (default: the
            training size, ``config["image_size"]``), in [32, 2048]; :meth:`render_shape` gives
            the exact shape a photo gets. Larger gives finer color boundaries and costs time;
            the output keeps the photo's own size either way.
        annealing_temperature : float, optional
            For classification heads; lower is more vivid.
        batch_size : int
            At most this many photos of one render shape go through the model in one call
            (default 8). It changes speed and memory use, not the colors.
        flip_average, refine_chroma : bool
            Average with the mirrored photo's prediction (2x model time). Upsample ab by a guided
            filter on L* (:func:`~bwcolor.postprocessing.guided_upsample`; False: bilinearly).
        hints : list, optional
            Colors you know, for a model that takes hints (``self.accepts_hints``): for one
            photo a list of :class:`bwcolor.hints.Hint`, dicts ``{"x", "y", "color", "radius"?}``
            or ``(x, y, color[, radius])`` tuples, in the photo's pixels (x = column); for a list
            of photos, one such list (or None) per photo. Only a hint's chroma is used.
        spread_hints : bool
            Each hint colors its square (``radius`` photo pixels each side; without one, the
            model's output cell under it) and, when True, the colors around the square too,
            fading with distance and along similar L*, stopping at L* edges, so a larger
            radius reaches further
            (:func:`bwcolor.postprocessing.spread_hints`). False: each hint's square only (and
            what the model's hint channels do).

        Returns
        -------
        uint8 array (H, W, 3), or a list of them for a list input.
        """
        self._check_colorize_options(render_size, annealing_temperature, batch_size)
        check_bools(flip_average=flip_average, refine_chroma=refine_chroma,
                    spread_hints=spread_hints)
        prepared, single = self.preprocessor.prepare(images, render_size)
        checked = self.preprocessor.check_hints(hints, prepared, single)
        results = [None] * len(prepared)
        for indices, x in self.preprocessor.batches(prepared, batch_size, checked):
            ab = self.predict_ab(x, annealing_temperature, flip_average)
            for j, i in enumerate(indices):
                results[i] = self.postprocessor.join(prepared[i][0], ab[j], refine_chroma,
                                                     checked[i], spread=spread_hints)
        return results[0] if single else results

    def evaluate(self, data_source: Photos, *, split: str | None = None, size: int | None = None,
                 annealing_temperature: float | None = None, per_image: bool = False) -> dict:
        """Score colorizations of color photos against the originals.

        Each photo is resized (short side ``size``, default the training size) and center
        cropped, its color removed, colorized, and compared: PSNR, SSIM, mean CIEDE2000,
        colorfulness of the output and of the reference.

        Parameters
        ----------
        data_source : folder or list of paths
        split : {None, "train", "validation", "test"}
            Score only that split (same hash split as ``fit``, with 5% / 5% held out).
        size : int, optional
            The short side photos are resized to before their center crop is taken (default:
            the training size); also the render size they are colorized at.
        annealing_temperature : float, optional
            As in :meth:`colorize`; default: the model's own.
        per_image : bool
            Also return each photo's scores, under ``"per_image"`` (with its ``"path"``), e.g.
            to see on how many photos one model beats another.

        Returns
        -------
        dict
            Means over the photos of ``psnr``, ``ssim``, ``delta_e2000``, ``colorfulness``,
            ``colorfulness_reference``; ``n_images`` scored and ``n_skipped``: unreadable files
            and photos whose short side is under ``size`` (as ``fit`` skips photos smaller than
            its crop), each also reported with a warning.
        """
        return evaluation.evaluate(self, data_source,
                                   size=self.config["image_size"] if size is None else size,
                                   split=split, annealing_temperature=annealing_temperature,
                                   per_image=per_image)

    @classmethod
    def resume(cls, run_dir: StrPath) -> Colorizer:
        """The Colorizer of a training run folder, rebuilt from the run's own config, with the
        weights of its last finished epoch.

        Continue training with ``.fit(data, epochs=N, checkpoint_dir=run_dir, resume=True)``;
        nothing of any other Colorizer's settings can leak into the run.

        Parameters
        ----------
        run_dir : path
            The ``checkpoint_dir`` of a ``fit``, with ``last.keras`` and ``state.json``.

        Returns
        -------
        Colorizer
        """
        state = training.read_run_state(run_dir)
        with _backend.weights_will_be_loaded():
            obj = cls.from_config({**state["config"], "mixed_precision": None})
        obj.metadata = state.get("metadata", {})
        obj.model.set_weights(training.checkpoint_weights(run_dir, obj.model))
        obj.config["mixed_precision"] = state["config"].get("mixed_precision")
        return obj
