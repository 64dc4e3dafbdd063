"""Pure learning-rate schedules: frozen values that map an optimizer step to a multiplier.

A :class:`Schedule` knows nothing of torch. ``schedule(s)`` is the multiplier of each
param group's peak LR for the optimizer step that follows ``s`` steps already taken
(0-based, as in transformers: the LR of step ``s + 1`` is ``peak * f(s)``).

Every schedule has the same frame:

* ``s < W`` (``W = num_warmup_steps``): the warmup prefix (see :mod:`hf_sched.warmup`);
* ``W <= s <= T`` (``T = num_training_steps``): the shape, usually of the progress
  ``p = (s - W) / max(1, T - W)`` in ``[0, 1]``;
* ``s > T``: held at the value of ``s = T`` (never negative, never NaN, never an error).

Schedules compare equal, pickle, round-trip through :meth:`Schedule.to_dict` /
:func:`schedule_from_dict` (plain JSON types) and evaluate many steps at once with
:meth:`Schedule.values` (numpy) for plots.

>>> s = Cosine(num_training_steps=100, num_warmup_steps=10)
>>> s(0), s(5), s(10), s(100), s(1000)
(0.0, 0.5, 1.0, 0.0, 0.0)
>>> schedule_from_dict(s.to_dict()) == s
True
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, ClassVar

from .checks import check_choice, check_float, check_int
from .warmup import WARMUP_SHAPES, warmup_factor, warmup_factors

_PI = math.pi
_cos = math.cos

__all__ = [
    "Schedule",
    "Constant",
    "Linear",
    "Cosine",
    "CosineHardRestarts",
    "Polynomial",
    "InverseSqrt",
    "Noam",
    "CosineWarmupMinLR",
    "WarmupStableDecay",
    "schedule_from_dict",
    "SCHEDULE_KINDS",
]

#: ``kind`` -> Schedule subclass, filled by every subclass that sets ``kind``.
SCHEDULE_KINDS: dict[str, type["Schedule"]] = {}


@dataclass(frozen=True)
class Schedule:
    """Base of all schedules: warmup prefix, the main shape, and the hold after ``T``.

    Subclasses set ``kind`` and implement ``_main(s)`` (pure Python float, for
    ``W <= s <= T``) and ``_main_v(s)`` (the same on a numpy array).

    Attributes:
        num_training_steps: ``T``, the optimizer steps of the whole run (``>= 1``).
        num_warmup_steps: ``W`` in ``[0, T]``.
        warmup_start: multiplier at ``s = 0`` (default ``0.0``, as transformers).
        warmup_shape: one of ``linear`` (default), ``constant``, ``exponential``,
            ``cosine``, ``1-sqrt``.
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
            SCHEDULE_KINDS[kind] = cls

    def __post_init__(self) -> None:
        t = check_int("num_training_steps", self.num_training_steps, minimum=1)
        object.__setattr__(self, "num_training_steps", t)
        w = check_int("num_warmup_steps", self.num_warmup_steps, minimum=0)
        if w > t:
            raise ValueError(
                f"num_warmup_steps must be in [0, num_training_steps={t}], got {w}: "
                "warmup longer than training is an error, not a silent clamp"
            )
        object.__setattr__(self, "num_warmup_steps", w)
        start = check_float("warmup_start", self.warmup_start, minimum=0.0, maximum=1.0)
        object.__setattr__(self, "warmup_start", start)
        check_choice("warmup_shape", self.warmup_shape, WARMUP_SHAPES)
        self._validate()

    def _validate(self) -> None:
        """Subclass hook: check and normalise the shape's own fields."""

    # -- evaluation -------------------------------------------------------------------

    def __call__(self, step: int) -> float:
        """Multiplier after ``step`` optimizer steps (``step >= 0``)."""
        if step < self.num_warmup_steps:
            if step < 0:
                raise ValueError(f"step must be >= 0, got {step!r}")
            return self._warm(step)
        if step > self.num_training_steps:
            step = self.num_training_steps
        return self._main(step)

    def values(self, steps: Any) -> Any:
        """Multipliers for many steps at once, as a float64 numpy array.

        >>> Linear(num_training_steps=4, num_warmup_steps=0).values(range(6)).tolist()
        [1.0, 0.75, 0.5, 0.25, 0.0, 0.0]
        """
        import numpy as np

        s = np.asarray(steps, dtype=np.float64)
        if s.size and (np.isnan(s).any() or s.min() < 0):
            raise ValueError("steps must all be >= 0 (and not NaN)")
        s = np.minimum(s, float(self.num_training_steps))
        w = self.num_warmup_steps
        warm = s < w
        # Evaluate the main shape at valid points only, so no warning leaks from s < W.
        out = np.asarray(self._main_v(np.where(warm, float(w), s)), dtype=np.float64)
        if warm.any():
            out = np.where(warm, self._warm_v(np.minimum(s, float(w))), out)
        return out

    def final_value(self) -> float:
        """The value reached at ``s = T`` and held after."""
        return self(self.num_training_steps)

    def _warm(self, s: float) -> float:
        return warmup_factor(s, self.num_warmup_steps, self.warmup_start, self.warmup_shape)

    def _warm_v(self, s: Any) -> Any:
        return warmup_factors(s, self.num_warmup_steps, self.warmup_start, self.warmup_shape)

    def _progress(self, s: Any) -> Any:
        t, w = self.num_training_steps, self.num_warmup_steps
        return (s - w) / float(max(1, t - w))

    def _main(self, s: float) -> float:  # pragma: no cover - abstract
        raise NotImplementedError

    def _main_v(self, s: Any) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    # -- serialisation ----------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON description: ``{"kind": ..., <every field>: ...}``.

        >>> Linear(num_training_steps=10, num_warmup_steps=1).to_dict()["kind"]
        'linear'
        """
        out: dict[str, Any] = {"kind": self.kind}
        for f in dataclasses.fields(self):
            out[f.name] = getattr(self, f.name)
        return out

    @classmethod
    def from_dict(cls, spec: dict[str, Any]) -> "Schedule":
        """Inverse of :meth:`to_dict` (any subclass; see :func:`schedule_from_dict`)."""
        return schedule_from_dict(spec)


def schedule_from_dict(spec: dict[str, Any]) -> Schedule:
    """Rebuild a schedule from :meth:`Schedule.to_dict` output.

    >>> schedule_from_dict({"kind": "constant", "num_training_steps": 5}).final_value()
    1.0
    """
    if not isinstance(spec, dict) or "kind" not in spec:
        raise ValueError(f"a schedule spec must be a dict with a 'kind' key, got {spec!r}")
    kind = spec["kind"]
    if kind not in SCHEDULE_KINDS:
        from . import catalog  # noqa: F401  (imports every built-in kind)
    if kind not in SCHEDULE_KINDS:
        raise ValueError(f"unknown schedule kind {kind!r}; known kinds: {', '.join(sorted(SCHEDULE_KINDS))}")
    cls = SCHEDULE_KINDS[kind]
    fields = {f.name for f in dataclasses.fields(cls)}
    args = {k: v for k, v in spec.items() if k != "kind"}
    unknown = sorted(set(args) - fields)
    if unknown:
        raise ValueError(f"schedule kind {kind!r} has no field(s) {unknown}; fields: {sorted(fields)}")
    if isinstance(args.get("milestones"), list):
        args["milestones"] = tuple(args["milestones"])
    return cls(**args)


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
        object.__setattr__(self, "min_lr_ratio", check_float("min_lr_ratio", self.min_lr_ratio, minimum=0.0, maximum=1.0))

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
        object.__setattr__(self, "num_cycles", check_float("num_cycles", self.num_cycles, minimum=0.0, min_inclusive=False))
        object.__setattr__(self, "min_lr_ratio", check_float("min_lr_ratio", self.min_lr_ratio, minimum=0.0, maximum=1.0))

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
        object.__setattr__(self, "num_cycles", check_float("num_cycles", self.num_cycles, minimum=0.0, min_inclusive=False))

    def _main(self, s: float) -> float:
        p = self._progress(s)
        if p >= 1.0:
            return 0.0
        return max(0.0, 0.5 * (1.0 + math.cos(math.pi * ((float(self.num_cycles) * p) % 1.0))))

    def _main_v(self, s: Any) -> Any:
        import numpy as np

        p = self._progress(s)
        v = np.maximum(0.0, 0.5 * (1.0 + np.cos(math.pi * ((float(self.num_cycles) * p) % 1.0))))
        return np.where(p >= 1.0, 0.0, v)


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
        object.__setattr__(self, "power", check_float("power", self.power, minimum=0.0, min_inclusive=False))
        object.__setattr__(
            self, "end_ratio", check_float("end_ratio", self.end_ratio, minimum=0.0, maximum=1.0, max_inclusive=False)
        )

    def _main(self, s: float) -> float:
        t, w = self.num_training_steps, self.num_warmup_steps
        pct_remaining = 1 - (s - w) / max(1, t - w)
        return (1.0 - self.end_ratio) * pct_remaining**self.power + self.end_ratio

    def _main_v(self, s: Any) -> Any:
        t, w = self.num_training_steps, self.num_warmup_steps
        pct_remaining = 1 - (s - w) / max(1, t - w)
        return (1.0 - self.end_ratio) * pct_remaining**self.power + self.end_ratio


@dataclass(frozen=True)
class InverseSqrt(Schedule):
    """Inverse square root: ``f = 1 / sqrt((s + tau - W) / tau)`` after warmup.

    ``tau = timescale`` (default ``W``, or 10,000 without warmup), as transformers'
    ``inverse_sqrt``; held after ``T``.

    >>> InverseSqrt(num_training_steps=100, num_warmup_steps=4)(16)
    0.5
    """

    timescale: int | None = None
    kind: ClassVar[str] = "inverse_sqrt"

    def _validate(self) -> None:
        if self.timescale is None:
            object.__setattr__(self, "timescale", self.num_warmup_steps or 10_000)
        object.__setattr__(self, "timescale", check_int("timescale", self.timescale, minimum=1))

    def _main(self, s: float) -> float:
        tau = self.timescale
        return 1.0 / math.sqrt((s + (tau - self.num_warmup_steps)) / tau)

    def _main_v(self, s: Any) -> Any:
        import numpy as np

        tau = self.timescale
        return 1.0 / np.sqrt((s + (tau - self.num_warmup_steps)) / tau)


@dataclass(frozen=True)
class Noam(Schedule):
    """Noam (Vaswani et al. 2017): linear warmup, then inverse square root of the step.

    Normalised (default, ``d_model=None``): ``f = min(s / W, sqrt(W / s))``, peak 1 at
    ``s = W``; use with the optimizer's LR as the peak LR.

    Absolute (``d_model`` given): ``f = factor * d_model**-0.5 * min(s**-0.5, s * W**-1.5)``,
    the Annotated Transformer's rate; use with optimizer ``lr=1.0``. Unlike that code,
    ``f(0) = 0`` here (it evaluates step 0 as step 1).

    >>> Noam(num_training_steps=100, num_warmup_steps=4)(16)
    0.5
    >>> round(Noam(num_training_steps=8000, num_warmup_steps=4000, d_model=512)(4000), 8)
    0.00069877
    """

    d_model: int | None = None
    factor: float = 1.0
    kind: ClassVar[str] = "noam"

    @property
    def normalised(self) -> bool:  # type: ignore[override]
        return self.d_model is None

    def _validate(self) -> None:
        if self.num_warmup_steps < 1:
            raise ValueError(
                f"noam needs num_warmup_steps >= 1 (its peak is at the end of warmup), got {self.num_warmup_steps}"
            )
        if self.d_model is not None:
            object.__setattr__(self, "d_model", check_int("d_model", self.d_model, minimum=1))
        object.__setattr__(self, "factor", check_float("factor", self.factor, minimum=0.0, min_inclusive=False))
        if self.d_model is None and self.factor != 1.0:
            raise ValueError(f"factor only applies with d_model (absolute Noam rate), got factor={self.factor!r}")

    def _scale(self) -> float:
        if self.d_model is None:
            return 1.0
        return self.factor * self.d_model**-0.5 * self.num_warmup_steps**-0.5

    def _warm(self, s: float) -> float:
        return self._scale() * super()._warm(s)

    def _warm_v(self, s: Any) -> Any:
        return self._scale() * super()._warm_v(s)

    def _main(self, s: float) -> float:
        return self._scale() * math.sqrt(self.num_warmup_steps / s)

    def _main_v(self, s: Any) -> Any:
        import numpy as np

        return self._scale() * np.sqrt(self.num_warmup_steps / s)


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
        object.__setattr__(self, "num_cycles", check_float("num_cycles", self.num_cycles, minimum=0.0, min_inclusive=False))
        object.__setattr__(self, "min_lr_ratio", check_float("min_lr_ratio", self.min_lr_ratio, minimum=0.0, maximum=1.0))
        if self.warmup_lr_rate is not None:
            object.__setattr__(
                self, "warmup_lr_rate", check_float("warmup_lr_rate", self.warmup_lr_rate, minimum=0.0, maximum=1.0)
            )

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
        object.__setattr__(self, "num_stable_steps", check_int("num_stable_steps", self.num_stable_steps, minimum=0))
        check_choice("decay_type", self.decay_type, WSD_DECAY_TYPES)
        object.__setattr__(self, "min_lr_ratio", check_float("min_lr_ratio", self.min_lr_ratio, minimum=0.0, maximum=1.0))
        object.__setattr__(self, "num_cycles", check_float("num_cycles", self.num_cycles, minimum=0.0, min_inclusive=False))

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
