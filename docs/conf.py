"""Sphinx configuration: numpydoc API pages, the Markdown model card, and a sphinx-gallery of the
examples. Nothing here writes outside docs/_build and the ignored generated folders
(docs/gen_modules, docs/auto_examples): a build leaves the git tree as it found it."""

import importlib
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
    "myst_parser",
    "sphinx_gallery.gen_gallery",
]
# One page per public function, class and method (docs/_templates/autosummary), listed from
# each module's __all__, so a new public name is documented without editing api.rst.
autosummary_generate = True
autosummary_ignore_module_all = False
templates_path = ["_templates"]


def _inherited_from_bwcolor(fullname):
    """Public members the class ``fullname`` inherits from bwcolor's own base classes (the
    Colorizer's ``save``, ``from_preset``... from PresetModel). The class template lists them
    with the class's own members, unlike what a class inherits from Keras."""
    module, _, name = fullname.rpartition(".")
    cls = getattr(importlib.import_module(module), name)
    return sorted({attr for base in cls.__mro__[1:] if base.__module__.split(".")[0] == "bwcolor"
                   for attr in vars(base) if not attr.startswith("_") and attr not in vars(cls)})


autosummary_context = {"inherited_from_bwcolor": _inherited_from_bwcolor}
# A method bwcolor overrides without a docstring (a Keras model's compute_loss, say) would show
# Keras' Markdown docstring, which is not reStructuredText; show none instead.
autodoc_inherit_docstrings = False
numpydoc_show_class_members = False
numpydoc_validation_checks = set()
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
# images/README.md is a note for maintainers; package_description.md is the package index's text.
exclude_patterns = ["_build", "auto_examples/*.ipynb", "auto_examples/*.py", "images/README.md",
                    "package_description.md"]
myst_heading_anchors = 3
html_theme = "pydata_sphinx_theme"
html_title = "bwcolor"
intersphinx_mapping = {}
sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    # The examples' numbers set their order: "Colorize a photo" first.
    "within_subsection_order": "FileNameSortKey",
    "ignore_pattern": r"__init__\.py",
    "download_all_examples": False,
    "abort_on_example_error": True,
    "plot_gallery": "True",
}
suppress_warnings = ["config.cache"]
