"""Resuming a run whose schedule changed: one rule and one wording for every tool.

A checkpoint holds the schedule it was trained with (``ScheduledLR.state_dict()``: the
step and each param group's schedule spec). When a run resumes from it with a schedule
that differs (a changed batch size, number of epochs or ``max_steps``, processes, data,
warmup, name or argument), the tools hf_sched plugs into do the same thing:

* **strict** (the default): refuse with ``ValueError``. The message says what changed
  (``num_training_steps: 12 -> 6``), where the total comes from in *that* tool, and the
  exact flag or argument *of that tool* that opts out.
* **not strict** (that flag): warn and continue **with the checkpoint's schedule** from
  the checkpoint's step, as ``ScheduledLR(strict=False)`` does. The LR curve stays the one
  the checkpoint was trained on; the run's length is the tool's (the Trainer still stops at
  its own ``max_steps``; past the schedule's end the LR holds its final value).

>>> old = {"kind": "cosine", "num_training_steps": 12, "num_warmup_steps": 2}
>>> new = {"kind": "cosine", "num_training_steps": 6, "num_warmup_steps": 1}
>>> schedule_change([old], [new])
'num_training_steps: 12 -> 6, num_warmup_steps: 2 -> 1'
>>> resume_refusal("checkpoint-6", schedule_change([old], [new]), total="T comes from max_steps",
...                opt_out="pass strict=False")[:60]
'cannot resume: the LR schedule of this run differs from the '
"""

from __future__ import annotations

import logging
import warnings
from typing import Any, Callable, Optional, Sequence

from ..lr_scheduler import ScheduledLR, describe_spec_change
from ..resume_modes import resolve_mode

logger = logging.getLogger(__name__)

__all__ = ["schedule_change", "resume_refusal", "resume_warning", "HintedScheduledLR", "hinted_scheduler"]


def schedule_change(theirs: Sequence[dict[str, Any]], mine: Sequence[dict[str, Any]]) -> Optional[str]:
    """What differs between the checkpoint's schedule specs and this run's, or ``None``.

    One description when every param group changed alike, else ``group i: ...`` parts.
    """
    if len(theirs) != len(mine):
        return f"param groups: {len(theirs)} -> {len(mine)}"
    changes = [(i, describe_spec_change(a, b)) for i, (a, b) in enumerate(zip(theirs, mine)) if a != b]
    if not changes:
        return None
    if len(changes) == len(mine) and all(c == changes[0][1] for _, c in changes):
        return changes[0][1]
    return "; ".join(f"group {i}: {c}" for i, c in changes)


def resume_refusal(where: str, what: str, *, total: str, opt_out: str) -> str:
    """The one refusal message: what changed, where the total comes from, the tool's opt-out."""
    return (
        f"cannot resume: the LR schedule of this run differs from the one in {where} (checkpoint -> now): {what}. "
        f"{total}; one of them changed. Resuming would silently stretch or cut the schedule. Resume with the same "
        f"settings, or {opt_out} to continue with the checkpoint's schedule"
    )


def resume_warning(where: str, what: str, *, flag: str, step: int) -> str:
    """The one warning when the opt-out is set."""
    return (
        f"resuming anyway ({flag}): the LR schedule of this run differs from the one in {where} "
        f"(checkpoint -> now): {what}; continuing with the checkpoint's schedule from step {step}"
    )


