"""Cyclic schedules: cosine restarts (hard, SGDR with timm's options) and the one-cycle policy."""

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

    ``c = num_cycles`` (transformers' ``cosine_with_restarts``).

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

    ``a = 1 / div_factor``, ``z = a / final_div_factor``: ``a -> 1`` on ``[0, pct_start T - 1]``,
    then ``1 -> z`` to ``T - 1`` (``three_phase``: ``1 -> a`` to ``2 pct_start T - 2``, then
    ``a -> z``); within a phase ``u -> v`` at fraction ``q``: ``v + (u - v) (1 + cos(pi q)) / 2``
    or linear ``u + (v - u) q``. The up phase is the warmup (``num_warmup_steps`` must be 0).

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
            raise ValueError("onecycle has its own warmup (the first pct_start of the run); num_warmup_steps must be "
                             f"0, got {self.num_warmup_steps}")
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

    ``t = s - W`` falls in cycle ``i`` of length ``L_i = L * cycle_mul**i`` (``L = cycle_steps``,
    steps or a fraction of ``T - W``, default ``T - W``) from ``t_i``; with ``u = t - t_i``,
    ``f = r + (cycle_decay**i - r) * (1 + cos(pi * u / L_i)) / 2`` while ``i < cycle_limit``,
    else ``r = min_lr_ratio``; ``f(T) = r``. timm's ``CosineLRScheduler``; torch's
    ``CosineAnnealingWarmRestarts`` when ``cycle_decay = 1`` and ``W = 0``.

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
