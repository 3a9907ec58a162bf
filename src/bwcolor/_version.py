"""bwcolor's version, in a module of its own.

The package root re-exports it as ``bwcolor.__version__``; modules inside the package import it
from here, since reading the root from a module that ``bwcolor.Colorizer`` (the root's lazy
``__getattr__``) imports would close an import loop.
"""

__version__ = "0.1.0"
