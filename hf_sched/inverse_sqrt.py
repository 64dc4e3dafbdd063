"""Inverse-square-root decays: ``f`` falls as ``1 / sqrt(step)`` after the warmup."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from .checks import check_float, check_int
from .schedule import SCALAR, Schedule

__all__ = ["InverseSqrt", "Noam", "SquareRoot"]


@dataclass(frozen=True)
class InverseSqrt(Schedule):
    """Inverse square root: ``f = 1 / sqrt((s + tau - W) / tau)`` after warmup.

    ``tau = timescale`` (default ``W``, or 10,000 without warmup), as transformers' ``inverse_sqrt``.

    >>> InverseSqrt(num_training_steps=100, num_warmup_steps=4)(16)
    0.5
    """

    timescale: int | None = None
    kind: ClassVar[str] = "inverse_sqrt"

    def _validate(self) -> None:
        if self.timescale is None:
            object.__setattr__(self, "timescale", self.num_warmup_steps or 10_000)
        self._check("timescale", check_int, minimum=1)

    def _shape(self, s: Any, xp: Any = SCALAR) -> Any:
        tau: int = self.timescale  # type: ignore[assignment]  # set in _validate
        return 1.0 / xp.sqrt((s + (tau - self.num_warmup_steps)) / tau)


@dataclass(frozen=True)
class Noam(Schedule):
    """Noam (Vaswani et al. 2017): linear warmup, then inverse square root of the step.

    Normalised (``d_model=None``): ``f = min(s / W, sqrt(W / s))``, peak 1 at ``s = W``.
    Absolute: ``f = factor * d_model**-0.5 * min(s**-0.5, s * W**-1.5)`` (use ``lr=1.0``).

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
            raise ValueError("noam needs num_warmup_steps >= 1 (its peak is at the end of warmup), got "
                             f"{self.num_warmup_steps}")
        if self.d_model is not None:
            self._check("d_model", check_int, minimum=1)
        self._check("factor", check_float, minimum=0.0, min_inclusive=False)
        if self.d_model is None and self.factor != 1.0:
            raise ValueError(f"factor only applies with d_model (absolute Noam rate), got factor={self.factor!r}")

    def _scale(self) -> float:
        if self.d_model is None:
            return 1.0
        return self.factor * self.d_model**-0.5 * self.num_warmup_steps**-0.5

    def _warm(self, s: Any, xp: Any = SCALAR) -> Any:
        return self._scale() * super()._warm(s, xp)

    def _shape(self, s: Any, xp: Any = SCALAR) -> Any:
        return self._scale() * xp.sqrt(self.num_warmup_steps / s)


@dataclass(frozen=True)
class SquareRoot(Schedule):
    """d2l's square-root decay: ``f(s) = (s - W + 1) ** -0.5`` after warmup.

    With ``W = 0``, ``lr * f(s)`` is d2l's ``SquareRootScheduler(lr)(s)`` exactly.

    >>> s = SquareRoot(num_training_steps=100, num_warmup_steps=4)
    >>> s(2), s(4), s(7)
    (0.5, 1.0, 0.5)
    """

    kind: ClassVar[str] = "squareroot"

    def _shape(self, s: Any, xp: Any = SCALAR) -> Any:
        return 1.0 / xp.sqrt(s - self.num_warmup_steps + 1.0)
