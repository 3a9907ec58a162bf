"""``bwcolor colorize film.mp4 -o film_color.mp4``: the video side of the colorize command.

Videos are told from photos by content (:func:`bwcolor.video.sniff_video`, after
:func:`bwcolor.data.sniff_format` has said the file is no photo). Every video is opened and
checked before any work (one line and exit 2 for one that cannot be read); one that fails
mid-way is reported and exits 1; Ctrl-C leaves no half-written film and says so.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from bwcolor.cli import _common
from bwcolor.cli._common import EXIT_OK, EXIT_SOME_FAILED, UsageError, console

_NO_EXTRA = ("{path} is a video; colorizing videos needs the video extra: "
             'pip install "bwcolor[video]"')


def videos_among(inputs):
    """The inputs that are video files (by content; a file that is no photo and has a video's
    suffix counts, so that its error says what it is), or [] when there are none. A UsageError
    when videos and photos (or folders) are mixed."""
    from bwcolor.data import ImageDecodeError, sniff_format
    from bwcolor.video import VIDEO_SUFFIXES, sniff_video

    videos, others = [], []
    for item in inputs:
        path = Path(item)
        is_video = False
        if path.is_file():
            try:
                photo = sniff_format(path) is not None
            except (ImageDecodeError, OSError):
                photo = False
            is_video = not photo and (sniff_video(path) is not None
                                      or path.suffix.lower() in VIDEO_SUFFIXES)
        (videos if is_video else others).append(path)
    if videos and others:
        raise UsageError(f"colorize videos and photos in separate commands. Received: video "
                         f"{str(videos[0])!r} and {str(others[0])!r}")
    return videos


def run(args, videos):
    """Colorize every video of ``videos`` (the command's inputs) as ``args`` says."""
    try:
        import av  # noqa: F401
        import cv2  # noqa: F401
    except ImportError:
        raise UsageError(_NO_EXTRA.format(path=str(videos[0]))) from None
    from bwcolor import video
    from bwcolor._io import InputFiles, OutputIsInputError, remove_stale_temp_files

    config = _common.check_model(args.model, registries=False)
    if args.ext is not None:
        raise UsageError("--ext is for photos; a video is written as .mp4 (name -o film.mkv or "
                         "film.mov for another container)")
    infos = {}
    for src in dict.fromkeys(videos):
        try:
            infos[src] = video.probe_video(src)
        except video.VideoError as e:
            raise UsageError(f"{src}: {e}") from None
    jobs = _outputs(list(infos), Path(args.output), args.suffix)
    reads = InputFiles([*infos, *_common.model_files(args.model),
                        *([args.hints[0]] if args.hints else [])])
    for _, dst in jobs:
        try:
            reads.check(dst, advice="choose another -o")
        except OutputIsInputError as e:
            raise UsageError(str(e)) from None
    hints = _hints(args.hints, [src for src, _ in jobs], config)
    _check_writable(jobs)
    todo = [(src, dst) for src, dst in jobs if args.overwrite or not dst.exists()]
    failed, written = [], 0
    if todo:
        _common.check_model(args.model)
        colorizer = _common.load_colorizer(args.model)
        try:
            colorizer._check_colorize_options(render_size=args.render_size,
                                              annealing_temperature=args.temperature)
        except ValueError as e:
            raise UsageError(str(e)) from None
        for folder in {dst.parent for _, dst in todo}:
            remove_stale_temp_files(folder)
    for src, dst in todo:
        try:
            written += _one(colorizer, src, dst, infos[src], hints.get(src), args)
        except video.VideoError as e:
            failed.append(src)
            console.log(f"FAILED {src}: {e}")
        except KeyboardInterrupt as e:
            e.kept = (f"{dst} was not written (no half-written video is left)"
                      + (f"; the {written} videos finished before it are kept" if written else ""))
            raise
    console.log(f"colorized {written} video{'s' * (written != 1)}, skipped "
                f"{len(jobs) - len(todo)} existing (use --overwrite), failed {len(failed)}")
    return EXIT_SOME_FAILED if failed else EXIT_OK


def _outputs(videos, output, suffix):
    """[(video, output file)]: -o a video file for one video, else a folder of
    ``<stem><suffix>.mp4`` files."""
    from bwcolor.video import OUTPUT_SUFFIXES

    if output.suffix.lower() in OUTPUT_SUFFIXES and not output.is_dir():
        if len(videos) > 1:
            raise UsageError(f"-o names one video file, but there are {len(videos)} videos; name "
                             f"a folder. Received: -o {str(output)!r}")
        return [(videos[0], output)]
    if output.suffix and not output.is_dir():
        raise UsageError(f"-o for a video must end in {', '.join(OUTPUT_SUFFIXES)} (H.264), or "
                         f"name a folder. Received: -o {str(output)!r}")
    jobs, seen = [], {}
    for src in videos:
        dst = output / f"{src.stem}{suffix}.mp4"
        if dst in seen:
            raise UsageError(f"{str(seen[dst])!r} and {str(src)!r} would both be written to "
                             f"{str(dst)!r}; colorize them in separate commands")
        seen[dst] = src
        jobs.append((src, dst))
    return jobs


def _check_writable(jobs):
    for _, dst in jobs:
        folder = Path(os.path.abspath(dst.parent))
        while not folder.exists():
            folder = folder.parent
        if not folder.is_dir() or not os.access(folder, os.W_OK | os.X_OK):
            raise UsageError(f"-o is not writable ({str(folder)!r} denies it)")


def _hints(given, videos, config):
    """{video: its hints ({frame: list})} of a --hints file, or a UsageError.

    The file holds a list (the first frame of the one video), an object of frame numbers
    (``{"0": [...], "240": [...]}``, the one video), or an object mapping video names (as given,
    or the file name) to lists (their first frame)."""
    if given is None:
        return {}
    if not _common.takes_hints(config):
        raise UsageError(f"--hints: the model {config.get('architecture')!r} does not take color "
                         f"hints (it was built without hint channels); use a model trained with "
                         f"hints, or drop --hints")
    path, value = given
    frames = isinstance(value, dict) and value and all(k.strip().isdigit() for k in value)
    if isinstance(value, list) or frames:
        if len(videos) != 1:
            raise UsageError(f"--hints {path}: holds one video's hints, but there are "
                             f"{len(videos)} videos; map video names to lists instead")
        return {videos[0]: value if frames else {0: value}}
    by_video = {}
    for key, items in value.items():
        found = [v for v in videos if os.path.normpath(key) in (os.path.normpath(v), v.name)]
        if len(found) != 1:
            raise UsageError(f"--hints {path}: {key!r} names {len(found) or 'no'} input videos "
                             f"(a key is a frame number for one video, or a video's path as "
                             f"given or its file name)")
        by_video[found[0]] = {0: items}
    return by_video


def _one(colorizer, src, dst, info, hints, args):
    """Colorize one video with a progress bar in frames; 1 when written."""
    from bwcolor import video

    dst.parent.mkdir(parents=True, exist_ok=True)
    progress = console.progress(info.frames or 1)
    # On a terminal the bar moves every frame; in a log, a line every tenth of the film.
    every = 1 if console.interactive else max(1, (info.frames or 1) // 10)
    t0 = time.time()
    state = {"shown": 0}

    def advance(done, total):
        if done - state["shown"] >= every or done == total:
            progress.advance(f"{src} frame {done}/{total or '?'}", steps=done - state["shown"])
            state["shown"] = done

    try:
        out = video.colorize_video(colorizer, src, dst, consistency=args.consistency,
                                   hints=hints, overwrite=True, render_size=args.render_size,
                                   annealing_temperature=args.temperature,
                                   refine_chroma=args.refine_chroma, progress=advance)
    except ValueError as e:
        if isinstance(e, video.VideoError):
            raise
        raise UsageError(f"{src}: {e}") from None
    seconds = time.time() - t0
    console.log(f"{src} -> {dst} ({out.frames} frames, {seconds:.1f} s, "
                f"{out.frames / max(seconds, 1e-9):.1f} frames/s)")
    return 1
