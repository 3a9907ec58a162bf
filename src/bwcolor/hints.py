"""User color hints: their format and checks, and the hint channels a hint-capable model reads.

A hint says "around this pixel the photo was this color". Following Zhang et al. 2017 [1]_, a
model that supports hints takes three channels beside L*: the hint's a*, b* (scaled as the
training targets, :func:`bwcolor.color.ab_to_target`) on a small square patch around each hint,
zero elsewhere, and a mask that is 1 on the patches. All-zero hint channels mean automatic mode.
Only the hint's chroma is used: the photo keeps its own L*.

Training reveals random ground-truth colors through the same channels
(:func:`reveal_random_hints`), so the model learns to follow them and to spread them along edges.

References
----------
.. [1] R. Zhang, J.-Y. Zhu, P. Isola, X. Geng, A. S. Lin, T. Yu, A. A. Efros, "Real-Time
   User-Guided Image Colorization with Learned Deep Priors", SIGGRAPH 2017.

Examples
--------
>>> from bwcolor.hints import Hint, hint_channels, parse_hints
>>> hints = parse_hints([{"x": 10, "y": 5, "color": "#7a5230"}], height=40, width=60)
>>> hints[0].rgb
(122, 82, 48)
>>> hint_channels(hints, (40, 60), (32, 48)).shape
(32, 48, 3)
"""

from __future__ import annotations

import dataclasses
import json
import numbers
import os
import re
import stat

import numpy as np

from bwcolor._arguments import is_finite_number, shown
from bwcolor.color import ab_to_target, rgb_to_lab

__all__ = [
    "DEFAULT_RADIUS",
    "HINT_CHANNELS",
    "MAX_RADIUS",
    "Hint",
    "hint_channels",
    "load_hints_file",
    "parse_color",
    "parse_hints",
    "reveal_random_hints",
]

#: Channels a hint-capable model reads beside L*: scaled a*, scaled b*, mask.
HINT_CHANNELS = 3

#: Half-side, in render pixels, of a hint's square patch when the hint gives no radius: a 5 x 5
#: patch, the middle of the 1..9-pixel patches the model sees in training.
DEFAULT_RADIUS = 2

#: The largest half-side, in render pixels, a hint's patch is given (larger hints are clipped):
#: the model was trained on patches up to 9 x 9, and spreads colors itself.
MAX_RADIUS = 8

_HEX = re.compile(r"^#?([0-9a-fA-F]{6}|[0-9a-fA-F]{3})$")
# CSS's functional form, as color pickers (Gradio's among them) write it: 'rgb(122, 82, 48)',
# 'rgba(122.4, 82, 48, 1)'; the alpha is ignored.
_FUNCTIONAL = re.compile(r"^rgba?\(\s*([^,\s()]+)\s*,\s*([^,\s()]+)\s*,\s*([^,\s()]+)\s*"
                         r"(?:,\s*[^,\s()]+\s*)?\)$", re.IGNORECASE)

_COLOR_FORMS = ("'#rrggbb', '#rgb', 'rgb(r, g, b)', a CSS color name such as 'skyblue', or "
                "(r, g, b) with ints in [0, 255]")


def parse_color(value):
    """An sRGB color as an ``(r, g, b)`` tuple of ints in [0, 255].

    Parameters
    ----------
    value : str or sequence of 3 ints
        ``"#7a5230"``, ``"7a5230"``, ``"#fa0"``, ``"rgb(122, 82, 48)"`` (or ``"rgba(...)"``, as
        color pickers write it: components in [0, 255], rounded; the alpha is ignored), a CSS
        color name (``"skyblue"``, ``"Forest Green"``: case and spaces do not matter) or
        ``(122, 82, 48)``.

    Raises
    ------
    ValueError
        Naming the value received.

    Examples
    --------
    >>> parse_color("#fa0"), parse_color("skyblue"), parse_color((1, 2, 3))
    ((255, 170, 0), (135, 206, 235), (1, 2, 3))
    >>> parse_color("rgba(122.4, 82, 48, 1)")
    (122, 82, 48)
    """
    if isinstance(value, str):
        text = value.strip()
        match = _HEX.match(text)
        if match:
            digits = match.group(1)
            if len(digits) == 3:
                digits = "".join(c * 2 for c in digits)
            return tuple(int(digits[i:i + 2], 16) for i in (0, 2, 4))
        functional = _functional_color(text)
        if functional is not None:
            return functional
        named = _css_color(text)
        if named is not None:
            return named
    elif (isinstance(value, (list, tuple, np.ndarray)) and len(value) == 3
            and all(isinstance(c, numbers.Integral) and not isinstance(c, bool) and 0 <= c <= 255
                    for c in value)):
        return tuple(int(c) for c in value)
    raise ValueError(f"a hint color must be {_COLOR_FORMS}. Received: color={shown(value)}")


