"""Composition: schedules joined end to end, multiplied together, and warmup around anything.

:class:`Join` and :class:`Product` are schedules like any other: ``to_dict()`` nests the parts'
specs, so checkpoints rebuild them.

>>> from hf_sched.schedules import Constant, Linear
>>> s = join([Constant(10, 5), Linear(20)], [10])
>>> s.num_training_steps, s(5), s(10), s(20), s(30)
(30, 1.0, 1.0, 0.5, 0.0)
>>> schedule_from_dict(s.to_dict()) == s
True
"""

from __future__ import annotations

import numbers
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from .checks import check_choice, check_float, check_int
from .decays import Constant, Cosine
from .schedule import SCALAR, Schedule, schedule_from_dict, warmup_ramp

__all__ = ["WSD_DECAY_TYPES", "Join", "Product", "WarmupStableDecay", "join", "product", "scale", "with_warmup"]

WSD_DECAY_TYPES = ("linear", "cosine", "1-sqrt")


def _parts(name: str, items: Any) -> tuple[Schedule, ...]:
    """Schedules (or their ``to_dict()`` specs, as read back from a checkpoint) as a tuple."""
    if isinstance(items, (Schedule, dict, str, bytes)) or not hasattr(items, "__iter__"):
        raise TypeError(f"{name} must be a list of schedules, got {items!r}")
    out = []
    for i, item in enumerate(items):
        if isinstance(item, dict):
            item = schedule_from_dict(item)
        if not isinstance(item, Schedule):
            raise TypeError(f"{name}[{i}] must be an hf_sched Schedule (or its to_dict() spec), got {item!r}")
        out.append(item)
    if not out:
        raise ValueError(f"{name} must hold at least one schedule, got an empty list")
    return tuple(out)


def _no_own_warmup(schedule: Schedule) -> None:
    if schedule.num_warmup_steps:
        raise ValueError(f"a {schedule.kind} has no warmup of its own (its parts carry theirs), got "
                         f"num_warmup_steps={schedule.num_warmup_steps}; put the warmup in the first part or use "
                         "with_warmup()")


@dataclass(frozen=True)
class Join(Schedule):
    """Schedules end to end: ``f(s) = f_i(s - b_i)`` for ``b_i <= s < b_{i+1}``.

    ``b_0 = 0 < b_1 < ... < b_{n-1}`` (``boundaries``); ``T = b_{n-1} + T_{n-1}``. A part shorter
    than its stretch holds its final value; a longer one is cut. Build it with :func:`join`.

    >>> from hf_sched.schedules import Linear
    >>> j = join([Linear(4), Linear(4)], [2])
    >>> j.values(range(8)).tolist()
    [1.0, 0.75, 1.0, 0.75, 0.5, 0.25, 0.0, 0.0]
    """

    schedules: tuple[Schedule, ...] = ()
    boundaries: tuple[int, ...] = ()
    kind: ClassVar[str] = "join"

    def _validate(self) -> None:
        _no_own_warmup(self)
        parts = _parts("schedules", self.schedules)
        raw = self.boundaries
        if isinstance(raw, (str, bytes)) or not hasattr(raw, "__iter__"):
            raise TypeError(f"boundaries must be a list of steps (int), got {raw!r}")
        bounds = tuple(check_int(f"boundaries[{i}]", b, minimum=1) for i, b in enumerate(raw))
        if len(bounds) != len(parts) - 1:
            raise ValueError(f"boundaries must hold one step fewer than schedules: {len(parts)} schedules need "
                             f"{len(parts) - 1} boundaries, got {len(bounds)} ({list(bounds)})")
        for i in range(1, len(bounds)):
            if bounds[i] <= bounds[i - 1]:
                raise ValueError(f"boundaries must increase strictly, got boundaries[{i - 1}]={bounds[i - 1]} and "
                                 f"boundaries[{i}]={bounds[i]}")
        total = (bounds[-1] if bounds else 0) + parts[-1].num_training_steps
        if self.num_training_steps != total:
            raise ValueError(f"num_training_steps of a join must be the last boundary plus the last schedule's steps, "
                             f"{total}, got {self.num_training_steps}; build it with hf_sched.compose.join()")
        object.__setattr__(self, "schedules", parts)
        object.__setattr__(self, "boundaries", bounds)

    @property
    def normalised(self) -> bool:  # type: ignore[override]
        return all(p.normalised for p in self.schedules)

    def _shape(self, s: Any, xp: Any = SCALAR) -> Any:
        if xp is SCALAR:  # one step (the training loop's path): only the part it falls in
            i = bisect_right(self.boundaries, s)
            return self.schedules[i](s - self.boundaries[i - 1] if i else s)
        out: Any = None
        for part, start in zip(self.schedules, (0, *self.boundaries)):  # the last part begun wins
            value = part._eval(xp.maximum(s - start, 0), xp)
            out = value if out is None else xp.where(s >= start, value, out)
        return out


