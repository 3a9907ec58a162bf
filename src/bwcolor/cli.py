"""The ``bwcolor`` command line: colorize, train, evaluate, compare, export, app, info.

Exit codes: 0 everything done; 1 some inputs failed or training stopped (each is reported, the
rest are done); 2 usage error (bad arguments, unknown model, unsafe plan, nothing to read),
always reported in one line before any model is loaded or any epoch trained.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import sys
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bwcolor import presets
from bwcolor._console import Console, ensure_standard_streams, stops_unwind

EXIT_OK, EXIT_SOME_FAILED, EXIT_USAGE = 0, 1, 2

# The registries' names, spelled out so `bwcolor --help` need not import Keras; a test checks
# they equal bwcolor.architectures.available() and bwcolor.losses.available().
ARCHITECTURES = ("default", "unet", "wallner_alpha", "wallner_beta", "wallner_full")
LOSSES = ("classification", "huber", "l1", "mse")

# The API's defaults (a test checks they equal Colorizer's and Colorizer.fit's signatures).
TRAIN_DEFAULTS = {"architecture": "default", "image_size": 256, "loss": "auto",
                  "learning_rate": 1e-3, "epochs": 10, "batch_size": 16,
                  "validation_split": 0.05, "test_split": 0.05, "seed": 0}

console = Console()


class UsageError(Exception):
    """A user's mistake: reported in one line, exit 2."""


# ---------------------------------------------------------------- argument types
def _number(kind, name, *, low=None, high=None, low_open=False):
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"must be {'an integer' if kind is int else 'a number'}. Received: {text!r}") from None
        if kind is float and not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"must be a finite number. Received: {text!r}")
        if low is not None and (value <= low if low_open else value < low):
            raise argparse.ArgumentTypeError(f"must be {'>' if low_open else '>='} {low}. "
                                             f"Received: {name}={text}")
        if high is not None and value > high:
            raise argparse.ArgumentTypeError(f"must be <= {high}. Received: {name}={text}")
        return value

    parse.__name__ = name  # argparse names the type in some messages
    return parse


def _fraction(text):
    value = _number(float, "validation_split", low=0)(text)
    if value >= 1:
        raise argparse.ArgumentTypeError(f"must be in [0, 1). Received: validation_split={text}")
    return value


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


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors: ``bwcolor colorize: error: ... (see --help)``."""

    def error(self, message):
        console.log(f"{self.prog}: error: {message} (see {self.prog} --help)")
        sys.exit(EXIT_USAGE)


class _Formatter(argparse.ArgumentDefaultsHelpFormatter):
    def _get_help_string(self, action):
        # Say "(default: ...)" only where there is a meaningful default to show.
        if action.default in (None, False, argparse.SUPPRESS) or "%(default)" in (action.help or ""):
            return action.help
        return super()._get_help_string(action)


# ------------------------------------------------------------------- helpers
def _check_model(name):
    """Validate a preset name or folder without loading any weights (fast, before any work)."""
    try:
        return presets.read_preset(name)[1]
    except ValueError as e:
        raise UsageError(f"--model: {e}") from None


def _load_colorizer(name):
    from bwcolor import Colorizer, _backend

    _backend.enable_compilation_cache()
    try:
        return Colorizer.from_preset(name)
    except ValueError as e:
        raise UsageError(f"--model: {e}") from None


def _write_image(rgb, path):
    from PIL import Image

    from bwcolor._io import atomic_write

    path.parent.mkdir(parents=True, exist_ok=True)
    fmt = Image.registered_extensions().get(path.suffix.lower(), "PNG")  # Pillow's own table
    # PNG at zlib level 1: ~5x faster than the default 6 for ~10% larger files.
    options = {"JPEG": {"quality": 95}, "PNG": {"compress_level": 1},
               "WEBP": {"quality": 95}}.get(fmt, {})
    with atomic_write(path) as f:
        Image.fromarray(rgb).save(f, format=fmt, **options)


# ------------------------------------------------------------------ colorize
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


def cmd_colorize(args):
    from bwcolor._io import remove_stale_temp_files
    from bwcolor._plan import PlanError, plan_outputs

    config = _check_model(args.model)
    if args.hints is not None and not _takes_hints(config):
        raise UsageError(_NO_HINT_CHANNELS.format(model=args.model))
    try:
        plan = plan_outputs(args.inputs, args.output, suffix=args.suffix, ext=args.ext)
    except PlanError as e:
        raise UsageError(str(e)) from None
    args.hints_by_photo = {} if args.hints is None else _match_hints(*args.hints, plan, args.inputs)
    skipped_files = _report_skipped(plan)
    failed = list(plan.failures)
    for src, why in failed:
        console.log(f"FAILED {src}: {why}")
    if not plan.jobs and not failed:
        raise UsageError("no image files found in the inputs"
                         + (f" ({skipped_files} other files skipped)" if skipped_files else ""))
    _check_writable(Path(args.output))
    for folder in {dst.parent for _, dst in plan.jobs}:
        remove_stale_temp_files(folder)
    todo = [(src, dst) for src, dst in plan.jobs if args.overwrite or not dst.exists()]
    written = _colorize_all(todo, args, failed) if todo else 0  # no model load with nothing to do
    summary = (f"colorized {written}, skipped {len(plan.jobs) - len(todo)} existing (use "
               f"--overwrite), failed {len(failed)}")
    if skipped_files:
        summary += f", skipped {skipped_files} non-image or special files"
    if plan.renamed:
        summary += f"; {plan.renamed} outputs keep their input's extension in the name (name clash)"
    console.log(summary)
    return EXIT_SOME_FAILED if failed else EXIT_OK


def _takes_hints(config):
    """Whether a preset's config builds a net with hint channels (read without Keras)."""
    return bool((config.get("architecture_config") or {}).get("hints"))


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


