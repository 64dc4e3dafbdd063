"""Decays from the peak to a floor: constant, linear, cosine, polynomial, BERT's, warmup-stable-decay.

Each keeps the frame of :class:`~hf_sched.schedule.Schedule` (warmup prefix for ``s < W``,
the value of ``s = T`` held after ``T``). With ``p = (s - W) / max(1, T - W)`` and
``r = min_lr_ratio``:

=======================  ======================================================  ==========================================
class (kind)             ``f(s)`` for ``W <= s <= T``                            same values as
=======================  ======================================================  ==========================================
``Constant`` (constant)  ``1``                                                   transformers ``constant_with_warmup``
``Linear`` (linear)      ``r + (1 - r) (1 - p)``                                 transformers ``linear``
``Cosine`` (cosine)      ``r + (1 - r) (1 + cos(2 pi c p)) / 2``                 transformers ``cosine``, d2l
``Polynomial``           ``(1 - e) (1 - p)**power + e``                          transformers ``polynomial``
``Bert`` (bert)          ``(1 - e) (1 - s / T)**power + e`` (total steps)        google-research/bert
``CosineWarmupMinLR``    cosine to ``r``, one step ahead                         transformers ``cosine_warmup_with_min_lr``
``WarmupStableDecay``    ``1``, then a decay over the last ``D`` steps to ``r``  transformers ``warmup_stable_decay``
=======================  ======================================================  ==========================================

>>> s = Cosine(num_training_steps=100, num_warmup_steps=10)
>>> s(0), s(5), s(10), s(100), s(1000)
(0.0, 0.5, 1.0, 0.0, 0.0)
>>> Linear(num_training_steps=4).values(range(6)).tolist()
[1.0, 0.75, 0.5, 0.25, 0.0, 0.0]
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

from .checks import check_choice, check_float, check_int
from .schedule import Schedule

__all__ = [
    "Constant",
    "Linear",
    "Cosine",
    "Polynomial",
    "Bert",
    "CosineWarmupMinLR",
    "WarmupStableDecay",
    "WSD_DECAY_TYPES",
]

_PI = math.pi
_cos = math.cos


def _mix(factor: Any, floor: float) -> Any:
    """``factor * (1 - floor) + floor`` (the min-LR blend transformers uses)."""
    if floor == 0.0:
        return factor
    return factor * (1 - floor) + floor


@dataclass(frozen=True)
class Constant(Schedule):
    """``f(s) = 1`` after the warmup (none by default).

    >>> Constant(num_training_steps=10, num_warmup_steps=2)(1)
    0.5
    """

    kind: ClassVar[str] = "constant"

    def _main(self, s: float) -> float:
        return 1.0

    def _main_v(self, s: Any) -> Any:
        import numpy as np

        return np.ones_like(s)


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

    def _main(self, s: float) -> float:
        t = self.num_training_steps
        span = t - self.num_warmup_steps
        factor = float(t - s) / float(span if span > 1 else 1)
        if factor < 0.0:
            factor = 0.0
        r = self.min_lr_ratio
        return factor if r == 0.0 else factor * (1 - r) + r

    def _main_v(self, s: Any) -> Any:
        import numpy as np

        t, w = self.num_training_steps, self.num_warmup_steps
        return _mix(np.maximum(0.0, (t - s) / float(max(1, t - w))), self.min_lr_ratio)


@dataclass(frozen=True)
class Cosine(Schedule):
    """Cosine decay: ``f = r + (1 - r) * (1 + cos(2 pi c p)) / 2``, clipped at 0.

    ``c = num_cycles`` (0.5: one half-wave from 1 down to ``r = min_lr_ratio``),
    ``p = (s - W) / max(1, T - W)``. Same values as transformers' ``cosine`` and
    ``cosine_with_min_lr``.

    >>> round(Cosine(num_training_steps=100)(50), 12)
    0.5
    """

    num_cycles: float = 0.5
    min_lr_ratio: float = 0.0
    kind: ClassVar[str] = "cosine"

    def _validate(self) -> None:
        self._check("num_cycles", check_float, minimum=0.0, min_inclusive=False)
        self._check("min_lr_ratio", check_float, minimum=0.0, maximum=1.0)

    def _main(self, s: float) -> float:
        # Inlined (no helper calls): this runs on every optimizer step.
        span = self.num_training_steps - self.num_warmup_steps
        p = (s - self.num_warmup_steps) / float(span if span > 1 else 1)
        factor = 0.5 * (1.0 + _cos(_PI * self.num_cycles * 2.0 * p))
        r = self.min_lr_ratio
        if r != 0.0:
            factor = factor * (1 - r) + r
        return factor if factor > 0.0 else 0.0

    def _main_v(self, s: Any) -> Any:
        import numpy as np

        p = self._progress(s)
        factor = 0.5 * (1.0 + np.cos(math.pi * self.num_cycles * 2.0 * p))
        return np.maximum(0.0, _mix(factor, self.min_lr_ratio))


@dataclass(frozen=True)
class Polynomial(Schedule):
    """Polynomial decay to ``end_ratio``: ``f = (1 - e) * (1 - p)**power + e``.

    ``e = end_ratio`` is the final LR over the peak LR (transformers' ``lr_end / lr_init``).

    >>> Polynomial(num_training_steps=10, power=2.0, end_ratio=0.0)(5)
    0.25
    """

    power: float = 1.0
    end_ratio: float = 0.0
    kind: ClassVar[str] = "polynomial"

    def _validate(self) -> None:
        self._check("power", check_float, minimum=0.0, min_inclusive=False)
        self._check("end_ratio", check_float, minimum=0.0, maximum=1.0, max_inclusive=False)

    def _main(self, s: float) -> float:
        t, w = self.num_training_steps, self.num_warmup_steps
        pct_remaining = 1 - (s - w) / max(1, t - w)
        return (1.0 - self.end_ratio) * pct_remaining**self.power + self.end_ratio

    def _main_v(self, s: Any) -> Any:
        t, w = self.num_training_steps, self.num_warmup_steps
        pct_remaining = 1 - (s - w) / max(1, t - w)
        return (1.0 - self.end_ratio) * pct_remaining**self.power + self.end_ratio


@dataclass(frozen=True)
class Bert(Schedule):
    """BERT's schedule: linear warmup to 1, then ``f(s) = (1 - e) * (1 - s / T) ** power + e``.

    google-research/bert ``optimization.py`` decays with
    ``tf.train.polynomial_decay(init_lr, global_step, T, end_learning_rate=0, power=1)``
    measured over the *total* ``T`` steps and overrides the first ``W`` steps with
    ``init_lr * global_step / W`` (``global_step`` = steps taken, our ``s``). So at the end
    of a 10% warmup the LR steps down from ``(W - 1) / W`` to ``1 - W / T = 0.9``: the jump
    is by design (``continuous_warmup = False``). Defaults are BERT's: ``power = 1``,
    ``e = end_ratio = 0``. (BERT's scripts take ``int(0.1 * T)`` warmup steps; the
    registry's default is ``ceil(0.1 * T)``.)

    >>> s = Bert(num_training_steps=100, num_warmup_steps=10)
    >>> s(9), s(10), s(60), s(100), s(150)
    (0.9, 0.9, 0.4, 0.0, 0.0)
    """

    power: float = 1.0
    end_ratio: float = 0.0
    kind: ClassVar[str] = "bert"
    continuous_warmup: ClassVar[bool] = False

    def _validate(self) -> None:
        self._check("power", check_float, minimum=0.0, min_inclusive=False)
        self._check("end_ratio", check_float, minimum=0.0, maximum=1.0, max_inclusive=False)

    def _main(self, s: float) -> float:
        remaining = max(0.0, 1.0 - s / self.num_training_steps)
        return (1.0 - self.end_ratio) * remaining**self.power + self.end_ratio

    def _main_v(self, s: Any) -> Any:
        import numpy as np

        remaining = np.maximum(0.0, 1.0 - s / self.num_training_steps)
        return (1.0 - self.end_ratio) * remaining**self.power + self.end_ratio


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

    def _warm(self, s: float) -> float:
        w = float(self.num_warmup_steps)
        if self.warmup_lr_rate is None:
            return (s + 1.0) / max(1.0, w)
        r = self.warmup_lr_rate
        return r + (1.0 - r) * s / max(1, w - 1)

    def _warm_v(self, s: Any) -> Any:
        w = float(self.num_warmup_steps)
        if self.warmup_lr_rate is None:
            return (s + 1.0) / max(1.0, w)
        r = self.warmup_lr_rate
        return r + (1.0 - r) * s / max(1, w - 1)

    def _main(self, s: float) -> float:
        t, w = float(self.num_training_steps), float(self.num_warmup_steps)
        p = (s - w + 1.0) / max(1.0, t - w)
        factor = 0.5 * (1.0 + math.cos(math.pi * self.num_cycles * 2.0 * p))
        return max(0.0, factor * (1 - self.min_lr_ratio) + self.min_lr_ratio)

    def _main_v(self, s: Any) -> Any:
        import numpy as np

        t, w = float(self.num_training_steps), float(self.num_warmup_steps)
        p = (s - w + 1.0) / max(1.0, t - w)
        factor = 0.5 * (1.0 + np.cos(math.pi * self.num_cycles * 2.0 * p))
        return np.maximum(0.0, factor * (1 - self.min_lr_ratio) + self.min_lr_ratio)


WSD_DECAY_TYPES = ("linear", "cosine", "1-sqrt")


@dataclass(frozen=True)
class WarmupStableDecay(Schedule):
    """Warmup-stable-decay: warmup, a flat stretch at 1, then a decay to ``min_lr_ratio``.

    The decay covers ``D = num_decay_steps`` steps that start at ``W + S`` (``S =
    num_stable_steps``, default ``T - W - D``): with ``q = (s - W - S) / max(1, D)``,
    ``linear``: ``1 - q``; ``cosine``: ``(1 + cos(2 pi c q)) / 2``; ``1-sqrt``: ``1 - sqrt(q)``,
    each blended ``r + (1 - r) * shape``. After the decay: ``r``. Same values as
    transformers' ``warmup_stable_decay`` (whose warmup starts at ``min_lr_ratio``: pass
    ``warmup_start=min_lr_ratio`` for that).

    >>> WarmupStableDecay(num_training_steps=10, num_decay_steps=4, decay_type="linear")(8)
    0.5
    """

    num_decay_steps: int = 0
    num_stable_steps: int | None = None
    decay_type: str = "cosine"
    min_lr_ratio: float = 0.0
    num_cycles: float = 0.5
    kind: ClassVar[str] = "warmup_stable_decay"

    def _validate(self) -> None:
        t, w = self.num_training_steps, self.num_warmup_steps
        d = check_int("num_decay_steps", self.num_decay_steps, minimum=0, maximum=t - w)
        object.__setattr__(self, "num_decay_steps", d)
        if self.num_stable_steps is None:
            object.__setattr__(self, "num_stable_steps", t - w - d)
        self._check("num_stable_steps", check_int, minimum=0)
        check_choice("decay_type", self.decay_type, WSD_DECAY_TYPES)
        self._check("min_lr_ratio", check_float, minimum=0.0, maximum=1.0)
        self._check("num_cycles", check_float, minimum=0.0, min_inclusive=False)

    def _main(self, s: float) -> float:
        w, st, d = self.num_warmup_steps, self.num_stable_steps, self.num_decay_steps
        if s < w + st:
            return 1.0
        if s < w + st + d:
            q = float(s - w - st) / float(max(1, d))
            if self.decay_type == "linear":
                factor = 1.0 - q
            elif self.decay_type == "cosine":
                factor = 0.5 * (1.0 + math.cos(math.pi * float(self.num_cycles) * 2.0 * q))
            else:
                factor = 1.0 - math.sqrt(q)
            return max(0.0, factor * (1.0 - self.min_lr_ratio) + self.min_lr_ratio)
        return self.min_lr_ratio

    def _main_v(self, s: Any) -> Any:
        import numpy as np

        w, st, d = self.num_warmup_steps, self.num_stable_steps, self.num_decay_steps
        q = np.clip((s - w - st) / float(max(1, d)), 0.0, 1.0)
        if self.decay_type == "linear":
            factor = 1.0 - q
        elif self.decay_type == "cosine":
            factor = 0.5 * (1.0 + np.cos(math.pi * float(self.num_cycles) * 2.0 * q))
        else:
            factor = 1.0 - np.sqrt(q)
        decayed = np.maximum(0.0, factor * (1.0 - self.min_lr_ratio) + self.min_lr_ratio)
        out = np.where(s < w + st, 1.0, decayed)
        return np.where(s >= w + st + d, self.min_lr_ratio, out)
