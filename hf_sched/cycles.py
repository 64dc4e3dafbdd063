"""Cyclic schedules: cosine restarts (hard, SGDR with timm's options) and the one-cycle policy.

=======================  ================================================================  =====================================
class (kind)             ``f(s)`` for ``W <= s <= T``                                      same values as
=======================  ================================================================  =====================================
``CosineHardRestarts``   ``(1 + cos(pi ((c p) mod 1))) / 2``, ``p = (s-W)/(T-W)``          transformers ``cosine_with_restarts``
``CosineRestarts``       SGDR cycles with ``cycle_mul``, ``cycle_decay``, ``cycle_limit``  timm ``CosineLRScheduler``
``OneCycle`` (onecycle)  torch's ``OneCycleLR`` divided by ``max_lr`` (its own warmup)     torch ``OneCycleLR``
=======================  ================================================================  =====================================

>>> CosineHardRestarts(num_training_steps=100, num_cycles=2)(50)
1.0
>>> s = CosineRestarts(num_training_steps=30, cycle_steps=10, cycle_mul=2, cycle_decay=0.5)
>>> s(0), s(5), s(10), s(20), s(30)
(1.0, 0.5, 0.5, 0.25, 0.0)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

from .checks import check_choice, check_float, check_int
from .schedule import SCALAR, Schedule
from .step_decays import int_power, steps_or_fraction

__all__ = ["ANNEAL_STRATEGIES", "CosineHardRestarts", "CosineRestarts", "OneCycle"]

ANNEAL_STRATEGIES = ("cos", "linear")


@dataclass(frozen=True)
class CosineHardRestarts(Schedule):
    """Cosine with hard restarts: ``f = (1 + cos(pi * ((c p) mod 1))) / 2``, ``0`` at ``p >= 1``.

    ``c = num_cycles`` restarts (default 1: plain cosine to 0). Same values as
    transformers' ``cosine_with_restarts`` and sentence-transformers'
    ``warmupcosinewithhardrestarts``.

    >>> CosineHardRestarts(num_training_steps=100, num_cycles=2)(50)
    1.0
    """

    num_cycles: float = 1.0
    kind: ClassVar[str] = "cosine_hard_restarts"

    def _validate(self) -> None:
        self._check("num_cycles", check_float, minimum=0.0, min_inclusive=False)

    def _shape(self, s: Any, xp: Any = SCALAR) -> Any:
        p = self._progress(s)
        return xp.where(p >= 1.0, 0.0, 0.5 * (1.0 + xp.cos(math.pi * ((float(self.num_cycles) * p) % 1.0))))


@dataclass(frozen=True)
class OneCycle(Schedule):
    """One-cycle (super-convergence, Smith & Topin 2017): torch's ``OneCycleLR`` over ``max_lr``.

    The optimizer's LR is ``max_lr``. With ``a = 1 / div_factor`` and
    ``z = a / final_div_factor``, phases end at (float) steps ``e1 = pct_start * T - 1`` and
    ``T - 1``: ``a -> 1`` on ``[0, e1]``, then ``1 -> z``. With ``three_phase``:
    ``a -> 1`` on ``[0, e1]``, ``1 -> a`` on ``[e1, 2 pct_start T - 2]``, ``a -> z`` to ``T - 1``.
    Within a phase from ``u`` to ``v`` at fraction ``q``: ``cos``: ``v + (u - v) (1 + cos(pi q)) / 2``;
    ``linear``: ``u + (v - u) q``. Equal to ``OneCycleLR(opt, max_lr, total_steps=T, ...)``'s
    LR after ``s`` calls of ``step()``, divided by ``max_lr``, for ``0 <= s <= T - 1``;
    ``f(s) = z`` for ``s >= T - 1`` (torch extrapolates at ``s = T`` and raises after).
    A phase of zero length gives its end value (torch divides by zero). The up phase is the
    warmup, so ``num_warmup_steps`` must be 0. Only the LR is scheduled: torch also cycles
    momentum (``cycle_momentum=True``), which this schedule leaves alone.

    >>> s = OneCycle(num_training_steps=10, div_factor=10.0, final_div_factor=10.0, anneal_strategy="linear")
    >>> [round(s(k), 4) for k in (0, 1, 2, 9, 10)]
    [0.1, 0.55, 1.0, 0.01, 0.01]
    """

    pct_start: float = 0.3
    div_factor: float = 25.0
    final_div_factor: float = 1e4
    anneal_strategy: str = "cos"
    three_phase: bool = False
    kind: ClassVar[str] = "onecycle"

    def _validate(self) -> None:
        if self.num_warmup_steps:
            raise ValueError(
                f"onecycle has its own warmup (the first pct_start of the run); num_warmup_steps must be 0, "
                f"got {self.num_warmup_steps}"
            )
        if not isinstance(self.three_phase, bool):
            raise TypeError(f"three_phase must be a bool, got {self.three_phase!r}")
        top = 0.5 if self.three_phase else 1.0
        what = "pct_start (with three_phase=True)" if self.three_phase else "pct_start"
        object.__setattr__(self, "pct_start", check_float(what, self.pct_start, minimum=0.0, maximum=top))
        self._check("div_factor", check_float, minimum=1.0)
        self._check("final_div_factor", check_float, minimum=1.0)
        check_choice("anneal_strategy", self.anneal_strategy, ANNEAL_STRATEGIES)

    def _phases(self) -> list[tuple[float, float, float]]:
        """``(end_step, start_value, end_value)`` of each phase, as torch lays them out."""
        t = self.num_training_steps
        low = 1.0 / self.div_factor
        final = low / self.final_div_factor
        e1 = float(self.pct_start * t) - 1
        if self.three_phase:
            return [(e1, low, 1.0), (float(2 * self.pct_start * t) - 2, 1.0, low), (t - 1.0, low, final)]
        return [(e1, low, 1.0), (t - 1.0, 1.0, final)]

    def _shape(self, s: Any, xp: Any = SCALAR) -> Any:
        s = xp.minimum(s, self.num_training_steps - 1.0)
        phases = self._phases()
        begins = [0.0] + [end for end, _, _ in phases[:-1]]
        out: Any = None
        for begin, (end, a, b) in reversed(list(zip(begins, phases))):  # the first phase with s <= end wins
            span = end - begin
            q = (s - begin) / span if span else s * 0.0 + 1.0
            if self.anneal_strategy == "cos":
                value = b + (a - b) / 2.0 * (xp.cos(math.pi * q) + 1)
            else:
                value = (b - a) * q + a
            out = value if out is None else xp.where(s <= end, value, out)
        return out


@dataclass(frozen=True)
class CosineRestarts(Schedule):
    """SGDR cosine restarts (Loshchilov & Hutter 2017) with timm's cycle options.

    After warmup, ``t = s - W`` falls in cycle ``i`` of length ``L_i = L * cycle_mul**i``
    (``L = cycle_steps``) starting at ``t_i = L (cycle_mul**i - 1) / (cycle_mul - 1)`` (``i L``
    when ``cycle_mul = 1``); with ``u = t - t_i``::

        f = r + (cycle_decay**i - r) * (1 + cos(pi * u / L_i)) / 2     if i < cycle_limit
        f = r                                                           otherwise

    ``r = min_lr_ratio``. This is timm's ``CosineLRScheduler(t_initial=L, lr_min=r * lr,
    cycle_mul, cycle_decay, cycle_limit, warmup_prefix=True)``, except that
    ``cycle_limit=None`` (the default) allows any number of cycles, and it equals torch's
    ``CosineAnnealingWarmRestarts(T_0=L, T_mult=cycle_mul, eta_min=r * lr)`` when
    ``cycle_decay = 1`` and ``W = 0``, at every ``s < T``. A restart that would fall exactly
    at ``s = T`` is not taken: ``f(T) = r``, the end of the last cycle, and is held.

    Attributes:
        cycle_steps: ``L``, steps (``int``) or a fraction of ``T - W`` (``float``); default
            ``T - W`` (one cosine decay).
        cycle_mul: growth of each cycle's length (``>= 1``).
        cycle_decay: peak of cycle ``i`` is ``cycle_decay**i`` (in ``(0, 1]``).
        cycle_limit: cycles run before the value stays at ``r``; ``None``: no limit.
        min_lr_ratio: ``r`` in ``[0, 1]``.

    >>> s = CosineRestarts(num_training_steps=30, cycle_steps=10, cycle_mul=2, cycle_decay=0.5)
    >>> s(0), s(5), s(10), s(20), s(30)
    (1.0, 0.5, 0.5, 0.25, 0.0)
    """

    cycle_steps: int | None = None
    cycle_mul: float = 1.0
    cycle_decay: float = 1.0
    cycle_limit: int | None = None
    min_lr_ratio: float = 0.0
    kind: ClassVar[str] = "cosine_restarts"

    def _validate(self) -> None:
        span = max(1, self.num_training_steps - self.num_warmup_steps)
        length = span if self.cycle_steps is None else steps_or_fraction("cycle_steps", self.cycle_steps, span)
        object.__setattr__(self, "cycle_steps", check_int("cycle_steps", length, minimum=1))
        self._check("cycle_mul", check_float, minimum=1.0)
        self._check("cycle_decay", check_float, minimum=0.0, maximum=1.0, min_inclusive=False)
        if self.cycle_limit is not None:
            self._check("cycle_limit", check_int, minimum=1)
        self._check("min_lr_ratio", check_float, minimum=0.0, maximum=1.0)

    def _cycle_start(self, i: Any, xp: Any) -> Any:
        """``t_i``, the steps after warmup where cycle ``i`` starts."""
        m, length = self.cycle_mul, float(self.cycle_steps)  # type: ignore[arg-type]
        if m == 1.0:
            return i * length
        return length * (int_power(m, i, xp) - 1.0) / (m - 1.0)

    def _shape(self, s: Any, xp: Any = SCALAR) -> Any:
        r, m, length = self.min_lr_ratio, self.cycle_mul, float(self.cycle_steps)  # type: ignore[arg-type]
        t = s - self.num_warmup_steps
        if m == 1.0:
            i = xp.floor(t / length)
        else:  # the logarithm may land one off at a cycle boundary: settle it exactly
            i = xp.floor(xp.log1p(t * (m - 1.0) / length) / math.log(m))
            i = i + (self._cycle_start(i + 1, xp) <= t)
            i = i - ((i > 0) & (self._cycle_start(i, xp) > t))
        u = t - self._cycle_start(i, xp)
        out = r + (int_power(self.cycle_decay, i, xp) - r) * (1.0 + xp.cos(math.pi * u / (length * int_power(m, i, xp)))) / 2.0
        off = (u == 0) & (i > 0) & (s >= self.num_training_steps)
        if self.cycle_limit is not None:
            off = off | (i >= self.cycle_limit)
        return xp.where(off, r, out)
