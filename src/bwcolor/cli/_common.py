"""What the commands share: exit codes, the one-line ``UsageError``, the console, argparse with
one-line errors, argument types, and checking / loading a model.

Commands call the model helpers through this module (``_common.load_colorizer(...)``), never
through a name bound at import, so that a test can replace one here for every command.
"""

from __future__ import annotations

import argparse
import math
import sys

from bwcolor import _backend, presets
from bwcolor._console import Console

EXIT_OK, EXIT_SOME_FAILED, EXIT_USAGE = 0, 1, 2

console = Console()


class UsageError(Exception):
    """A user's mistake: reported in one line, exit 2."""


# ---------------------------------------------------------------- argument types
def number(kind, name, *, low=None, high=None, low_open=False):
    """An argparse type: ``kind`` (int or float) in ``[low, high]`` (``(low, high]`` with
    ``low_open``), finite, named ``name`` in its messages."""
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


RENDER = number(int, "render_size", low=presets.MIN_RENDER_SIZE, high=presets.MAX_RENDER_SIZE)
TEMPERATURE = number(float, "temperature", low=0, low_open=True)


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors: ``bwcolor colorize: error: ... (see --help)``."""

    def error(self, message):
        console.log(f"{self.prog}: error: {message} (see {self.prog} --help)")
        sys.exit(EXIT_USAGE)


class Formatter(argparse.ArgumentDefaultsHelpFormatter):
    def _get_help_string(self, action):
        # Say "(default: ...)" only where there is a meaningful default to show.
        if action.default in (None, False, argparse.SUPPRESS) or "%(default)" in (action.help or ""):
            return action.help
        return super()._get_help_string(action)


# ------------------------------------------------------------------- models
def check_model(name, *, registries=True):
    """Validate a preset name or folder without loading any weights (fast, before any work);
    return its config. ``registries=False`` leaves out the checks that import Keras (see
    :func:`bwcolor.presets.validate_config`)."""
    if registries:
        _backend.import_keras_lean()
    try:
        return presets.read_preset(name, registries=registries)[1]
    except ValueError as e:
        raise UsageError(f"--model: {e}") from None


def model_files(name):
    """The files a command reads of the model ``name`` (a checked preset name or folder): none
    may be written to (see :class:`bwcolor._io.InputFiles`)."""
    try:
        folder = presets.resolve(name)
    except (TypeError, ValueError):  # check_model says what is wrong
        return []
    return [folder / f for f in (presets.CONFIG_FILE, presets.WEIGHTS_FILE, presets.METADATA_FILE)
            if (folder / f).exists()]


def load_colorizer(name):
    _backend.import_keras_lean()
    from bwcolor import Colorizer

    _backend.enable_compilation_cache()
    try:
        return Colorizer.from_preset(name)
    except ValueError as e:
        raise UsageError(f"--model: {e}") from None


def takes_hints(config):
    """Whether a preset's config builds a net with hint channels (read without Keras)."""
    return bool((config.get("architecture_config") or {}).get("hints"))