def _colorize_all(todo, args, failed):
    """Colorize and write every (input, output) in ``todo``; append failures to ``failed`` and
    return how many outputs were written."""
    from bwcolor.data import ImageDecodeError, open_image

    colorizer = _load_colorizer(args.model)
    try:  # the photo-independent checks, before the first photo
        colorizer._check_colorize_options(render_size=args.render_size,
                                         annealing_temperature=args.temperature)
    except ValueError as e:
        raise UsageError(str(e)) from None
    if args.hints is not None and not colorizer.accepts_hints:
        raise UsageError(_NO_HINT_CHANNELS.format(model=args.model))
    progress = console.progress(len(todo))
    written = 0
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
                                         hints=args.hints_by_photo.get(os.path.realpath(src)))
                pending_writes.append((src, dst, pool.submit(_write_image, out, dst)))
                written += 1
                progress.advance(f"{src} -> {dst} ({time.time() - t0:.2f} s)")
            except (ImageDecodeError, OSError, ValueError) as e:
                failed.append((src, str(e)))
                console.log(f"FAILED {src}: {e}")
                progress.advance(f"FAILED {src}")
        for src, dst, fut in pending_writes:
            try:
                fut.result()
            except (OSError, ValueError) as e:
                written -= 1
                failed.append((src, f"could not write {dst}: {e}"))
                console.log(f"FAILED writing {dst} for {src}: {e}")
    return written


_SKIP_WORDS = {"not_image": "non-image files", "not_regular":
               "special files (pipe, socket or device; never opened)",
               "unreadable": "unreadable files", "not_found": "vanished files"}


# --------------------------------------------------------------------- train
def _run_state(run):
    """A run folder's state.json (its config, and its training settings in the metadata), or a
    UsageError."""
    state_path = Path(run) / "state.json"
    if not state_path.is_file() or not (Path(run) / "last.keras").is_file():
        raise UsageError(f"--resume needs a run folder with state.json and last.keras (a run "
                         f"that finished at least one epoch). Received: -o {str(run)!r}")
    from bwcolor.training import resume

    try:  # the same reading and validation as Colorizer.resume, so the two cannot disagree
        return resume.read_run_state(run)
    except ValueError as e:
        raise UsageError(str(e)) from None


def _check_resume_flags(args, config):
    """A flag given with --resume must agree with the run; say both values when it does not."""
    given = {"architecture": args.architecture, "image_size": args.image_size,
             "loss": args.loss, "learning_rate": args.learning_rate}
    for key, value in given.items():
        if value is None or (key == "loss" and value == "auto"):
            continue
        if value != config.get(key):
            flag = "--" + key.replace("_", "-")
            raise UsageError(f"{flag} {value} contradicts the run being resumed, which was "
                             f"trained with {key}={config.get(key)!r}; drop the flag to "
                             f"continue the run as it was")