def _functional_color(text):
    """(r, g, b) of ``rgb(r, g, b)`` / ``rgba(r, g, b, a)`` with numbers in [0, 255], or None."""
    match = _FUNCTIONAL.match(text)
    if not match:
        return None
    try:
        values = [float(c) for c in match.groups()]
    except ValueError:
        return None
    if not all(is_finite_number(v) and 0 <= v <= 255 for v in values):
        return None
    return tuple(int(v + 0.5) for v in values)


def _css_color(text):
    """(r, g, b) of a CSS / X11 color name (Pillow's table of 148), or None."""
    from PIL import ImageColor

    key = "".join(text.split()).lower()
    if not key.isalpha() or key not in ImageColor.colormap:
        return None
    return ImageColor.getrgb(key)[:3]


@dataclasses.dataclass(frozen=True)
class Hint:
    """One color hint, in the photo's own pixel coordinates.

    Parameters
    ----------
    x, y : float
        Column and row of the hint's center, in pixels of the photo as given (0, 0 is the
        top-left pixel's center): 0 <= x < width, 0 <= y < height.
    color : str or (r, g, b)
        Its sRGB color; only the chroma (a*, b*) is used.
    radius : float, optional
        Half-side of the square it covers, in photo pixels (default: :data:`DEFAULT_RADIUS`
        pixels of the model's render, whatever the photo's size; at most :data:`MAX_RADIUS`).
    """

    x: float
    y: float
    color: object
    radius: float | None = None

    @property
    def rgb(self):
        """The color as an (r, g, b) tuple of ints."""
        return parse_color(self.color)

    @property
    def ab(self):
        """The color's a*, b* (CIE L*a*b* units), float32 (2,): all of it a hint uses."""
        lab = rgb_to_lab(np.asarray(self.rgb, np.float64).reshape(1, 1, 3) / 255.0)
        return lab[0, 0, 1:].astype(np.float32)

    def cell(self, photo_shape, grid_shape):
        """(row, column) of the cell holding the hint on a ``grid_shape`` (h, w) grid laid over
        a photo of ``photo_shape`` (H, W): the render, or the model's a*b* output."""
        (H, W), (h, w) = photo_shape, grid_shape
        return (min(h - 1, max(0, int((self.y + 0.5) * h / H))),
                min(w - 1, max(0, int((self.x + 0.5) * w / W))))


def _number(value, what, index):
    if not is_finite_number(value):
        raise ValueError(f"hint {index}: {what} must be a finite number. "
                         f"Received: {what}={shown(value)}")
    return float(value)


def _one_hint(item, index):
    if isinstance(item, Hint):
        x, y, color, radius = item.x, item.y, item.color, item.radius
    elif isinstance(item, dict):
        unknown = set(item) - {"x", "y", "color", "radius"}
        missing = {"x", "y", "color"} - set(item)
        if unknown or missing:
            raise ValueError(f"hint {index}: a hint has keys x, y, color and optionally radius. "
                             f"Received: {shown(item)}")
        x, y, color, radius = item["x"], item["y"], item["color"], item.get("radius")
    elif isinstance(item, (list, tuple)) and len(item) in (3, 4):
        x, y, color, radius = (*item, None) if len(item) == 3 else item
    else:
        raise ValueError(f"hint {index}: a hint is a Hint, a dict with x, y, color (radius), or an "
                         f"(x, y, color[, radius]) tuple. Received: {shown(item)}")
    try:
        rgb = parse_color(color)
    except ValueError as e:
        raise ValueError(f"hint {index}: {e}") from None
    x, y = _number(x, "x", index), _number(y, "y", index)
    if radius is not None:
        radius = _number(radius, "radius", index)
        if radius < 0:
            raise ValueError(f"hint {index}: radius must be >= 0. Received: radius={radius:g}")
    return Hint(x, y, "#{:02x}{:02x}{:02x}".format(*rgb), radius)


