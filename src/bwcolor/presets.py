"""Presets are data: a folder with config.json, model.weights.h5 and metadata.json.

Built-in presets live in ``bwcolor/presets/<name>/`` inside the package. Loading never runs code
from the folder: the config is validated against a fixed schema and the architecture is rebuilt
from bwcolor's own registry; only weights are read from the HDF5 file.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

__all__ = ["CONFIG_SCHEMA", "available", "read_preset", "resolve", "validate_config", "write_preset"]

FORMAT_VERSION = 1
CONFIG_FILE, WEIGHTS_FILE, METADATA_FILE = "config.json", "model.weights.h5", "metadata.json"
BUILTIN_DIR = Path(__file__).parent / "presets"

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


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def available():
    """Names of the presets bundled inside the package."""
    if not BUILTIN_DIR.is_dir():
        return []
    return sorted(p.name for p in BUILTIN_DIR.iterdir() if (p / CONFIG_FILE).is_file())


def resolve(name_or_dir):
    """The folder of a built-in preset name, or of a preset/run folder path."""
    p = Path(name_or_dir)
    if (p / CONFIG_FILE).is_file():
        return p
    if (p / "best" / CONFIG_FILE).is_file():  # a training run folder: its best epoch
        return p / "best"
    if isinstance(name_or_dir, str) and name_or_dir in available():
        return BUILTIN_DIR / name_or_dir
    raise ValueError(
        f"not a preset name or a preset folder (a folder needs {CONFIG_FILE}). "
        f"Received: {str(name_or_dir)!r}; built-in presets: {available()}")


def validate_config(config, source="config"):
    """Check a preset config against :data:`CONFIG_SCHEMA`; raise ValueError naming the problem."""
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
    return config


def read_preset(name_or_dir):
    """Return (folder, config, metadata) of a preset, with config validated."""
    folder = resolve(name_or_dir)
    try:
        config = json.loads((folder / CONFIG_FILE).read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise ValueError(f"{folder / CONFIG_FILE} is not valid JSON: {e}") from None
    validate_config(config, source=str(folder / CONFIG_FILE))
    if not (folder / WEIGHTS_FILE).is_file():
        raise ValueError(f"preset folder has no {WEIGHTS_FILE}. Received: {str(folder)!r}")
    meta_path = folder / METADATA_FILE
    metadata = json.loads(meta_path.read_text(encoding="utf-8")) if meta_path.is_file() else {}
    return folder, config, metadata


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

    try:
        with h5py.File(tmp, "r") as src, h5py.File(path, "w") as dst:
            for key, value in src.attrs.items():
                dst.attrs[key] = value
            for key, item in src.items():
                if key != "optimizer":
                    copy_group(item, dst.create_group(key))
    finally:
        os.remove(tmp)


def _write_json(path, obj):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2, sort_keys=True)
        f.write("\n")


def write_preset(folder, config, save_weights, metadata, *, overwrite=False):
    """Write a preset folder atomically: build it beside the target, then rename into place.

    ``save_weights(path)`` writes the weights file. An existing folder is replaced only with
    ``overwrite=True``; a crash never leaves a half-written preset under the target name.
    """
    folder = Path(folder)
    if folder.exists() and not overwrite:
        raise FileExistsError(f"preset folder exists; pass overwrite=True to replace it. "
                              f"Received: path={str(folder)!r}")
    folder.parent.mkdir(parents=True, exist_ok=True)
    validate_config(config)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    tmp.chmod(0o777 & ~_umask())  # mkdtemp makes it private (0700); a preset is for sharing
    try:
        save_weights(str(tmp / WEIGHTS_FILE))
        _write_json(tmp / CONFIG_FILE, config)
        _write_json(tmp / METADATA_FILE, metadata)
        if folder.exists():
            old = folder.with_name(f".{folder.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(folder, old) if folder.is_dir() else folder.unlink()
            os.replace(tmp, folder)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder
