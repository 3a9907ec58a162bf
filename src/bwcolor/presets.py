"""Presets are data: a folder with config.json, model.weights.h5 and metadata.json.

Built-in presets live in ``bwcolor/bundled_presets/<name>/`` inside the package. Loading never
runs code from the folder: the config is validated against a fixed schema and the architecture is
rebuilt from bwcolor's own registry; only weights are read from the HDF5 file.
"""

from __future__ import annotations

import importlib.resources
import json
import os
import shutil
from pathlib import Path

from bwcolor import _backend
from bwcolor._arguments import is_finite_number, shown

__all__ = ["CONFIG_SCHEMA", "MAX_IMAGE_SIZE", "MAX_RENDER_SIZE", "MIN_RENDER_SIZE", "available",
           "is_preset_folder", "read_json", "read_preset", "resolve", "validate_config",
           "write_preset"]

FORMAT_VERSION = 1
CONFIG_FILE, WEIGHTS_FILE, METADATA_FILE = "config.json", "model.weights.h5", "metadata.json"
#: The presets inside the package (``bwcolor/bundled_presets/<name>/``): a folder name of its
#: own, so it cannot be confused with this module; found through importlib.resources.
BUILTIN_DIR = Path(str(importlib.resources.files("bwcolor") / "bundled_presets"))

#: Smallest and largest render size (short side, pixels) colorize accepts. Above the cap the
#: model sees more pixels than any bundled model was trained for, and memory grows with its
#: square; the render never exceeds the photo's own short side anyway.
MIN_RENDER_SIZE, MAX_RENDER_SIZE = 32, 2048
#: Largest training crop / image_size a config may ask for.
MAX_IMAGE_SIZE = 2048

#: Every key config.json may have, with the types it may take.
CONFIG_SCHEMA = {
    "format_version": (int,),
    "architecture": (str,),
    "architecture_config": (dict,),
    "image_size": (int,),
    "loss": (str,),
    "loss_config": (dict,),
    "optimizer": (str,),
    "learning_rate": (float, int),
    "annealing_temperature": (float, int),
    "mixed_precision": (str, type(None)),
}

_OPTIMIZERS = ("adam", "rmsprop")
_MIXED_PRECISION = (None, "bfloat16", "float16")


def available():
    """Names of the presets bundled inside the package."""
    if not BUILTIN_DIR.is_dir():
        return []
    return sorted(p.name for p in BUILTIN_DIR.iterdir() if (p / CONFIG_FILE).is_file())


def resolve(name_or_dir):
    """The folder of a built-in preset name, or of a preset/run folder path.

    A bundled name (a ``str`` such as ``"default"``) always means the bundled preset, even when
    a folder of that name exists in the working directory: write ``"./default"`` (or pass a
    ``Path``) for the folder. A training run folder resolves to its ``best/`` preset.
    """
    if isinstance(name_or_dir, str) and name_or_dir in available():
        return BUILTIN_DIR / name_or_dir
    if not isinstance(name_or_dir, (str, os.PathLike)):
        raise TypeError(f"a preset is a name or a folder path. "
                        f"Received: {type(name_or_dir).__name__}")
    p = Path(name_or_dir)
    if (p / CONFIG_FILE).is_file():
        return p
    if (p / "best" / CONFIG_FILE).is_file():  # a training run folder: its best epoch
        return p / "best"
    if p.is_dir() and (p / "state.json").is_file():
        raise ValueError(f"this run folder has no best/ preset yet (no epoch has finished with "
                         f"a validation score). Received: {str(name_or_dir)!r}")
    raise ValueError(
        f"not a preset name or a preset folder (a folder needs {CONFIG_FILE}). "
        f"Received: {str(name_or_dir)!r}; built-in presets: {available()}")


def _check(ok, source, message):
    if not ok:
        raise ValueError(f"{source}: {message}")


def validate_config(config, source="config", *, registries=True):
    """Check a preset config's keys, types and values; raise ValueError naming the problem.

    Values are checked as well as types: known architecture, loss and optimizer names,
    ``image_size`` in [16, :data:`MAX_IMAGE_SIZE`], positive learning rate and temperature,
    a positive ``loss_config["grid_step"]`` and finite positive class weights.

    ``registries=False`` leaves out the checks that read the architecture and loss registries,
    which import Keras (seconds): the architecture and loss names and the architecture's
    config. ``bwcolor colorize`` checks so until a photo needs the model, so that a rerun with
    nothing to do answers without Keras; loading the preset checks everything.
    """
    if not isinstance(config, dict):
        raise ValueError(f"{source} must be a JSON object. Received: {type(config).__name__}")
    unknown = set(config) - set(CONFIG_SCHEMA)
    if unknown:
        raise ValueError(f"{source} has unknown keys. Received: {sorted(unknown)}; "
                         f"allowed: {sorted(CONFIG_SCHEMA)}")
    for key in ("architecture", "image_size", "loss"):
        if key not in config:
            raise ValueError(f"{source} is missing the key {key!r}")
    for key, value in config.items():
        types = CONFIG_SCHEMA[key]
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
            raise ValueError(f"{source}: {key!r} must be {' or '.join(t.__name__ for t in types)}. "
                             f"Received: {key}={value!r}")
    if config.get("format_version", FORMAT_VERSION) > FORMAT_VERSION:
        raise ValueError(f"{source} was written by a newer bwcolor (format_version="
                         f"{config['format_version']}); upgrade bwcolor to read it")
    _check_values(config, source, registries)
    return config