def _backbone_config(args):
    """wallner_full's architecture_config of --backbone and --backbone-weights."""
    if args.backbone is None:
        if args.backbone_weights != "imagenet":
            raise UsageError("--backbone-weights needs --backbone NAME")
        return None
    if args.architecture != "wallner_full":
        raise UsageError(f"--backbone is for --architecture wallner_full. "
                         f"Received: --architecture {args.architecture or 'default'}")
    weights = None if args.backbone_weights == "none" else args.backbone_weights
    if weights not in (None, "imagenet"):
        weights = os.path.abspath(weights)  # the run records where the file was
    return {"backbone": args.backbone, "backbone_weights": weights}


def cmd_train(args):
    run = Path(args.output)
    data = Path(args.data_dir)
    if not data.exists():
        raise UsageError(f"data folder not found. Received: {str(data)!r}")
    if run.exists() and not run.is_dir():
        raise UsageError(f"-o must be a run folder. Received: -o {str(run)!r} (a file)")
    data_real = Path(os.path.realpath(data))
    for flag, value in (("-o", run), ("--cache-dir", args.cache_dir)):
        if value in ("auto", "none"):
            continue
        real = Path(os.path.realpath(value))
        if real == data_real or data_real in real.parents:
            raise UsageError(f"{flag} must not lie inside the data folder, which is scanned for "
                             f"training photos. Received: {flag} {str(value)!r}")
        if flag == "--cache-dir" and Path(value).exists() and not Path(value).is_dir():
            raise UsageError(f"--cache-dir must be a folder. Received: --cache-dir {str(value)!r}")
    settings = {}  # a resumed run's own: flags not given take these, not the defaults
    if args.resume:
        state = _run_state(run)
        settings = (state.get("metadata") or {}).get("training") or {}
        _check_resume_flags(args, state["config"])
        if args.backbone is not None or args.backbone_weights != "imagenet":
            raise UsageError("--backbone and --backbone-weights are the run's own with --resume; "
                             "drop them to continue the run as it was")
    elif run.is_dir() and any(run.iterdir()):
        raise UsageError(f"run folder exists and is not empty; use --resume to continue it. "
                         f"Received: -o {str(run)!r}")

    from bwcolor import Colorizer, _backend

    _backend.enable_compilation_cache()
    try:
        if args.resume:
            colorizer = Colorizer.resume(run)
        else:
            d = TRAIN_DEFAULTS
            colorizer = Colorizer(args.architecture or d["architecture"],
                                  image_size=args.image_size or d["image_size"],
                                  loss=args.loss,
                                  learning_rate=args.learning_rate or d["learning_rate"],
                                  architecture_config=_backbone_config(args))
    except ValueError as e:
        raise UsageError(str(e)) from None
    chosen = _training_settings(args, settings)
    try:
        colorizer.fit(args.data_dir, **chosen, checkpoint_dir=run, resume=args.resume,
                      time_budget=args.time_budget,
                      mixed_precision=None if args.mixed_precision == "none" else args.mixed_precision,
                      cache_dir=None if args.cache_dir == "none" else args.cache_dir,
                      verbose=1 if console.interactive else 2)
    except (ValueError, FileNotFoundError, TypeError) as e:
        # One line: a message's further lines repeat the dataset report printed above.
        raise UsageError(str(e).splitlines()[0]) from None
    except KeyboardInterrupt as e:  # say what is kept, and how to go on
        e.kept = _what_the_run_keeps(args, run)
        raise
    console.log(f"run folder: {run} (best epoch preset: {run / 'best'})")
    return EXIT_OK


def _training_settings(args, run_settings):
    """fit's epochs, batch size, splits, seed and degradations: the flags given, else the
    resumed run's own (``run_settings``, from its state.json), else the defaults. A resumed run
    continues as it was started: to its own epoch count, on its own splits."""
    d = TRAIN_DEFAULTS

    def pick(flag_value, key):
        if flag_value is not None:
            return flag_value
        return run_settings.get(key, d.get(key))

    degrade = args.degrade if args.degrade is not None else (
        run_settings.get("degradations") is not None)
    return {"epochs": pick(args.epochs, "epochs"), "batch_size": pick(args.batch_size, "batch_size"),
            "validation_split": pick(args.validation_split, "validation_split"),
            "test_split": pick(None, "test_split"), "seed": pick(args.seed, "seed"),
            "degradations": degrade}


