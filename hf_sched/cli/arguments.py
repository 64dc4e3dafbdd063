"""Argument types of ``hf-sched`` and the caps that keep every command small and quick.

Each type turns the text of one flag into a value or raises
:class:`argparse.ArgumentTypeError`, which argparse prints as one line
``hf-sched show: error: argument --steps: <message>`` with exit status 2. Every message
names what is allowed and the text it got.

The caps (documented in ``docs/cli.md``; hostile input must end in one line, never in a
traceback, a hang or a huge allocation):

* step counts and other counts (``--steps``, ``--examples``, ``--batch-size``,
  ``--grad-accum``, ``--processes``, ``--max-steps``): whole numbers in
  ``[1, MAX_COUNT]``, ``MAX_COUNT = 2**53 - 1``. Below ``2**53`` a float64 holds every
  integer exactly, so a step, its progress ``s / T`` and numpy's int64 grid are exact;
  the ``steps`` command applies the same cap to every count it computes;
* ``--epochs``: a finite number in ``(0, 2**53)``;
* ``--csv``: at most :data:`MAX_CSV_ROWS` rows (``--steps <= MAX_CSV_ROWS - 1``), about
  260 MB of text in about 20 s (measured on a shared 2-core machine); longer runs are for
  ``--json`` or ``plot``, which sample;
* ``--size``: each side in ``[MIN_SIDE, MAX_SIDE]`` pixels and at most
  :data:`MAX_PIXELS` pixels in all (a 100 MB RGBA buffer, about 2 s);
* ``--dpi``: in ``[MIN_DPI, MAX_DPI]`` and at most ``WIDTH / 4`` and ``HEIGHT / 2``: text
  is sized in points (``dpi / 72`` pixels each), so a figure under 4 x 2 inches is
  nothing but its labels (checked by the ``plot`` command, which knows both);
* ``show --width`` / ``--height``: ``[10, 1000]`` characters and ``[2, 200]`` lines;
* ``plot``: at most :data:`MAX_PLOT_NAMES` schedules in one figure (10 colours repeat
  long before; 50 take about 2 s, 300 took 10 s).

>>> count("1_000"), count("1e6")
(1000, 1000000)
>>> pixels("1600x900")
(1600, 900)
"""

from __future__ import annotations

import argparse
import math
import re
from typing import Callable, Union

from ..clock import Amount, parse_amount

__all__ = [
    "MAX_COUNT",
    "MAX_CSV_ROWS",
    "MIN_SIDE",
    "MAX_SIDE",
    "MAX_PIXELS",
    "MIN_DPI",
    "MAX_DPI",
    "MIN_FIGURE_INCHES",
    "MAX_PLOT_NAMES",
    "TERMINAL_WIDTH",
    "TERMINAL_HEIGHT",
    "count",
    "count_or_amount",
    "bounded_int",
    "positive_float",
    "epochs",
    "beta2",
    "pixels",
    "schedule_name",
    "max_dpi",
]

#: The largest step or count accepted anywhere: ``2**53 - 1``.
MAX_COUNT: int = 2**53 - 1
#: ``--csv`` prints at most this many rows (steps ``0..10,000,000``).
MAX_CSV_ROWS: int = 10_000_001
#: Smallest and largest side of a ``plot`` image, in pixels.
MIN_SIDE: int = 100
MAX_SIDE: int = 20_000
#: Largest ``plot`` image, in pixels (width x height).
MAX_PIXELS: int = 25_000_000
#: Range of ``--dpi``.
MIN_DPI: int = 10
MAX_DPI: int = 1200
#: The smallest figure, in inches (width, height), whatever ``--dpi``.
MIN_FIGURE_INCHES: tuple[int, int] = (4, 2)
#: The most schedules ``plot`` draws in one figure.
MAX_PLOT_NAMES: int = 50
#: Ranges of ``show --width`` (characters) and ``--height`` (lines).
TERMINAL_WIDTH: tuple[int, int] = (10, 1000)
TERMINAL_HEIGHT: tuple[int, int] = (2, 200)

_CAP_TEXT = "2**53 (9,007,199,254,740,992)"


def _whole(text: str) -> int | None:
    """``"1000"``, ``"1_000"``, ``"1,000"``, ``"1e6"`` -> int; anything else -> None."""
    try:
        return int(text.replace(",", ""))
    except ValueError:
        pass
    try:
        value = float(text)
    except ValueError:
        return None
    if not math.isfinite(value) or value != int(value):
        return None
    return int(value)