@dataclass(frozen=True)
class Product(Schedule):
    """Step-by-step product: ``f(s) = scale * f_1(s) * ... * f_n(s)``; ``T`` is the longest factor's.

    Build it with :func:`product` or :func:`scale`.

    >>> from hf_sched.schedules import Constant, Linear
    >>> product(Linear(10), Constant(10, 4), 0.5)(2)
    0.2
    """

    factors: tuple[Schedule, ...] = ()
    scale: float = 1.0
    kind: ClassVar[str] = "product"

    def _validate(self) -> None:
        _no_own_warmup(self)
        parts = _parts("factors", self.factors)
        object.__setattr__(self, "factors", parts)
        self._check("scale", check_float, minimum=0.0)
        total = max(p.num_training_steps for p in parts)
        if self.num_training_steps != total:
            raise ValueError(f"num_training_steps of a product must be its longest factor's, {total}, got "
                             f"{self.num_training_steps}; build it with hf_sched.compose.product()")

    @property
    def normalised(self) -> bool:  # type: ignore[override]
        return self.scale <= 1.0 and all(p.normalised for p in self.factors)

    def _shape(self, s: Any, xp: Any = SCALAR) -> Any:
        v = self.scale
        for f in self.factors:
            v = v * f._eval(s, xp)
        return v


@dataclass(frozen=True)
class _Cooldown(Schedule):
    """A warmup ramp run backwards, from 1 at ``s = 0`` to ``end`` at ``s = T``: ``ramp(T - s)``."""

    shape: str = "linear"
    end: float = 0.0

    def _shape(self, s: Any, xp: Any = SCALAR) -> Any:
        t = self.num_training_steps
        return warmup_ramp(t - s, t, self.end, self.shape, xp)


