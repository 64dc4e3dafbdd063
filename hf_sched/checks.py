"""Argument checks shared by every public entry point.

Each raises ``ValueError`` (``TypeError`` for a wrong type) naming the parameter, the value and
what is allowed.

>>> check_int("num_training_steps", 10, minimum=1)
10
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable
from typing import Any

__all__ = ["ResumeRefused", "check_choice", "check_float", "check_int", "check_kwargs", "check_lr"]


class ResumeRefused(ValueError):
    """A checkpoint this run will not resume from as asked (a changed schedule in ``strict``, nothing left to
    rescale, a decay that cannot start): the message names what and the ways out. A ``ValueError``, so tools
    catch it as one; the recipes turn it into one line and exit 2.

    >>> issubclass(ResumeRefused, ValueError)
    True
    """


def check_int(name: str, value: Any, *, minimum: int | None = None, maximum: int | None = None) -> int:
    """Return ``value`` as an ``int`` if it is a whole number (``3.0`` too, not a ``bool``) in ``[minimum, maximum]``.

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
    if (minimum is not None and out < minimum) or (maximum is not None and out > maximum):
        bound = f"in [{minimum}, {maximum}]" if None not in (minimum, maximum) else (
            f">= {minimum}" if maximum is None else f"<= {maximum}")
        raise ValueError(f"{name} must be an integer {bound}, got {out!r}")
    return out


def check_float(name: str, value: Any, *, minimum: float | None = None, maximum: float | None = None,
                min_inclusive: bool = True, max_inclusive: bool = True) -> float:
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
        if minimum is not None and maximum is not None:
            allowed = f"in {'[' if min_inclusive else '('}{minimum:g}, {maximum:g}{']' if max_inclusive else ')'}"
        elif minimum is not None:
            allowed = (">= " if min_inclusive else "> ") + f"{minimum:g}"
        else:
            allowed = ("<= " if max_inclusive else "< ") + f"{maximum:g}"
        raise ValueError(f"{name} must be a number {allowed}, got {value!r}")
    return f


def check_lr(name: str, value: Any) -> float:
    """An LR (or a multiplier) that may reach an optimizer: a finite number ``>= 0`` (or a one-element tensor).

    >>> check_lr("param_groups[0]['lr']", 1e-3)
    0.001
    """
    number = value.item() if callable(getattr(value, "item", None)) and getattr(value, "ndim", 1) == 0 else value
    kind = "" if isinstance(number, numbers.Real) and not isinstance(number, bool) else f" ({type(value).__name__})"
    if kind or not math.isfinite(number) or number < 0:
        raise ValueError(f"{name} must be a finite LR >= 0, got {value!r}{kind}")
    return float(number)


def check_choice(name: str, value: Any, choices: Iterable[str]) -> str:
    """Return ``value`` if it is one of ``choices``.

    >>> check_choice("decay_type", "cosine", ("linear", "cosine"))
    'cosine'
    """
    choices = tuple(choices)
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}, got {value!r}")
    return value


def check_kwargs(name: str, value: Any) -> dict[str, Any]:
    """Schedule keyword arguments as a dict: a dict, ``None`` (no arguments) or a JSON object string.

    Every entry point reads them here, so a bad value gets the same message everywhere.

    >>> check_kwargs("scheduler_specific_kwargs", '{"num_cycles": 2}'), check_kwargs("--kwargs", None)
    ({'num_cycles': 2}, {})
    """
    example = "'{\"num_cycles\": 2}'"
    if value is None:
        return {}
    if isinstance(value, str):
        import json

        text = value
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{name} must be a JSON object such as {example}, got {text!r}: {exc.msg} "
                             f"(line {exc.lineno} column {exc.colno})") from None
        except (RecursionError, ValueError) as exc:  # nested too deeply; an int of more than 4300 digits
            why = "nested too deeply" if isinstance(exc, RecursionError) else str(exc).split(";")[0]
            raise ValueError(f"{name} must be a JSON object such as {example}; cannot read {text[:40]!r}...: {why}") from None
        if not isinstance(value, dict):
            raise ValueError(f"{name} must be a JSON object such as {example}, got a {type(value).__name__}: {text!r}")  # noqa: TRY004 (a JSON text of another type: a bad value)
    if not isinstance(value, dict):
        raise TypeError(f"{name} must be a dict or a JSON object string such as {example}, got {value!r} "
                        f"({type(value).__name__})")
    bad = [k for k in value if not isinstance(k, str)]
    if bad:
        raise TypeError(f"{name} keys must be argument names (str), got {bad!r}")
    return dict(value)
