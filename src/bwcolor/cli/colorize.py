"""``bwcolor colorize``: plan each input's output, skip what exists, colorize and write the
rest (decoding, prediction and writing overlap), with an optional --hints file."""

from __future__ import annotations

import argparse
import os
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bwcolor import presets
from bwcolor.cli import _common
from bwcolor.cli._common import (
    EXIT_OK,
    EXIT_SOME_FAILED,
    RENDER,
    TEMPERATURE,
    Formatter,
    UsageError,
    console,
)


def _hints_file(text):
    """--hints FILE: read and checked now (JSON, shape, each hint's keys, colors, positions not
    negative); each list is checked against its photo's size when that photo is read."""
    from bwcolor.hints import load_hints_file, parse_hints

    try:
        value = load_hints_file(text)
        for key, items in value.items() if isinstance(value, dict) else [(None, value)]:
            try:
                parse_hints(items)
            except ValueError as e:
                where = f"{text}" if key is None else f"{text}, photo {key!r}"
                raise ValueError(f"{where}: {e}") from None
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    return text, value


def _write_image(rgb, path):
    # The one encoder of colorized photos, shared with bwcolor.cluster (the same bytes).
    from bwcolor._io import write_image

    write_image(rgb, path)


def _check_writable(output):
    """-o (a folder, or a file's folder) can be created and written: say so before any work."""
    probe = output if not output.suffix or output.is_dir() else output.parent
    probe = Path(os.path.abspath(probe))
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        raise UsageError(f"-o cannot be created: {str(probe)!r} is a file. "
                         f"Received: -o {str(output)!r}")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise UsageError(f"-o is not writable ({str(probe)!r} denies it). "
                         f"Received: -o {str(output)!r}")


def run(args):
    from bwcolor._io import remove_stale_temp_files
    from bwcolor._plan import PlanError, plan_outputs
    from bwcolor.cli import _video

    videos = _video.videos_among(args.inputs)  # by content, as photos are
    if videos:
        return _video.run(args, videos)
    if args.ray is not None:
        _check_ray(args)
    # Keras-free until a photo needs the model: a rerun with nothing to do answers in a blink.
    config = _common.check_model(args.model, registries=False)
    if args.hints is not None and not _common.takes_hints(config):
        raise UsageError(_NO_HINT_CHANNELS.format(model=args.model))
    try:
        reads = _common.model_files(args.model) + ([args.hints[0]] if args.hints else [])
        plan = plan_outputs(args.inputs, args.output, suffix=args.suffix, ext=args.ext,
                            reads=reads)
    except PlanError as e:
        raise UsageError(str(e)) from None
    args.hints_by_photo = {} if args.hints is None else _match_hints(*args.hints, plan, args.inputs)
    todo = [(src, dst) for src, dst in plan.jobs if args.overwrite or not dst.exists()]
    if todo:
        _common.check_model(args.model)  # the rest of the checks, before any output line
    skipped_files = _report_skipped(plan)
    _report_duplicates(plan)
    failed = list(plan.failures)
    for src, why in failed:
        console.log(f"FAILED {src}: {why}")
    if not plan.jobs and not failed:
        raise UsageError("no image files found in the inputs"
                         + (f" ({skipped_files} other files skipped)" if skipped_files else ""))
    _check_writable(Path(args.output))
    for folder in {dst.parent for _, dst in plan.jobs}:
        remove_stale_temp_files(folder)
    colorize_all = _colorize_all if args.ray is None else _colorize_on_ray
    written = colorize_all(todo, args, failed) if todo else 0  # no model load with nothing to do
    summary = (f"colorized {written}, skipped {len(plan.jobs) - len(todo)} existing (use "
               f"--overwrite), failed {len(failed)}")
    if skipped_files:
        summary += f", skipped {skipped_files} non-image or special files"
    if plan.renamed:
        summary += f"; {plan.renamed} outputs keep their input's extension in the name (name clash)"
    if plan.duplicates:
        summary += f"; {len(plan.duplicates)} photos reached twice were colorized once"
    console.log(summary)
    return EXIT_SOME_FAILED if failed else EXIT_OK


_NO_HINT_CHANNELS = ("--hints: the model {model!r} does not take color hints (it was built "
                     "without hint channels); use a model trained with hints, or drop --hints")


def _match_hints(path, value, plan, inputs):
    """{a photo's real path: its list of hints} of a --hints file, or a UsageError for a list
    with several photos, a key that names no photo or several, or two keys for one photo.

    A key names a photo by (1) its path as given on the command line (a file named there, or an
    input folder as given joined with the photo's path inside it) or its absolute path; else
    (2) its path inside its input folder; else (3) its bare file name, when only one photo has
    it. The same file reached twice counts as one photo.
    """
    photos = {}  # real path -> path as the plan spells it (the first one)
    given, inside, bare = defaultdict(set), defaultdict(set), defaultdict(set)
    folders = [Path(i) for i in inputs if Path(i).is_dir()]
    for src in [src for src, _ in plan.jobs] + [src for src, _ in plan.failures]:
        real = os.path.realpath(src)
        photos.setdefault(real, src)
        given[os.path.normpath(src)].add(real)
        given[os.path.abspath(src)].add(real)
        bare[src.name].add(real)
        for folder in folders:
            if folder in src.parents:
                inside[os.path.normpath(src.relative_to(folder))].add(real)
    if not isinstance(value, dict):
        if len(photos) != 1:
            raise UsageError(f"--hints {path}: holds one photo's list of hints, but there are "
                             f"{len(photos)} photos; map photo names to lists instead, e.g. "
                             f'{{"a.jpg": [...]}}')
        return {next(iter(photos)): value}
    by_photo, key_of = {}, {}
    for key, items in value.items():
        norm = os.path.normpath(key) if key else key
        found = given.get(norm) or inside.get(norm) or bare.get(key) or set()
        if not found:
            raise UsageError(f"--hints {path}: {key!r} names no input photo (a key is a photo's "
                             f"path as given, its path inside its input folder, or its file name)")
        if len(found) > 1:
            shown = ", ".join(sorted(repr(str(photos[r])) for r in found))
            raise UsageError(f"--hints {path}: {key!r} names {len(found)} photos ({shown}); use "
                             f"a longer path")
        real = found.pop()
        if real in key_of:
            raise UsageError(f"--hints {path}: {key_of[real]!r} and {key!r} name one photo "
                             f"({str(photos[real])!r}); give its hints once")
        key_of[real], by_photo[real] = key, items
    return by_photo


def _report_skipped(plan):
    """One line per reason for the files left out of input folders; returns how many."""
    for reason, paths in sorted(plan.skipped.items()):
        shown = ", ".join(map(str, paths[:3])) + (", ..." if len(paths) > 3 else "")
        words = _SKIP_WORDS.get(reason, reason + " files")
        if len(paths) == 1:
            words = words.replace("files", "file", 1)
        console.log(f"skipped {len(paths)} {words}: {shown}")
    return sum(len(v) for v in plan.skipped.values())


def _report_duplicates(plan):
    """One line for the photos reached through more than one input (overlapping folders, links):
    each is colorized once, under the first input that reaches it."""
    if plan.duplicates:
        shown = ", ".join(f"{src} (as {first})" for src, first in plan.duplicates[:3])
        more = ", ..." if len(plan.duplicates) > 3 else ""
        console.log(f"{len(plan.duplicates)} photos are reached through more than one input "
                    f"(overlapping folders or links) and are colorized once: {shown}{more}")


def _colorize_all(todo, args, failed):
    """Colorize and write every (input, output) in ``todo``; append failures to ``failed`` and
    return how many outputs were written."""
    from bwcolor.data import ImageDecodeError, open_image

    colorizer = _common.load_colorizer(args.model)
    try:  # the photo-independent checks, before the first photo
        colorizer._check_colorize_options(render_size=args.render_size,
                                         annealing_temperature=args.temperature)
    except ValueError as e:
        raise UsageError(str(e)) from None
    if args.hints is not None and not colorizer.accepts_hints:
        raise UsageError(_NO_HINT_CHANNELS.format(model=args.model))
    progress = console.progress(len(todo))
    written = 0

    def finish(src, dst, write, t0):
        """The line of one photo, once its file is written (never before: a full disk)."""
        try:
            write.result()
        except (OSError, ValueError) as e:
            failed.append((src, f"could not write {dst}: {e}"))
            console.log(f"FAILED writing {dst} for {src}: {e}")
            progress.advance(f"FAILED {src}")
            return 0
        progress.advance(f"{src} -> {dst} ({time.time() - t0:.2f} s)")
        return 1

    # Decoding the next photo and encoding the last one overlap with the model's prediction;
    # colorize() takes its L* from the decoded PIL image by lookup tables, not float RGB.
    with ThreadPoolExecutor(2) as pool:
        pending_writes = []
        futures = [pool.submit(open_image, src) for src, _ in todo[:2]]
        for i, (src, dst) in enumerate(todo):
            t0 = time.time()
            if i + 2 < len(todo):
                futures.append(pool.submit(open_image, todo[i + 2][0]))
            try:
                image = futures[i].result()
                futures[i] = None
                out = colorizer.colorize(image, render_size=args.render_size,
                                         annealing_temperature=args.temperature,
                                         refine_chroma=args.refine_chroma,
                                         hints=args.hints_by_photo.get(os.path.realpath(src)))
                pending_writes.append((src, dst, pool.submit(_write_image, out, dst), t0))
            except (ImageDecodeError, OSError, ValueError) as e:
                failed.append((src, str(e)))
                console.log(f"FAILED {src}: {e}")
                progress.advance(f"FAILED {src}")
            while pending_writes and pending_writes[0][2].done():  # in order, as they finish
                written += finish(*pending_writes.pop(0))
        for pending in pending_writes:
            written += finish(*pending)
    return written


def _check_ray(args):
    """--ray needs the ray extra, and takes no --hints: say so before any work."""
    from bwcolor.cluster import import_ray

    try:
        import_ray()
    except ImportError as e:
        raise UsageError(f"--ray: {e}") from None
    if args.hints is not None:
        raise UsageError("--hints is not available with --ray yet; colorize photos with hints "
                         "without --ray")


