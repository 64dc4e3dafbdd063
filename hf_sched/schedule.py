"""The :class:`Schedule` frame every shape shares, the warmup ramps, and the table of schedule kinds.

A :class:`Schedule` is a frozen value: ``schedule(s)`` is the multiplier of each group's peak
LR for optimizer step ``s + 1`` (``s`` steps taken). Each formula is written once over an
array namespace ``xp``: :data:`SCALAR` (one step) or numpy (:meth:`Schedule.values`).
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any, ClassVar

from .checks import check_choice, check_float, check_int

__all__ = ["SCALAR", "SCHEDULE_KINDS", "WARMUP_SHAPES", "Schedule", "schedule_from_dict", "warmup_ramp"]

#: ``kind`` -> Schedule subclass, filled by every subclass that sets ``kind`` when it is defined.
SCHEDULE_KINDS: dict[str, type[Schedule]] = {}
WARMUP_SHAPES = ("linear", "constant", "exponential", "cosine", "1-sqrt")

#: numpy's functions spelled for one float (a module object: the quickest lookups on the per-step path)
SCALAR: Any = ModuleType("hf_sched.schedule.SCALAR")
SCALAR.__dict__.update(cos=math.cos, sqrt=math.sqrt, exp=math.exp, floor=math.floor, log1p=math.log1p, any=bool,
                       int64=int, where=lambda cond, a, b: a if cond else b, maximum=max, minimum=min)

_STEP_ALLOWED = "an int >= 0 or a finite float >= 0 (the optimizer steps taken)"


def warmup_ramp(s: Any, warmup_steps: int, start: float = 0.0, shape: str = "linear", xp: Any = SCALAR) -> Any:
    """Warmup multiplier ``start + (1 - start) * q(s)`` at ``s < W`` (a float, or an array with ``xp=numpy``).

    ``q``: linear ``s / W``; constant ``0``; exponential ``1 - exp(-(s + 1) / (W / 5))``;
    cosine ``(1 - cos(pi s / W)) / 2``; 1-sqrt ``1 - sqrt(1 - s / W)``.

    >>> warmup_ramp(5, 10), warmup_ramp(0, 10, start=0.1)
    (0.5, 0.1)
    """
    w = max(1, warmup_steps)
    if shape == "linear":
        q = s / w
    elif shape == "constant":
        q = s * 0.0
    elif shape == "exponential":
        q = 1.0 - xp.exp(-(s + 1.0) / (w / 5.0))
    elif shape == "cosine":
        q = 0.5 * (1.0 - xp.cos(math.pi * (s / w)))
    elif shape == "1-sqrt":
        q = 1.0 - xp.sqrt(1.0 - s / w)
    else:  # validated when the schedule was built
        raise ValueError(f"warmup_shape must be one of {WARMUP_SHAPES}, got {shape!r}")
    return q if start == 0.0 else q * (1.0 - start) + start


def _checked_step(step: Any) -> int | float:
    """``step`` as an ``int`` or ``float``; ``TypeError``/``ValueError`` naming ``step`` otherwise."""
    if isinstance(step, bool) or not isinstance(step, numbers.Real):
        raise TypeError(f"step must be {_STEP_ALLOWED}, got {step!r} ({type(step).__name__})")
    if isinstance(step, numbers.Integral):
        return int(step)  # a negative one is refused by __call__
    value = float(step)
    if not math.isfinite(value):
        raise ValueError(f"step must be {_STEP_ALLOWED}, got {value!r}")
    return value


def _checked_steps(steps: Any) -> Any:
    """``steps`` as a float64 numpy array, every entry finite and ``>= 0`` (else a clear error)."""
    import numpy as np

    if isinstance(steps, (str, bytes)):
        raise TypeError(f"steps must be numbers of optimizer steps (ints or floats), got {steps!r} (str)")
    raw = np.asarray(steps)
    if raw.dtype.kind not in "iuf":  # bool, str, object, complex, datetime, ...
        first = f" ({raw.ravel()[:3].tolist()!r}...)" if raw.size else ""
        raise TypeError("steps must be numbers of optimizer steps (ints or finite floats >= 0), got an array of "
                        f"{raw.dtype}{first}")
    s = raw.astype(np.float64, copy=False)
    if s.size and not (s.min() >= 0 and np.isfinite(s).all()):
        bad = ~np.isfinite(s) | (s < 0)
        i = int(np.flatnonzero(bad.ravel())[0])
        raise ValueError(f"steps must all be >= 0 and finite (optimizer steps taken), got {float(s.ravel()[i])!r} at "
                         f"index {i}")
    return s


@dataclass(frozen=True)
class Schedule:
    """Base of all schedules: ``f(s) = warmup_ramp(s)`` for ``s < W``, ``shape(s)`` for
    ``W <= s <= T``, ``f(T)`` for ``s > T`` (``T = num_training_steps >= 1``, ``W`` in ``[0, T]``).

    Subclasses set ``kind`` (registered in :data:`SCHEDULE_KINDS`) and write ``_shape(s, xp)``
    once (or ``_main(s)`` for a float and ``_main_v(s)`` for an array).

    >>> from hf_sched.schedules import Linear
    >>> s = Linear(num_training_steps=4, num_warmup_steps=2)
    >>> [s(k) for k in range(6)]
    [0.0, 0.5, 1.0, 0.5, 0.0, 0.0]
    """

    num_training_steps: int
    num_warmup_steps: int = 0
    warmup_start: float = 0.0
    warmup_shape: str = "linear"

    kind: ClassVar[str] = ""
    #: True when the multiplier never exceeds 1 (peak LR is the optimizer's LR).
    normalised: ClassVar[bool] = True
    #: False where the value jumps at ``s = W`` by design (e.g. BERT's polynomial decay).
    continuous_warmup: ClassVar[bool] = True

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        kind = cls.__dict__.get("kind")
        if kind:
            owner = SCHEDULE_KINDS.get(kind)
            if owner is not None and owner.__qualname__ != cls.__qualname__:
                raise ValueError(f"schedule kind {kind!r} is already taken by {owner.__module__}.{owner.__qualname__}; "
                                 f"give {cls.__module__}.{cls.__qualname__} another kind")
            SCHEDULE_KINDS[kind] = cls

    def __post_init__(self) -> None:
        self._check("num_training_steps", check_int, minimum=1)
        self._check("num_warmup_steps", check_int, minimum=0)
        if self.num_warmup_steps > self.num_training_steps:
            raise ValueError(f"num_warmup_steps must be in [0, num_training_steps={self.num_training_steps}], got "
                             f"{self.num_warmup_steps}: warmup longer than training is an error, not a silent clamp")
        self._check("warmup_start", check_float, minimum=0.0, maximum=1.0)
        check_choice("warmup_shape", self.warmup_shape, WARMUP_SHAPES)
        self._validate()

    def _validate(self) -> None:
        """Subclass hook: check and normalise the shape's own fields (see :meth:`_check`)."""

    def _check(self, name: str, check: Callable[..., Any], **bounds: Any) -> None:
        """Store field ``name`` as ``check(name, value, **bounds)`` returns it (a frozen field, set once)."""
        object.__setattr__(self, name, check(name, getattr(self, name), **bounds))

    def __call__(self, step: float) -> float:
        """Multiplier after ``step`` optimizer steps (an ``int`` or finite ``float``, ``>= 0``)."""
        # Fast path: ScheduledLR calls this with a plain int on every optimizer step.
        if step.__class__ is not int:
            step = _checked_step(step)
        if step < self.num_warmup_steps:
            if step < 0:
                raise ValueError(f"step must be >= 0, got {step!r} (the optimizer steps taken)")
            return self._warm(step)
        step = min(step, self.num_training_steps)
        return self._shape(step)

    def values(self, steps: Any) -> Any:
        """Multipliers for many steps (numbers ``>= 0``, finite) at once, as a float64 numpy array.

        >>> from hf_sched.schedules import Linear
        >>> Linear(num_training_steps=4, num_warmup_steps=0).values(range(6)).tolist()
        [1.0, 0.75, 0.5, 0.25, 0.0, 0.0]
        """
        return self._at(_checked_steps(steps))

    def _at(self, s: Any) -> Any:
        """:meth:`values` of an already checked float64 array."""
        import numpy as np

        s = np.minimum(s, float(self.num_training_steps))
        w = self.num_warmup_steps
        warm = (s < w) if w else None
        # Evaluate the shape at valid points only, so no warning leaks from s < W.
        out = np.asarray(self._shape(np.maximum(s, float(w)) if w else s, np), dtype=np.float64)
        if out.shape != s.shape:
            out = np.broadcast_to(out, s.shape).copy()
        if warm is not None and warm.any():
            out = np.where(warm, self._warm(np.minimum(s, float(w)), np), out)
        return out

    def _eval(self, s: Any, xp: Any = SCALAR) -> Any:
        """The whole frame at checked steps ``s``: a float or an array."""
        return self(s) if xp is SCALAR else self._at(s)

    def final_value(self) -> float:
        """The value reached at ``s = T`` and held after.

        >>> from hf_sched.schedules import Linear
        >>> Linear(num_training_steps=10, min_lr_ratio=0.1).final_value()
        0.1
        """
        return self(self.num_training_steps)

    def _warm(self, s: Any, xp: Any = SCALAR) -> Any:
        return warmup_ramp(s, self.num_warmup_steps, self.warmup_start, self.warmup_shape, xp)

    def _progress(self, s: Any) -> Any:
        t, w = self.num_training_steps, self.num_warmup_steps
        return (s - w) / float(max(1, t - w))

    def _shape(self, s: Any, xp: Any = SCALAR) -> Any:
        """The shape at ``W <= s <= T``; a subclass writes it once (or ``_main`` and ``_main_v``)."""
        if xp is SCALAR:
            return self._main(s)  # type: ignore[attr-defined]
        return self._main_v(s)  # type: ignore[attr-defined]

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON description: ``{"kind": ..., <every field>: ...}`` (tuples as lists, parts as specs).

        >>> from hf_sched.schedules import Linear
        >>> Linear(num_training_steps=10, num_warmup_steps=1).to_dict()["kind"]
        'linear'
        """
        out: dict[str, Any] = {"kind": self.kind}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, tuple):
                value = [v.to_dict() if isinstance(v, Schedule) else v for v in value]
            out[f.name] = value
        return out

    @classmethod
    def from_dict(cls, spec: dict[str, Any]) -> Schedule:
        """Inverse of :meth:`to_dict` (any kind; see :func:`schedule_from_dict`).

        >>> from hf_sched.schedules import Linear
        >>> Schedule.from_dict(Linear(10).to_dict()) == Linear(10)
        True
        """
        return schedule_from_dict(spec)


def schedule_from_dict(spec: dict[str, Any]) -> Schedule:
    """Rebuild a schedule from :meth:`Schedule.to_dict` output: ``SCHEDULE_KINDS[kind](**fields)``.

    >>> import hf_sched.schedules
    >>> schedule_from_dict({"kind": "constant", "num_training_steps": 5}).final_value()
    1.0
    """
    if not isinstance(spec, dict) or "kind" not in spec:
        raise ValueError(f"a schedule spec must be a dict with a 'kind' key, got {spec!r}")
    kind = spec["kind"]
    cls = SCHEDULE_KINDS.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise ValueError(f"unknown schedule kind {kind!r}; known kinds: {', '.join(sorted(SCHEDULE_KINDS))} "
                         "(a kind is known once the module that defines it is imported; hf_sched.schedules imports "
                         "every built-in one)")
    fields = {f.name for f in dataclasses.fields(cls)}
    args = {k: v for k, v in spec.items() if k != "kind"}
    unknown = sorted(set(args) - fields)
    if unknown:
        raise ValueError(f"schedule kind {kind!r} has no field(s) {unknown}; fields: {sorted(fields)}")
    if isinstance(args.get("milestones"), list):
        args["milestones"] = tuple(args["milestones"])
    return cls(**args)
