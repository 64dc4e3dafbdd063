"""A schedule's own length: a horizon that is not the run's, and a decay started from here.

* **Horizon**: the total ``T`` a schedule is built over when the run stops earlier (a
  100-step debug run on a 10,000-step curve): the run's ``max_steps`` stops training, the
  schedule keeps ``T = horizon``. A horizon shorter than the run is an error (the run would
  train past the schedule's end at its final value).
* **Decay from here**: a run resumed from a checkpoint in a stable phase (warmup-stable-decay
  before its decay, constant, warmupconstant) starts its decay at the resumed step ``s0``,
  over ``D`` steps or a ratio of what is left (``D = ceil(r * (T - s0))``), without editing the
  checkpoint: the schedule becomes a warmup-stable-decay with the checkpoint's warmup, stable
  until ``s0``, decaying over ``D`` (the WSD's own decay type and floor; linear to 0 for a
  constant), total ``s0 + D``.

>>> with_horizon(10_000, 100), with_horizon(None, 100)
(10000, 100)
>>> from hf_sched.schedules import Constant
>>> d = decay_from_here(Constant(1000, 10), step=600, request=0.5, run_total=1000)
>>> d.num_training_steps, d(600), d(700), d(800)
(800, 1.0, 0.5, 0.0)
"""

from __future__ import annotations

import math
import numbers
from fractions import Fraction
from typing import Any

from .checks import ResumeRefused, check_int
from .compose import WarmupStableDecay
from .decays import Constant
from .schedule import Schedule
from .warmup import UNBOUNDED_STEPS

__all__ = ["DECAY_FROM_HERE_ALLOWED", "check_decay_request", "decay_from_here", "with_horizon"]

DECAY_FROM_HERE_ALLOWED = ("steps (an int >= 1, e.g. 2000), a ratio of the steps left in (0, 1] (e.g. 0.2) or a "
                           "percentage ('20%')")


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


def check_decay_request(value: Any, *, name: str = "decay_from_here") -> int | Fraction:
    """A decay-from-here request as steps (``int``) or a ratio of what is left (a ``Fraction`` in ``(0, 1]``).

    >>> check_decay_request("20%"), check_decay_request("300"), check_decay_request(0.25)
    (Fraction(1, 5), 300, Fraction(1, 4))
    """
    steps: int | None = None
    ratio: Fraction | None = None
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        steps = int(value)
    elif isinstance(value, Fraction):
        ratio = value
    elif isinstance(value, float) and math.isfinite(value):
        ratio = Fraction(str(value))
    elif isinstance(value, str):
        text = value.strip()
        try:
            if text.isdigit():
                steps = int(text)
            else:
                ratio = Fraction(text[:-1]) / 100 if text.endswith("%") else Fraction(text)
        except (ValueError, ZeroDivisionError):
            pass
    if steps is not None and steps >= 1:
        return steps
    if ratio is not None and 0 < ratio <= 1:
        return ratio
    raise ValueError(f"{name}={value!r} is invalid: give {DECAY_FROM_HERE_ALLOWED}")


def decay_from_here(old: Schedule, *, step: int, request: Any, run_total: int | None,
                    name: str = "decay_from_here") -> WarmupStableDecay:
    """``old`` (a schedule in its stable phase at ``step``) decaying from ``step`` over the requested steps.

    ``run_total`` is this run's total (``None`` or unbounded: only a number of steps works).
    A warmup-stable-decay already past its stable phase (a run resumed again after its decay
    began) is returned as it is. Refused in one line: a schedule with no stable phase, a step
    inside the warmup, a decay longer than what is left.

    >>> from hf_sched.schedules import WarmupStableDecay
    >>> wsd = WarmupStableDecay(1000, 100, num_decay_steps=100, decay_type="linear", min_lr_ratio=0.1)
    >>> d = decay_from_here(wsd, step=500, request=200, run_total=1000)
    >>> d.num_training_steps, d(500), round(d(600), 12), d(700)
    (700, 1.0, 0.55, 0.1)
    """
    wanted = check_decay_request(request, name=name)
    w = old.num_warmup_steps
    if isinstance(old, WarmupStableDecay):
        stable_end = w + (old.num_stable_steps or 0)
        fields: dict[str, Any] = {"decay_type": old.decay_type, "min_lr_ratio": old.min_lr_ratio,
                                  "num_cycles": old.num_cycles}
    elif type(old) is Constant:
        stable_end, fields = UNBOUNDED_STEPS, {"decay_type": "linear", "min_lr_ratio": 0.0}
    else:
        raise ResumeRefused(f"{name}={request!r} needs a schedule with a stable phase (warmup_stable_decay, constantlr, "
                         f"warmupconstant); the checkpoint's is {old.kind!r}, which has none: resume with "
                         "resume='replan' and the schedule you want instead")
    if isinstance(old, WarmupStableDecay) and step > stable_end:
        return old  # decaying already (a run resumed again after its decay began): its decay goes on
    if not w <= step <= stable_end:
        raise ResumeRefused(f"{name}={request!r} starts the decay at the resumed step {step}, but the checkpoint's "
                         f"{old.kind!r} schedule is still in its warmup (steps 0-{w}): decay from here needs a step "
                         "in its stable phase")
    left = None if run_total is None or run_total >= UNBOUNDED_STEPS else run_total - step
    if isinstance(wanted, Fraction):
        if left is None:
            raise ValueError(f"{name}={request!r} is a ratio of the steps left, but this run has no total: give "
                             "the decay in steps")
        wanted = max(1, math.ceil(wanted * left))
    if left is not None and wanted > left:
        raise ResumeRefused(f"{name}={request!r} is a decay of {wanted} steps, longer than the {left} steps left "
                         f"(resumed at step {step} of {run_total}): give at most {left} steps or a ratio in (0, 1]")
    return WarmupStableDecay(step + wanted, w, old.warmup_start, old.warmup_shape, num_decay_steps=wanted,
                             num_stable_steps=step - w, **fields)