@dataclass(frozen=True)
class WarmupStableDecay(Schedule):
    """Warmup-stable-decay: warmup, a flat stretch at 1, then a decay to ``min_lr_ratio``.

    A join: 1 until ``W + S`` (``S = num_stable_steps``, default ``T - W - D``), then over
    ``D = num_decay_steps`` with ``q = (s - W - S) / D``: ``r + (1 - r) * g(q)``, ``g`` = linear
    ``1 - q``, cosine ``(1 + cos(2 pi c q)) / 2`` or 1-sqrt ``1 - sqrt(q)``; then ``r = min_lr_ratio``.

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
        r, flat = self.min_lr_ratio, w + self.num_stable_steps  # type: ignore[operator]
        decay = Cosine(max(d, 1), num_cycles=self.num_cycles, min_lr_ratio=r) if self.decay_type == "cosine" else (
            _Cooldown(max(d, 1), shape=self.decay_type, end=r))
        starts_parts = [(0, Constant(max(flat, 1))), (flat, decay), (flat + d, scale(Constant(1), r))]
        used = [(b, p) for i, (b, p) in enumerate(starts_parts) if i == 2 or b < starts_parts[i + 1][0]]
        object.__setattr__(self, "_parts", join([p for _, p in used], [b for b, _ in used[1:]]))

    def _shape(self, s: Any, xp: Any = SCALAR) -> Any:
        return self._parts._shape(s, xp)  # type: ignore[attr-defined]


def join(schedules: Sequence[Schedule], boundaries: Sequence[int]) -> Join:
    """Run ``schedules`` one after another, switching at the steps in ``boundaries``.

    ``f(s) = schedules[i](s - b_i)`` on ``[b_i, b_{i+1})``, ``b_0 = 0``; it ends at ``b_{n-1} + T_{n-1}``.

    >>> from hf_sched.schedules import Constant, Cosine
    >>> j = join([Constant(100, 10), Cosine(100)], [100])   # warmup + flat, then a cosine
    >>> j.num_training_steps, j(100), round(j(150), 12), j(200)
    (200, 1.0, 0.5, 0.0)
    """
    parts = _parts("schedules", schedules)
    if isinstance(boundaries, (str, bytes)) or not hasattr(boundaries, "__iter__"):
        raise TypeError(f"boundaries must be a list of steps (int), got {boundaries!r}")
    raw = list(boundaries)
    last = check_int(f"boundaries[{len(raw) - 1}]", raw[-1], minimum=1) if raw else 0
    return Join(last + parts[-1].num_training_steps, schedules=parts, boundaries=tuple(raw))


def product(*factors: Schedule | float) -> Product:
    """Multiply schedules (and constants) step by step: ``f(s) = prod_i f_i(s)``.

    Numbers fold into one ``scale >= 0``; at least one schedule is needed.

    >>> from hf_sched.schedules import Linear
    >>> product(Linear(4), Linear(4)).values(range(5)).tolist()
    [1.0, 0.5625, 0.25, 0.0625, 0.0]
    """
    c = 1.0
    parts: list[Schedule] = []
    for i, f in enumerate(factors):
        if isinstance(f, Schedule):
            parts.append(f)
        elif isinstance(f, numbers.Real) and not isinstance(f, bool):
            c *= check_float(f"factors[{i}]", f, minimum=0.0)
        else:
            raise TypeError(f"factors[{i}] must be a Schedule or a number >= 0, got {f!r} ({type(f).__name__})")
    if not parts:
        raise ValueError(f"product needs at least one Schedule among its factors, got {list(factors)!r}")
    return Product(max(p.num_training_steps for p in parts), factors=tuple(parts), scale=c)


def scale(schedule: Schedule, factor: float) -> Product:
    """``factor * schedule(s)`` (``factor >= 0``; above 1 the multiplier exceeds the peak LR).

    >>> from hf_sched.schedules import Constant
    >>> scale(Constant(10), 0.25)(3)
    0.25
    """
    if not isinstance(schedule, Schedule):
        raise TypeError(f"schedule must be an hf_sched Schedule, got {schedule!r} ({type(schedule).__name__})")
    if isinstance(factor, bool) or not isinstance(factor, numbers.Real):
        raise TypeError(f"factor must be a number >= 0, got {factor!r} ({type(factor).__name__})")
    return Product(schedule.num_training_steps, factors=(schedule,), scale=check_float("factor", factor, minimum=0.0))


def with_warmup(target: Any, warmup_steps: Any, warmup_start: float = 0.0, warmup_shape: str = "linear", *,
                num_training_steps: int | None = None, strict: bool = True) -> Any:
    """Multiply a warmup ramp into a schedule or into any torch LR scheduler.

    ``lr(s) = inner(s) * w(s)``, ``w`` the warmup ramp for ``s < W`` and ``1`` after (the inner
    curve is not delayed). A :class:`Schedule` gives ``product(target, ramp)``; a torch scheduler a
    :class:`~hf_sched.warmup_scheduler.WarmupScheduler`. ``warmup_steps`` is any warmup request,
    against ``T`` or ``num_training_steps`` (default the scheduler's ``total_steps``; without a
    total, steps or ``"auto"``).

    >>> from hf_sched.schedules import Constant
    >>> with_warmup(Constant(10), 4).values(range(6)).tolist()
    [0.0, 0.25, 0.5, 0.75, 1.0, 1.0]
    >>> import torch
    >>> opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    >>> sched = with_warmup(torch.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5), 2)
    >>> lrs = []
    >>> for _ in range(5):
    ...     lrs.append(opt.param_groups[0]["lr"]); opt.step(); sched.step()
    >>> lrs
    [0.0, 0.5, 0.5, 0.5, 0.25]
    """
    from .warmup import auto_warmup_steps, resolve_warmup

    if isinstance(target, Schedule):
        w = resolve_warmup(warmup_steps, target.num_training_steps)
        return product(target, Constant(max(w, 1), w, warmup_start, warmup_shape))
    from .warmup_scheduler import WarmupScheduler

    optimizer = getattr(target, "optimizer", None)
    total = num_training_steps if num_training_steps is not None else getattr(target, "total_steps", None)
    if total is not None:
        w = resolve_warmup(warmup_steps, total, optimizer)
    elif isinstance(warmup_steps, str) and warmup_steps.strip().lower() == "auto":
        w = auto_warmup_steps(optimizer)
    elif isinstance(warmup_steps, numbers.Integral) and not isinstance(warmup_steps, bool):
        w = check_int("warmup_steps", warmup_steps, minimum=0)
    else:
        raise ValueError(f"warmup_steps={warmup_steps!r} is a ratio or percentage, which needs num_training_steps "
                         "(the wrapped scheduler has no total_steps); pass num_training_steps= or a number of steps")
    return WarmupScheduler(target, w, warmup_start=warmup_start, warmup_shape=warmup_shape, strict=strict)