def _what_the_run_keeps(args, run):
    """For an interrupted ``train``: the epochs its run folder keeps and the command that
    continues it, or that it kept none."""
    import shlex

    from bwcolor.training import resume

    try:
        epoch = resume.read_run_state(run)["epoch"]
    except ValueError:  # no state.json and last.keras yet
        return "no epoch finished, so nothing was kept"

    again = shlex.join(["bwcolor", "train", str(args.data_dir), "-o", str(run), "--resume"])
    return f"{run} keeps {epoch} finished epochs; continue with: {again}"


# ------------------------------------------------------------------ evaluate
def cmd_evaluate(args):
    if not Path(args.data_dir).exists():
        raise UsageError(f"data not found. Received: {args.data_dir!r}")
    try:
        if args.model == "gray":
            from bwcolor.colorizer import evaluate_gray_baseline

            scores = evaluate_gray_baseline(args.data_dir, split=args.split, size=args.size or 256)
        else:
            _check_model(args.model)
            colorizer = _load_colorizer(args.model)
            scores = colorizer.evaluate(args.data_dir, split=args.split, size=args.size,
                                        annealing_temperature=args.temperature)
    except (ValueError, FileNotFoundError) as e:
        raise UsageError(str(e)) from None
    if args.json:
        console.print(json.dumps(scores))
    else:
        for k, v in scores.items():
            console.print(f"{k:>24}: {v:.4f}" if isinstance(v, float) else f"{k:>24}: {v}")
    return EXIT_OK


# ------------------------------------------------------------------- compare
def cmd_compare(args):
    from bwcolor._plan import OUTPUT_SUFFIXES

    out = Path(args.output)
    if out.suffix.lower() not in OUTPUT_SUFFIXES or out.is_dir():
        raise UsageError(f"-o must be an image file path ending in one of "
                         f"{sorted(OUTPUT_SUFFIXES)}. Received: -o {str(out)!r}")
    from bwcolor.plotting import _check_target, _pyplot, plot_comparison

    try:  # the same checks plot_comparison makes, before any model is loaded
        _check_target(out, args.overwrite, args.images)
    except ValueError:
        raise UsageError(f"-o would overwrite an input. Received: -o {str(out)!r}") from None
    except FileExistsError:
        raise UsageError(f"-o exists; compare replaces a file only with --overwrite. "
                         f"Received: -o {str(out)!r}") from None
    blocking = next((p for p in out.parents if p.exists() and not p.is_dir()), None)
    if blocking is not None:
        raise UsageError(f"-o lies under {str(blocking)!r}, which is a file, not a folder. "
                         f"Received: -o {str(out)!r}")
    for image in args.images:
        if not Path(image).is_file():
            raise UsageError(f"image not found. Received: {image!r}")
    models = args.model or ["default"]
    for m in models:
        _check_model(m)
    try:  # before loading any model: without the plot extra there is nothing to draw with
        _pyplot()
    except ImportError as e:
        raise UsageError(str(e)) from None
    colorizers = {m: _load_colorizer(m) for m in models}
    out.parent.mkdir(parents=True, exist_ok=True)  # as colorize does for its output folder
    try:
        plot_comparison(args.images, colorizers, out, render_size=args.render_size,
                        overwrite=args.overwrite)
    except ValueError as e:
        raise UsageError(str(e)) from None
    console.log(f"wrote {out}")
    return EXIT_OK


# -------------------------------------------------------------------- export
def cmd_export(args):
    out = Path(args.output)
    if out.is_dir():
        raise UsageError(f"-o must name the .onnx file to write, not a folder. Received: -o {str(out)!r}")
    if out.exists() and not args.overwrite:
        raise UsageError(f"-o exists; pass --overwrite to replace it. Received: -o {str(out)!r}")
    _check_model(args.model)
    colorizer = _load_colorizer(args.model)
    from bwcolor.export import export_onnx

    height = args.height or args.size or colorizer.config["image_size"]
    width = args.width or args.size or colorizer.config["image_size"]
    try:
        path = export_onnx(colorizer, out, height=height, width=width,
                           annealing_temperature=args.temperature, overwrite=args.overwrite)
    except (ValueError, TypeError, ImportError, FileExistsError) as e:
        raise UsageError(str(e)) from None
    except RuntimeError as e:  # the converter's fault, not the user's
        console.log(f"bwcolor export: error: {e}")
        return EXIT_SOME_FAILED
    console.log(f"wrote {path}: lightness (1, {height}, {width}, 1) -> ab; see the guide's "
                f"'Export to ONNX' for the steps around it")
    return EXIT_OK


