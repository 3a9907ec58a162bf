"""Decode one image file with Pillow into float sRGB in [0, 1] (or its L*), whatever its mode."""

from __future__ import annotations

import os
import warnings

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from bwcolor.color import gray_to_lightness, uint8_gray_to_lightness, uint8_rgb_to_lightness

__all__ = ["ImageDecodeError", "load_rgb", "open_image", "pil_to_lightness", "pil_to_rgb",
           "sniff_format"]

# Pillow warns about malformed EXIF/TIFF tags, common in old scans whose pixels decode fine.
# Filtered once, narrowly, for the process: a warnings.catch_warnings() around each decode swaps
# the process-wide filter list, which the loader's threads raced, once leaving every UserWarning
# ignored after a fit.
warnings.filterwarnings("ignore", category=UserWarning, module=r"PIL\.TiffImagePlugin")

# Magic numbers of the formats bwcolor reads; discovery is by content, not extension.
_SIGNATURES = (
    (b"\xff\xd8\xff", "jpeg"),
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"GIF87a", "gif"),
    (b"GIF89a", "gif"),
    (b"BM", "bmp"),
    (b"II*\x00", "tiff"),
    (b"MM\x00*", "tiff"),
)


class ImageDecodeError(ValueError):
    """An image file could not be turned into pixels; ``reason`` is a short machine-readable key."""

    def __init__(self, message, *, path=None, reason="unreadable"):
        super().__init__(message)
        self.path = path
        self.reason = reason


def sniff_format(path):
    """Return the image format named by the file's first bytes, or None if it is not an image."""
    with open(path, "rb") as f:
        head = f.read(16)
    for magic, fmt in _SIGNATURES:
        if head.startswith(magic):
            return fmt
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    return None


def _pixels(img):
    """A PIL image of any mode as (H, W) gray or (H, W, 3) sRGB: uint8 where the data is 8-bit,
    float32 in [0, 1] for 16-bit and other high-depth modes (always gray)."""
    mode = img.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N"):
        return np.asarray(img, dtype=np.float32) / 65535.0
    if mode in ("I", "F"):
        arr = np.asarray(img, dtype=np.float64)
        # Pillow opens 16-bit gray PNGs as mode "I"; 8-bit data in "I"/"F" is rare.
        peak = 65535.0 if arr.max(initial=0) > 255 else 255.0
        return np.clip(arr / peak, 0, 1).astype(np.float32)
    if mode in ("LA", "La", "PA", "RGBA", "RGBa") or (mode == "P" and "transparency" in img.info):
        # Transparent areas become white, like paper behind a cut-out print.
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        flat = Image.alpha_composite(background, rgba)
        return np.asarray(flat.convert("L" if mode in ("LA", "La") else "RGB"))
    if mode in ("1", "L"):
        return np.asarray(img.convert("L"))
    return np.asarray(img.convert("RGB"))  # RGB, P, CMYK, YCbCr, LAB, HSV


def _to_rgb_float(img):
    arr = _pixels(img)
    rgb = arr.astype(np.float32) / 255.0 if arr.dtype == np.uint8 else arr
    if arr.ndim == 2:
        return np.repeat(rgb[..., None], 3, axis=-1), True
    return rgb, False


def pil_to_rgb(img):
    """A PIL image of any mode as float32 sRGB (H, W, 3) in [0, 1], as :func:`load_rgb` decodes.

    Transparent pixels are composited on white; 16-bit and palette modes are converted. EXIF
    orientation is not applied (it belongs to the file: use :func:`load_rgb` for files).
    """
    return _to_rgb_float(img)[0]


def pil_to_lightness(img):
    """L* (float32, (H, W), in [0, 100]) of a PIL image of any mode, as :func:`pil_to_rgb` would
    give it, but without a full-resolution color conversion: 8-bit images go through lookup
    tables (:func:`bwcolor.color.uint8_gray_to_lightness`, ``uint8_rgb_to_lightness``). A
    12-megapixel gray scan takes one lookup per pixel, not a float RGB copy and a conversion."""
    arr = _pixels(img)
    if arr.dtype == np.uint8:
        return uint8_gray_to_lightness(arr) if arr.ndim == 2 else uint8_rgb_to_lightness(arr)
    return gray_to_lightness(arr)


def load_rgb(path, *, min_short_side=None, return_is_gray=False):
    """Read an image file as float32 sRGB, shape (H, W, 3), values in [0, 1].

    EXIF orientation is applied; transparent pixels are composited on white; CMYK, palette,
    16-bit and gray modes are converted; GIFs and other multi-frame files give their first frame.

    Parameters
    ----------
    path : str or os.PathLike
    min_short_side : int, optional
        Lets JPEG decoding skip resolution it will not need (Pillow's ``draft``): the result's
        short side stays at least this large. None decodes at full size.
    return_is_gray : bool
        Also return whether the file stores a single gray channel.

    Raises
    ------
    ImageDecodeError
        With ``reason`` one of ``"not_found"``, ``"not_image"``, ``"unreadable"``, ``"too_large"``.
    """
    rgb, is_gray = _to_rgb_float(open_image(path, min_short_side=min_short_side))
    return (rgb, is_gray) if return_is_gray else rgb


def open_image(path, *, min_short_side=None):
    """Decode an image file into a PIL image: pixels loaded, EXIF orientation applied, file closed.

    The first step of :func:`load_rgb`; :func:`pil_to_rgb` or :func:`pil_to_lightness` finish
    it. ``min_short_side`` and the errors are those of :func:`load_rgb`.
    """
    path = os.fspath(path)
    if os.path.isdir(path):
        raise ImageDecodeError(f"expected an image file, got a directory. Received: path={path!r}",
                               path=path, reason="not_image")
    try:
        img = Image.open(path)
        with img:
            if min_short_side and img.format == "JPEG":
                w, h = img.size
                scale = max(min_short_side / min(w, h), 1e-9)
                img.draft("RGB", (int(np.ceil(w * scale)), int(np.ceil(h * scale))))
            img.load()
            img = ImageOps.exif_transpose(img)
    except FileNotFoundError:
        raise ImageDecodeError(f"file not found. Received: path={path!r}",
                               path=path, reason="not_found") from None
    except Image.DecompressionBombError as e:
        raise ImageDecodeError(
            f"image is larger than Pillow's decompression-bomb limit "
            f"({Image.MAX_IMAGE_PIXELS} pixels; raise PIL.Image.MAX_IMAGE_PIXELS if you trust it). "
            f"Received: path={path!r}: {e}", path=path, reason="too_large") from None
    except UnidentifiedImageError:
        fmt = sniff_format(path)
        if fmt is not None:  # the right magic number, but the rest does not parse
            raise ImageDecodeError(f"corrupt {fmt.upper()} file (Pillow cannot parse it). "
                                   f"Received: path={path!r}", path=path, reason="unreadable") from None
        raise ImageDecodeError(f"not an image Pillow can read. Received: path={path!r}",
                               path=path, reason="not_image") from None
    except PermissionError as e:
        raise ImageDecodeError(f"permission denied. Received: path={path!r}",
                               path=path, reason="unreadable") from e
    except (OSError, SyntaxError, ValueError, EOFError) as e:
        raise ImageDecodeError(f"corrupt or truncated image ({e}). Received: path={path!r}",
                               path=path, reason="unreadable") from None
    if min(img.size) < 1:
        raise ImageDecodeError(f"image has no pixels. Received: path={path!r} size={img.size}",
                               path=path, reason="unreadable")
    return img
