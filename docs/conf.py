"""Sphinx configuration: numpydoc API pages and a sphinx-gallery of the examples."""

import os
import sys
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "jax")
os.environ.setdefault("MPLBACKEND", "Agg")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

import bwcolor

project = "bwcolor"
author = "bwcolor developers"
release = version = bwcolor.__version__
extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]
autosummary_generate = True
numpydoc_show_class_members = False
numpydoc_validation_checks = set()
source_suffix = {".rst": "restructuredtext"}
exclude_patterns = ["_build", "auto_examples/*.ipynb", "auto_examples/*.py", "model_card.md"]
html_theme = "pydata_sphinx_theme"
html_title = "bwcolor"
intersphinx_mapping = {}
sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "ignore_pattern": r"__init__\.py",
    "download_all_examples": False,
    "abort_on_example_error": True,
    "plot_gallery": "True",
}
suppress_warnings = ["config.cache"]