# ----------------------------------------------------------------------- app
def cmd_app(args):
    _check_model(args.model)
    try:  # before loading the model: without the app extra there is no page to serve
        from bwcolor.app import import_gradio

        import_gradio()
    except ImportError as e:
        raise UsageError(str(e)) from None
    from bwcolor import app

    colorizer = _load_colorizer(args.model)
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        console.log(f"warning: --host {args.host}: anyone who can reach this address can use "
                    f"the page and upload photos")
    console.log(f"serving {args.model} at http://{args.host}:{args.port} (Ctrl+C stops it)")
    app.launch(colorizer, host=args.host, port=args.port, max_upload_mb=args.max_upload_mb,
               max_pixels=args.max_pixels, quiet=True)
    return EXIT_OK


# ---------------------------------------------------------------------- info
def cmd_info(args):
    import importlib.metadata

    import keras

    from bwcolor import __version__, _backend, architectures

    try:  # the app extra, without importing Gradio (seconds)
        app_extra = f"gradio {importlib.metadata.version('gradio')}"
    except importlib.metadata.PackageNotFoundError:
        app_extra = 'not installed (pip install "bwcolor[app]")'
    try:
        onnx_extra = f"onnx {importlib.metadata.version('onnx')}"
    except importlib.metadata.PackageNotFoundError:
        onnx_extra = 'not installed (pip install "bwcolor[onnx]")'
    hint_presets = [name for name in presets.available()
                    if _takes_hints(presets.read_preset(name)[1])]
    info = {"bwcolor": __version__, "keras": keras.__version__, "backend": _backend.name(),
            "devices": _backend.devices(), "presets": presets.available(),
            "hint presets": hint_presets, "architectures": architectures.available(),
            "app": app_extra, "onnx export": onnx_extra}
    if args.json:
        console.print(json.dumps(info))
    else:
        for k, v in info.items():
            console.print(f"{k:>14}: {', '.join(v) if isinstance(v, list) else v}")
    return EXIT_OK


# -------------------------------------------------------------------- parser
def build_parser():
    from bwcolor import __version__

    p = _Parser(prog="bwcolor", description="Colorize black-and-white photos.",
                epilog="Exit codes: 0 done, 1 some inputs failed, 2 usage error, 128 + the signal "
                "when stopped (130 Ctrl-C, 143 SIGTERM).",
                formatter_class=_Formatter)
    p.add_argument("--version", action="version", version=f"bwcolor {__version__}")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    _add_colorize(sub)
    _add_train(sub)
    _add_evaluate(sub)
    _add_compare(sub)
    _add_export(sub)
    _add_app(sub)
    i = sub.add_parser("info", help="version, backend, devices, presets, architectures",
                       formatter_class=_Formatter)
    i.add_argument("--json", action="store_true", help="print one JSON object")
    i.set_defaults(func=cmd_info)
    return p


_RENDER = _number(int, "render_size", low=presets.MIN_RENDER_SIZE, high=presets.MAX_RENDER_SIZE)
_TEMPERATURE = _number(float, "temperature", low=0, low_open=True)


def _add_colorize(sub):
    from bwcolor._plan import OUTPUT_EXTENSIONS

    c = sub.add_parser("colorize", help="colorize photos (files or folders)", formatter_class=_Formatter,
                       description="Colorize photos. Inputs are never written to; existing "
                       "outputs are skipped unless --overwrite.")
    c.add_argument("inputs", nargs="*", help="image files or folders")
    c.add_argument("-i", "--input", dest="more_inputs", action="append", default=[],
                   metavar="PATH", help="another input file or folder (Real-ESRGAN style)")
    c.add_argument("-o", "--output", required=True,
                   help="output folder (one input folder: its tree is written directly here; "
                   "several: a subfolder each), or an output image file for one input file")
    c.add_argument("--model", default="default", help="bundled preset name, or a preset / run "
                   "folder (write ./NAME for a folder that shares a preset's name)")
    c.add_argument("--render-size", type=_RENDER, default=None,
                   help=f"short side the model sees, {presets.MIN_RENDER_SIZE}-"
                   f"{presets.MAX_RENDER_SIZE} (default: the model's training size; never "
                   f"more than the photo's own short side)")
    c.add_argument("--temperature", type=_TEMPERATURE, default=None,
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
                   "radius in the photo's pixels (see the guide's Color hints)")
    c.set_defaults(func=cmd_colorize)


