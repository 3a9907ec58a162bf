"""bwcolor: colorize black-and-white photographs with deep learning.

>>> from bwcolor import Colorizer
>>> from bwcolor.data import sample_photo
>>> rgb = Colorizer.from_preset("default").colorize(sample_photo())
>>> rgb.shape, rgb.dtype
((808, 1024, 3), dtype('uint8'))

Keras backend: bwcolor sets ``KERAS_BACKEND=jax`` when you have not chosen one and Keras is not
imported yet. Set ``KERAS_BACKEND=torch`` (before importing bwcolor or keras) to use PyTorch,
which trains fastest on CPUs with bf16 units (AVX-512 BF16 / AMX).
"""

from bwcolor._backend import select_default_backend
from bwcolor._version import __version__

select_default_backend()

__all__ = ["Colorizer", "DatasetReport", "__version__", "plot_comparison"]


def __getattr__(name):
    # Lazy, so `import bwcolor.color` and `bwcolor --help` do not pay for Keras and the models.
    if name == "Colorizer":
        from bwcolor.colorizer import Colorizer

        return Colorizer
    if name == "DatasetReport":
        from bwcolor.data import DatasetReport

        return DatasetReport
    if name == "plot_comparison":
        from bwcolor.plotting import plot_comparison

        return plot_comparison
    raise AttributeError(f"module 'bwcolor' has no attribute {name!r}")


def __dir__():
    # What a module's dir() normally lists (``__all__``, ``__version__``, submodules already
    # imported), plus the lazy names: tools such as Sphinx's autosummary look for ``__all__`` here.
    return sorted(set(globals()) | set(__all__))
