"""Every pure schedule in one place: the :class:`Schedule` frame and all built-in shapes.

Importing it defines every built-in kind (decays, inverse_sqrt, step_decays, cycles, compose),
so :func:`schedule_from_dict` rebuilds any spec.

>>> s = Cosine(num_training_steps=100, num_warmup_steps=10)
>>> s(0), s(5), s(10), s(100), s(1000), schedule_from_dict(s.to_dict()) == s
(0.0, 0.5, 1.0, 0.0, 0.0, True)
>>> sorted(SCHEDULE_KINDS)[:4]
['bert', 'constant', 'cosine', 'cosine_hard_restarts']
"""

from __future__ import annotations

from .compose import Join, Product, WarmupStableDecay
from .cycles import CosineHardRestarts, CosineRestarts, OneCycle
from .decays import Bert, Constant, Cosine, CosineWarmupMinLR, Linear, Polynomial
from .inverse_sqrt import InverseSqrt, Noam, SquareRoot
from .resume_modes import Rescaled
from .schedule import SCHEDULE_KINDS, Schedule, schedule_from_dict
from .step_decays import Factor, MultiStep

__all__ = [
    "SCHEDULE_KINDS", "Bert", "Constant", "Cosine", "CosineHardRestarts", "CosineRestarts", "CosineWarmupMinLR",
    "Factor", "InverseSqrt", "Join", "Linear", "MultiStep", "Noam", "OneCycle", "Polynomial", "Product", "Rescaled",
    "Schedule",
    "SquareRoot", "WarmupStableDecay", "schedule_from_dict"
]
