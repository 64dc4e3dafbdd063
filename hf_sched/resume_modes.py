"""Resume modes: what a run does when the checkpoint's schedule is not the one it built.

Four modes, named the same in every tool (``resume=`` in Python, ``--lr_scheduler_resume``
on command lines):

* ``strict`` (default): refuse any change (total, warmup, shape, peak LR, weight decay).
* ``checkpoint``: the checkpoint's schedules and peak LRs from its step (``strict=False``).
* ``rescale``: the checkpoint's plan (shape, peak) over this run's budget ``T_new``, at the
  same fraction of training. Resumed at step ``s1`` (``s0`` in the checkpoint, ``T_old`` its
  total) the multiplier is ``g(s) = f_old(x(s))`` with (:class:`Rescaled`)::

      x(s) = s0 + (s - s1) * (T_old - s0) / (T_new - s1)     for s >= s1
      x(s) = s * s0 / s1                                     for s <  s1 (the past, for plots)

  continuous at ``s1`` and reaching ``f_old(T_old)``, the final value, at ``T_new``. When the
  global batch doubled and the data divide evenly, this is the old curve at the same examples
  seen. ``s1`` comes from the caller (the Trainer's ``global_step``), else from examples seen
  (``examples_seen / examples_per_step``), else from the fraction of steps (:func:`rescale_step`).
* ``replan``: this run's schedules and peak LRs from the checkpoint's step; the LR jump is
  printed (:func:`lr_jump_line`).

Pure: no torch here (:class:`hf_sched.lr_scheduler.ScheduledLR` applies the plans).

>>> check_resume_mode("Re-Scale")
'rescale'
>>> from hf_sched.schedules import Linear
>>> old = Linear(num_training_steps=100)                 # 1 -> 0 over 100 steps
>>> new = rescaled(old, from_step=40, at_step=20, num_training_steps=50)   # batch doubled at step 40
>>> [round(new(s), 12) == round(old(2 * s), 12) for s in (20, 30, 50)]
[True, True, True]
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from .checks import ResumeRefused, check_int
from .compose import _parts
from .horizon import decay_from_here
from .schedule import SCALAR, Schedule
from .warmup import UNBOUNDED_STEPS

__all__ = [
    "MODE_HELP", "RESUME_MODES", "Checkpointed", "Planned", "ResumePlan", "Rescaled", "check_resume_mode",
    "describe_spec_change", "lr_jump_line", "mode_from_strict", "other_modes", "plan_resume", "rescale_step", "rescaled",
    "resolve_mode", "schedule_changes",
]

RESUME_MODES = ("strict", "checkpoint", "rescale", "replan")
#: One line per mode, as the refusals and the docs say it.
MODE_HELP = {
    "strict": "refuse a checkpoint whose schedule, peak LR or weight decay differs (the default)",
    "checkpoint": "the checkpoint's schedule and peak LR from its step, as strict=False",
    "rescale": "the checkpoint's plan over this run's budget, at the same fraction of training (in examples seen "
               "where known): other hardware, batch size, processes, accumulation",
    "replan": "this run's schedule, peak LR and weight decay from the checkpoint's step; the LR jump is printed",
}


def check_resume_mode(value: Any, *, name: str = "resume") -> str:
    """``value`` as one of :data:`RESUME_MODES` (case, ``-`` and ``_`` ignored), else a one-line ``ValueError``.

    >>> check_resume_mode("CHECKPOINT")
    'checkpoint'
    """
    key = "".join(ch for ch in value.lower() if ch not in "-_ ") if isinstance(value, str) else None
    if key not in RESUME_MODES:
        modes = "; ".join(f"{m!r}: {MODE_HELP[m]}" for m in RESUME_MODES)
        raise ValueError(f"{name}={value!r} is not a resume mode; allowed: {modes}")
    return key


def mode_from_strict(strict: bool) -> str:
    """``True`` -> ``"strict"``, ``False`` -> ``"checkpoint"`` (the older spelling of the two modes).

    >>> mode_from_strict(False)
    'checkpoint'
    """
    if not isinstance(strict, bool):
        raise TypeError(f"strict must be True or False, got {strict!r} ({type(strict).__name__})")
    return "strict" if strict else "checkpoint"


def resolve_mode(strict: bool | None, resume: Any, *, default: str = "strict", strict_name: str = "strict",
                 resume_name: str = "resume") -> str:
    """The one mode of ``strict`` and ``resume`` (either may be ``None``); giving both in contradiction is an error.

    >>> resolve_mode(None, None), resolve_mode(False, None), resolve_mode(True, "strict"), resolve_mode(None, "replan")
    ('strict', 'checkpoint', 'strict', 'replan')
    """
    by_strict = None if strict is None else mode_from_strict(strict)
    mode = None if resume is None else check_resume_mode(resume, name=resume_name)
    if by_strict is not None and mode is not None and by_strict != mode:
        raise ValueError(f"{strict_name}={strict!r} and {resume_name}={resume!r} contradict each other: "
                         f"{strict_name}={strict!r} means {resume_name}={by_strict!r}; give only {resume_name}")
    return mode or by_strict or check_resume_mode(default, name=resume_name)


def other_modes(current: str, how: str = 'resume="{mode}"') -> str:
    """The other modes in the words a user types (``how`` formats a mode), with one line each.

    >>> print(other_modes("strict", "--lr_scheduler_resume {mode}").split(";")[0])
    --lr_scheduler_resume checkpoint (the checkpoint's schedule and peak LR from its step, as strict=False)
    """
    return "; ".join(f"{how.format(mode=m)} ({MODE_HELP[m]})" for m in RESUME_MODES if m not in (current, "strict"))


def lr_jump_line(old_lr: float | None, new_lr: float, step: int) -> str:
    """``"LR 3.1e-05 -> 4.6e-05 at step 600"``: what replan changes at the resumed step (``?``: unknown).

    >>> lr_jump_line(3.1e-05, 4.6e-05, 600)
    'LR 3.1e-05 -> 4.6e-05 at step 600'
    """
    old = "?" if old_lr is None else f"{old_lr:.3g}"
    return f"LR {old} -> {new_lr:.3g} at step {step}"


@dataclass(frozen=True)
class Rescaled(Schedule):
    """The checkpoint's schedule warped onto a new total: ``g(s) = f(x(s))`` (module docs).

    ``schedules`` holds the one warped schedule ``f`` (total ``T_old``), ``resumed_from`` is its
    step ``s0``, ``resumed_at`` the new run's step ``s1``, ``num_training_steps`` the new total.

    >>> from hf_sched.schedules import Cosine, schedule_from_dict
    >>> r = Rescaled(60, schedules=(Cosine(100, 10),), resumed_from=40, resumed_at=20)
    >>> r(20) == Cosine(100, 10)(40), r(60) == Cosine(100, 10)(100), schedule_from_dict(r.to_dict()) == r
    (True, True, True)
    """

    schedules: tuple[Schedule, ...] = ()
    resumed_from: int = 0
    resumed_at: int = 0
    kind: ClassVar[str] = "rescaled"

    def _validate(self) -> None:
        if self.num_warmup_steps:
            raise ValueError(f"a rescaled schedule has no warmup of its own (the warped one carries it), got "
                             f"num_warmup_steps={self.num_warmup_steps}")
        parts = _parts("schedules", self.schedules)
        if len(parts) != 1:
            raise ValueError(f"schedules of a rescaled schedule must hold exactly one schedule, got {len(parts)}")
        t_old, t_new = parts[0].num_training_steps, self.num_training_steps
        s0 = check_int("resumed_from", self.resumed_from, minimum=0, maximum=t_old)
        s1 = check_int("resumed_at", self.resumed_at, minimum=0)
        if s1 >= t_new:
            raise ValueError(f"resumed_at must be < num_training_steps={t_new} (steps left to rescale onto), got {s1}")
        object.__setattr__(self, "schedules", parts)
        object.__setattr__(self, "resumed_from", s0)
        object.__setattr__(self, "resumed_at", s1)

    @property
    def normalised(self) -> bool:  # type: ignore[override]
        return self.schedules[0].normalised

    def _shape(self, s: Any, xp: Any = SCALAR) -> Any:
        inner, s0, s1 = self.schedules[0], self.resumed_from, self.resumed_at
        t_old, t_new = inner.num_training_steps, self.num_training_steps
        # products before the division: when the batch doubled, every x is an exact integer
        ahead = s0 + (s - s1) * (t_old - s0) / (t_new - s1)
        if xp is SCALAR:
            x = ahead if s >= s1 else s * s0 / s1
        else:
            import numpy as np

            x = np.where(s >= s1, ahead, s * s0 / max(s1, 1))
        return inner._eval(x, xp)


def rescaled(old: Schedule, *, from_step: int, at_step: int, num_training_steps: int,
             how: str = "resume='{mode}'") -> Schedule:
    """``old`` (checkpointed at ``from_step``) continued from ``at_step`` to end at ``num_training_steps``.

    The identity warp (same step, same total) gives ``old`` itself, so a rescaled run's own
    checkpoint resumes exactly without nesting.

    >>> from hf_sched.schedules import Linear
    >>> rescaled(Linear(10), from_step=4, at_step=4, num_training_steps=10) == Linear(10)
    True
    """
    if old.num_training_steps >= UNBOUNDED_STEPS or num_training_steps >= UNBOUNDED_STEPS:
        which = "the checkpoint's" if old.num_training_steps >= UNBOUNDED_STEPS else "this run's"
        raise ResumeRefused(f"resume='rescale' needs a schedule with a total: {which} {old.kind!r} schedule runs without "
                         "one (num_training_steps unset), so there is no fraction of training to keep; use "
                         f"{how.format(mode='replan')} or {how.format(mode='checkpoint')}")
    if at_step >= num_training_steps:
        raise ResumeRefused(f"resume='rescale' has nothing left to train: the run resumes at step {at_step} but this "
                         f"run's total is num_training_steps={num_training_steps}; give the run more steps, or use "
                         f"{how.format(mode='checkpoint')} or {how.format(mode='replan')}")
    if from_step == at_step and old.num_training_steps == num_training_steps:
        return old
    return Rescaled(num_training_steps, schedules=(old,), resumed_from=from_step, resumed_at=at_step)


def rescale_step(step: int, *, examples_seen: int | None, examples_per_step: int | None, old_total: int,
                 new_total: int, at_step: int | None = None, how: str = "resume='{mode}'") -> int:
    """The step ``s1`` a rescaled run resumes at.

    ``at_step`` when given; else ``floor(examples_seen / examples_per_step)`` when this run
    knows its global batch (the checkpoint must know its examples: never a guess); else
    ``round(step * new_total / old_total)`` (a loop that knows only its steps).

    >>> rescale_step(40, examples_seen=640, examples_per_step=32, old_total=100, new_total=50)
    20
    >>> rescale_step(40, examples_seen=None, examples_per_step=None, old_total=100, new_total=30)
    12
    """
    if at_step is not None:
        return check_int("at_step", at_step, minimum=0)
    if examples_per_step is not None:
        if examples_seen is None:
            raise ResumeRefused(f"resume='rescale' needs the examples the checkpoint's run had seen, and this checkpoint "
                             f"(step {step}) has no examples_seen record (written before hf_sched recorded it, or by a "
                             "loop that did not know its batch size); hf_sched will not guess where the run stands: "
                             f"use {how.format(mode='replan')} or {how.format(mode='checkpoint')}")
        return int(examples_seen // examples_per_step)
    return int(math.floor(step * new_total / old_total + 0.5))


def describe_spec_change(old: dict[str, Any], new: dict[str, Any]) -> str:
    """``"num_training_steps: 100 -> 200"`` style list of what differs between two specs.

    >>> describe_spec_change({"kind": "linear", "num_training_steps": 100}, {"kind": "linear", "num_training_steps": 200})
    'num_training_steps: 100 -> 200'
    """
    keys = list(dict.fromkeys([*old, *new]))
    parts = [f"{k}: {old.get(k, '<unset>')!r} -> {new.get(k, '<unset>')!r}" for k in keys if old.get(k) != new.get(k)]
    return ", ".join(parts).replace("'", "") if parts else "nothing"


@dataclass(frozen=True)
class ResumePlan:
    """What loading a checkpoint writes: schedules, peak LRs, weight decays (``None``: leave), step, lines."""

    schedules: tuple[Schedule, ...]
    base_lrs: tuple[float, ...]
    weight_decays: tuple[float | None, ...] | None
    step: int
    note: str | None = None      # the line printed (rescale, replan)
    warning: str | None = None   # warned once (checkpoint)


@dataclass(frozen=True)
class Checkpointed:
    """The schedule side of a checkpoint, as :func:`plan_resume` reads it (``build`` turns specs into schedules)."""

    step: int
    specs: tuple[dict[str, Any], ...]
    base_lrs: tuple[float, ...]
    build: Callable[[dict[str, Any]], Schedule]
    weight_decays: tuple[float | None, ...] | None = None
    examples_seen: int | None = None

    def schedules(self) -> tuple[Schedule, ...]:
        """The checkpoint's schedules, rebuilt (a clear ``ValueError`` if a spec cannot be)."""
        try:
            out = tuple(self.build(d) for d in self.specs)
        except (ValueError, TypeError, KeyError) as exc:
            raise ValueError(f"the checkpoint's schedule spec cannot be rebuilt: {exc}") from None
        return (out[0],) * len(out) if all(s == out[0] for s in out) else out


@dataclass(frozen=True)
class Planned:
    """This run's side: its schedules, peak LRs, weight decays and global batch in examples (``None``: unknown)."""

    schedules: tuple[Schedule, ...]
    base_lrs: tuple[float, ...]
    weight_decays: tuple[float | None, ...] | None = None
    examples_per_step: int | None = None
    #: start the checkpoint's decay at the resumed step (:func:`hf_sched.horizon.decay_from_here`)
    decay_from_here: Any = None


def schedule_changes(ckpt: Checkpointed, run: Planned) -> str | None:
    """What differs, checkpoint -> now (schedule specs, peak LRs, recorded weight decays), or ``None``.

    >>> from hf_sched.schedules import Linear
    >>> ckpt = Checkpointed(5, (Linear(10).to_dict(),), (1e-3,), Schedule.from_dict, (0.01,))
    >>> schedule_changes(ckpt, Planned((Linear(20),), (2e-3,), (0.0,)))
    'group 0: num_training_steps: 10 -> 20; group 0: peak LR (base_lrs): 0.001 -> 0.002; group 0: weight decay: 0.01 -> 0.0'
    """
    changed = [(i, describe_spec_change(old, new.to_dict()))
               for i, (old, new) in enumerate(zip(ckpt.specs, run.schedules)) if old != new.to_dict()]
    changed += [(i, f"peak LR (base_lrs): {old!r} -> {new!r}")
                for i, (old, new) in enumerate(zip(ckpt.base_lrs, run.base_lrs)) if old != new]
    if ckpt.weight_decays is not None and run.weight_decays is not None:
        changed += [(i, f"weight decay: {old!r} -> {new!r}")
                    for i, (old, new) in enumerate(zip(ckpt.weight_decays, run.weight_decays))
                    if old is not None and new is not None and old != new]
    return "; ".join(f"group {i}: {d}" for i, d in sorted(changed, key=lambda c: c[0])) or None


def plan_resume(mode: str, ckpt: Checkpointed, run: Planned, *, at_step: int | None = None,
                how: str = 'resume="{mode}"') -> ResumePlan:
    """What loading ``ckpt`` into ``run`` does in ``mode`` (module docs); strict refuses any change.

    ``how`` formats a mode the way this tool's user types it (for the refusal).

    >>> from hf_sched.schedules import Linear
    >>> ckpt = Checkpointed(40, (Linear(100).to_dict(),), (1.0,), Schedule.from_dict, examples_seen=640)
    >>> plan = plan_resume("rescale", ckpt, Planned((Linear(50),), (1.0,), examples_per_step=32))
    >>> plan.step, plan.schedules[0](20) == Linear(100)(40), plan.schedules[0](50)
    (20, True, 0.0)
    >>> plan_resume("replan", ckpt, Planned((Linear(50),), (2.0,))).note
    'LR 0.6 -> 0.4 at step 40'
    """
    mode = check_resume_mode(mode)
    if run.decay_from_here is not None:
        return _plan_decay(mode, ckpt, run)
    what = schedule_changes(ckpt, run)
    if mode == "strict" and what is not None:
        again = "" if not any(d.get("kind") == Rescaled.kind for d in ckpt.specs) else (
            f" (the checkpoint's run was itself rescaled: resume it with {how.format(mode='rescale')} again)")
        raise ResumeRefused(f"the schedule differs from the checkpoint's (checkpoint -> now): {what}. Resuming would "
                         "silently change the LR curve; rebuild the same schedule (same steps, warmup, peak LR, batch "
                         f"size, epochs), or choose a resume mode: {other_modes('strict', how)}{again}")
    if mode == "replan":
        old_lr = None
        try:
            old_lr = ckpt.base_lrs[0] * ckpt.schedules()[0](ckpt.step)
        except ValueError:
            pass  # an old spec this version cannot rebuild: the jump's start is unknown
        jumps = {(b * f(ckpt.step)) / (ckpt.base_lrs[i] or 1.0) for i, (b, f) in enumerate(zip(run.base_lrs,
                                                                                             run.schedules))}
        note = lr_jump_line(old_lr, run.base_lrs[0] * run.schedules[0](ckpt.step), ckpt.step)
        if len(jumps) > 1:  # the groups do not all move alike: the line is group 0's
            note += f" (param group 0 of {len(run.schedules)})"
        return ResumePlan(run.schedules, run.base_lrs, run.weight_decays, ckpt.step, note)
    if what is None and mode != "rescale":
        return ResumePlan(run.schedules, ckpt.base_lrs, None, ckpt.step)
    old = ckpt.schedules()
    if mode == "checkpoint":
        return ResumePlan(old, ckpt.base_lrs, ckpt.weight_decays, ckpt.step, warning=(
            f"the schedule differs from the checkpoint's (checkpoint -> now): {what}; continuing with the "
            "checkpoint's schedule (resume='checkpoint', strict=False)"))
    # rescale: the checkpoint's plan (shape, peak) over this run's totals
    t_old, t_new = old[0].num_training_steps, run.schedules[0].num_training_steps
    s1 = rescale_step(ckpt.step, examples_seen=ckpt.examples_seen, examples_per_step=run.examples_per_step,
                      old_total=t_old, new_total=t_new, at_step=at_step, how=how)
    s0 = min(ckpt.step, t_old)
    warped = tuple(rescaled(o, from_step=min(s0, o.num_training_steps), at_step=s1,
                            num_training_steps=n.num_training_steps, how=how) for o, n in zip(old, run.schedules))
    if at_step is not None:
        where = "where the caller resumes"
    elif ckpt.examples_seen is not None and run.examples_per_step is not None:
        where = f"{ckpt.examples_seen} examples seen"
    else:
        where = "the same fraction of the steps"
    note = (f"resume='rescale': the checkpoint's schedule (step {ckpt.step} of {t_old}) continues over this run's "
            f"{t_new} steps from step {s1} ({where}); LR {ckpt.base_lrs[0] * old[0](ckpt.step):.3g} stays continuous "
            f"and ends at {ckpt.base_lrs[0] * old[0].final_value():.3g} on step {t_new}")
    if all(w is o for w, o in zip(warped, old)):
        if what is None:
            return ResumePlan(old, ckpt.base_lrs, ckpt.weight_decays, s1)
        note = f"resume='rescale': the budget is unchanged; the checkpoint's schedule continues from step {s1}"
    budget = ("num_training_steps", "num_warmup_steps")
    shape = describe_spec_change({k: v for k, v in ckpt.specs[0].items() if k not in budget},
                                 {k: v for k, v in run.schedules[0].to_dict().items() if k not in budget})
    if shape != "nothing" and ckpt.specs[0].get("kind") != Rescaled.kind:
        note += f"; the checkpoint's shape is kept (checkpoint -> this run: {shape}; applied only by resume='replan')"
    if run.base_lrs != ckpt.base_lrs:
        note += (f"; the peak LR stays the checkpoint's {list(ckpt.base_lrs)} (this run's {list(run.base_lrs)} "
                 "applies only with resume='replan')")
    return ResumePlan(warped, ckpt.base_lrs, ckpt.weight_decays, s1, note)


def _plan_decay(mode: str, ckpt: Checkpointed, run: Planned) -> ResumePlan:
    """:func:`plan_resume` with ``decay_from_here``: the checkpoint's schedule and peak, decaying from its step."""
    request = run.decay_from_here
    if mode in ("rescale", "replan"):
        raise ResumeRefused(f"decay_from_here={request!r} continues the checkpoint's schedule, which resume={mode!r} "
                         "replaces: give one of them (decay_from_here goes with resume='strict' or 'checkpoint')")
    old = ckpt.schedules()
    decayed = tuple(decay_from_here(o, step=ckpt.step, request=request, run_total=n.num_training_steps)
                    for o, n in zip(old, run.schedules))
    d = decayed[0]
    if all(new is o for new, o in zip(decayed, old)):
        note = (f"decay_from_here={request!r}: the checkpoint's schedule is decaying already (since step "
                f"{d.num_warmup_steps + (d.num_stable_steps or 0)}); its decay goes on")
    else:
        note = (f"decay_from_here={request!r}: the checkpoint's {old[0].kind} schedule decays from step {ckpt.step} "
                f"over {d.num_decay_steps} steps (to step {d.num_training_steps}): LR "
                f"{ckpt.base_lrs[0] * d(ckpt.step):.3g} -> {ckpt.base_lrs[0] * d.final_value():.3g}")
    if run.base_lrs != ckpt.base_lrs:
        note += (f"; the peak LR stays the checkpoint's {list(ckpt.base_lrs)} (this run's {list(run.base_lrs)} "
                 "applies only with resume='replan')")
    if all(d == decayed[0] for d in decayed):
        decayed = (decayed[0],) * len(decayed)
    return ResumePlan(decayed, ckpt.base_lrs, ckpt.weight_decays, ckpt.step, note)
