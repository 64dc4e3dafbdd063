"""Let ``--warmup -1ep`` reach the argument's own check, as Python 3.13's argparse does.

Python 3.10-3.12's argparse takes a token after an option for a value only if it cannot be an
option string: ``-5`` and ``-0.5`` are values, but ``-1ep``, ``-10%`` and ``-1e-3`` look like
unknown options, so ``--warmup -1ep`` ends in "argument --warmup: expected one argument"
instead of the message that says what ``--warmup`` allows. Python 3.13 reads any token that
starts with ``-`` and a digit (or ``-.`` and a digit) as a value; :func:`accept_dash_values`
gives a parser that rule on every Python (argparse keeps it in the parser's
``_negative_number_matcher``; a parser with options that look like negative numbers, such as
``-1``, keeps argparse's own handling of those).

Example:
    >>> import argparse
    >>> parser = accept_dash_values(argparse.ArgumentParser())
    >>> _ = parser.add_argument("--warmup")
    >>> parser.parse_args(["--warmup", "-1ep"]).warmup
    '-1ep'
"""

from __future__ import annotations

import argparse
import re
from typing import TypeVar

__all__ = ["DASH_VALUE", "accept_dash_values"]

#: tokens read as values, not options: ``-`` then a digit, or ``-.`` then a digit (Python 3.13's rule)
DASH_VALUE = re.compile(r"-\.?\d")

_P = TypeVar("_P", bound=argparse.ArgumentParser)


def accept_dash_values(parser: _P) -> _P:
    """Make ``parser`` read ``-1ep``, ``-10%`` or ``-1e-3`` after an option as its value; return it.

    Subparsers made afterwards by ``parser.add_subparsers().add_parser`` need the call too.

    Example:
        >>> import argparse
        >>> p = accept_dash_values(argparse.ArgumentParser())
        >>> _ = p.add_argument("--lr", type=float)
        >>> p.parse_args(["--lr", "-1e-3"]).lr
        -0.001
    """
    parser._negative_number_matcher = DASH_VALUE  # the attribute argparse consults (3.8-3.13)
    return parser
