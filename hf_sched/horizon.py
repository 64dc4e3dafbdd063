"""A schedule's own length: a horizon that is not the run's, and a decay started from here.

* **Horizon**: the total ``T`` a schedule is built over when the run stops earlier (a
  100-step debug run on a 10,000-step curve): the run's ``max_steps`` stops training, the
  schedule keeps ``T = horizon``. A horizon shorter than the run is an error (the run would
  train past the schedule's end at its final value).

>>> with_horizon(10_000, 100), with_horizon(None, 100)
(10000, 100)
"""

from __future__ import annotations

from typing import Any

from .checks import check_int

__all__ = ["with_horizon"]


def with_horizon(horizon: Any, total: int | None, *, name: str = "horizon") -> int | None:
    """The schedule's total: ``horizon`` when given (``>= total``, the run's steps), else ``total``.

    >>> with_horizon(None, None) is None
    True
    """
    if horizon is None:
        return total
    h = check_int(name, horizon, minimum=1)
    if total is not None and h < total:
        raise ValueError(f"{name}={h} is shorter than the run's {total} optimizer steps: a horizon is the schedule's "
                         "total when the run stops earlier (a short run on a long run's curve); give a horizon >= "
                         f"{total}, or lower max_steps / num_epochs")
    return h
