"""Photo -> model input: the photo's full-resolution L* and the render shape the model sees.

:class:`Preprocessor` takes paths, PIL images and arrays (gray or color, uint8 or float), reduces
them to L* (uint8 photos by lookup tables, not a color conversion per pixel) and resizes L* to
one of a bounded set of render shapes, so that photos of any size compile few model shapes.
"""

from __future__ import annotations

import math
import os

import numpy as np
from PIL import Image, ImageOps

from bwcolor import color, data, presets
from bwcolor._arguments import shown
from bwcolor.data.decode import warn_if_several_frames
from bwcolor.hints import HINT_CHANNELS, hint_channels, parse_hints

__all__ = ["Preprocessor", "is_single"]

#: Aspect ratios from 1:1 to 8:1 (2^3) are rounded to 2^(3 k / _ASPECT_STEPS): one compiled
#: render shape per step and orientation.
_ASPECT_STEPS = 12
#: The EXIF tag of a photo's orientation (1: upright as stored).
_ORIENTATION = 0x0112


def is_single(images):
    """True for one photo (a path, PIL image or array), False for a list of them."""
    return isinstance(images, (str, os.PathLike, Image.Image, np.ndarray))


class Preprocessor:
    """Photos -> model inputs (B, h, w, 1) of scaled L* at a render shape (B, h, w, 4 with the
    hint channels of :mod:`bwcolor.hints`, for a model that takes hints).

    Parameters
    ----------
    image_size : int
        The training crop size: the default render size.
    input_multiple : int
        The model takes sides that are multiples of this.
    hints : bool
        The model reads hint channels after L*.
    """

    def __init__(self, image_size, input_multiple, hints=False):
        self.image_size = int(image_size)
        self.input_multiple = int(input_multiple)
        self.hints = bool(hints)

    def check_hints(self, hints, prepared, single):
        """Per photo of :meth:`prepare`, its checked hints (a list of
        :class:`~bwcolor.hints.Hint`, maybe empty).

        ``hints``: None, one photo's list of hints (for one photo), or one list (or None) per
        photo (for a list of photos). None or an empty list is automatic mode for one photo or
        many. Raises ValueError for hints the model cannot take, a count that does not match
        the photos, or a bad hint (naming the photo's index)."""
        if hints is None or (isinstance(hints, (list, tuple)) and len(hints) == 0):
            return [[] for _ in prepared]
        per_photo = [hints] if single else hints
        if not isinstance(per_photo, (list, tuple)) or len(per_photo) != len(prepared):
            raise ValueError(f"for a list of {len(prepared)} photos, hints must be a list of "
                             f"{len(prepared)} lists of hints (or None). "
                             f"Received: hints={shown(hints)}")
        if not self.hints and any(item for item in per_photo if item is not None):
            raise ValueError("this model does not take color hints: it was built without hint "
                             "channels. Use a preset trained with hints (the bundled 'default' "
                             "is), or colorize without hints")
        checked = []
        for i, (item, (lightness, _)) in enumerate(zip(per_photo, prepared)):
            try:
                checked.append(parse_hints(item, *lightness.shape))
            except ValueError as e:
                raise ValueError(e if single else f"photo {i}: {e}") from None
        return checked

    def lightness(self, image):
        """Full-resolution L* (float32, H x W) of a path, PIL image or array; gray or color.

        A path and a PIL image of it give the same L*: EXIF orientation is applied to both,
        and of an image of several frames the first (or the one a PIL image is at) is used,
        with a warning naming the file."""
        if isinstance(image, (str, os.PathLike)):
            image = data.open_image(image)
        elif isinstance(image, Image.Image):
            warn_if_several_frames(image, getattr(image, "filename", None) or "the image")
            if image.getexif().get(_ORIENTATION, 1) != 1:  # as open_image does for a file
                image = ImageOps.exif_transpose(image)
        if isinstance(image, Image.Image):
            return data.pil_to_lightness(image)
        if isinstance(image, np.ndarray):
            rgb = data.validate_image_array(image, keep_uint8=True)
            if rgb.dtype == np.uint8:  # lookup tables, not a color conversion per pixel
                return (color.uint8_gray_to_lightness(rgb) if rgb.ndim == 2
                        else color.uint8_rgb_to_lightness(rgb))
            return color.rgb_to_lab(rgb)[..., 0]
        raise TypeError(f"image must be a path, a PIL image or a numpy array. "
                        f"Received: {type(image).__name__}")

    def check_render_size(self, render_size):
        """The render size to use (default: the training size), or a ValueError naming it."""
        if render_size is None:
            return self.image_size
        low = max(presets.MIN_RENDER_SIZE, self.input_multiple)
        if isinstance(render_size, bool) or not isinstance(render_size, (int, np.integer)):
            raise TypeError(f"render_size must be an int. Received: render_size={render_size!r}")
        if not low <= render_size <= presets.MAX_RENDER_SIZE:
            raise ValueError(f"render_size must be in [{low}, {presets.MAX_RENDER_SIZE}]. "
                             f"Received: render_size={render_size!r}")
        return int(render_size)

    def render_shape(self, height, width, render_size=None):
        """(h, w) the model sees for an H x W photo (see :meth:`bwcolor.Colorizer.render_shape`)."""
        size = self.check_render_size(render_size)
        if min(height, width) < 1:
            raise ValueError(f"a photo needs at least 1 x 1 pixels. Received: {height} x {width}")
        short, long_side = min(height, width), max(height, width)
        size = min(size, max(short, self.image_size))
        m = self.input_multiple
        s = max(m, round(size / m) * m)
        step = min(_ASPECT_STEPS, max(0, round(_ASPECT_STEPS / 3 * math.log2(long_side / short))))
        long_render = max(s, round(s * 2 ** (3 * step / _ASPECT_STEPS) / m) * m)
        return (s, long_render) if height <= width else (long_render, s)

    def prepare(self, images, render_size=None):
        """[(L*, render shape)] of one photo or a list of them, and whether it was one."""
        single = is_single(images)
        if not single and not isinstance(images, (list, tuple)):
            raise TypeError(f"images must be a path, a PIL image, a numpy array, or a list of "
                            f"these. Received: {type(images).__name__}")
        prepared = []
        for item in [images] if single else images:
            lightness = self.lightness(item)
            prepared.append((lightness, self.render_shape(*lightness.shape, render_size)))
        return prepared, single

    def batches(self, prepared, batch_size=8, hints=None):
        """Yield ``(indices, x)``: the photos of :meth:`prepare` grouped by render shape,
        ``batch_size`` at a time, as model inputs x (B, h, w, 1 or 4). Batches of a shape shared
        by several photos are padded to ``batch_size``, so each shape compiles once. ``hints``:
        per photo, its checked hints (:meth:`check_hints`)."""
        by_shape = {}
        for i, (_, shape) in enumerate(prepared):
            by_shape.setdefault(shape, []).append(i)
        for (h, w), group in by_shape.items():
            for start in range(0, len(group), batch_size):
                indices = group[start:start + batch_size]
                channels = 1 + HINT_CHANNELS if self.hints else 1
                x = np.zeros((batch_size if len(group) > 1 else 1, h, w, channels), np.float32)
                for j, i in enumerate(indices):
                    small = Image.fromarray(prepared[i][0], mode="F").resize((w, h), Image.BILINEAR)
                    x[j, ..., 0] = color.lightness_to_input(np.asarray(small))
                    if hints and hints[i]:
                        x[j, ..., 1:] = hint_channels(hints[i], prepared[i][0].shape, (h, w))
                yield indices, x
