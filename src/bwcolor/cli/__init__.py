"""The ``bwcolor`` command line: colorize, train, evaluate, compare, export, app, info.

One module per command (``add_parser`` and ``run``); what they share (exit codes,
``UsageError``, the console, argument types, checking and loading a model) is in ``_common``.

Exit codes: 0 everything done; 1 some inputs failed or training stopped (each is reported, the
rest are done); 2 usage error (bad arguments, unknown model, unsafe plan, nothing to read),
always reported in one line before any model is loaded or any epoch trained.
"""

from __future__ import annotations

import os
import signal
import sys
import warnings

from bwcolor._console import ensure_standard_streams, stops_unwind
from bwcolor.cli import app, colorize, compare, evaluate, export, info, train
from bwcolor.cli._common import (
    EXIT_OK,
    EXIT_SOME_FAILED,
    EXIT_USAGE,
    Formatter,
    Parser,
    UsageError,
    console,
)
from bwcolor.cli.train import ARCHITECTURES, LOSSES, TRAIN_DEFAULTS

__all__ = ["ARCHITECTURES", "EXIT_OK", "EXIT_SOME_FAILED", "EXIT_USAGE", "LOSSES",
           "TRAIN_DEFAULTS", "UsageError", "build_parser", "main"]

_COMMANDS = (colorize, train, evaluate, compare, export, app, info)  # in --help's order


def build_parser():
    from bwcolor._version import __version__

    p = Parser(prog="bwcolor", description="Colorize black-and-white photos.",
               epilog="Exit codes: 0 done, 1 some inputs failed, 2 usage error, 128 + the signal "
               "when stopped (130 Ctrl-C, 143 SIGTERM).",
               formatter_class=Formatter)
    p.add_argument("--version", action="version", version=f"bwcolor {__version__}")
    sub = p.add_subparsers(dest="command", required=True, parser_class=Parser)
    for command in _COMMANDS:
        command.add_parser(sub)
    return p


def main(argv=None):
    ensure_standard_streams()
    args = build_parser().parse_args(argv)
    if args.command == "colorize":
        args.inputs = [*args.inputs, *args.more_inputs]
        if not args.inputs:
            console.log("bwcolor colorize: error: no inputs given: name image files or folders "
                        "(or -i PATH) (see bwcolor colorize --help)")
            return EXIT_USAGE
    shown_before = warnings.showwarning
    warnings.showwarning = _warning_line
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
    finally:
        warnings.showwarning = shown_before


def _warning_line(message, category, filename, lineno, file=None, line=None):
    """A warning as one console line (``warning: ...``), not Python's file:line and source
    line: e.g. which photo had several frames and which one was used."""
    console.log(f"warning: {' '.join(str(message).split())}")


if __name__ == "__main__":
    sys.exit(main())
