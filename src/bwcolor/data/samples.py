"""Sample photos, offline: one black-and-white photograph bundled with bwcolor, and real color
photos that ship with its dependencies (for tests, examples and training demos)."""

from __future__ import annotations

import atexit
import contextlib
from importlib import resources
from pathlib import Path

import numpy as np
from PIL import Image

__all__ = ["sample_photo", "sample_photos", "write_sample_folder"]

_BUNDLED_FOLDER = "bundled_photos"
# as_file() copies a resource to a temporary file only when the package is not on a file system
# (a zip); those copies must outlive sample_photo() and are removed when the interpreter exits.
_extracted = contextlib.ExitStack()
atexit.register(_extracted.close)


def sample_photo(name="castle_clinton_1961"):
    """Return the path of a black-and-white photograph bundled with bwcolor.

    Parameters
    ----------
    name : str, default "castle_clinton_1961"
        The photo's name. Bundled: ``"castle_clinton_1961"``, Castle Clinton, New York, 1961
        (1024 x 808 px, grayscale JPEG), photographed by Jack E. Boucher for the National Park
        Service; public domain.

    Returns
    -------
    pathlib.Path
        A JPEG file to give to :meth:`bwcolor.Colorizer.colorize` or ``bwcolor colorize``.

    Raises
    ------
    ValueError
        If no bundled photo has that name; the message lists those that exist.

    Examples
    --------
    >>> from bwcolor.data import sample_photo
    >>> sample_photo().name
    'castle_clinton_1961.jpg'
    """
    folder = resources.files(__package__) / _BUNDLED_FOLDER
    available = sorted(p.name.rsplit(".", 1)[0] for p in folder.iterdir() if p.name.endswith(".jpg"))
    if name not in available:
        raise ValueError(f"unknown bundled photo. Received: name={name!r}; available: {available}")
    return Path(_extracted.enter_context(resources.as_file(folder / f"{name}.jpg")))

_SKIMAGE = ("astronaut", "chelsea", "coffee", "rocket")


def _matplotlib_installed():
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def sample_photos(names=None):
    """Return real color photographs as ``{name: uint8 array (H, W, 3)}``.

    Parameters
    ----------
    names : list of str, optional
        Which photos. From scikit-image: ``"astronaut"``, ``"chelsea"``, ``"coffee"``,
        ``"rocket"``, ``"motorcycle"`` (the left view of ``stereo_motorcycle``); from matplotlib
        (the ``plot`` extra): ``"grace_hopper"``. Default: all of them, less ``grace_hopper``
        when matplotlib is not installed.

    Returns
    -------
    dict of str to numpy.ndarray
        Each photo as uint8 RGB, in the order of ``names``.

    Raises
    ------
    ValueError
        If a name is unknown; the message lists the names that exist.
    ImportError
        If ``"grace_hopper"`` is asked for and matplotlib is not installed.
    """
    import skimage.data

    loaders = {name: getattr(skimage.data, name) for name in _SKIMAGE}
    loaders["motorcycle"] = lambda: skimage.data.stereo_motorcycle()[0]

    def grace_hopper():
        try:
            from matplotlib import cbook
        except ImportError as e:
            raise ImportError('the "grace_hopper" sample photo comes with matplotlib: '
                              'pip install "bwcolor[plot]"') from e
        with cbook.get_sample_data("grace_hopper.jpg") as f:
            return np.asarray(Image.open(f).convert("RGB"))

    loaders["grace_hopper"] = grace_hopper
    if names is None:
        names = [n for n in loaders if n != "grace_hopper" or _matplotlib_installed()]
    names = list(names)
    unknown = [n for n in names if n not in loaders]
    if unknown:
        raise ValueError(f"unknown sample photo. Received: {unknown}; available: {sorted(loaders)}")
    return {n: np.ascontiguousarray(loaders[n]()) for n in names}


def write_sample_folder(folder, names=None, *, short_side=None, format="jpg"):
    """Write the color sample photos as image files into a folder, for training demos.

    Parameters
    ----------
    folder : str or path
        Created if missing; files of the same names are replaced.
    names : list of str, optional
        As for :func:`sample_photos` (default: all that are installed).
    short_side : int, optional
        Resize each photo (aspect kept) so its short side has that many pixels.
    format : {"jpg", "png"}, default "jpg"
        File type; JPEG at quality 92.

    Returns
    -------
    list of pathlib.Path
        The files written, one per photo, named ``{name}.{format}``.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, rgb in sample_photos(names).items():
        img = Image.fromarray(rgb)
        if short_side:
            w, h = img.size
            s = short_side / min(w, h)
            img = img.resize((max(1, round(w * s)), max(1, round(h * s))), Image.BILINEAR)
        path = folder / f"{name}.{format}"
        img.save(path, quality=92) if format == "jpg" else img.save(path)
        paths.append(path)
    return paths
