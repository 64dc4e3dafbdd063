"""JSON that every parser reads: a run's outputs never hold ``NaN`` or ``Infinity``.

Python's ``json.dumps`` writes ``NaN`` for a float NaN, which is not JSON (``jq`` and
JavaScript refuse the file). :func:`dumps_strict` writes a non-finite float as ``null``
(the value is unknown) and refuses nothing else that ``json.dumps`` takes.

Example:
    >>> dumps_strict({"train_loss": float("nan"), "lr": [1e-3, float("inf")]})
    '{"train_loss": null, "lr": [0.001, null]}'
"""

from __future__ import annotations

import json
import math
from typing import Any

__all__ = ["finite_or_none", "dumps_strict"]


def finite_or_none(value: Any) -> Any:
    """``value`` with every non-finite float (at any depth of dicts, lists and tuples) replaced by ``None``."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite_or_none(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_or_none(v) for v in value]
    return value


def dumps_strict(value: Any, **kwargs: Any) -> str:
    """``json.dumps`` of ``value`` with non-finite floats as ``null`` (``allow_nan=False`` as a guarantee)."""
    return json.dumps(finite_or_none(value), allow_nan=False, **kwargs)
