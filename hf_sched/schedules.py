"""Every pure schedule in one place: the :class:`Schedule` frame and all built-in shapes.

Importing this module defines every built-in kind, so its :func:`schedule_from_dict`
rebuilds any :meth:`Schedule.to_dict` spec, composed ones included. The shapes live in
modules named after what they are:

=============================  ================================================================
module                         shapes
=============================  ================================================================
:mod:`hf_sched.schedule`       :class:`Schedule` (the frame: warmup, shape, hold after ``T``)
:mod:`hf_sched.decays`         Constant, Linear, Cosine, Polynomial, Bert, CosineWarmupMinLR
:mod:`hf_sched.inverse_sqrt`   InverseSqrt, Noam, SquareRoot
:mod:`hf_sched.step_decays`    Factor, MultiStep
:mod:`hf_sched.cycles`         CosineHardRestarts, CosineRestarts, OneCycle
:mod:`hf_sched.compose`        Join, Product (schedules end to end, multiplied), WarmupStableDecay
=============================  ================================================================

Schedules compare equal, pickle, round-trip through :meth:`Schedule.to_dict` /
:func:`schedule_from_dict` (plain JSON types) and evaluate many steps at once with
:meth:`Schedule.values` (numpy) for plots.

>>> s = Cosine(num_training_steps=100, num_warmup_steps=10)
>>> s(0), s(5), s(10), s(100), s(1000)
(0.0, 0.5, 1.0, 0.0, 0.0)
>>> schedule_from_dict(s.to_dict()) == s
True
>>> sorted(SCHEDULE_KINDS)[:4]
['bert', 'constant', 'cosine', 'cosine_hard_restarts']
"""

from __future__ import annotations

from .compose import Join, Product, WarmupStableDecay
from .cycles import CosineHardRestarts, CosineRestarts, OneCycle
from .decays import Bert, Constant, Cosine, CosineWarmupMinLR, Linear, Polynomial
from .inverse_sqrt import InverseSqrt, Noam, SquareRoot
from .schedule import SCHEDULE_KINDS, Schedule, schedule_from_dict
from .step_decays import Factor, MultiStep

__all__ = [
    "SCHEDULE_KINDS", "Bert", "Constant", "Cosine", "CosineHardRestarts", "CosineRestarts", "CosineWarmupMinLR",
    "Factor", "InverseSqrt", "Join", "Linear", "MultiStep", "Noam", "OneCycle", "Polynomial", "Product", "Schedule",
    "SquareRoot", "WarmupStableDecay", "schedule_from_dict"
]