def _check_values(config, source, registries=True):
    if registries:
        _check_names(config, source)
    size = config["image_size"]
    _check(16 <= size <= MAX_IMAGE_SIZE, source,
           f"image_size must be in [16, {MAX_IMAGE_SIZE}]. Received: image_size={size}")
    optimizer = config.get("optimizer", "adam")
    _check(optimizer in _OPTIMIZERS, source,
           f"optimizer must be one of {_OPTIMIZERS}. Received: optimizer={optimizer!r}")
    for key in ("learning_rate", "annealing_temperature"):
        if key in config:
            v = config[key]
            _check(is_finite_number(v) and v > 0, source,
                   f"{key} must be > 0. Received: {key}={shown(v)}")
    mp = config.get("mixed_precision")
    _check(mp in _MIXED_PRECISION, source,
           f"mixed_precision must be one of {_MIXED_PRECISION}. Received: mixed_precision={mp!r}")
    for key, value in config.get("architecture_config", {}).items():
        _check(_is_json(value), source,
               f"architecture_config values must be JSON (strings, numbers, lists...), so the "
               f"config can be saved; name a backbone instead of passing a model. Received: "
               f"{key}={type(value).__name__}")
    if registries:
        _check_architecture_config(config["architecture"], config.get("architecture_config", {}),
                                   source)
    loss_config = config.get("loss_config", {})
    if "grid_step" in loss_config:
        step = loss_config["grid_step"]
        _check(isinstance(step, (int, float)) and not isinstance(step, bool) and 1 <= step <= 110,
               source, f"loss_config.grid_step must be a number in [1, 110]. "
                       f"Received: grid_step={step!r}")
    if "weights" in loss_config:
        w = loss_config["weights"]
        _check(isinstance(w, list) and w and all(
            is_finite_number(x) and x >= 0
            for x in w), source, "loss_config.weights must be a list of finite numbers >= 0")
    if "rebalancing_lambda" in loss_config:
        lam = loss_config["rebalancing_lambda"]
        _check(isinstance(lam, (int, float)) and not isinstance(lam, bool) and 0 <= lam <= 1,
               source, f"loss_config.rebalancing_lambda must be in [0, 1]. "
                       f"Received: rebalancing_lambda={lam!r}")


def _check_architecture_config(arch, architecture_config, source):
    """Each ``architecture_config`` value has the type of the builder's default for its key: a
    bool for a bool (``"yes"`` is not ``True``), an int for an int, a finite number for a float,
    a list for a tuple, a string (or None) for a string; keys whose default is None take any
    JSON. Unknown keys are left to :func:`bwcolor.architectures.get`, which names them."""
    import inspect

    from bwcolor import architectures

    parameters = inspect.signature(architectures._entry(arch)[0]).parameters
    for key, value in architecture_config.items():
        if key not in parameters or parameters[key].default is inspect.Parameter.empty:
            continue
        default = parameters[key].default
        if isinstance(default, bool):
            ok, wanted = isinstance(value, bool), "a bool (true or false)"
        elif isinstance(default, int):
            ok, wanted = isinstance(value, int) and not isinstance(value, bool), "an int"
        elif isinstance(default, float):
            ok, wanted = is_finite_number(value), "a finite number"
        elif isinstance(default, (tuple, list)):
            ok, wanted = isinstance(value, (tuple, list)), "a list"
        elif isinstance(default, str):
            ok, wanted = value is None or isinstance(value, str), "a string (or null)"
        else:
            continue
        _check(ok, source, f"architecture_config[{key!r}] must be {wanted} for architecture "
                           f"{arch!r}. Received: {key}={shown(value)}")


def _check_names(config, source):
    """The architecture and loss names, against their registries (which import Keras)."""
    from bwcolor import architectures, losses

    arch, loss = config["architecture"], config["loss"]
    _check(arch in architectures.available(), source,
           f"unknown architecture. Received: architecture={arch!r}; "
           f"available: {architectures.available()}")
    _check(loss in losses.available(), source,
           f"unknown loss. Received: loss={loss!r}; available: {losses.available()}")


def _is_json(value):
    try:
        return _is_json_tree(value)
    except RecursionError:  # nested deeper than any config needs
        return False


def _is_json_tree(value):
    if value is None or isinstance(value, (str, bool, int, float)):
        return True
    if isinstance(value, (list, tuple)):
        return all(map(_is_json_tree, value))
    return isinstance(value, dict) and all(isinstance(k, str) and _is_json_tree(v)
                                           for k, v in value.items())


def as_json(value):
    """``value`` as it reads back from JSON (tuples become lists), for comparing configs."""
    return json.loads(json.dumps(value))