def _add_train(sub):
    d = TRAIN_DEFAULTS
    t = sub.add_parser("train", help="train on a folder of color photos", formatter_class=_Formatter)
    t.add_argument("data_dir", help="folder of color photos")
    t.add_argument("-o", "--output", required=True, help="run folder (checkpoints, best/, logs)")
    t.add_argument("--architecture", choices=ARCHITECTURES, default=None,
                   help=f"network (default: {d['architecture']}; with --resume: the run's)")
    t.add_argument("--loss", choices=("auto", *LOSSES), default="auto",
                   help="auto: the architecture's recommended loss")
    t.add_argument("--backbone", default=None, metavar="NAME",
                   help="wallner_full only: a keras.applications classifier as its global "
                   "feature, frozen (InceptionResNetV2 as in the tutorial; MobileNetV3Small, "
                   "EfficientNetB0 are cheap on a CPU)")
    t.add_argument("--backbone-weights", default="imagenet", metavar="FILE|imagenet|none",
                   help="the backbone's weights: ImageNet's (downloaded once; needs network), "
                   "a local weights file, or none (random)")
    t.add_argument("--image-size", type=_number(int, "image_size", low=16,
                                                high=presets.MAX_IMAGE_SIZE), default=None,
                   help=f"training crop size in pixels, a multiple the architecture needs "
                   f"(default: {d['image_size']}; with --resume: the run's)")
    t.add_argument("--epochs", type=_number(int, "epochs", low=1), default=None,
                   help=f"train until this many epochs are done in all (default: {d['epochs']}; "
                   f"with --resume: the run's)")
    t.add_argument("--batch-size", type=_number(int, "batch_size", low=1), default=None,
                   help=f"photos per step (default: {d['batch_size']}; with --resume: the run's)")
    t.add_argument("--learning-rate", type=_number(float, "learning_rate", low=0, low_open=True),
                   default=None, help=f"(default: {d['learning_rate']}; with --resume: the run's)")
    t.add_argument("--validation-split", type=_fraction, default=None,
                   help=f"fraction of photos held out for validation, by a stable hash "
                   f"(default: {d['validation_split']}; with --resume: the run's)")
    t.add_argument("--time-budget", type=_number(float, "time_budget", low=0, low_open=True),
                   default=None, help="stop after the epoch during which this many seconds pass")
    t.add_argument("--mixed-precision", default="auto", choices=["auto", "bfloat16", "float16", "none"],
                   help="auto: bfloat16 on torch with AMX/AVX-512 BF16 CPUs, else float32")
    t.add_argument("--degrade", action="store_true", default=None,
                   help="old-photo degradations on input L (with --resume: as the run had them)")
    t.add_argument("--seed", type=_number(int, "seed", low=0), default=None,
                   help=f"seed for shuffling and augmentation (default: {d['seed']}; with "
                   f"--resume: the run's)")
    t.add_argument("--resume", action="store_true",
                   help="continue the run in -o with its own architecture, size and loss")
    t.add_argument("--cache-dir", default="auto",
                   help="keep decoded photos here for later runs ('auto': a temporary folder "
                   "removed at the end; 'none': no cache)")
    t.set_defaults(func=cmd_train)


def _add_evaluate(sub):
    e = sub.add_parser("evaluate", help="score a model on a folder of color photos",
                       formatter_class=_Formatter)
    e.add_argument("data_dir", help="folder of color photos, or one photo")
    e.add_argument("--model", default="default", help="preset, folder, or 'gray' (a = b = 0 baseline)")
    e.add_argument("--split", choices=["train", "validation", "test"], default=None,
                   help="score one split of the folder (default: every photo)")
    e.add_argument("--size", type=_number(int, "size", low=presets.MIN_RENDER_SIZE,
                                          high=presets.MAX_RENDER_SIZE),
                   default=None, help="short side of the center crops (default: the model's size)")
    e.add_argument("--temperature", type=_TEMPERATURE, default=None,
                   help="annealed-mean temperature for classification models")
    e.add_argument("--json", action="store_true", help="print one JSON object")
    e.set_defaults(func=cmd_evaluate)


