"""Classic schedules from d2l, BERT, super-convergence and SGDR, as pure :class:`Schedule` values.

Every class here keeps the frame of :mod:`hf_sched.schedules`: ``f(s)`` is the multiplier of
the peak LR for the optimizer step that follows ``s`` steps already taken; ``s < W`` is the
warmup prefix; the shape after it sees the step ``s`` (or ``s - W`` where the reference
counts from the end of warmup); at ``s >= T`` the value of ``s = T`` is held.

===================  ===================================================================  ========================
kind                 ``f(s)`` for ``W <= s <= T``                                          reference
===================  ===================================================================  ========================
``squareroot``       ``(s - W + 1) ** -0.5``                                               d2l SquareRootScheduler
``factor``           ``max(r, factor ** floor((s - W) / step_size))``                      d2l FactorScheduler
``multistep``        ``gamma ** #{m in milestones : m <= s}``                              torch MultiStepLR
``bert``             ``(1 - e) * (1 - s / T) ** power + e`` (total steps, not ``T - W``)   google-research/bert
``onecycle``         torch's OneCycleLR divided by ``max_lr`` (no separate warmup)         torch OneCycleLR
``cosine_restarts``  SGDR cycles with ``cycle_mul``, ``cycle_decay``, ``cycle_limit``      timm CosineLRScheduler
===================  ===================================================================  ========================

d2l's ``CosineScheduler`` is :class:`~hf_sched.schedules.Cosine` itself (see the
``d2lcosine`` name in :mod:`hf_sched.catalog`).

>>> [round(SquareRoot(num_training_steps=10)(s), 4) for s in range(4)]
[1.0, 0.7071, 0.5774, 0.5]
>>> MultiStep(num_training_steps=10, milestones=(4, 0.8), gamma=0.5).values(range(10)).tolist()
[1.0, 1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.5, 0.25, 0.25]
"""

from __future__ import annotations

import math
import numbers
from bisect import bisect_right
from dataclasses import dataclass
from typing import Any, ClassVar

from .checks import check_choice, check_float, check_int
from .schedules import Schedule
from .warmup import _ceil_ratio

__all__ = [
    "SquareRoot",
    "Factor",
    "MultiStep",
    "Bert",
    "OneCycle",
    "CosineRestarts",
    "ANNEAL_STRATEGIES",
]

ANNEAL_STRATEGIES = ("cos", "linear")


