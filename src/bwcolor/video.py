"""Old film: colorize a video frame by frame, with colors that hold still from frame to frame.

Each frame is colorized as a photo is (:meth:`bwcolor.Colorizer.colorize`'s path: the model
predicts a*b* at the render size, joined with the frame's own full-resolution L*), and its a*b*
is then made consistent with the frames before it. A colorizer that guesses every frame anew
flickers: a wall turns from beige to gray and back as the camera moves. Here the a*b* of the last
frame is carried along the optical flow of the *gray* frames (OpenCV's DIS flow) and blended with
the new prediction wherever the flow can be trusted: a forward-backward check finds occluded and
badly matched pixels (which take the new prediction alone), and a frame where most pixels fail
it is a cut, after which the new shot starts afresh. Color hints given for one frame are carried
along the same flow through the shot, until the next cut.

Files are read and written with PyAV (FFmpeg in the wheel) and the flow comes from
``opencv-python-headless``: the optional extra ``pip install "bwcolor[video]"``. The output is
H.264 (libx264) in the container its name asks for (.mp4, .mov, .m4v or .mkv); frame rate, frame
times, size and duration are the source's, and every audio stream is copied packet by packet,
not re-encoded. Frames are read, colorized and written in chunks of ``batch_size``, so memory
does not grow with the film's length, and the output is written to a temporary file beside it,
renamed into place only when complete.

Measuring flicker: :func:`warping_error` (Lai et al. 2018) and :func:`evaluate_clip`;
:func:`synthetic_clip` makes pans and zooms over a still photo whose true motion is known.

Examples
--------
>>> from bwcolor import Colorizer
>>> from bwcolor.video import colorize_video
>>> colorize_video(Colorizer.from_preset("default"), "film.mp4", "film_color.mp4")  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import fractions
import math
import numbers
import os
import time
from collections import deque
from pathlib import Path
from typing import NamedTuple

import numpy as np

from bwcolor import _io, color
from bwcolor._arguments import check_bools, check_int, shown
from bwcolor.hints import parse_hints

__all__ = ["CONSISTENCY", "OUTPUT_SUFFIXES", "VIDEO_SUFFIXES", "VideoError", "VideoInfo",
           "colorize_frames", "colorize_video", "evaluate_clip", "probe_video", "sniff_video",
           "synthetic_clip", "warping_error"]

#: ``consistency`` choices: "flow" carries a*b* along the optical flow (the default), "none"
#: colorizes every frame on its own (the per-frame baseline).
CONSISTENCY = ("flow", "none")

#: Output file suffixes and the FFmpeg muxer each is written with; the video is H.264 (libx264).
OUTPUT_SUFFIXES = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska"}

#: Weight of the new frame's own prediction in the carried a*b* (an exponential moving average
#: along the flow: about 1 / BLEND frames of memory; occluded and newly seen pixels take the new
#: prediction alone). Measured with benchmarks/video.py (three 24-frame shots at 854x480, pans
#: and zooms over photos, true flow): warping error 0.77 per frame -> 0.27 at 0.05, 0.31 at 0.1,
#: 0.37 at 0.2, 0.44 at 0.35 (the clips themselves score about 0.3, from resampling alone);
#: CIEDE2000 15.11 -> 15.00 / 15.01 / 15.04 / 15.07. Still photos never change color, so these
#: clips reward ever longer memory; 0.1 (about 10 frames, 0.4 s at 24 frames/s) keeps most of the
#: gain and lets a film's real color changes (lights, a turning object) through sooner.
BLEND = 0.1

#: Forward-backward check (Sundaram, Brox and Keutzer 2010): a pixel's flow is trusted when
#: going there and back lands within ``FB_RELATIVE * (|f|^2 + |b|^2) + FB_ABSOLUTE`` px^2 of it,
FB_RELATIVE = 0.01
FB_ABSOLUTE = 0.5
#: and when the L* it arrives from differs by at most this much (L* units): a lighting change or
#: a wrong match takes the new prediction there.
LIGHTNESS_TOLERANCE = 10.0
#: A frame where fewer than this fraction of pixels pass both checks starts a new shot (a cut).
CUT_FRACTION = 0.4


class VideoError(ValueError):
    """A file that is not a video bwcolor can read, or that failed while being read or written.

    Attributes
    ----------
    frames_done : int
        Frames colorized before the failure (0 when the file could not be opened).
    """

    def __init__(self, message, frames_done=0):
        super().__init__(message)
        self.frames_done = frames_done


@dataclasses.dataclass(frozen=True)
class VideoInfo:
    """What :func:`probe_video` finds in a video file.

    Attributes
    ----------
    width, height : int
        Frame size, in pixels.
    frames : int
        Frame count: the container's, else estimated from duration and frame rate (0 unknown).
    fps : fractions.Fraction
        Average frame rate.
    duration : float
        Seconds (0.0 when the container does not say).
    codec : str
        The video codec's FFmpeg name (``"h264"``...).
    audio : tuple of str
        Each audio stream's codec name; these streams are copied as they are.
    """

    width: int
    height: int
    frames: int
    fps: fractions.Fraction
    duration: float
    codec: str
    audio: tuple = ()


def _import_av():
    try:
        import av
    except ImportError:
        raise ImportError('bwcolor.video needs PyAV and OpenCV: pip install "bwcolor[video]"') from None
    return av


def _import_cv2():
    try:
        import cv2
    except ImportError:
        raise ImportError('bwcolor.video needs PyAV and OpenCV: pip install "bwcolor[video]"') from None
    return cv2


#: First bytes of the video containers :func:`sniff_video` knows (ISO BMFF is told by its boxes).
_VIDEO_SIGNATURES = ((b"\x1a\x45\xdf\xa3", "matroska"), (b"FLV\x01", "flv"),
                     (b"\x00\x00\x01\xba", "mpeg"), (b"OggS", "ogg"),
                     (b"\x30\x26\xb2\x75\x8e\x66\xcf\x11", "asf"))
_BMFF_BOXES = (b"ftyp", b"moov", b"mdat", b"free", b"skip", b"wide", b"pnot")
#: Suffixes of video files: a file with one whose content is neither a photo nor a known video
#: container is still reported as a video that cannot be read (a zero-byte "film.mp4").
VIDEO_SUFFIXES = (".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".mpg", ".mpeg", ".ts",
                  ".m2ts", ".mts", ".flv", ".ogv", ".wmv", ".3gp", ".dv", ".mxf")


def sniff_video(path):
    """The container of a video file by its first bytes (``"mp4"``, ``"matroska"``, ``"avi"``,
    ...), or None. Needs neither PyAV nor OpenCV, and opens nothing but a regular file; a photo
    (told first by :func:`bwcolor.data.sniff_format`, as HEIC and AVIF share MP4's boxes) is
    not a video here.

    Parameters
    ----------
    path : path

    Returns
    -------
    str or None
    """
    try:
        if not Path(path).is_file():
            return None
        with open(path, "rb") as f:
            head = f.read(377)
    except OSError:
        return None
    for magic, name in _VIDEO_SIGNATURES:
        if head.startswith(magic):
            return name
    if head[:4] == b"RIFF" and head[8:11] == b"AVI":
        return "avi"
    if head[4:8] in _BMFF_BOXES:
        return "mp4"
    if len(head) > 376 and head[0] == head[188] == 0x47:  # MPEG transport stream packets
        return "mpegts"
    return None


#: FFmpeg demuxers of still pictures (it reads a PNG or JPEG as a one-frame "video").
_STILL_FORMATS = ("image2", "_pipe", "gif", "apng", "webp")


def probe_video(path) -> VideoInfo:
    """Open a video file and decode its first frame; return what it holds.

    Parameters
    ----------
    path : path

    Returns
    -------
    VideoInfo

    Raises
    ------
    VideoError
        For a file that cannot be opened as a video (damaged, truncated before its index, not a
        video), a still picture, a file with no video stream, or a video with no frame.
    """
    av = _import_av()
    where = f"Received: path={str(path)!r}"
    try:
        with av.open(os.fspath(path)) as container:
            fmt = container.format.name
            if any(part in fmt for part in _STILL_FORMATS) and fmt != "matroska,webm":
                raise VideoError(f"a still picture ({fmt}), not a video. {where}")
            if not container.streams.video:
                raise VideoError(f"has no video stream (streams: "
                                 f"{', '.join(s.type for s in container.streams) or 'none'}). {where}")
            stream = container.streams.video[0]
            first = next(container.decode(stream), None)
            if first is None:
                raise VideoError(f"a video with no frames (zero length). {where}")
            fps = stream.average_rate or stream.guessed_rate or fractions.Fraction(0)
            duration = (float(stream.duration * stream.time_base) if stream.duration
                        else (container.duration or 0) / av.time_base)
            frames = stream.frames or (round(duration * fps) if fps else 0)
            return VideoInfo(width=first.width, height=first.height, frames=int(frames),
                             fps=fractions.Fraction(fps), duration=float(duration),
                             codec=stream.codec_context.name,
                             audio=tuple(s.codec_context.name for s in container.streams.audio))
    except VideoError:
        raise
    except av.error.EOFError:  # FFmpeg found the end of the file while looking for a frame
        raise VideoError(f"a video with no frames (it ends before its first frame). {where}") from None
    except (av.error.FFmpegError, OSError, UnicodeDecodeError) as e:
        raise VideoError(f"cannot be read as a video ({_reason(e)}). {where}") from None


def _reason(error):
    """A one-line reason from an FFmpeg or OS error (without its repeated file name)."""
    text = getattr(error, "strerror", None) or str(error) or type(error).__name__
    return " ".join(str(text).split())


# ------------------------------------------------------------------ hints on film
def _hints_by_frame(hints, height, width, frames):
    """{frame index: checked hints} of colorize_video's ``hints``, or a ValueError."""
    if hints is None:
        return {}
    if not isinstance(hints, dict):
        hints = {0: hints}
    checked = {}
    for key, items in hints.items():
        index = key
        if isinstance(key, str) and key.strip().isdigit():
            index = int(key)
        if isinstance(index, bool) or not isinstance(index, numbers.Integral) or index < 0:
            raise ValueError(f"hints: a key is a frame number >= 0 (0 is the first frame). "
                             f"Received: {shown(key)}")
        if frames and index >= frames:
            raise ValueError(f"hints: frame {index} is past the video's end (it has {frames} "
                             f"frames, numbered from 0)")
        if int(index) in checked:
            raise ValueError(f"hints: frame {index} is given twice")
        try:
            checked[int(index)] = parse_hints(items, height, width)
        except ValueError as e:
            raise ValueError(f"hints for frame {index}: {e}") from None
    return checked


def _moved_hints(hints, flow_forward, valid, scale):
    """Hints moved along the forward flow (render pixels) into the next frame; those that leave
    the frame or land on a pixel the flow check rejected are dropped."""
    h, w = valid.shape
    moved = []
    for hint in hints:
        row = min(h - 1, max(0, int((hint.y + 0.5) / scale[0])))
        col = min(w - 1, max(0, int((hint.x + 0.5) / scale[1])))
        dx, dy = flow_forward[row, col]
        x, y = hint.x + dx * scale[1], hint.y + dy * scale[0]
        new_row, new_col = int((y + 0.5) / scale[0]), int((x + 0.5) / scale[1])
        if 0 <= new_row < h and 0 <= new_col < w and valid[new_row, new_col]:
            moved.append(dataclasses.replace(hint, x=x, y=y))
    return moved


# ------------------------------------------------------------------ the flow step
class _Step(NamedTuple):
    """The flow into one frame: whether it starts a shot, its backward and forward flows
    (render pixels) and the pixels where they are trusted."""

    cut: bool
    backward: np.ndarray | None = None
    forward: np.ndarray | None = None
    valid: np.ndarray | None = None


_NO_FLOW = _Step(True)


class _Shots:
    """The flow between consecutive gray frames at the render size: cuts, trusted pixels, and
    a*b* carried from one frame to the next (the consistency step's state)."""

    def __init__(self):
        cv2 = _import_cv2()
        self._cv2 = cv2
        self._dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
        self.gray = None  # the last frame's L* at the render size, uint8 (L* * 2.55)
        self.ab = None  # the last frame's output a*b* at the render size

    def step(self, gray):
        """The flow from the last frame to ``gray`` (a :class:`_Step`)."""
        if self.gray is None or self.gray.shape != gray.shape:
            return _NO_FLOW
        backward = self._dis.calc(gray, self.gray, None)  # where each pixel was in the last frame
        forward = self._dis.calc(self.gray, gray, None)
        valid = _trusted(backward, forward, gray, self.gray, self._cv2)
        return _Step(bool(valid.mean() < CUT_FRACTION), backward, forward, valid)

    def warp(self, image, backward):
        """``image`` of the last frame moved into the new frame along ``backward``."""
        return _remap(image, backward, self._cv2)


def _grid(flow):
    h, w = flow.shape[:2]
    return np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))


