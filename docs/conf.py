"""Sphinx configuration: numpydoc API pages, the Markdown model card, and a sphinx-gallery of the
examples. Nothing here writes outside docs/_build and the ignored generated folders
(docs/gen_modules, docs/auto_examples): a build leaves the git tree as it found it."""

import importlib
import importlib.util
import inspect
import os
import sys
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "jax")
os.environ.setdefault("MPLBACKEND", "Agg")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

import bwcolor

_ROOT = Path(__file__).resolve().parent.parent


def _script(name):
    """A module of scripts/ (the docs checks share their rules with this build)."""
    spec = importlib.util.spec_from_file_location(name, _ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


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


def _keras_protocol(fullname):
    """Methods the class ``fullname`` implements for Keras (``call``, ``get_config``...): it
    overrides them without a docstring of its own. The class template names them in one line
    instead of a table of empty rows; Keras documents what they do."""
    module, _, name = fullname.rpartition(".")
    return sorted(_anchors.keras_protocol(getattr(importlib.import_module(module), name)))


_anchors = _script("check_docs_anchors")
autosummary_context = {"inherited_from_bwcolor": _inherited_from_bwcolor,
                       "keras_protocol": _keras_protocol}


def _constructor_signature(app, what, name, obj, options, signature, return_annotation):
    """A Keras layer, loss or model shows its ``__init__``'s parameters, not the
    ``(*args, **kwargs)`` of Keras' ``__new__``."""
    if what == "class" and signature == "(*args, **kwargs)":
        init = inspect.signature(obj.__init__)
        parameters = list(init.parameters.values())[1:]
        return str(init.replace(parameters=parameters, return_annotation=init.empty)), return_annotation
    return None


def setup(app):
    app.connect("autodoc-process-signature", _constructor_signature)
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
# The numbers more than one page quotes, from docs/numbers.json (scripts/docs_numbers.py checks
# README.md's copies): |name| in reStructuredText, {{ name }} in Markdown.
_numbers = _script("docs_numbers").load(_ROOT)
rst_prolog = "\n".join(f".. |{name}| replace:: {value}" for name, value in _numbers.items())
myst_enable_extensions = ["substitution"]
myst_substitutions = _numbers
html_theme = "pydata_sphinx_theme"
html_title = "bwcolor"
# Wide tables and long code lines scroll inside the page instead of being cut off.
html_static_path = ["_static"]
html_css_files = ["bwcolor.css"]
# The guide and the model card have no subpages, so the theme's section navigation on the left
# was empty: it shows the page's own sections there (and the experiment log under the card),
# and the right sidebar, which would repeat them, is left out to give the text its width.
_ONE_PAGE_SECTIONS = ["guide", "model_card", "experiments"]
html_sidebars = {page: ["sidebar-nav-bs", "page-toc"] for page in _ONE_PAGE_SECTIONS}
html_theme_options = {
    "secondary_sidebar_items": {"**": ["page-toc", "sourcelink"],
                                **{page: [] for page in _ONE_PAGE_SECTIONS}},
}
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
    # A block's last bare expression is not printed: its repr (a History, a Figure) means
    # nothing to a reader; the examples print what they mean to show.
    "capture_repr": (),
    # The timing pages (sg_execution_times.html) load their table scripts from CDNs; the site
    # must work offline.
    "write_computation_times": False,
}
suppress_warnings = ["config.cache"]
