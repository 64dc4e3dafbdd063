"""Resuming a run whose schedule changed: one rule and one wording for every tool.

A checkpoint holds the schedule it was trained with (``ScheduledLR.state_dict()``: the
step, each param group's schedule spec, its peak LRs, and the examples seen). When a run
resumes from it with a schedule that differs (a changed batch size, number of epochs or
``max_steps``, processes, data, warmup, name or argument, peak LR or weight decay), the
tools hf_sched plugs into follow the resume mode (:mod:`hf_sched.resume_modes`), named the
same everywhere and typed the tool's way (``--lr_scheduler_resume rescale``,
``resume="rescale"``):

* **strict** (the default): refuse with ``ValueError``. The message says what changed
  (``num_training_steps: 12 -> 6``), where the total comes from in *that* tool, and the
  other modes as a user of *that tool* types them.
* **checkpoint** (the older ``strict=False`` flags): warn and continue **with the
  checkpoint's schedule** from the checkpoint's step. The run's length is the tool's (the
  Trainer still stops at its own ``max_steps``; past the schedule's end the LR holds its
  final value).
* **rescale** / **replan**: :class:`~hf_sched.lr_scheduler.ScheduledLR`'s plans; the line
  they print says what happened to the LR.

>>> old = {"kind": "cosine", "num_training_steps": 12, "num_warmup_steps": 2}
>>> new = {"kind": "cosine", "num_training_steps": 6, "num_warmup_steps": 1}
>>> schedule_change([old], [new])
'num_training_steps: 12 -> 6, num_warmup_steps: 2 -> 1'
>>> resume_refusal("checkpoint-6", schedule_change([old], [new]), total="T comes from max_steps",
...                how="--lr_scheduler_resume {mode}")[:60]
'cannot resume: the LR schedule of this run differs from the '
"""

from __future__ import annotations

import logging
import warnings
from typing import Any, Callable, Optional, Sequence

from ..checks import ResumeRefused
from ..lr_scheduler import ScheduledLR, describe_spec_change
from ..resume_modes import other_modes, resolve_mode

logger = logging.getLogger(__name__)

__all__ = ["schedule_change", "resume_changes", "resume_refusal", "resume_warning", "HintedScheduledLR",
           "hinted_scheduler"]


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


def _values_change(label: str, old: Sequence[Any], new: Sequence[Any]) -> Optional[str]:
    """``"label: a -> b"`` (one value when every group agrees, else the lists), or ``None``."""
    if list(old) == list(new):
        return None
    if len(set(old)) == 1 and len(set(new)) == 1:
        return f"{label}: {old[0]!r} -> {new[0]!r}"
    return f"{label}: {list(old)!r} -> {list(new)!r}"


def resume_changes(state: dict[str, Any], sched: ScheduledLR) -> Optional[str]:
    """Everything a checkpoint's scheduler ``state`` and this run's ``sched`` disagree on, or ``None``:
    the schedule specs (:func:`schedule_change`), the peak LRs and the recorded weight decays.

    >>> import torch
    >>> from hf_sched import get_scheduler
    >>> old = get_scheduler("cosine", torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))], lr=1e-3),
    ...                     num_training_steps=12).state_dict()
    >>> new = get_scheduler("cosine", torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))], lr=2e-3,
    ...                     weight_decay=0.1), num_training_steps=12)
    >>> resume_changes(old, new)
    'peak LR: 0.001 -> 0.002; weight decay: 0.01 -> 0.1'
    """
    parts = [schedule_change(state.get("schedules", []), [s.to_dict() for s in sched.schedules]),
             _values_change("peak LR", [float(b) for b in state.get("base_lrs", sched.base_lrs)], sched.base_lrs)]
    old_decays, new_decays = state.get("weight_decays"), sched.planned_weight_decays
    if old_decays is not None and None not in old_decays and None not in new_decays:
        parts.append(_values_change("weight decay", [float(d) for d in old_decays], new_decays))
    return "; ".join(p for p in parts if p) or None


def resume_refusal(where: str, what: str, *, total: str, how: str) -> str:
    """The one refusal message: what changed, where the total comes from, the other modes as ``how`` types them."""
    return (
        f"cannot resume: the LR schedule of this run differs from the one in {where} (checkpoint -> now): {what}. "
        f"{total}; one of them changed. Resuming would silently stretch or cut the schedule. Resume with the same "
        f"settings, or choose a resume mode: {other_modes('strict', how)}"
    )


