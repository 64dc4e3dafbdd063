"""Decays from the peak to a floor: constant, linear, cosine, polynomial, BERT's.

Each keeps the :class:`~hf_sched.schedule.Schedule` frame; ``p = (s - W) / max(1, T - W)``,
``r = min_lr_ratio``. The same values as transformers' schedules of the same names.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

from .checks import check_float
from .schedule import SCALAR, Schedule

__all__ = ["Bert", "Constant", "Cosine", "CosineWarmupMinLR", "Linear", "Polynomial"]

_PI = math.pi


def _mix(factor: Any, floor: float) -> Any:
    """``factor * (1 - floor) + floor`` (the min-LR blend transformers uses)."""
    return factor if floor == 0.0 else factor * (1 - floor) + floor


@dataclass(frozen=True)
class Constant(Schedule):
    """``f(s) = 1`` after the warmup (none by default).

    >>> Constant(num_training_steps=10, num_warmup_steps=2)(1)
    0.5
    """

    kind: ClassVar[str] = "constant"

    def _shape(self, s: Any, xp: Any = SCALAR) -> Any:
        return s * 0.0 + 1.0


@dataclass(frozen=True)
class Linear(Schedule):
    """Linear decay to ``min_lr_ratio``: ``f = r + (1 - r) * (T - s) / max(1, T - W)``.

    >>> Linear(num_training_steps=110, num_warmup_steps=10)(60)
    0.5
    """

    min_lr_ratio: float = 0.0
    kind: ClassVar[str] = "linear"

    def _validate(self) -> None:
        self._check("min_lr_ratio", check_float, minimum=0.0, maximum=1.0)

    def _shape(self, s: Any, xp: Any = SCALAR) -> Any:
        t, w = self.num_training_steps, self.num_warmup_steps
        return _mix((t - s) / float(max(1, t - w)), self.min_lr_ratio)


@dataclass(frozen=True)
class Cosine(Schedule):
    """Cosine decay: ``f = r + (1 - r) * (1 + cos(2 pi c p)) / 2``, ``c = num_cycles`` (0.5: one half-wave).

    >>> round(Cosine(num_training_steps=100)(50), 12)
    0.5
    """

    num_cycles: float = 0.5
    min_lr_ratio: float = 0.0
    kind: ClassVar[str] = "cosine"

    def _validate(self) -> None:
        self._check("num_cycles", check_float, minimum=0.0, min_inclusive=False)
        self._check("min_lr_ratio", check_float, minimum=0.0, maximum=1.0)

    def _shape(self, s: Any, xp: Any = SCALAR) -> Any:
        # Inlined progress and blend: this runs on every optimizer step.
        span = self.num_training_steps - self.num_warmup_steps
        p = (s - self.num_warmup_steps) / (span or 1)  # T - W >= 0
        factor = 0.5 * (1.0 + xp.cos(_PI * self.num_cycles * 2.0 * p))
        r = self.min_lr_ratio
        return factor if r == 0.0 else factor * (1 - r) + r


@dataclass(frozen=True)
class Polynomial(Schedule):
    """Polynomial decay: ``f = (1 - e) * (1 - p)**power + e``, ``e = end_ratio`` (``lr_end / lr_init``).

    >>> Polynomial(num_training_steps=10, power=2.0, end_ratio=0.0)(5)
    0.25
    """

    power: float = 1.0
    end_ratio: float = 0.0
    kind: ClassVar[str] = "polynomial"

    def _validate(self) -> None:
        self._check("power", check_float, minimum=0.0, min_inclusive=False)
        self._check("end_ratio", check_float, minimum=0.0, maximum=1.0, max_inclusive=False)

    def _shape(self, s: Any, xp: Any = SCALAR) -> Any:
        return (1.0 - self.end_ratio) * (1 - self._progress(s)) ** self.power + self.end_ratio


@dataclass(frozen=True)
class Bert(Polynomial):
    """BERT's schedule: linear warmup to 1, then ``f(s) = (1 - e) * (1 - s / T) ** power + e``.

    The decay is measured over the *total* ``T`` (google-research/bert), so the LR jumps down
    at ``s = W`` by design (to ``0.9`` after a 10% warmup).

    >>> s = Bert(num_training_steps=100, num_warmup_steps=10)
    >>> s(9), s(10), s(60), s(100), s(150)
    (0.9, 0.9, 0.4, 0.0, 0.0)
    """

    kind: ClassVar[str] = "bert"
    continuous_warmup: ClassVar[bool] = False

    def _progress(self, s: Any) -> Any:
        return s / self.num_training_steps


@dataclass(frozen=True)
class CosineWarmupMinLR(Schedule):
    """transformers' ``cosine_warmup_with_min_lr``: cosine to ``min_lr_ratio``, shifted one step.

    Warmup ``(s + 1) / W`` (or ``w0 + (1 - w0) * s / (W - 1)`` with ``warmup_lr_rate = w0``),
    then ``p = (s - W + 1) / max(1, T - W)`` and ``f = r + (1 - r) * (1 + cos(2 pi c p)) / 2``.

    >>> CosineWarmupMinLR(num_training_steps=10, num_warmup_steps=2)(0)
    0.5
    """

    num_cycles: float = 0.5
    min_lr_ratio: float = 0.0
    warmup_lr_rate: float | None = None
    kind: ClassVar[str] = "cosine_warmup_min_lr"
    #: transformers shifts this one by a step: the warmup reaches 1 at s = W - 1.
    continuous_warmup: ClassVar[bool] = False

    def _validate(self) -> None:
        self._check("num_cycles", check_float, minimum=0.0, min_inclusive=False)
        self._check("min_lr_ratio", check_float, minimum=0.0, maximum=1.0)
        if self.warmup_lr_rate is not None:
            self._check("warmup_lr_rate", check_float, minimum=0.0, maximum=1.0)

    def _warm(self, s: Any, xp: Any = SCALAR) -> Any:
        w = float(self.num_warmup_steps)
        if self.warmup_lr_rate is None:
            return (s + 1.0) / max(1.0, w)
        r = self.warmup_lr_rate
        return r + (1.0 - r) * s / max(1, w - 1)

    def _shape(self, s: Any, xp: Any = SCALAR) -> Any:
        t, w = float(self.num_training_steps), float(self.num_warmup_steps)
        p = (s - w + 1.0) / max(1.0, t - w)
        return _mix(0.5 * (1.0 + xp.cos(_PI * self.num_cycles * 2.0 * p)), self.min_lr_ratio)
