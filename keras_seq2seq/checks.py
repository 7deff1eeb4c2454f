"""Argument checks shared by the package: each raises a `ValueError` that names the
argument, the value received and what is expected. Pure Python (no TensorFlow).
"""

import math
import numbers

__all__ = ["check_choice", "check_int", "check_number", "check_positive_int",
           "check_rate"]


def check_choice(name, value, choices):
    """Returns `value` if it is one of `choices`.

    Args:
        name: the argument's name, for the message.
        value: the value received.
        choices: the allowed values.

    Returns:
        `value`.
    """
    if value not in choices:
        raise ValueError(f"Expected one of {set(choices)}. Received: {name}={value!r}")
    return value


def check_int(name, value, minimum=None, allow_none=False):
    """Returns `value` as an int if it is an int (not a bool) >= `minimum`.

    Args:
        name: the argument's name.
        value: the value received (a Python or numpy int).
        minimum: the smallest allowed value, or None for no bound.
        allow_none: accept (and return) None.

    Returns:
        `int(value)`, or None.
    """
    if value is None and allow_none:
        return None
    if (isinstance(value, bool) or not isinstance(value, numbers.Integral)
            or (minimum is not None and value < minimum)):
        if minimum == 1:
            kind = "a positive int"
        elif minimum == 0:
            kind = "a non-negative int"
        elif minimum is None:
            kind = "an int"
        else:
            kind = f"an int >= {minimum}"
        raise ValueError(f"Expected {kind} for `{name}`. Received: {name}={value!r}")
    return int(value)


def check_positive_int(name, value, allow_none=False):
    """`check_int(name, value, minimum=1)`."""
    return check_int(name, value, minimum=1, allow_none=allow_none)


def check_number(name, value, low=None, high=None, low_open=False):
    """Returns `value` as a float if it is a real number (not NaN, not a bool) in range.

    Args:
        name: the argument's name.
        value: the value received.
        low: the lower bound, or None.
        high: the upper bound (inclusive), or None.
        low_open: exclude `low` itself.

    Returns:
        `float(value)`.
    """
    if (isinstance(value, bool) or not isinstance(value, numbers.Real)
            or math.isnan(value)):
        raise ValueError(f"Expected a number for `{name}`. Received: {name}={value!r}")
    too_low = low is not None and (value <= low if low_open else value < low)
    too_high = high is not None and value > high
    if too_low or too_high:
        left = "(" if low_open else "["
        right = "]" if high is not None else ")"
        raise ValueError(
            f"`{name}` must lie in {left}{low if low is not None else '-inf'}, "
            f"{high if high is not None else 'inf'}{right}. Received: {name}={value!r}")
    return float(value)


def check_rate(name, value):
    """Returns `value` as a float if it lies in [0, 1) (dropout, label smoothing)."""
    if (isinstance(value, bool) or not isinstance(value, numbers.Real)
            or not 0 <= value < 1):
        raise ValueError(
            f"Expected a float in [0, 1) for `{name}`. Received: {name}={value!r}")
    return float(value)