def _add_compare(sub):
    m = sub.add_parser("compare", help="sheet: original / colors removed / each model",
                       formatter_class=_Formatter)
    m.add_argument("images", nargs="+", help="photos to show, one row each")
    m.add_argument("-o", "--output", required=True, help="image file to write (PNG)")
    m.add_argument("--model", action="append", help="repeat for several models (default: default)")
    m.add_argument("--render-size", type=_RENDER, default=None, help="short side the models see")
    m.add_argument("--overwrite", action="store_true", help="replace -o if it exists (never an input)")
    m.set_defaults(func=cmd_compare)


def _add_export(sub):
    x = sub.add_parser("export", help="write a model as an ONNX file (needs the onnx extra)",
                       formatter_class=_Formatter,
                       description="Write a model's net and decoding as ONNX, for apps that "
                       "colorize without Python: L* (1, H, W, 1) in, a*b* out (pip install "
                       "\"bwcolor[onnx]\"). The shape is fixed: export once per render shape.")
    x.add_argument("-o", "--output", required=True, help=".onnx file to write")
    x.add_argument("--model", default="default", help="preset name, or a preset / run folder")
    size = _number(int, "size", low=8, high=4096)
    x.add_argument("--size", type=size, default=None,
                   help="square input side (default: the model's training size)")
    x.add_argument("--height", type=size, default=None, help="input height (overrides --size)")
    x.add_argument("--width", type=size, default=None, help="input width (overrides --size)")
    x.add_argument("--temperature", type=_TEMPERATURE, default=None,
                   help="annealed-mean temperature baked in (classification models)")
    x.add_argument("--overwrite", action="store_true", help="replace -o if it exists")
    x.set_defaults(func=cmd_export)


def _add_app(sub):
    a = sub.add_parser("app", help="the local web page: drop photos, click color hints",
                       formatter_class=_Formatter,
                       description="Serve bwcolor's web page (needs the app extra: pip install "
                       "\"bwcolor[app]\"). It binds 127.0.0.1 unless told otherwise.")
    a.add_argument("--model", default="default", help="bundled preset name, or a preset / run "
                   "folder")
    a.add_argument("--host", default="127.0.0.1",
                   help="address to bind (0.0.0.0: every network interface)")
    a.add_argument("--port", type=_number(int, "port", low=1, high=65535), default=7860,
                   help="TCP port")
    a.add_argument("--max-upload-mb", type=_number(float, "max_upload_mb", low=0, low_open=True,
                                                  high=4096), default=50,
                   help="largest photo file accepted, in MB")
    a.add_argument("--max-pixels", type=_number(int, "max_pixels", low=1024, high=1_000_000_000),
                   default=50_000_000, help="largest photo accepted, in pixels (width x height)")
    a.set_defaults(func=cmd_app)


def main(argv=None):
    ensure_standard_streams()
    args = build_parser().parse_args(argv)
    if args.command == "colorize":
        args.inputs = [*args.inputs, *args.more_inputs]
        if not args.inputs:
            console.log("bwcolor colorize: error: no inputs given: name image files or folders "
                        "(or -i PATH) (see bwcolor colorize --help)")
            return EXIT_USAGE
    try:
        with stops_unwind():
            return args.func(args)
    except UsageError as e:
        console.log(f"bwcolor {args.command}: error: {e}")
        return EXIT_USAGE
    except KeyboardInterrupt as e:  # Ctrl-C, or Stopped by SIGTERM / SIGHUP
        signum = getattr(e, "signum", signal.SIGINT)
        kept = f"; {e.kept}" if getattr(e, "kept", None) else ""
        console.log(f"bwcolor {args.command}: interrupted ({signal.Signals(signum).name}){kept}")
        return 128 + signum
    except (OSError, FloatingPointError) as e:
        # Disk full, permissions, a loss that became NaN: the run folder and outputs written so
        # far are intact (every write is atomic); say what happened in one line.
        if os.environ.get("BWCOLOR_TRACEBACK"):
            raise
        console.log(f"bwcolor {args.command}: error: {e}")
        return EXIT_SOME_FAILED


if __name__ == "__main__":
    sys.exit(main())