def resume_warning(where: str, what: str, *, flag: str, step: int) -> str:
    """The one warning of the checkpoint mode."""
    return (
        f"resuming anyway ({flag}): the LR schedule of this run differs from the one in {where} "
        f"(checkpoint -> now): {what}; continuing with the checkpoint's schedule from step {step}"
    )


class HintedScheduledLR(ScheduledLR):
    """A :class:`~hf_sched.lr_scheduler.ScheduledLR` whose resume messages are in the tool's words.

    Only :meth:`load_state_dict` differs: in the strict mode a changed schedule is refused with
    :func:`resume_refusal` (``where()`` names the checkpoint, ``total`` says where this tool's
    total comes from, ``how`` formats a mode as this tool's user types it); in the checkpoint
    mode it is warned about with :func:`resume_warning` (``flag`` names the setting).
    ``at_step(state)`` is the step a rescaled run resumes at when the tool's loop resumes its
    own step count there (a Trainer: the checkpoint's step); ``None``: as a plain loop (examples
    seen, else the fraction of steps).

    >>> import torch
    >>> from hf_sched.schedules import Linear
    >>> opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    >>> s = HintedScheduledLR(opt, Linear(num_training_steps=4, num_warmup_steps=0),
    ...                       how='resume="{mode}"', total="T from max_steps")
    >>> s.load_state_dict(s.state_dict()); s.get_last_lr()
    [0.1]
    """

    def __init__(
        self,
        optimizer: Any,
        schedule: Any,
        *,
        how: str,
        total: str,
        flag: str = "strict=False",
        where: Optional[Callable[[], str]] = None,
        at_step: Optional[Callable[[dict[str, Any]], Optional[int]]] = None,
        **kwargs: Any,
    ) -> None:
        self.resume_hint = how
        self.resume_total = total
        self.resume_flag = flag
        self._resume_where = where
        self._resume_at_step = at_step
        super().__init__(optimizer, schedule, **kwargs)

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        # closures over the tool's trainer: not pickled ("the checkpoint"; a plain loop's step)
        state["_resume_where"] = state["_resume_at_step"] = None
        return state

    def load_state_dict(self, state_dict: dict[str, Any], strict: Optional[bool] = None, *,
                        resume: Optional[str] = None, at_step: Optional[int] = None) -> None:
        mode = self.resume_mode if strict is None and resume is None else resolve_mode(strict, resume)
        self._validate_state(state_dict)
        what = None if self.decay_from_here is not None else resume_changes(state_dict, self)
        if what is not None and not what.startswith("param groups"):
            where = self._resume_where() if self._resume_where is not None else "the checkpoint"
            if mode == "strict":
                total = f"{self.resume_total} (now T={self.schedules[0].num_training_steps})"
                raise ResumeRefused(resume_refusal(where, what, total=total, how=self.resume_hint))
            if mode == "checkpoint":
                msg = resume_warning(where, what, flag=self.resume_flag, step=int(state_dict.get("step", 0)))
                # Logged as well: transformers' Trainer swallows UserWarnings raised while it loads a scheduler.
                warnings.warn(msg, UserWarning, stacklevel=2)
                logger.warning(msg)
        if at_step is None and mode == "rescale" and self._resume_at_step is not None:
            at_step = self._resume_at_step(state_dict)
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
    resume: str = "strict",
    how: str,
    total: str,
    flag: str,
    where: Optional[Callable[[], str]] = None,
    at_step: Optional[Callable[[dict[str, Any]], Optional[int]]] = None,
    param: str = "name",
    **options: Any,
) -> HintedScheduledLR:
    """Build the named schedule over ``num_training_steps`` as a :class:`HintedScheduledLR`.

    ``lr_g(s) = base_lr_g * f(s)``, ``f`` the schedule ``name`` with warmup ``warmup`` (any
    request :func:`hf_sched.warmup.resolve_warmup` takes; ``None`` = 10% for schedules with
    a warmup phase). Metric-driven names are refused (they need the tool's metric hook).
    ``param`` is the name of the caller's argument, used in error messages; ``options`` go to
    the scheduler (``examples_per_step``, ``decay_from_here``).

    >>> import torch
    >>> opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    >>> s = hinted_scheduler("warmupcosine", opt, num_training_steps=20, how='resume="{mode}"',
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
    return HintedScheduledLR(optimizer, schedule, resume=resume, how=how, total=total, flag=flag, where=where,
                             at_step=at_step, **options)