class HintedScheduledLR(ScheduledLR):
    """A :class:`~hf_sched.lr_scheduler.ScheduledLR` whose resume refusal names the tool's opt-out.

    Only :meth:`load_state_dict` differs: a changed schedule is refused with
    :func:`resume_refusal` (``where()`` names the checkpoint, ``total`` says where this
    tool's total comes from, ``opt_out`` is the tool's flag), or, with ``strict=False``,
    warned about with :func:`resume_warning` and continued with the checkpoint's schedule.

    >>> import torch
    >>> from hf_sched.schedules import Linear
    >>> opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    >>> s = HintedScheduledLR(opt, Linear(num_training_steps=4, num_warmup_steps=0),
    ...                       opt_out="pass strict_resume=False", total="T from max_steps")
    >>> s.load_state_dict(s.state_dict()); s.get_last_lr()
    [0.1]
    """

    def __init__(
        self,
        optimizer: Any,
        schedule: Any,
        *,
        opt_out: str,
        total: str,
        flag: str = "strict=False",
        where: Optional[Callable[[], str]] = None,
        **kwargs: Any,
    ) -> None:
        self.resume_opt_out = opt_out
        self.resume_total = total
        self.resume_flag = flag
        self._resume_where = where
        super().__init__(optimizer, schedule, **kwargs)

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        state["_resume_where"] = None  # a closure over the tool's trainer: not pickled ("the checkpoint")
        return state

    def load_state_dict(self, state_dict: dict[str, Any], strict: Optional[bool] = None, *,
                        resume: Optional[str] = None, at_step: Optional[int] = None) -> None:
        mode = self.resume_mode if strict is None and resume is None else resolve_mode(strict, resume)
        strict = mode == "strict"
        specs = state_dict.get("schedules") if isinstance(state_dict, dict) else None
        what = None
        if isinstance(specs, list):
            what = schedule_change(specs, [s.to_dict() for s in self.schedules])
        if what is not None and not what.startswith("param groups"):
            where = self._resume_where() if self._resume_where is not None else "the checkpoint"
            if strict:
                total = f"{self.resume_total} (now T={self.schedules[0].num_training_steps})"
                raise ValueError(resume_refusal(where, what, total=total, opt_out=self.resume_opt_out))
            if mode == "checkpoint":
                msg = resume_warning(where, what, flag=self.resume_flag, step=int(state_dict.get("step", 0)))
                # Logged as well: transformers' Trainer swallows UserWarnings raised while it loads a scheduler.
                warnings.warn(msg, UserWarning, stacklevel=2)
                logger.warning(msg)
        with warnings.catch_warnings():
            # ScheduledLR's own warning: said above, in this tool's words
            warnings.filterwarnings("ignore", message="the schedule differs from the checkpoint's", category=UserWarning)
            super().load_state_dict(state_dict, resume=mode, at_step=at_step)


def hinted_scheduler(
    name: str,
    optimizer: Any,
    *,
    num_training_steps: int,
    warmup: Any = None,
    scheduler_kwargs: Optional[dict[str, Any]] = None,
    strict: bool = True,
    opt_out: str,
    total: str,
    flag: str,
    where: Optional[Callable[[], str]] = None,
    param: str = "name",
) -> HintedScheduledLR:
    """Build the named schedule over ``num_training_steps`` as a :class:`HintedScheduledLR`.

    ``lr_g(s) = base_lr_g * f(s)``, ``f`` the schedule ``name`` with warmup ``warmup`` (any
    request :func:`hf_sched.warmup.resolve_warmup` takes; ``None`` = 10% for schedules with
    a warmup phase). Metric-driven names are refused (they need the tool's metric hook).
    ``param`` is the name of the caller's argument, used in error messages.

    >>> import torch
    >>> opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    >>> s = hinted_scheduler("warmupcosine", opt, num_training_steps=20, opt_out="pass strict_resume=False",
    ...                      total="T from max_steps", flag="strict_resume=False")
    >>> s.schedules[0].num_warmup_steps, s.get_last_lr()
    (2, [0.0])
    """
    from ..lr_scheduler import get_scheduler
    from ..registry import get_info

    try:
        info = get_info(name)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{param}={name!r} is invalid: {exc}") from None
    if info.adaptive:
        raise ValueError(
            f"{param}={name!r} is metric-driven (stepped with an eval metric), which this helper cannot do; "
            "pick a schedule of the step"
        )
    # get_scheduler resolves the warmup and checks the arguments; the schedules it built move
    # into the hinted scheduler, which takes the optimizer over (one ScheduledLR per optimizer).
    plain = get_scheduler(
        info.name, optimizer, num_warmup_steps=warmup, num_training_steps=num_training_steps,
        scheduler_specific_kwargs=dict(scheduler_kwargs or {}),
    )
    schedule = plain.schedules[0] if all(s is plain.schedules[0] for s in plain.schedules) else list(plain.schedules)
    return HintedScheduledLR(optimizer, schedule, strict=strict, opt_out=opt_out, total=total, flag=flag, where=where)
