"""Checks of the API's scalar arguments, with errors that name the argument and the value."""

from __future__ import annotations

import math

import numpy as np


def check_int(name, value, low=1, allow_none=False):
    """``value`` as an int >= ``low`` (None passes when ``allow_none``); TypeError/ValueError."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int. Received: {name}={value!r}")
    if value < low:
        raise ValueError(f"{name} must be >= {low}. Received: {name}={value!r}")
    return int(value)


def check_positive(name, value, allow_none=False):
    """``value`` as a finite float > 0 (None passes when ``allow_none``)."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number. Received: {name}={value!r}")
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number > 0. Received: {name}={value!r}")
    return float(value)


def check_fraction(name, value):
    """``value`` as a float in [0, 1)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number. Received: {name}={value!r}")
    if not 0 <= value < 1:
        raise ValueError(f"{name} must be in [0, 1). Received: {name}={value!r}")
    return float(value)


def check_bools(**values):
    """Each keyword's value must be a bool (or numpy bool): TypeError naming the first that is not."""
    for name, value in values.items():
        if not isinstance(value, (bool, np.bool_)):
            raise TypeError(f"{name} must be a bool. Received: {name}={value!r}")