def bounded_int(minimum: int, maximum: int, what: str = "") -> Callable[[str], int]:
    """An argparse type: a whole number in ``[minimum, maximum]``.

    ``what`` names the cap in the message (e.g. ``"characters"``).

    >>> bounded_int(2, 200, "lines")("12")
    12
    """

    def parse(text: str) -> int:
        value = _whole(text)
        if value is None or value < minimum:
            raise argparse.ArgumentTypeError(f"must be a whole number >= {minimum}, got {text!r}")
        if value > maximum:
            if maximum == MAX_COUNT:
                limit = f"below {_CAP_TEXT}, the cap on counts"
            else:
                limit = f"<= {maximum:,}{(' ' + what) if what else ''}"
            raise argparse.ArgumentTypeError(f"must be a whole number {limit}, got {text!r}")
        return value

    return parse


def count(text: str) -> int:
    """The type of a count flag: a whole number in ``[1, MAX_COUNT]``.

    >>> count("12"), count("1e6")
    (12, 1000000)
    """
    return _count(text)


_count = bounded_int(1, MAX_COUNT)


def count_or_amount(text: str) -> Union[int, Amount]:
    """A count of optimizer steps, or an amount in a clock's unit (``"200M tok"``, ``"1M samples"``).

    >>> count_or_amount("500"), count_or_amount("200M tok")
    (500, Amount(value=200000000, unit='tokens'))
    """
    try:
        amount = parse_amount(text, "value")
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc).replace("value=", "", 1)) from None
    if amount is None:
        return _count(text)
    if not 1 <= amount.value <= MAX_COUNT:
        raise argparse.ArgumentTypeError(f"must be an amount of at least 1 and below {_CAP_TEXT} {amount.unit}, "
                                         f"got {text!r}")
    return amount


def positive_float(text: str) -> float:
    """A finite number > 0 (``--lr``)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number > 0, got {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text!r}")
    return value


def epochs(text: str) -> float:
    """A finite number of epochs in ``(0, 2**53)`` (``--epochs``, may be fractional)."""
    value = positive_float(text)
    if value >= 2.0**53:
        raise argparse.ArgumentTypeError(f"must be a number of epochs below {_CAP_TEXT}, got {text!r}")
    return value


def beta2(text: str) -> float:
    """Adam's ``beta2`` in ``[0, 1)`` (``--beta2``, for ``--warmup auto``)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number in [0, 1), got {text!r}") from None
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"must be a number in [0, 1), got {text!r}")
    return value


def pixels(text: str) -> tuple[int, int]:
    """``WIDTHxHEIGHT`` in pixels, each side in ``[MIN_SIDE, MAX_SIDE]``, at most ``MAX_PIXELS``."""
    allowed = (
        f"must be WIDTHxHEIGHT in pixels, each side in [{MIN_SIDE}, {MAX_SIDE:,}] and at most "
        f"{MAX_PIXELS:,} pixels in all (e.g. 1200x675)"
    )
    m = re.fullmatch(r"\s*(\d+)\s*[xX*,]\s*(\d+)\s*", text)
    if not m:
        raise argparse.ArgumentTypeError(f"{allowed}, got {text!r}")
    width, height = int(m.group(1)), int(m.group(2))
    if not (MIN_SIDE <= width <= MAX_SIDE and MIN_SIDE <= height <= MAX_SIDE):
        raise argparse.ArgumentTypeError(f"{allowed}, got {text!r}")
    if width * height > MAX_PIXELS:
        raise argparse.ArgumentTypeError(f"{allowed}, got {text!r} ({width * height:,} pixels)")
    return width, height


def max_dpi(size: tuple[int, int]) -> int:
    """The largest ``--dpi`` for an image of ``size`` pixels (at least 4 x 2 inches).

    >>> max_dpi((1200, 675))
    300
    """
    return min(MAX_DPI, size[0] // MIN_FIGURE_INCHES[0], size[1] // MIN_FIGURE_INCHES[1])


def schedule_name(text: str) -> str:
    """A schedule name (``NAME[:key=value,...]``), not empty."""
    if not text.strip():
        raise argparse.ArgumentTypeError("a schedule name may not be empty (see: hf-sched list)")
    return text