def _steps_or_fraction(name: str, value: Any, total: int) -> int:
    """An ``int`` is a number of steps; a ``float`` in ``(0, 1]`` is ``ceil(value * total)``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(
            f"{name} must be an int number of steps or a float fraction in (0, 1], got {value!r} ({type(value).__name__})"
        )
    if isinstance(value, numbers.Integral):
        return int(value)
    frac = float(value)
    if not (math.isfinite(frac) and 0.0 < frac <= 1.0):
        hint = " (pass an int for a number of steps)" if math.isfinite(frac) and frac > 1.0 and frac == int(frac) else ""
        raise ValueError(f"{name} as a float is a fraction in (0, 1] (of {total} steps), got {value!r}{hint}")
    return _ceil_ratio(frac, total)


def _ipow(x: float, n: int) -> float:
    """``x ** n`` for an integer ``n >= 0`` by repeated squaring (see :func:`_ipow_v`)."""
    n = int(n)
    out = 1.0
    while n > 0:
        if n & 1:
            out *= x
        x *= x
        n >>= 1
    return out


def _ipow_v(x: float, n: Any) -> Any:
    """Elementwise ``x ** n`` with the same multiplications as :func:`_ipow`.

    numpy's vectorised ``power`` may round differently from ``math.pow`` in the last bit;
    the same sequence of IEEE products keeps ``values()`` and ``__call__`` bit-identical.
    """
    import numpy as np

    k = np.asarray(n, dtype=np.int64)
    out = np.ones(k.shape, dtype=np.float64)
    base = float(x)
    while (k > 0).any():
        out = np.where(k & 1, out * base, out)
        base *= base
        k = k >> 1
    return out


@dataclass(frozen=True)
class SquareRoot(Schedule):
    """d2l's square-root decay: ``f(s) = (s - W + 1) ** -0.5`` after warmup.

    d2l (Dive into Deep Learning, "Learning Rate Scheduling") defines
    ``SquareRootScheduler(lr)(num_update) = lr * (num_update + 1) ** -0.5``. Here the peak
    is the optimizer's LR (d2l's ``lr``) and ``num_update = s - W``, the optimizer steps
    taken since the end of warmup: with ``W = 0``, ``lr * f(s) == SquareRootScheduler(lr)(s)``
    exactly. (d2l's training loop sets the LR to ``scheduler(epoch)`` after epoch
    ``epoch`` ends, so its epoch ``k >= 1`` runs at ``scheduler(k - 1)``; a schedule used
    through :class:`~hf_sched.ScheduledLR` has no such lag.) The value is ``1`` at
    ``s = W``, ``1/2`` three steps later and ``1/10`` after 99.

    >>> s = SquareRoot(num_training_steps=100, num_warmup_steps=4)
    >>> s(2), s(4), s(7)
    (0.5, 1.0, 0.5)
    """

    kind: ClassVar[str] = "squareroot"

    def _main(self, s: float) -> float:
        return 1.0 / math.sqrt(s - self.num_warmup_steps + 1.0)

    def _main_v(self, s: Any) -> Any:
        import numpy as np

        return 1.0 / np.sqrt(s - self.num_warmup_steps + 1.0)


@dataclass(frozen=True)
class Factor(Schedule):
    """Exponential (step) decay with a floor: ``f(s) = max(r, factor ** floor((s - W) / step_size))``.

    d2l's ``FactorScheduler(factor, stop_factor_lr, base_lr)`` runs the recursion
    ``lr_{t+1} = max(stop_factor_lr, lr_t * factor)`` from ``lr_0 = base_lr``: after ``n``
    updates the LR is ``max(stop_factor_lr, base_lr * factor ** n)``. With the peak LR as
    ``base_lr``, the floor is the ratio ``r = min_lr_ratio = stop_factor_lr / base_lr``, and
    ``f(s)`` is d2l's LR after ``n = s - W`` updates divided by ``base_lr``. (Its stateful
    ``__call__`` returns ``lr_{k+1}`` on its ``(k + 1)``-th call, i.e. ``f(k + 1)``.)
    ``step_size > 1`` decays once every ``step_size`` steps, as torch's ``StepLR`` and
    MXNet's ``FactorScheduler(step)``.

    Attributes:
        factor: multiplier per decay, in ``(0, 1]``.
        step_size: steps between decays (``>= 1``).
        min_lr_ratio: the floor ``r`` in ``[0, 1]``.

    >>> s = Factor(num_training_steps=10, factor=0.5, min_lr_ratio=0.2)
    >>> [s(k) for k in range(4)]
    [1.0, 0.5, 0.25, 0.2]
    """

    factor: float = 1.0
    step_size: int = 1
    min_lr_ratio: float = 0.0
    kind: ClassVar[str] = "factor"

    def _validate(self) -> None:
        object.__setattr__(
            self, "factor", check_float("factor", self.factor, minimum=0.0, maximum=1.0, min_inclusive=False)
        )
        object.__setattr__(self, "step_size", check_int("step_size", self.step_size, minimum=1))
        object.__setattr__(self, "min_lr_ratio", check_float("min_lr_ratio", self.min_lr_ratio, minimum=0.0, maximum=1.0))

    def _main(self, s: float) -> float:
        n = (s - self.num_warmup_steps) // self.step_size
        return max(self.min_lr_ratio, _ipow(self.factor, n))

    def _main_v(self, s: Any) -> Any:
        import numpy as np

        n = np.floor((s - self.num_warmup_steps) / self.step_size)
        return np.maximum(self.min_lr_ratio, _ipow_v(self.factor, n))


@dataclass(frozen=True)
class MultiStep(Schedule):
    """Piecewise constant: ``f(s) = gamma ** k(s)``, ``k(s) = #{m in milestones : m <= s}``.

    torch's ``MultiStepLR(milestones, gamma)`` after ``s`` calls of ``step()`` holds
    ``base_lr * gamma ** bisect_right(milestones, s)``: the same value at the same index.
    d2l's ``MultiFactorScheduler`` (``lr_{t+1} = lr_t * gamma`` whenever ``t`` is a
    milestone) is the same curve. Milestones count optimizer steps from the start of the
    run (as torch's and detectron2's warmup multi-step schedules), so each must lie after
    the warmup: ``W < m <= T``. A ``float`` milestone ``m`` in ``(0, 1]`` is a point of the
    progress after warmup, ``p = m``: step ``W + ceil(m * (T - W))`` (exact decimal, as
    warmup ratios), so it always lies after the warmup; with ``W = 0`` it is the fraction
    ``m`` of ``T``, ``ceil(m * T)``; with ``W = T`` (all warmup) it is dropped. A repeated
    milestone applies ``gamma`` once per repeat, as in torch.

    Attributes:
        milestones: steps (``int``) or progress fractions (``float``), any order; stored
            as sorted steps.
        gamma: multiplier at each milestone, in ``(0, 1]``.

    >>> MultiStep(num_training_steps=100, milestones=(0.5, 75), gamma=0.1)(80)
    0.010000000000000002
    >>> MultiStep(num_training_steps=110, num_warmup_steps=10, milestones=(0.5, 0.75)).milestones
    (60, 85)
    """

    milestones: tuple[int, ...] = ()
    gamma: float = 0.1
    kind: ClassVar[str] = "multistep"

    def _validate(self) -> None:
        t, w = self.num_training_steps, self.num_warmup_steps
        raw = self.milestones
        if isinstance(raw, (str, bytes)) or not hasattr(raw, "__iter__"):
            raise TypeError(f"milestones must be a list of steps (int) or fractions of T (float), got {raw!r}")
        steps = []
        for i, m in enumerate(raw):
            step = _steps_or_fraction(f"milestones[{i}]", m, t - w)
            if isinstance(m, float):
                if t == w:  # no steps after warmup: there is no progress point to place it at
                    continue
                step += w
            if not w < step <= t:
                raise ValueError(
                    f"milestones[{i}] must be a step in [{w + 1}, {t}] (after the {w} warmup steps, at most "
                    f"num_training_steps={t}), got {m!r}" + (f" (= step {step})" if isinstance(m, float) else "")
                )
            steps.append(step)
        object.__setattr__(self, "milestones", tuple(sorted(steps)))
        object.__setattr__(
            self, "gamma", check_float("gamma", self.gamma, minimum=0.0, maximum=1.0, min_inclusive=False)
        )

    def _main(self, s: float) -> float:
        return _ipow(self.gamma, bisect_right(self.milestones, s))

    def _main_v(self, s: Any) -> Any:
        import numpy as np

        k = np.searchsorted(np.asarray(self.milestones, dtype=np.float64), s, side="right")
        return _ipow_v(self.gamma, k)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON: as :meth:`Schedule.to_dict`, the milestones as a list of steps."""
        out = super().to_dict()
        out["milestones"] = list(self.milestones)
        return out


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
        object.__setattr__(self, "power", check_float("power", self.power, minimum=0.0, min_inclusive=False))
        object.__setattr__(
            self, "end_ratio", check_float("end_ratio", self.end_ratio, minimum=0.0, maximum=1.0, max_inclusive=False)
        )

    def _main(self, s: float) -> float:
        remaining = max(0.0, 1.0 - s / self.num_training_steps)
        return (1.0 - self.end_ratio) * remaining**self.power + self.end_ratio

    def _main_v(self, s: Any) -> Any:
        import numpy as np

        remaining = np.maximum(0.0, 1.0 - s / self.num_training_steps)
        return (1.0 - self.end_ratio) * remaining**self.power + self.end_ratio


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
        object.__setattr__(self, "div_factor", check_float("div_factor", self.div_factor, minimum=1.0))
        object.__setattr__(self, "final_div_factor", check_float("final_div_factor", self.final_div_factor, minimum=1.0))
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

    def _anneal(self, start: Any, end: Any, q: Any, cos: Any) -> Any:
        if self.anneal_strategy == "cos":
            return end + (start - end) / 2.0 * (cos(math.pi * q) + 1)
        return (end - start) * q + start

    def _main(self, s: float) -> float:
        s = min(s, self.num_training_steps - 1)
        phases = self._phases()
        begin = 0.0
        for i, (end, a, b) in enumerate(phases):
            if s <= end or i == len(phases) - 1:
                span = end - begin
                q = (s - begin) / span if span else 1.0
                return self._anneal(a, b, q, math.cos)
            begin = end
        raise AssertionError("unreachable")  # pragma: no cover

    def _main_v(self, s: Any) -> Any:
        import numpy as np

        s = np.minimum(s, self.num_training_steps - 1.0)
        out = np.zeros_like(s)
        done = np.zeros(s.shape, dtype=bool)
        phases = self._phases()
        begin = 0.0
        for i, (end, a, b) in enumerate(phases):
            here = ~done if i == len(phases) - 1 else (~done & (s <= end))
            span = end - begin
            q = (s - begin) / span if span else np.ones_like(s)
            out = np.where(here, self._anneal(a, b, q, np.cos), out)
            done |= here
            begin = end
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
        length = span if self.cycle_steps is None else _steps_or_fraction("cycle_steps", self.cycle_steps, span)
        object.__setattr__(self, "cycle_steps", check_int("cycle_steps", length, minimum=1))
        object.__setattr__(self, "cycle_mul", check_float("cycle_mul", self.cycle_mul, minimum=1.0))
        object.__setattr__(
            self, "cycle_decay", check_float("cycle_decay", self.cycle_decay, minimum=0.0, maximum=1.0, min_inclusive=False)
        )
        if self.cycle_limit is not None:
            object.__setattr__(self, "cycle_limit", check_int("cycle_limit", self.cycle_limit, minimum=1))
        object.__setattr__(self, "min_lr_ratio", check_float("min_lr_ratio", self.min_lr_ratio, minimum=0.0, maximum=1.0))

    def _cycle_start(self, i: int) -> float:
        m, length = self.cycle_mul, self.cycle_steps
        if m == 1.0:
            return i * float(length)
        return length * (_ipow(m, i) - 1.0) / (m - 1.0)

    def _cycle_start_v(self, i: Any) -> Any:
        m, length = self.cycle_mul, self.cycle_steps
        if m == 1.0:
            return i * float(length)
        return length * (_ipow_v(m, i) - 1.0) / (m - 1.0)

    def _cycle(self, t: float) -> tuple[int, float, float]:
        """``(i, u, L_i)``: cycle index, steps into it and its length, at ``t`` steps after warmup."""
        m, length = self.cycle_mul, self.cycle_steps
        if m == 1.0:
            i = int(t // length)
        else:
            i = int(math.floor(math.log1p(t * (m - 1.0) / length) / math.log(m)))
            # the logarithm may land one off at a cycle boundary; settle it exactly
            while self._cycle_start(i + 1) <= t:
                i += 1
            while i > 0 and self._cycle_start(i) > t:
                i -= 1
        return i, t - self._cycle_start(i), length * _ipow(m, i)

    def _main(self, s: float) -> float:
        r = self.min_lr_ratio
        i, u, li = self._cycle(s - self.num_warmup_steps)
        if (self.cycle_limit is not None and i >= self.cycle_limit) or (
            u == 0 and i > 0 and s >= self.num_training_steps
        ):
            return r
        return r + (_ipow(self.cycle_decay, i) - r) * (1.0 + math.cos(math.pi * u / li)) / 2.0

    def _main_v(self, s: Any) -> Any:
        import numpy as np

        r, m, length = self.min_lr_ratio, self.cycle_mul, float(self.cycle_steps)
        t = s - self.num_warmup_steps
        if m == 1.0:
            i = np.floor(t / length)
        else:
            i = np.floor(np.log1p(t * (m - 1.0) / length) / math.log(m))
            i = i + (self._cycle_start_v(i + 1) <= t)
            i = i - ((i > 0) & (self._cycle_start_v(i) > t))
        u = t - self._cycle_start_v(i)
        li = length * _ipow_v(m, i)
        out = r + (_ipow_v(self.cycle_decay, i) - r) * (1.0 + np.cos(math.pi * u / li)) / 2.0
        off = (u == 0) & (i > 0) & (s >= self.num_training_steps)
        if self.cycle_limit is not None:
            off = off | (i >= self.cycle_limit)
        return np.where(off, r, out)