def read_json(path, what="file"):
    """Parse a JSON file, raising ValueError that names the file for any problem."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValueError(f"{what} not found. Received: path={str(path)!r}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"{path} is not valid JSON: {e}") from None
    except RecursionError:
        raise ValueError(f"{path} is not valid JSON here: it is nested too deeply") from None
    except OSError as e:
        raise ValueError(f"cannot read {path}: {e.strerror}") from None


def read_preset(name_or_dir, *, registries=True):
    """Return (folder, config, metadata) of a preset, with config validated.

    Every problem (unknown name, bad JSON, bad value, missing weights) is a ValueError naming
    the file. ``registries=False``: as :func:`validate_config` (no Keras import).
    """
    folder = resolve(name_or_dir)
    config = read_json(folder / CONFIG_FILE, CONFIG_FILE)
    validate_config(config, source=str(folder / CONFIG_FILE), registries=registries)
    if not (folder / WEIGHTS_FILE).is_file():
        raise ValueError(f"preset folder has no {WEIGHTS_FILE}. Received: {str(folder)!r}")
    meta_path = folder / METADATA_FILE
    metadata = read_json(meta_path, METADATA_FILE) if meta_path.is_file() else {}
    if not isinstance(metadata, dict):
        raise ValueError(f"{meta_path} must hold a JSON object. Received: {type(metadata).__name__}")
    return folder, config, metadata


def is_preset_folder(path):
    """True when ``path`` is a folder bwcolor wrote as a preset (its config.json and weights)."""
    p = Path(path)
    return p.is_dir() and not p.is_symlink() and (p / CONFIG_FILE).is_file() and (
        p / WEIGHTS_FILE).is_file()


def save_model_weights(model, path, dtype="float32"):
    """Save only the model's own weights (no optimizer state) to an HDF5 file.

    ``keras.Model.save_weights`` also stores the optimizer's slots once a model is compiled
    (3x the size with Adam); presets are for inference and sharing, so that group is dropped.
    With ``dtype="float16"`` float32 arrays are stored in half precision (Keras casts them back
    on load).
    """
    import h5py
    import numpy as np

    tmp = str(path) + ".full.weights.h5"
    model.save_weights(tmp)

    def copy_group(src, dst):
        for key, value in src.attrs.items():
            dst.attrs[key] = value
        for key, item in src.items():
            if isinstance(item, h5py.Group):
                copy_group(item, dst.create_group(key))
            else:
                data = item[()]
                if dtype != "float32" and getattr(data, "dtype", None) == np.float32:
                    data = data.astype(dtype)
                new = dst.create_dataset(key, data=data)
                for k, v in item.attrs.items():
                    new.attrs[k] = v

    from bwcolor._io import atomic_path

    try:
        with h5py.File(tmp, "r") as src, atomic_path(path) as out, h5py.File(out, "w") as dst:
            for key, value in src.attrs.items():
                dst.attrs[key] = value
            for key, item in src.items():
                if key != "optimizer":
                    copy_group(item, dst.create_group(key))
    finally:
        os.remove(tmp)


def load_model_weights(model, path):
    """Load a weights file :func:`save_model_weights` wrote into ``model`` (Keras'
    ``load_weights``), float16 arrays cast to the variables' float32 by NumPy: on JAX the
    backend's cast lowered and compiled (or looked up in the compilation cache) a program per
    weight shape, and loading the bundled default took 0.7-1.0 s of CPU, 0.3-0.4 s now."""
    with _backend.numpy_casts_assigned_arrays():
        model.load_weights(path)


def write_preset(folder, config, save_weights, metadata, *, overwrite=False):
    """Write a preset folder atomically: build it beside the target, then rename into place.

    ``save_weights(path)`` writes the weights file. An existing folder is replaced only with
    ``overwrite=True`` and only when it is itself a preset (config.json and weights): a
    folder of anything else, or a file, is never deleted. A crash never leaves a half-written
    preset under the target name.
    """
    from bwcolor._io import atomic_write_json, temp_name

    folder = Path(folder)
    if folder.exists() or folder.is_symlink():
        if not overwrite:
            raise FileExistsError(f"preset folder exists; pass overwrite=True to replace it. "
                                  f"Received: path={str(folder)!r}")
        if not is_preset_folder(folder):
            raise FileExistsError(f"overwrite=True replaces only a bwcolor preset folder (with "
                                  f"{CONFIG_FILE} and {WEIGHTS_FILE}); this path is something "
                                  f"else and is left alone. Received: path={str(folder)!r}")
    validate_config(config)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = folder.with_name(temp_name())
    tmp.mkdir(mode=0o777)  # the user's umask applies: a preset is for sharing
    try:
        save_weights(str(tmp / WEIGHTS_FILE))
        atomic_write_json(tmp / CONFIG_FILE, config)
        atomic_write_json(tmp / METADATA_FILE, metadata)
        if folder.exists():
            old = folder.with_name(temp_name())
            os.replace(folder, old)  # a rename: the old preset is never half deleted
            os.replace(tmp, folder)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, folder)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return folder
