"""Decode one image file with Pillow into float sRGB in [0, 1] (or its L*), whatever its mode."""

from __future__ import annotations

import io
import os
import stat
import struct
import warnings

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from bwcolor.color import gray_to_lightness, uint8_gray_to_lightness, uint8_rgb_to_lightness

__all__ = ["PHOTO_SUFFIXES", "ImageDecodeError", "load_rgb", "open_image", "photo_format",
           "pil_to_lightness", "pil_to_rgb", "sniff_format"]

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


# Pillow formats accepted for photos when no signature above matches (TGA has none). Formats
# that need outside programs (EPS), are not raster photos (WMF, FITS, GRIB...) or are icons stay out.
_PILLOW_PHOTO_FORMATS = ("JPEG", "PNG", "GIF", "BMP", "DIB", "TIFF", "WEBP", "PPM", "TGA",
                         "JPEG2000", "AVIF", "QOI", "SGI", "PCX", "PSD")
_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1"}


def _require_regular_file(path):
    """Raise ImageDecodeError unless ``path`` is a regular file (links followed).

    FIFOs, sockets and devices are never opened: reading a FIFO blocks until some other
    program writes to it, so a named pipe in a scanned folder would hang the whole job.
    """
    path = os.fspath(path)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise ImageDecodeError(f"file not found. Received: path={path!r}",
                               path=path, reason="not_found") from None
    except OSError as e:
        raise ImageDecodeError(f"cannot read the file ({e.strerror}). Received: path={path!r}",
                               path=path, reason="unreadable") from None
    if stat.S_ISDIR(st.st_mode):
        raise ImageDecodeError(f"expected an image file, got a directory. Received: path={path!r}",
                               path=path, reason="not_image")
    if not stat.S_ISREG(st.st_mode):
        kind = ("a named pipe (FIFO)" if stat.S_ISFIFO(st.st_mode) else
                "a socket" if stat.S_ISSOCK(st.st_mode) else "a device")
        raise ImageDecodeError(f"not a regular file ({kind}); it was not opened. "
                               f"Received: path={path!r}", path=path, reason="not_regular")


def sniff_format(path):
    """Return the image format of a file from its content (lowercase), or None if it is not an
    image bwcolor reads. The extension is ignored.

    Common formats are told by their first bytes; others that Pillow decodes (TGA, which has no
    signature, QOI, SGI, PCX, PSD) by Pillow's own header check. ``"heif"`` is returned for
    HEIC/HEIF files even when no Pillow plugin can decode them, so the error can say so.

    Raises
    ------
    ImageDecodeError
        For a path that is not a regular file (``reason`` ``"not_regular"``, ``"not_found"``,
        ``"not_image"`` for a folder): FIFOs, sockets and devices are never opened.
    """
    _require_regular_file(path)
    with open(path, "rb") as f:
        head = f.read(32)
    for magic, fmt in _SIGNATURES:
        if head.startswith(magic):
            return fmt
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in (b"avif", b"avis"):
            return "avif"
        if brand in _HEIF_BRANDS:
            return "heif"
    if head.startswith(b"\x00\x00\x00\x0cjP  \r\n\x87\n") or head.startswith(b"\xffO\xffQ"):
        return "jpeg2000"
    if len(head) >= 3 and head[:1] == b"P" and head[1:2] in b"123456" and head[2:3].isspace():
        return "pnm"
    try:
        with Image.open(path, formats=_PILLOW_PHOTO_FORMATS) as img:
            return (img.format or "").lower() or None
    except Image.DecompressionBombError:
        return "image"  # an image all the same; decoding reports the size limit
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError, TypeError,
            IndexError, struct.error):
        return None


#: File name suffixes that say "this is a photo" (lowercase): a file named so whose content is no
#: image format is a damaged photo (a cut-off download, a disk error), not a file to skip.
PHOTO_SUFFIXES = frozenset({
    ".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".apng", ".gif", ".bmp", ".dib", ".tif", ".tiff",
    ".webp", ".ppm", ".pgm", ".pbm", ".pnm", ".tga", ".jp2", ".j2k", ".jpx", ".avif", ".heic",
    ".heif", ".qoi", ".psd", ".pcx", ".sgi"})


def photo_format(path):
    """:func:`sniff_format`, for files that are meant to be photos: a file whose name says it is
    an image (a suffix in :data:`PHOTO_SUFFIXES`) but whose content is no image format is
    damaged, and raises; other non-images (``README.txt``, ``.xmp`` sidecars) give None.

    Raises
    ------
    ImageDecodeError
        ``reason="damaged"`` for such a file, and :func:`sniff_format`'s errors.
    """
    fmt = sniff_format(path)
    if fmt is None and os.path.splitext(os.fspath(path))[1].lower() in PHOTO_SUFFIXES:
        raise ImageDecodeError(f"damaged: named as an image, but its content is no image format "
                               f"(empty, cut off, or another kind of file). Received: "
                               f"path={os.fspath(path)!r}", path=path, reason="damaged")
    return fmt


def _heif_plugin():
    """Register pillow-heif's opener when it is installed; True if HEIF can be decoded."""
    try:
        import pillow_heif
    except ImportError:
        return False
    pillow_heif.register_heif_opener()
    return True


