"""Step decays: the LR multiplied by a constant factor at chosen steps.

Powers are taken by repeated squaring (:func:`int_power`), so per-step and vectorised values
agree to the last bit.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any, ClassVar

from .checks import check_float, check_int
from .schedule import SCALAR, Schedule
from .warmup import _ceil_ratio

__all__ = ["Factor", "MultiStep", "int_power", "int_powers", "steps_or_fraction"]


def steps_or_fraction(name: str, value: Any, total: int) -> int:
    """An ``int`` is a number of steps; a ``float`` in ``(0, 1]`` is ``ceil(value * total)``.

    The ceiling is taken on the exact decimal (``0.3`` of ``10`` is ``3``); errors name ``name``.

    >>> steps_or_fraction("milestones[0]", 0.3, 10), steps_or_fraction("milestones[0]", 7, 10)
    (3, 7)
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be an int number of steps or a float fraction in (0, 1], got {value!r} "
                        f"({type(value).__name__})")
    if isinstance(value, numbers.Integral):
        return int(value)
    frac = float(value)
    if not (math.isfinite(frac) and 0.0 < frac <= 1.0):
        hint = " (pass an int for a number of steps)" if math.isfinite(frac) and frac > 1.0 and frac == int(frac) else ""
        raise ValueError(f"{name} as a float is a fraction in (0, 1] (of {total} steps), got {value!r}{hint}")
    return _ceil_ratio(frac, total)


def int_power(x: float, n: Any, xp: Any = SCALAR) -> Any:
    """``x ** n`` for whole ``n >= 0`` (a number, or an array with ``xp=numpy``) by repeated squaring.

    The same IEEE products for a float and an array keep ``values()`` and ``__call__`` bit-identical.

    >>> int_power(0.5, 3), int_power(0.9, 0)
    (0.125, 1.0)
    """
    out, base, k = n * 0 + 1.0, float(x), xp.int64(n)
    while xp.any(k > 0):
        out = xp.where(k & 1, out * base, out)
        base *= base
        k = k >> 1
    return out


def int_powers(x: float, n: Any) -> Any:
    """Elementwise :func:`int_power` over an array of whole ``n`` (numpy).

    >>> int_powers(0.5, [0, 1, 3]).tolist()
    [1.0, 0.5, 0.125]
    >>> all(int_powers(0.9, [k])[0] == int_power(0.9, k) for k in range(200))
    True
    """
    import numpy as np

    return int_power(x, np.asarray(n, dtype=np.int64), np)


@dataclass(frozen=True)
class Factor(Schedule):
    """Exponential (step) decay with a floor: ``f(s) = max(r, factor ** floor((s - W) / step_size))``.

    d2l's ``FactorScheduler`` over its ``base_lr`` (``r = stop_factor_lr / base_lr``), torch's
    ``StepLR`` with ``step_size``; ``factor`` in ``(0, 1]``, ``r`` in ``[0, 1]``.

    >>> s = Factor(num_training_steps=10, factor=0.5, min_lr_ratio=0.2)
    >>> [s(k) for k in range(4)]
    [1.0, 0.5, 0.25, 0.2]
    """

    factor: float = 1.0
    step_size: int = 1
    min_lr_ratio: float = 0.0
    kind: ClassVar[str] = "factor"

    def _validate(self) -> None:
        self._check("factor", check_float, minimum=0.0, maximum=1.0, min_inclusive=False)
        self._check("step_size", check_int, minimum=1)
        self._check("min_lr_ratio", check_float, minimum=0.0, maximum=1.0)

    def _shape(self, s: Any, xp: Any = SCALAR) -> Any:
        n = xp.floor((s - self.num_warmup_steps) / self.step_size)
        return xp.maximum(self.min_lr_ratio, int_power(self.factor, n, xp))


@dataclass(frozen=True)
class MultiStep(Schedule):
    """Piecewise constant: ``f(s) = gamma ** k(s)``, ``k(s) = #{m in milestones : m <= s}``.

    torch's ``MultiStepLR``. An ``int`` milestone is a step in ``(W, T]``; a ``float`` ``m`` in
    ``(0, 1]`` is step ``W + ceil(m * (T - W))`` (dropped when ``W = T``). Stored sorted.

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
            step = steps_or_fraction(f"milestones[{i}]", m, t - w)
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
        self._check("gamma", check_float, minimum=0.0, maximum=1.0, min_inclusive=False)

    def _shape(self, s: Any, xp: Any = SCALAR) -> Any:
        passed = 0  # milestones m <= s
        for m in self.milestones:
            passed = passed + (s >= m)
        return int_power(self.gamma, passed, xp)
