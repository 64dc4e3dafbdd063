"""``WarmupScheduler``: a warmup ramp multiplied into any torch LR scheduler, with exact resume.

The inner scheduler's own LRs are kept apart and put back before each inner ``step()``, so a
recursive one (``StepLR``, ``ReduceLROnPlateau``) never compounds the warmup factor; the state
holds them, so a resumed run continues with exactly the LRs of an uninterrupted one.
"""

from __future__ import annotations

import warnings
from typing import Any

import torch
from torch.optim.lr_scheduler import LRScheduler

from .checks import check_choice, check_float, check_int
from .handover import checkpoint_lrs
from .handover import set_group_lr as _set_lr
from .warmup import WARMUP_SHAPES, warmup_factor

__all__ = ["WarmupScheduler"]

_STATE_FORMAT = "hf_sched.WarmupScheduler/1"


class WarmupScheduler(LRScheduler):
    """Warmup around any torch scheduler: ``lr_g(s) = inner_lr_g(s) * w(s)``.

    ``w(s)`` is :func:`~hf_sched.schedule.warmup_ramp` for ``s < W``, ``1`` after; ``s`` counts
    :meth:`step` calls, whose arguments go to the inner ``step``. ``strict``: refuse a checkpoint
    with other warmup settings (``False``: warn and take them).

    >>> import torch
    >>> opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    >>> inner = torch.optim.lr_scheduler.ExponentialLR(opt, gamma=0.5)
    >>> sched = WarmupScheduler(inner, 4)
    >>> lrs = []
    >>> for _ in range(6):
    ...     lrs.append(sched.get_last_lr()[0]); opt.step(); sched.step()
    >>> lrs    # 0.5 ** s * min(1, s / 4)
    [0.0, 0.125, 0.125, 0.09375, 0.0625, 0.03125]
    """

    def __init__(self, scheduler: Any, warmup_steps: int, *, warmup_start: float = 0.0, warmup_shape: str = "linear",
                 strict: bool = True) -> None:
        optimizer = getattr(scheduler, "optimizer", None)
        if not isinstance(optimizer, torch.optim.Optimizer) or not callable(getattr(scheduler, "step", None)):
            raise TypeError("scheduler must be a torch LR scheduler (with .optimizer and .step()), got "
                            f"{type(scheduler).__name__}")
        if isinstance(scheduler, WarmupScheduler):
            raise TypeError("scheduler is already a WarmupScheduler; wrap the inner scheduler once")
        self.scheduler = scheduler
        self.optimizer = optimizer
        self._set_warmup(warmup_steps, warmup_start, warmup_shape)
        self.strict = strict
        self._inner_lrs = [float(g["lr"]) for g in optimizer.param_groups]
        self.base_lrs = [float(b) for b in getattr(scheduler, "base_lrs", self._inner_lrs)]
        self.last_epoch = 0
        self._step_count = 1
        self._last_lr: list[float] = []  # type: ignore[assignment]
        self._apply()

    def _set_warmup(self, steps: Any, start: Any, shape: Any) -> None:
        self.warmup_steps = check_int("warmup_steps", steps, minimum=0)
        self.warmup_start = check_float("warmup_start", start, minimum=0.0, maximum=1.0)
        self.warmup_shape = check_choice("warmup_shape", shape, WARMUP_SHAPES)

    def warmup_multiplier(self, step: int | None = None) -> float:
        """``w(s)`` at ``step`` (default: the current step).

        >>> import torch
        >>> opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
        >>> WarmupScheduler(torch.optim.lr_scheduler.ConstantLR(opt, factor=1.0), 4).warmup_multiplier(1)
        0.25
        """
        s = self.last_epoch if step is None else step
        return 1.0 if s >= self.warmup_steps else warmup_factor(s, self.warmup_steps, self.warmup_start,
                                                                  self.warmup_shape)

    def _apply(self) -> None:
        w = self.warmup_multiplier()
        lrs = [lr * w for lr in self._inner_lrs]
        for group, lr in zip(self.optimizer.param_groups, lrs):
            _set_lr(group, lr)
        self._last_lr = lrs

    def step(self, *args: Any, **kwargs: Any) -> None:
        """Put the inner LRs back, step the inner scheduler, then write ``inner_lr * w(s + 1)``."""
        for group, lr in zip(self.optimizer.param_groups, self._inner_lrs):
            _set_lr(group, lr)
        self.scheduler.step(*args, **kwargs)
        self._inner_lrs = [float(g["lr"]) for g in self.optimizer.param_groups]
        self.last_epoch += 1
        self._step_count += 1
        self._apply()

    def get_last_lr(self) -> list[float]:  # type: ignore[override]
        """LRs written by the last :meth:`step` (or at construction), ``inner_lr * w(s)``, as floats."""
        return list(self._last_lr)

    get_lr = get_last_lr  # type: ignore[assignment]  # the LRs in effect now

    @property
    def inner_lrs(self) -> list[float]:
        """The inner scheduler's own LRs (before the warmup factor)."""
        return list(self._inner_lrs)

    def _settings(self) -> dict[str, Any]:
        return {"warmup_steps": self.warmup_steps, "warmup_start": self.warmup_start,
                "warmup_shape": self.warmup_shape, "inner_type": type(self.scheduler).__name__}

    def state_dict(self) -> dict[str, Any]:
        """Format, warmup settings, step, the inner LRs and the inner scheduler's state."""
        return {"format": _STATE_FORMAT, **self._settings(), "step": int(self.last_epoch),
                "inner_lrs": [float(x) for x in self._inner_lrs], "inner": self.scheduler.state_dict()}

    def load_state_dict(self, state_dict: dict[str, Any], strict: bool | None = None) -> None:
        """Restore the inner scheduler, the inner LRs and the step; write the restored LRs."""
        strict = self.strict if strict is None else strict
        if not isinstance(state_dict, dict) or state_dict.get("format") != _STATE_FORMAT:
            keys = sorted(state_dict) if isinstance(state_dict, dict) else type(state_dict).__name__
            raise ValueError(f"state_dict is not a WarmupScheduler state (format {_STATE_FORMAT!r}); got keys {keys}. "
                             "Was the checkpoint written by another scheduler?")
        inner_lrs = checkpoint_lrs(state_dict, self.optimizer)
        mine = self._settings()
        inner_type = mine.pop("inner_type")
        if state_dict.get("inner_type") != inner_type:
            raise ValueError(f"the checkpoint wraps a {state_dict.get('inner_type')!r} scheduler, this WarmupScheduler "
                             f"wraps a {inner_type!r}: build the same inner scheduler before loading")
        changed = [f"{k}: {state_dict.get(k)!r} -> {v!r}" for k, v in mine.items() if state_dict.get(k) != v]
        if changed:
            msg = f"the warmup differs from the checkpoint's (checkpoint -> now): {', '.join(changed)}"
            if strict:
                raise ValueError(msg + "; rebuild the same warmup and inner scheduler, or load with strict=False")
            warnings.warn(msg + "; continuing with the checkpoint's warmup (strict=False)", stacklevel=2)
            self._set_warmup(state_dict["warmup_steps"], state_dict["warmup_start"], state_dict["warmup_shape"])
        self.scheduler.load_state_dict(state_dict["inner"])
        self._inner_lrs = inner_lrs
        self.last_epoch = check_int("step", state_dict["step"], minimum=0)
        self._apply()

    def __repr__(self) -> str:
        return (f"WarmupScheduler({type(self.scheduler).__name__}, step={self.last_epoch}, warmup_steps="
                f"{self.warmup_steps}, warmup_start={self.warmup_start}, warmup_shape={self.warmup_shape!r})")