def parse_hints(hints, height=None, width=None):
    """Check hints against a photo of ``height`` x ``width`` pixels; return them as :class:`Hint`.

    Parameters
    ----------
    hints : None or sequence
        Each a :class:`Hint`, a dict ``{"x", "y", "color", "radius"?}`` or an
        ``(x, y, color[, radius])`` tuple. None or empty: no hints.
    height, width : int, optional
        The photo's size, in pixels. Without them (hints read before their photo, as the
        command line checks a hints file) only the format, the colors and that positions are
        not negative are checked; check again with the size before use.

    Returns
    -------
    list of Hint
        Colors normalized to ``"#rrggbb"``.

    Raises
    ------
    ValueError
        For a malformed hint, a bad color or a position outside the photo, naming the hint's
        index and the value.
    """
    if hints is None:
        return []
    if isinstance(hints, (str, bytes, dict, Hint)) or not hasattr(hints, "__iter__"):
        raise ValueError(f"hints must be a list of hints (one photo). Received: {shown(hints)}")
    parsed = [_one_hint(item, i) for i, item in enumerate(hints)]
    for i, h in enumerate(parsed):
        if height is None or width is None:
            if h.x < 0 or h.y < 0:
                raise ValueError(f"hint {i} lies outside the photo: x and y must be >= 0. "
                                 f"Received: x={h.x:g}, y={h.y:g}")
        elif not (0 <= h.x < width and 0 <= h.y < height):
            raise ValueError(f"hint {i} lies outside the {width} x {height} photo: x must be in "
                             f"[0, {width}) and y in [0, {height}). Received: x={h.x:g}, y={h.y:g}")
    return parsed


def hint_channels(hints, photo_shape, render_shape):
    """The (h, w, 3) float32 hint channels of checked hints for a photo rendered at ``render_shape``.

    Parameters
    ----------
    hints : list of Hint
        From :func:`parse_hints` (positions in the photo's pixels).
    photo_shape : (H, W)
        The photo's size.
    render_shape : (h, w)
        The size the model sees.

    Returns
    -------
    ndarray (h, w, 3) float32
        Scaled a*, b* and the mask. A later hint overwrites an earlier one where they overlap.
    """
    H, W = photo_shape
    h, w = render_shape
    out = np.zeros((h, w, HINT_CHANNELS), np.float32)
    sy, sx = h / H, w / W
    for hint in hints:
        cy, cx = hint.cell(photo_shape, render_shape)
        # Clipped before rounding: a radius of 1e300 photo pixels is a float, its round() not.
        r = DEFAULT_RADIUS if hint.radius is None else round(min(MAX_RADIUS,
                                                                 hint.radius * min(sx, sy)))
        out[max(0, cy - r):cy + r + 1, max(0, cx - r):cx + r + 1] = (*ab_to_target(hint.ab), 1.0)
    return out


