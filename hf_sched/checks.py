"""Argument checks shared by every public entry point.

Each check raises ``ValueError`` (or ``TypeError`` for a wrong type) whose message names
the parameter, the value it got and what is allowed, e.g.::

    num_training_steps must be an integer >= 1, got 0

>>> check_int("num_training_steps", 10, minimum=1)
10
"""

from __future__ import annotations

import math
import numbers
from typing import Any, Iterable

__all__ = ["check_int", "check_float", "check_choice"]


def check_int(name: str, value: Any, *, minimum: int | None = None, maximum: int | None = None) -> int:
    """Return ``value`` as an ``int`` if it is a whole number in ``[minimum, maximum]``.

    Floats that are whole (``3.0``) are accepted; ``bool`` and fractional floats are not.

    >>> check_int("steps", 3.0, minimum=0)
    3
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be an integer, got {value!r} ({type(value).__name__})")
    if isinstance(value, numbers.Integral):
        out = int(value)
    else:
        f = float(value)
        if not math.isfinite(f) or f != int(f):
            raise ValueError(f"{name} must be a whole number, got {value!r}")
        out = int(f)
    _range(name, out, minimum, maximum, "an integer")
    return out


def check_float(
    name: str,
    value: Any,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    min_inclusive: bool = True,
    max_inclusive: bool = True,
) -> float:
    """Return ``value`` as a finite ``float`` inside the given bounds.

    >>> check_float("power", 2, minimum=0, min_inclusive=False)
    2.0
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {value!r} ({type(value).__name__})")
    f = float(value)
    if not math.isfinite(f):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    lo_ok = minimum is None or (f >= minimum if min_inclusive else f > minimum)
    hi_ok = maximum is None or (f <= maximum if max_inclusive else f < maximum)
    if not (lo_ok and hi_ok):
        lo = "" if minimum is None else ("[" if min_inclusive else "(") + f"{minimum:g}"
        hi = "" if maximum is None else f"{maximum:g}" + ("]" if max_inclusive else ")")
        if minimum is not None and maximum is not None:
            allowed = f"in {lo}, {hi}"
        elif minimum is not None:
            allowed = (">= " if min_inclusive else "> ") + f"{minimum:g}"
        else:
            allowed = ("<= " if max_inclusive else "< ") + f"{maximum:g}"
        raise ValueError(f"{name} must be a number {allowed}, got {value!r}")
    return f


def check_choice(name: str, value: Any, choices: Iterable[str]) -> str:
    """Return ``value`` if it is one of ``choices``.

    >>> check_choice("decay_type", "cosine", ("linear", "cosine"))
    'cosine'
    """
    choices = tuple(choices)
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}, got {value!r}")
    return value


def _range(name: str, value: int, minimum: int | None, maximum: int | None, what: str) -> None:
    if minimum is not None and value < minimum:
        bound = f">= {minimum}" if maximum is None else f"in [{minimum}, {maximum}]"
        raise ValueError(f"{name} must be {what} {bound}, got {value!r}")
    if maximum is not None and value > maximum:
        bound = f"<= {maximum}" if minimum is None else f"in [{minimum}, {maximum}]"
        raise ValueError(f"{name} must be {what} {bound}, got {value!r}")