def _colorize_on_ray(todo, args, failed):
    """``_colorize_all`` on a Ray cluster (bwcolor.cluster): the same files, one line per photo
    as it is written, and where Ray's own logs went."""
    from bwcolor import cluster

    progress = console.progress(len(todo))
    t0 = time.monotonic()

    def advance(done, total, src, dst, error):
        rate = done / max(time.monotonic() - t0, 1e-9)
        if error:
            failed.append((src, error))
            console.log(f"FAILED {src}: {error}")
            progress.advance(f"FAILED {src}")
        else:
            progress.advance(f"{src} -> {dst} ({rate:.1f} photos/s)")

    address = None if args.ray == "local" else args.ray
    try:
        result = cluster.run_jobs(todo, args.model, address=address, actors=args.ray_actors,
                                  render_size=args.render_size,
                                  annealing_temperature=args.temperature,
                                  refine_chroma=args.refine_chroma, progress=advance)
    except ValueError as e:
        raise UsageError(str(e)) from None
    console.log(f"Ray: {result.actors} actors, {result.written / max(result.seconds, 1e-9):.2f} "
                f"photos/s; Ray's logs: {result.ray_logs}")
    return result.written


_SKIP_WORDS = {"not_image": "non-image files", "not_regular":
               "special files (pipe, socket or device; never opened)",
               "unreadable": "unreadable files", "not_found": "vanished files"}


def add_parser(sub):
    from bwcolor._plan import OUTPUT_EXTENSIONS

    c = sub.add_parser("colorize", help="colorize photos (files or folders) or videos",
                       formatter_class=Formatter,
                       description="Colorize photos, or videos (told by content; with the video "
                       "extra; H.264 out, frame times and audio kept, colors carried along the "
                       "motion). Inputs are never written to; existing outputs are skipped "
                       "unless --overwrite.")
    c.add_argument("inputs", nargs="*", help="image files or folders, or video files")
    c.add_argument("-i", "--input", dest="more_inputs", action="append", default=[],
                   metavar="PATH", help="another input file or folder (Real-ESRGAN style)")
    c.add_argument("-o", "--output", required=True,
                   help="output folder (one input folder: its tree is written directly here; "
                   "several: a subfolder each), or an output image file for one input file "
                   "(a .mp4, .mov, .m4v or .mkv file for one video)")
    c.add_argument("--model", default="default", help="bundled preset name, or a preset / run "
                   "folder (write ./NAME for a folder that shares a preset's name)")
    c.add_argument("--render-size", type=RENDER, default=None,
                   help=f"short side the model sees, {presets.MIN_RENDER_SIZE}-"
                   f"{presets.MAX_RENDER_SIZE} (default: the model's training size; a size "
                   f"above the photo's own short side is lowered to it, but not below the "
                   f"training size)")
    c.add_argument("--temperature", type=TEMPERATURE, default=None,
                   help="annealed-mean temperature T > 0 for classification models; lower is "
                   "more vivid (default: the model's, 0.38 for the bundled default)")
    c.add_argument("--suffix", default="", help="added to each output file's name, e.g. _color")
    c.add_argument("--ext", choices=sorted(OUTPUT_EXTENSIONS), default=None,
                   help="output format in folder mode (default: png)")
    c.add_argument("--overwrite", action="store_true",
                   help="replace earlier outputs (never inputs)")
    c.add_argument("--hints", type=_hints_file, default=None, metavar="FILE",
                   help="JSON color hints, for a model that takes them: a list of hints "
                   '[{"x": 120, "y": 80, "color": "#7a5230", "radius": 6}, ...] for one photo, '
                   "or an object mapping photo names (path as given, path inside its input "
                   "folder, or file name) to such lists; photos not named get none. x, y, "
                   "radius in the photo's pixels (see the guide's Color hints). For one video: a "
                   'list (its first frame) or frame numbers from 0, {"0": [...], "240": [...]}; '
                   "each frame's hints follow the motion until the next cut")
    c.add_argument("--no-refine-chroma", dest="refine_chroma", action="store_false",
                   help="upsample the model's colors bilinearly, not along the photo's edges "
                   "(colorize's refine_chroma=False: the colors of earlier versions)")
    c.add_argument("--consistency", choices=["flow", "none"], default="flow",
                   help="videos: carry colors along the optical flow from frame to frame "
                   "(flow), or colorize each frame on its own (none)")
    c.add_argument("--ray", nargs="?", const="local", default=None, metavar="ADDRESS",
                   help="colorize on a Ray cluster (needs the ray extra): at ADDRESS ('auto', "
                   "'head:6379', 'ray://head:10001'), else RAY_ADDRESS, else a local Ray started "
                   "for the job; inputs, -o and --model at the same paths on every node")
    c.add_argument("--ray-actors", type=_common.number(int, "ray_actors", low=1), default=None,
                   metavar="N", help="with --ray: colorizing actors (default: one per GPU, or "
                   "one per 4 CPUs)")
    c.set_defaults(func=run)