def reveal_random_hints(ab_target, rng, *, p=1 / 8, max_points=40, max_side=9, out=None):
    """Hint channels that reveal random patches of a training crop's true colors.

    As Zhang et al. 2017: the number of points is geometric (P(n) = p (1 - p)^n, so ``p`` of
    the crops get none and learn automatic colorization), each point a square patch of random
    side in [1, ``max_side``] whose value is the mean true a*b* over the patch, centred at a
    2-D Gaussian position (mean the crop's center, standard deviation a quarter of its side).

    Parameters
    ----------
    ab_target : ndarray (S, S, 2)
        The crop's true a*, b* at full resolution, scaled as targets.
    rng : numpy.random.Generator
    out : ndarray (S, S, 3), optional
        Filled in place (zeroed first) when given.

    Returns
    -------
    ndarray (S, S, 3) float32
    """
    S0, S1 = ab_target.shape[:2]
    out = np.zeros((S0, S1, HINT_CHANNELS), np.float32) if out is None else out
    out[...] = 0
    n = min(max_points, int(rng.geometric(p)) - 1)
    for _ in range(n):
        side = int(rng.integers(1, max_side + 1))
        cy = int(np.clip(rng.normal(S0 / 2, S0 / 4), 0, S0 - 1))
        cx = int(np.clip(rng.normal(S1 / 2, S1 / 4), 0, S1 - 1))
        y0, x0 = max(0, cy - side // 2), max(0, cx - side // 2)
        patch = ab_target[y0:y0 + side, x0:x0 + side]
        out[y0:y0 + side, x0:x0 + side, :2] = patch.reshape(-1, 2).mean(axis=0)
        out[y0:y0 + side, x0:x0 + side, 2] = 1.0
    return out


class _RepeatedKey(Exception):
    pass


def _no_repeated_keys(pairs):
    seen = set()
    for k, _ in pairs:
        if k in seen:
            raise _RepeatedKey(k)
        seen.add(k)
    return dict(pairs)


def load_hints_file(path):
    """Read a hints JSON file.

    The file holds either a list of hints for one photo, ``[{"x": 120, "y": 80, "color":
    "#7a5230", "radius": 6}, ...]``, or an object mapping photo names to such lists, ``{"a.jpg":
    [...], "album/b.png": [...]}`` (names as given on the command line, relative to an input
    folder, or the file name alone). UTF-8, with or without a byte-order mark (as Windows'
    Notepad saves it).

    Returns
    -------
    list or dict
        The JSON as read; each list is checked later against its photo's size
        (:func:`parse_hints`).

    Raises
    ------
    ValueError
        For a file that cannot be read, is not a regular file (a named pipe, a device or a
        folder is refused without being read), is not UTF-8 JSON, is nested too deeply, holds
        a number Python will not parse, repeats a key in an object (JSON readers keep the last
        one silently) or holds another shape, naming the file.
    """
    path = os.fspath(path)
    try:
        text = _read_regular_file(path)
        value = json.loads(text.decode("utf-8-sig"), object_pairs_hook=_no_repeated_keys)
    except OSError as e:
        raise ValueError(f"cannot read the hints file {path!r}: {e.strerror or e}") from None
    except _RepeatedKey as e:
        raise ValueError(f"hints file {path!r} names {shown(e.args[0])} twice in one "
                         f"object") from None
    except RecursionError:
        raise ValueError(f"hints file {path!r} is not valid hints JSON: it is nested too "
                         f"deeply") from None
    except ValueError as e:  # JSONDecodeError, UnicodeDecodeError, an int over 4300 digits
        why = ("it holds an integer of more digits than Python reads (4300)"
               if "integer string conversion" in str(e) else " ".join(str(e).split()))
        raise ValueError(f"hints file {path!r} is not valid JSON: {why}") from None
    if isinstance(value, list):
        return value
    if isinstance(value, dict) and all(isinstance(v, list) for v in value.values()):
        return value
    raise ValueError(f"hints file {path!r} must hold a list of hints or an object mapping photo "
                     f"names to lists of hints. Received: {type(value).__name__}")


#: Largest hints file read, in bytes: a hint takes under 100, so this is ~100,000 hints.
MAX_HINTS_FILE_BYTES = 10 * 2**20


def _read_regular_file(path):
    """The bytes of ``path``, or OSError for anything but a regular file of sane size. Opened
    without blocking and checked on the open descriptor: reading a named pipe would wait for a
    writer forever."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            kind = ("a folder" if stat.S_ISDIR(st.st_mode) else
                    "a named pipe (FIFO)" if stat.S_ISFIFO(st.st_mode) else
                    "a socket" if stat.S_ISSOCK(st.st_mode) else "a device")
            raise OSError(0, f"it is {kind}, not a regular file; it was not read")
        if st.st_size > MAX_HINTS_FILE_BYTES:
            raise OSError(0, f"it has {st.st_size} bytes, more than a hints file's "
                             f"{MAX_HINTS_FILE_BYTES} (about 100,000 hints)")
        with os.fdopen(fd, "rb", closefd=False) as f:
            return f.read(MAX_HINTS_FILE_BYTES + 1)
    finally:
        os.close(fd)