def _pixels(img):
    """A PIL image of any mode as (H, W) gray or (H, W, 3) sRGB: uint8 where the data is 8-bit,
    float32 in [0, 1] for 16-bit and other high-depth modes (always gray)."""
    mode = img.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N"):
        return np.asarray(img, dtype=np.float32) / 65535.0
    if mode == "F":
        # Float pixels mean what they mean in a float array: gray values in [0, 1].
        arr = np.asarray(img, dtype=np.float32)
        if not np.all(np.isfinite(arr)):
            raise ValueError("mode 'F' image contains NaN or inf")
        lo, hi = float(arr.min(initial=0)), float(arr.max(initial=0))
        if lo < 0 or hi > 1:
            raise ValueError(f"mode 'F' image values must be in [0, 1], as for float arrays. "
                             f"Received: min={lo:g}, max={hi:g}")
        return arr
    if mode == "I":
        arr = np.asarray(img, dtype=np.float64)
        # Pillow opens 16-bit gray PNGs as mode "I"; 8-bit data in "I" is rare.
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
    img = open_image(path, min_short_side=min_short_side)
    try:
        rgb, is_gray = _to_rgb_float(img)
    except ValueError as e:  # float pixels outside [0, 1]
        raise ImageDecodeError(f"{e}. Received: path={os.fspath(path)!r}", path=path,
                               reason="unreadable") from None
    return (rgb, is_gray) if return_is_gray else rgb


def _to_srgb(img, path):
    """Convert an image tagged with an ICC profile to sRGB, so L* is taken from the colors the
    scanner or camera meant (a scan tagged with a linear or Adobe RGB profile would otherwise
    come out darker or duller). Untagged images and sRGB-tagged ones are returned as they are;
    modes littlecms cannot convert (16-bit, float) keep their values.
    """
    icc = img.info.get("icc_profile")
    if not icc or img.mode not in ("L", "LA", "RGB", "RGBA", "CMYK"):
        return img
    from PIL import ImageCms

    try:
        profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        description = ImageCms.getProfileDescription(profile).strip().lower()
        if description.startswith("srgb") and img.mode != "CMYK":
            return img
        alpha = img.getchannel("A") if img.mode in ("LA", "RGBA") else None
        base = img.convert("L" if img.mode == "LA" else "RGB") if alpha is not None else img
        converted = ImageCms.profileToProfile(base, profile, ImageCms.createProfile("sRGB"),
                                              outputMode="RGB")
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError) as e:
        # A damaged profile must not cost the photo: its pixels are still usable as sRGB.
        warnings.warn(f"ignoring an unreadable ICC color profile ({e}). Received: path={path!r}",
                      stacklevel=3)
        return img
    if alpha is not None:
        converted.putalpha(alpha)
    converted.info = {k: v for k, v in img.info.items() if k != "icc_profile"}
    return converted


def warn_if_several_frames(img, name):
    """Warn (a UserWarning naming ``name``) when ``img`` holds several frames (an animated GIF,
    PNG or WebP, a multi-page TIFF): bwcolor reads the one the image is at, the first of a file
    just opened, and says so rather than drop the others silently."""
    frames = getattr(img, "n_frames", 1)
    if isinstance(frames, int) and frames > 1:
        which = "the first" if img.tell() == 0 else f"frame {img.tell() + 1}"
        warnings.warn(f"{name}: has {frames} frames (an animated image or a multi-page file); "
                      f"only {which} is used", UserWarning, stacklevel=3)


def open_image(path, *, min_short_side=None):
    """Decode an image file into a PIL image: pixels loaded, EXIF orientation applied, embedded
    ICC profile converted to sRGB, file closed. A file of several frames (an animated GIF or
    PNG, a multi-page TIFF) gives its first, with a warning naming it
    (:func:`warn_if_several_frames`).

    The first step of :func:`load_rgb`; :func:`pil_to_rgb` or :func:`pil_to_lightness` finish
    it. ``min_short_side`` and the errors are those of :func:`load_rgb`; a path that is not a
    regular file (a FIFO, socket or device) is refused without being opened.
    """
    path = os.fspath(path)
    _require_regular_file(path)
    try:
        img = Image.open(path)
        with img:
            if min_short_side and img.format == "JPEG":
                w, h = img.size
                scale = max(min_short_side / min(w, h), 1e-9)
                img.draft("RGB", (int(np.ceil(w * scale)), int(np.ceil(h * scale))))
            img.load()
            warn_if_several_frames(img, path)
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
        if fmt == "heif" and not _heif_plugin():
            raise ImageDecodeError(f"unsupported format HEIC/HEIF: install the pillow-heif "
                                   f"package to read it. Received: path={path!r}",
                                   path=path, reason="unsupported") from None
        if fmt == "heif":  # the plugin was just registered: try once more
            return open_image(path, min_short_side=min_short_side)
        if fmt is not None:  # the right magic number, but the rest does not parse
            raise ImageDecodeError(f"corrupt or unsupported {fmt.upper()} file (Pillow cannot "
                                   f"parse it). Received: path={path!r}",
                                   path=path, reason="unreadable") from None
        raise ImageDecodeError(f"not an image Pillow can read. Received: path={path!r}",
                               path=path, reason="not_image") from None
    except PermissionError as e:
        raise ImageDecodeError(f"permission denied. Received: path={path!r}",
                               path=path, reason="unreadable") from e
    except (OSError, SyntaxError, ValueError, EOFError, struct.error, IndexError) as e:
        raise ImageDecodeError(f"corrupt or truncated image ({e}). Received: path={path!r}",
                               path=path, reason="unreadable") from None
    if min(img.size) < 1:
        raise ImageDecodeError(f"image has no pixels. Received: path={path!r} size={img.size}",
                               path=path, reason="unreadable")
    return _to_srgb(img, path)
