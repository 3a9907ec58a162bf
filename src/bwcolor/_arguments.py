"""Checks of the API's scalar arguments, with errors that name the argument and the value."""

from __future__ import annotations

import math
import numbers

import numpy as np

#: Longest repr an error message quotes whole; longer values are cut (a 400-digit int, a huge list).
_SHOWN_CHARS = 60


def shown(value):
    """``repr(value)`` for an error message, on one short line: a value whose repr is long (or
    cannot be made: Python refuses ints over 4300 digits) is cut, saying how long it was."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        digits = int(abs(int(value)).bit_length() * 0.30103) + 1
        if digits > _SHOWN_CHARS:
            return f"an int of about {digits} digits"
    try:
        text = repr(value)
    except (ValueError, RecursionError):  # an int too long to print, a list nested too deep
        return f"a {type(value).__name__} too large to print"
    text = " ".join(text.split())
    if len(text) <= _SHOWN_CHARS:
        return text
    return f"{text[:_SHOWN_CHARS - 20]}...{text[-12:]} ({len(text)} characters)"


def is_finite_number(value):
    """Whether ``value`` is a real number (not a bool) that a float holds finitely: False for
    NaN, infinities and ints too large for a float (10**400), where ``math.isfinite`` raises."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def check_int(name, value, low=1, allow_none=False):
    """``value`` as an int >= ``low`` (None passes when ``allow_none``); TypeError/ValueError."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int. Received: {name}={shown(value)}")
    if value < low:
        raise ValueError(f"{name} must be >= {low}. Received: {name}={shown(value)}")
    return int(value)


def check_positive(name, value, allow_none=False):
    """``value`` as a finite float > 0 (None passes when ``allow_none``)."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number. Received: {name}={shown(value)}")
    if not is_finite_number(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number > 0. Received: {name}={shown(value)}")
    return float(value)


def check_fraction(name, value):
    """``value`` as a float in [0, 1)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number. Received: {name}={shown(value)}")
    if not 0 <= value < 1:
        raise ValueError(f"{name} must be in [0, 1). Received: {name}={shown(value)}")
    return float(value)


def check_bools(**values):
    """Each keyword's value must be a bool (or numpy bool): TypeError naming the first that is not."""
    for name, value in values.items():
        if not isinstance(value, (bool, np.bool_)):
            raise TypeError(f"{name} must be a bool. Received: {name}={shown(value)}")
