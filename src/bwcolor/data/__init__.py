"""Data: find photos, decode them, report what is skipped, split, and stream Lab batches.

Data flow: files -> :func:`scan` (discover, decode, exclude, split, :class:`DatasetReport`) ->
:class:`ColorizationDataset` (crop, flip, degrade L, Lab scaling) -> ``(L input, ab target)``.

One module per job, re-exported here: ``discover`` (find files, split), ``decode`` (files to
pixels), ``arrays`` (check users' arrays), ``scanning`` (:func:`scan`), ``report``,
``degradations``, ``cache`` (decoded photos on disk), ``crops`` (crop geometry, and
:data:`~bwcolor.data.crops.BOX_FIELDS` for device crops), ``dataset``, ``grain_pipeline``,
``samples``.
"""

import importlib

# Names are loaded on first use (PEP 562): `bwcolor --help`, the CLI's output planning and
# `sample_photo()` need decode/discover/report only, not the dataset module, which imports Keras
# (2-3 s on a 2-core CPU).
_HOMES = {
    "validate_image_array": "arrays",
    "ColorizationDataset": "dataset",
    "ImageDecodeError": "decode", "load_rgb": "decode", "open_image": "decode",
    "pil_to_lightness": "decode", "pil_to_rgb": "decode", "sniff_format": "decode",
    "PHOTO_SUFFIXES": "decode", "photo_format": "decode",
    "DEGRADATIONS": "degradations", "Degradations": "degradations",
    "SPLITS": "discover", "find_files": "discover", "split_of": "discover",
    "grain_dataset": "grain_pipeline",
    "SKIP_REASONS": "report", "DatasetReport": "report",
    "sample_photo": "samples", "sample_photos": "samples", "write_sample_folder": "samples",
    "DEFAULT_MIN_CHROMA": "scanning", "scan": "scanning",
}


def __getattr__(name):
    if name in _HOMES:
        value = getattr(importlib.import_module(f"bwcolor.data.{_HOMES[name]}"), name)
        globals()[name] = value  # later lookups skip this function
        return value
    raise AttributeError(f"module 'bwcolor.data' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))


__all__ = [
    "DEFAULT_MIN_CHROMA",
    "DEGRADATIONS",
    "PHOTO_SUFFIXES",
    "SKIP_REASONS",
    "SPLITS",
    "ColorizationDataset",
    "DatasetReport",
    "Degradations",
    "ImageDecodeError",
    "find_files",
    "grain_dataset",
    "load_rgb",
    "open_image",
    "photo_format",
    "pil_to_lightness",
    "pil_to_rgb",
    "sample_photo",
    "sample_photos",
    "scan",
    "sniff_format",
    "split_of",
    "validate_image_array",
    "write_sample_folder",
]