def _remap(image, backward, cv2):
    xs, ys = _grid(backward)
    return cv2.remap(np.ascontiguousarray(image, np.float32), xs + backward[..., 0],
                     ys + backward[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def _trusted(backward, forward, gray, gray_before, cv2):
    """Pixels of the new frame whose backward flow passes the forward-backward check, lands
    inside the last frame, and arrives from a similar L*."""
    h, w = gray.shape
    xs, ys = _grid(backward)
    x_before, y_before = xs + backward[..., 0], ys + backward[..., 1]
    there = cv2.remap(forward, x_before, y_before, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    loop = ((backward + there) ** 2).sum(-1)
    limit = FB_RELATIVE * ((backward ** 2).sum(-1) + (there ** 2).sum(-1)) + FB_ABSOLUTE
    inside = (x_before >= 0) & (x_before <= w - 1) & (y_before >= 0) & (y_before <= h - 1)
    came_from = _remap(gray_before, backward, cv2)
    similar = np.abs(came_from - gray.astype(np.float32)) <= LIGHTNESS_TOLERANCE * 2.55
    return (loop <= limit) & inside & similar


def _render_gray(lightness, shape, cv2):
    """L* (H, W) at the render shape (h, w) as uint8 (L* * 2.55), area-averaged (flow input)."""
    small = cv2.resize(lightness, (shape[1], shape[0]), interpolation=cv2.INTER_AREA)
    return np.clip(small * 2.55 + 0.5, 0, 255).astype(np.uint8)


# ------------------------------------------------------------------ frames
def _check_options(colorizer, consistency, render_size, annealing_temperature, batch_size,
                   refine_chroma):
    if consistency not in CONSISTENCY:
        raise ValueError(f"consistency must be one of {', '.join(map(repr, CONSISTENCY))}. "
                         f"Received: consistency={shown(consistency)}")
    colorizer._check_colorize_options(render_size, annealing_temperature, batch_size)
    check_bools(refine_chroma=refine_chroma)


def colorize_frames(colorizer, frames, *, consistency="flow", hints=None, render_size=None,
                    annealing_temperature=None, batch_size=8, refine_chroma=True, timings=None):
    """Colorize a sequence of frames, yielding each as soon as its chunk is done.

    The streaming core of :func:`colorize_video`, for frames that are not in a file (or that
    another library decodes). Frames are read ``batch_size`` at a time; memory holds one chunk.

    Parameters
    ----------
    colorizer : bwcolor.Colorizer
    frames : iterable of arrays
        All of one size: uint8 (H, W) gray or (H, W, 3) RGB, or what ``colorize`` takes.
    consistency : {"flow", "none"}
        "flow": carry a*b* along the optical flow of the gray frames (see the module's text);
        "none": colorize each frame on its own.
    hints : list or dict, optional
        Hints for the first frame (a list, as ``colorize`` takes for one photo), or a dict
        mapping frame numbers (from 0) to lists of hints. A frame's hints are carried along
        the flow through its shot, until the next cut; a frame given its own hints drops those
        carried into it. Needs a model that takes hints.
    render_size, annealing_temperature, refine_chroma
        As :meth:`bwcolor.Colorizer.colorize`.
    batch_size : int
        Frames per model call (and per chunk).
    timings : dict, optional
        Seconds spent are added to it under ``"model"`` (L* and the net), ``"consistency"``
        (flow, cuts, carrying a*b* and hints) and ``"join"`` (a*b* with L* -> sRGB).

    Yields
    ------
    uint8 array (H, W, 3)

    Raises
    ------
    ValueError
        For a bad option (before any frame is read), a frame of another size, or hints that
        do not fit the frames.
    """
    _check_options(colorizer, consistency, render_size, annealing_temperature, batch_size,
                   refine_chroma)
    return _colorize_frames(colorizer, frames, consistency, hints, render_size,
                            annealing_temperature, batch_size, refine_chroma,
                            {} if timings is None else timings, frame_count=0)


def _colorize_frames(colorizer, frames, consistency, hints, render_size, annealing_temperature,
                     batch_size, refine_chroma, timings, frame_count):
    from bwcolor import postprocessing  # Keras: only once frames are colorized

    for key in ("model", "consistency", "join"):
        timings.setdefault(key, 0.0)
    cv2 = _import_cv2()
    shots = _Shots() if consistency == "flow" or hints else None
    given, carried, size, shape, index = {}, [], None, None, 0
    for chunk in _chunks(frames, batch_size):
        t0 = time.perf_counter()
        prepared, _ = colorizer.preprocessor.prepare(chunk, render_size)
        if size is None:
            size, shape = prepared[0][0].shape, prepared[0][1]
            given = _hints_by_frame(hints, *size, frame_count)
        for j, (lightness, _) in enumerate(prepared):
            if lightness.shape != size:
                raise ValueError(f"every frame must have one size: frame {index + j} is "
                                 f"{lightness.shape[1]} x {lightness.shape[0]}, the first was "
                                 f"{size[1]} x {size[0]}")
        t1 = time.perf_counter()
        # The flow step runs before the model: hints move with the picture, so where a frame's
        # carried hints lie is known only once the flow into it is.
        steps, chunk_hints = [], []
        for j, (lightness, _) in enumerate(prepared):
            step = _NO_FLOW
            if shots is not None:
                gray = _render_gray(lightness, shape, cv2)
                step = shots.step(gray)
                shots.gray = gray
            if index + j in given:
                carried = given[index + j]
            elif step.cut:
                carried = []
            elif carried:
                carried = _moved_hints(carried, step.forward, step.valid,
                                       (size[0] / shape[0], size[1] / shape[1]))
            steps.append(step)
            chunk_hints.append(carried)
        t2 = time.perf_counter()
        checked = colorizer.preprocessor.check_hints(chunk_hints, prepared, False)
        ab_chunk = [None] * len(prepared)
        for indices, x in colorizer.preprocessor.batches(prepared, batch_size, checked):
            ab = colorizer.predict_ab(x, annealing_temperature)
            for j, i in enumerate(indices):
                ab_chunk[i] = ab[j]
        t3 = time.perf_counter()
        timings["model"] += (t1 - t0) + (t3 - t2)
        timings["consistency"] += t2 - t1
        for j, (lightness, _) in enumerate(prepared):
            t0 = time.perf_counter()
            ab = ab_chunk[j]
            if checked[j]:
                ab = postprocessing.spread_hints(lightness, ab, checked[j])
            if consistency == "flow":
                ab = _consistent(shots, ab, steps[j], shape, cv2)
            t1 = time.perf_counter()
            rgb = postprocessing.join(lightness, ab, refine_chroma)
            timings["consistency"] += t1 - t0
            timings["join"] += time.perf_counter() - t1
            yield rgb
        index += len(prepared)


def _consistent(shots, ab_small, step, shape, cv2):
    """The frame's a*b* at the render shape, blended with the last frame's carried along the
    flow where the flow is trusted (the new prediction alone elsewhere, and after a cut)."""
    ab = cv2.resize(np.ascontiguousarray(ab_small, np.float32), (shape[1], shape[0]),
                    interpolation=cv2.INTER_LINEAR)
    if step.cut:  # a shot's first frame is exactly the per-frame colorization
        shots.ab = ab
        return ab_small
    carried = shots.warp(shots.ab, step.backward)
    weight = np.where(step.valid, 1.0 - BLEND, 0.0).astype(np.float32)[..., None]
    shots.ab = weight * carried + (1.0 - weight) * ab
    return shots.ab


def _chunks(frames, size):
    chunk = []
    for frame in frames:
        chunk.append(frame)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


# ------------------------------------------------------------------ files
def _check_output(src, dst, overwrite):
    dst = Path(dst)
    muxer = OUTPUT_SUFFIXES.get(dst.suffix.lower())
    if muxer is None:
        raise ValueError(f"dst must name a {', '.join(OUTPUT_SUFFIXES)} file (H.264 video). "
                         f"Received: dst={str(dst)!r}")
    if _io.same_file(src, dst) or os.path.realpath(src) == os.path.realpath(dst):
        raise ValueError(f"dst is the input video; choose another name. Received: dst={str(dst)!r}")
    if dst.is_dir():
        raise ValueError(f"dst is a folder; name a video file. Received: dst={str(dst)!r}")
    if (dst.exists() or dst.is_symlink()) and not overwrite:
        raise FileExistsError(f"dst exists; pass overwrite=True to replace it. "
                              f"Received: dst={str(dst)!r}")
    return dst, muxer


def colorize_video(colorizer, src, dst, *, consistency="flow", hints=None, overwrite=False,
                   render_size=None, annealing_temperature=None, batch_size=8,
                   refine_chroma=True, crf=18, progress=None, timings=None) -> VideoInfo:
    """Colorize a video file into a new one, keeping its timing, size and sound.

    Parameters
    ----------
    colorizer : bwcolor.Colorizer
    src : path
        Any video FFmpeg reads (gray or color: color is first reduced to L*).
    dst : path
        ``.mp4``, ``.m4v``, ``.mov`` or ``.mkv``: H.264 (libx264, yuv420p; yuv444p for an odd
        width or height) at quality ``crf``. The source's audio streams are copied as they are;
        a container that cannot hold their codec fails before any frame (use ``.mkv``).
    consistency : {"flow", "none"}
        See :func:`colorize_frames`; "none" is the per-frame baseline.
    hints : list or dict, optional
        A list of hints for the first frame, or ``{frame number: list of hints}``; each frame's
        hints hold through its shot (see :func:`colorize_frames`).
    overwrite : bool
        Replace an existing ``dst`` (never ``src``).
    render_size, annealing_temperature, batch_size, refine_chroma
        As :meth:`bwcolor.Colorizer.colorize`.
    crf : int
        x264's constant rate factor, 0 (lossless) to 51; 18 looks like the source.
    progress : callable, optional
        Called as ``progress(frames_done, frames_total)`` after each frame is written
        (``frames_total`` from :func:`probe_video`, 0 when unknown).
    timings : dict, optional
        Seconds per stage, added to it: :func:`colorize_frames`'s, and ``"decode"`` and
        ``"encode"``.

    Returns
    -------
    VideoInfo
        Of the file written.

    Raises
    ------
    VideoError
        ``src`` is not a readable video (before any work, ``frames_done == 0``), or it failed
        while being read or written (``frames_done`` says where); ``dst`` is not written.
    ValueError, FileExistsError
        Bad options, ``dst`` is ``src``, or ``dst`` exists without ``overwrite``.
    """
    av = _import_av()
    _import_cv2()
    _check_options(colorizer, consistency, render_size, annealing_temperature, batch_size,
                   refine_chroma)
    check_bools(overwrite=overwrite)
    crf = check_int("crf", crf, low=0)
    if crf > 51:
        raise ValueError(f"crf must be in [0, 51]. Received: crf={crf}")
    if progress is not None and not callable(progress):
        raise TypeError(f"progress must be callable. Received: progress={shown(progress)}")
    info = probe_video(src)
    dst, muxer = _check_output(src, dst, overwrite)
    given = _hints_by_frame(hints, info.height, info.width, info.frames)
    if any(given.values()) and not colorizer.accepts_hints:
        raise ValueError("this model does not take color hints: it was built without hint "
                         "channels. Use a preset trained with hints (the bundled 'default' is), "
                         "or colorize without hints")
    timings = {} if timings is None else timings
    for key in ("decode", "encode"):
        timings.setdefault(key, 0.0)
    done = 0
    with av.open(os.fspath(src)) as source, _io.atomic_path(dst) as tmp, \
            av.open(os.fspath(tmp), "w", format=muxer) as out:
        stream = source.streams.video[0]
        encoder = _video_stream(out, stream, info, crf)
        audio = {s.index: _copy_stream(out, s, av) for s in source.streams.audio}
        try:  # the header now: a container that cannot hold a stream fails before any frame
            out.start_encoding()
        except av.error.FFmpegError as e:
            raise VideoError(f"cannot write {', '.join(info.audio)} audio with H.264 video into "
                             f"a {dst.suffix} file ({_reason(e)}); write a .mkv") from None
        times = deque()
        reader = _decoded(source, stream, audio, out, times, timings, av, src)
        frames = _colorize_frames(colorizer, reader, consistency, given, render_size,
                                  annealing_temperature, batch_size, refine_chroma,
                                  timings, info.frames)
        try:
            for rgb in frames:
                t0 = time.perf_counter()
                frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
                frame.pts, frame.time_base = times.popleft()
                for packet in encoder.encode(frame):
                    out.mux(packet)
                done += 1
                timings["encode"] += time.perf_counter() - t0
                if progress is not None:
                    progress(done, info.frames)
            for packet in encoder.encode(None):
                out.mux(packet)
        except av.error.FFmpegError as e:
            raise VideoError(f"failed after {done} frames: {_reason(e)}. Received: "
                             f"src={str(src)!r}", frames_done=done) from None
        if stream.frames and done < stream.frames:
            raise VideoError(f"ends after {done} of its {stream.frames} frames (truncated or "
                             f"damaged). Received: src={str(src)!r}", frames_done=done)
    return probe_video(dst)


def _video_stream(out, source_stream, info, crf):
    encoder = out.add_stream("libx264", rate=info.fps or 25,
                             options={"crf": str(crf), "preset": "medium"})
    encoder.width, encoder.height = info.width, info.height
    # 4:2:0 needs even sides; 4:4:4 keeps an odd-sized film's size exactly.
    encoder.pix_fmt = "yuv420p" if info.width % 2 == 0 and info.height % 2 == 0 else "yuv444p"
    encoder.time_base = source_stream.time_base
    encoder.codec_context.time_base = source_stream.time_base
    return encoder


def _copy_stream(out, source_stream, av):
    try:
        return out.add_stream_from_template(source_stream)
    except (av.error.FFmpegError, ValueError) as e:
        raise VideoError(f"cannot copy the {source_stream.codec_context.name} audio into this "
                         f"container ({_reason(e)}); write a .mkv") from None


def _decoded(source, stream, audio, out, times, timings, av, src):
    """Yield the video's frames as uint8 RGB, muxing each audio packet into ``out`` as it is
    read (so sound and pictures stay interleaved, whatever the length); ``times`` gets each
    frame's (pts, time_base)."""
    n = 0
    period = 1 / (stream.average_rate or 25)
    try:
        t0 = time.perf_counter()
        for packet in source.demux(stream, *source.streams.audio):
            if packet.stream.type == "audio":
                if packet.dts is not None:
                    _mux_audio(out, packet, audio[packet.stream.index], av)
                continue
            for frame in packet.decode():
                pts = frame.pts if frame.pts is not None else round(n * period / stream.time_base)
                times.append((pts, stream.time_base))
                rgb = frame.to_ndarray(format="rgb24")
                timings["decode"] += time.perf_counter() - t0
                n += 1
                yield rgb
                t0 = time.perf_counter()
    except av.error.FFmpegError as e:
        raise VideoError(f"damaged after frame {n} ({_reason(e)}). Received: src={str(src)!r}",
                         frames_done=n) from None


def _mux_audio(out, packet, stream, av):
    packet.stream = stream
    try:
        out.mux(packet)
    except av.error.FFmpegError as e:
        raise VideoError(f"cannot write the {stream.codec_context.name} audio into this container "
                         f"({_reason(e)}); write a .mkv") from e


# ------------------------------------------------------------------ measuring flicker
def synthetic_clip(photo, frames=24, size=(240, 320), *, pan=(0.15, 0.0), zoom=1.0):
    """One shot of a camera moving over a still photo, and its true motion.

    The camera's window starts centred on the photo as large as fits with room for the motion,
    moves by ``pan`` (fractions of the photo's width and height) over the shot, and narrows by
    the factor ``zoom`` (> 1 zooms in). Frames are resampled bilinearly (OpenCV).

    Parameters
    ----------
    photo : uint8 array (H, W, 3)
    frames : int
    size : (height, width)
        Of each frame.
    pan : (float, float)
        The window's travel over the shot, as fractions of the photo's width and height.
    zoom : float

    Returns
    -------
    clip : list of uint8 arrays (height, width, 3)
    flows : list
        For each frame, its backward flow (height, width, 2) float32, (dx, dy) to where each
        pixel was in the frame before; None for the first frame. Concatenate two shots for a
        cut (the second shot's first flow is None).
    """
    cv2 = _import_cv2()
    frames = check_int("frames", frames)
    h, w = (check_int("size", s) for s in size)
    photo = np.asarray(photo)
    ph, pw = photo.shape[:2]
    zoom = float(zoom)
    if not (math.isfinite(zoom) and zoom > 0):
        raise ValueError(f"zoom must be a finite number > 0. Received: zoom={shown(zoom)}")
    travel = np.array([pan[0] * pw, pan[1] * ph], np.float64)
    # Photo pixels per frame pixel at the start: the widest window that stays inside all along.
    room = np.array([pw - abs(travel[0]), ph - abs(travel[1])])
    scale0 = 0.98 * min(room[0] / w, room[1] / h) * min(1.0, zoom)
    # Shrink the photo first (area averaging) so that no frame samples it sparser than 1:1: a
    # bilinear sample of every 8th pixel would alias, and the clip would flicker by itself.
    shrink = max(1.0, scale0 / max(1.0, zoom))
    if shrink > 1:
        photo = cv2.resize(photo, (round(pw / shrink), round(ph / shrink)),
                           interpolation=cv2.INTER_AREA)
        shrink_x, shrink_y = pw / photo.shape[1], ph / photo.shape[0]
        ph, pw = photo.shape[:2]
        travel, room = travel / [shrink_x, shrink_y], room / [shrink_x, shrink_y]
        scale0 = 0.98 * min(room[0] / w, room[1] / h) * min(1.0, zoom)

    def transform(t):
        f = t / max(1, frames - 1)
        scale = scale0 / zoom ** f
        center = np.array([pw / 2, ph / 2]) + (f - 0.5) * travel
        # frame pixel p -> photo pixel scale * (p - frame center) + center
        return np.array([[scale, 0, center[0] - scale * (w - 1) / 2],
                         [0, scale, center[1] - scale * (h - 1) / 2]], np.float64)

    clip, flows = [], []
    xs, ys = np.meshgrid(np.arange(w, dtype=np.float64), np.arange(h, dtype=np.float64))
    for t in range(frames):
        a = transform(t)
        clip.append(cv2.warpAffine(photo, a, (w, h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                                   borderMode=cv2.BORDER_REFLECT))
        if t == 0:
            flows.append(None)
            continue
        b = transform(t - 1)
        px, py = a[0, 0] * xs + a[0, 2], a[1, 1] * ys + a[1, 2]
        flows.append(np.stack([(px - b[0, 2]) / b[0, 0] - xs, (py - b[1, 2]) / b[1, 1] - ys],
                              axis=-1).astype(np.float32))
    return clip, flows


def _ab(rgb):
    return color.rgb_to_lab(np.asarray(rgb, np.float32) / 255.0)[..., 1:]


def _estimated_flow(original, before, cv2, dis):
    """Backward flow of ``original`` to ``before`` (their gray L*) and its trusted pixels, or
    None at a cut."""
    gray = [np.clip(color.uint8_rgb_to_lightness(np.asarray(f, np.uint8)) * 2.55 + 0.5, 0, 255)
            .astype(np.uint8) for f in (original, before)]
    backward = dis.calc(gray[0], gray[1], None)
    forward = dis.calc(gray[1], gray[0], None)
    valid = _trusted(backward, forward, gray[0], gray[1], cv2)
    return (None, None) if valid.mean() < CUT_FRACTION else (backward, valid)


def warping_error(colorized, original, flows=None):
    """Flicker: the warping error of Lai et al. 2018, in a*b* units.

    For each frame after the first, the colorized frame before it is warped by the flow of the
    *original* frames onto it, and the a*b* distance (Euclidean, CIE L*a*b*) between the two is
    averaged over the pixels the flow maps from inside the frame (and, for an estimated flow,
    that pass the forward-backward check); the mean over frame pairs is returned. Pairs across a
    cut are left out.

    Parameters
    ----------
    colorized, original : sequences of uint8 arrays (H, W, 3)
        The output and the original frames (gray originals work with ``flows``).
    flows : list, optional
        Each frame's true backward flow, None for the first frame of a shot, as
        :func:`synthetic_clip` gives; without it, OpenCV's DIS flow (medium preset) of the
        originals' L* at full resolution, with the forward-backward check and this module's cut
        test (the consistency step uses the same flow at the render size: prefer true flows).

    Returns
    -------
    float
    """
    cv2 = _import_cv2()
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM) if flows is None else None
    errors = []
    for t in range(1, len(colorized)):
        if flows is not None:
            backward = flows[t]
            if backward is None:
                continue
            valid = np.ones(backward.shape[:2], bool)
        else:
            backward, valid = _estimated_flow(original[t], original[t - 1], cv2, dis)
            if backward is None:
                continue
        h, w = backward.shape[:2]
        xs, ys = _grid(backward)
        x_before, y_before = xs + backward[..., 0], ys + backward[..., 1]
        valid = valid & (x_before >= 0) & (x_before <= w - 1) & (y_before >= 0) & (y_before <= h - 1)
        warped = _remap(_ab(colorized[t - 1]), backward.astype(np.float32), cv2)
        distance = np.sqrt(((_ab(colorized[t]) - warped) ** 2).sum(-1))
        if valid.any():
            errors.append(float(distance[valid].mean()))
    if not errors:
        raise ValueError("no pair of consecutive frames in one shot to compare")
    return float(np.mean(errors))


def evaluate_clip(colorized, original, flows=None) -> dict:
    """Flicker and accuracy of a colorized clip against its color original.

    Parameters
    ----------
    colorized, original : sequences of uint8 arrays (H, W, 3)
    flows : list, optional
        True backward flows (see :func:`warping_error`).

    Returns
    -------
    dict
        ``warping_error`` (:func:`warping_error`, a*b* units), ``delta_e2000`` (mean over
        frames of each frame's mean CIEDE2000 to the original) and ``frames``.
    """
    from skimage.color import deltaE_ciede2000

    if len(colorized) != len(original):
        raise ValueError(f"colorized and original must have as many frames. Received: "
                         f"{len(colorized)} and {len(original)}")
    de = [float(np.mean(deltaE_ciede2000(color.rgb_to_lab(np.asarray(o) / 255.0),
                                         color.rgb_to_lab(np.asarray(c) / 255.0))))
          for c, o in zip(colorized, original)]
    return {"warping_error": warping_error(colorized, original, flows),
            "delta_e2000": float(np.mean(de)), "frames": len(colorized)}
