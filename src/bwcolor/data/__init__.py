"""Data: find photos, decode them, report what is skipped, split, and stream Lab batches.

Data flow: files -> :func:`scan` (discover, decode, exclude, split, :class:`DatasetReport`) ->
:class:`ColorizationDataset` (crop, flip, degrade L, Lab scaling) -> ``(L input, ab target)``.

One module per job, re-exported here: ``discover`` (find files, split), ``decode`` (files to
pixels), ``arrays`` (check users' arrays), ``scanning`` (:func:`scan`), ``report``,
``degradations``, ``cache`` (decoded photos on disk), ``crops`` (crop geometry, and
:data:`~bwcolor.data.crops.BOX_FIELDS` for device crops), ``dataset``, ``grain_pipeline``,
``samples``.
"""

from bwcolor.data.arrays import validate_image_array
from bwcolor.data.dataset import ColorizationDataset
from bwcolor.data.decode import (
    ImageDecodeError,
    load_rgb,
    open_image,
    pil_to_lightness,
    pil_to_rgb,
    sniff_format,
)
from bwcolor.data.degradations import DEGRADATIONS, Degradations
from bwcolor.data.discover import SPLITS, find_files, split_of
from bwcolor.data.grain_pipeline import grain_dataset
from bwcolor.data.report import SKIP_REASONS, DatasetReport
from bwcolor.data.samples import sample_photo, sample_photos, write_sample_folder
from bwcolor.data.scanning import DEFAULT_MIN_CHROMA, scan

__all__ = [
    "DEFAULT_MIN_CHROMA",
    "DEGRADATIONS",
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
