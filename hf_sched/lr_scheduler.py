"""``ScheduledLR``, the one torch scheduler, and ``get_scheduler``, the drop-in factory.

:class:`ScheduledLR` writes ``lr_g = base_lr_g * f_g(s)`` into every param group ``g``, with
``s`` the optimizer steps **actually taken** (torch's step hooks), so a step ``GradScaler``
skips is no step and ``scheduler.step()`` may be called any number of times per step.
:func:`get_scheduler` resolves a run as budget -> warmup -> build.

>>> import torch
>>> opt = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(2))], lr=1e-3)
>>> sched = get_scheduler("warmupcosine", opt, num_training_steps=100)
>>> sched.get_last_lr(), sched.schedules[0].num_warmup_steps
([0.0], 10)
>>> for _ in range(9):
...     opt.step()          # no scheduler.step() at all: the LR still follows the steps
>>> round(opt.param_groups[0]["lr"], 12), sched.optimizer_step   # step 10 trains at peak * f(9)
(0.0009, 9)
>>> opt.step(); round(opt.param_groups[0]["lr"], 12)             # f(10) = 1: warmup done
0.001
>>> sched.step(); sched.step(); sched.get_last_lr()   # any number of calls: same step
[0.001]
"""

from __future__ import annotations

import math
import numbers
import os
import sys
import warnings
import weakref
from collections.abc import Sequence
from typing import Any

import torch
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler

from . import group_steps
from .budget import examples_per_step as batch_examples
from .budget import kwargs_in_steps, run_steps, total_without_one
from .checks import check_int, check_kwargs, check_lr
from .clock import Clock, clock_units
from .compose import Join, Product
from .group_steps import WHOLE, GroupStepCounter
from .handover import set_group_lr
from .horizon import check_decay_request, with_horizon
from .metric_schedulers import metric_scheduler
from .optimizer_set import as_optimizer
from .registry import build_resolved, check_schedule_kwargs, get_info
from .resume_modes import Checkpointed, Planned, describe_spec_change, plan_resume, resolve_mode
from .schedule_free import is_schedule_free, schedule_free_scheduler
from .schedules import Schedule, schedule_from_dict
from .warmup import epochs_to_steps, is_epoch_request, schedule_warmup

__all__ = ["INTERVALS", "ScheduledLR", "describe_spec_change", "get_scheduler"]

_STATE_FORMAT = "hf_sched.ScheduledLR/1"
_STATE_KEYS = {"format", "step", "base_lrs", "schedules", "interval", "examples_seen", "examples_per_step",
               "weight_decays", "clock"}
INTERVALS = ("step", "epoch")
# step() calls with no optimizer step seen before we say the optimizer's steps are invisible
_SILENT_CALLS = 50
_OWNER_ATTR = "_hf_sched_scheduler"
_PROBING = "probing"  # the first step looked whole; the second tells whether a group is stepped in parts
# what a pickled ScheduledLR holds (the hooks, the stepping protocol and the fast path are re-derived)
_PICKLED = ("optimizer", "_schedules", "base_lrs", "interval", "resume_mode", "examples_per_step", "_examples_ref",
            "_weight_decays", "decay_from_here", "resume_note", "resume_hint", "_count", "_last_step", "_step_count",
            "_calls_without_steps", "_clock")


def _innermost_optimizer(optimizer: Optimizer) -> Optimizer:
    """The deepest torch optimizer along ``.optimizer`` (through Accelerate's / DeepSpeed's wrappers)."""
    inner, node = optimizer, optimizer  # type: Optimizer, Any
    for _ in range(8):
        node = getattr(node, "optimizer", None)
        if node is None or node is inner:
            break
        if isinstance(node, Optimizer) and hasattr(node, "_optimizer_step_post_hooks"):
            inner = node
    return inner


# a compiled optimizer step runs the hook eagerly (traced, the count would recompile every step)
_apply_outside_graphs = torch._dynamo.disable(lambda sched, optimizer: sched._apply(optimizer))


def _weight_decays(groups: Sequence[dict[str, Any]]) -> tuple[float | None, ...]:
    """Each group's ``weight_decay`` as a float (``None`` where it has none)."""
    return tuple(float(g["weight_decay"]) if isinstance(g.get("weight_decay"), (int, float)) else None for g in groups)


def _is_main_process() -> bool:
    """Rank 0 of a torch.distributed group (or the ``RANK`` variable), or a run without one."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return bool(torch.distributed.get_rank() == 0)
    return os.environ.get("RANK", "0") in ("", "0")


def _largest_multiplier(schedule: Schedule) -> float:
    """A bound of ``schedule``'s multipliers: 1 for a normalised shape, through products and joins."""
    if isinstance(schedule, Product):
        return schedule.scale * math.prod(_largest_multiplier(f) for f in schedule.factors)
    if isinstance(schedule, Join):
        return max(_largest_multiplier(p) for p in schedule.schedules)
    if schedule.normalised:
        return 1.0
    return max(schedule(0), schedule(schedule.num_warmup_steps), schedule.final_value())


def _check_largest_lrs(bases: Sequence[float], schedules: Sequence[Schedule]) -> None:
    """Every LR ``base * f(s)`` the schedules can write is finite (``scale(s, 1e308)`` with peak 10 is not)."""
    for i, (base, schedule) in enumerate(zip(bases, schedules)):
        top = _largest_multiplier(schedule)
        if not math.isfinite(base * top):
            raise ValueError(f"param_groups[{i}]['lr'] = {base!r} times the schedule's largest multiplier {top!r} is "
                             f"{base * top!r}: every LR written must be finite and >= 0; lower the LR or the "
                             "schedule's scale")


class ScheduledLR(LRScheduler):
    """A ``torch.optim.lr_scheduler.LRScheduler`` driven by pure schedules.

    ``lr_g(s) = base_lr_g * f_g(s)`` (each group's ``lr`` is its peak), ``s`` the optimizer steps
    taken, counted by a post-step hook on the innermost optimizer (``interval="step"``), or the
    :meth:`step` calls (``interval="epoch"``). ``schedule``: one Schedule or one per group;
    ``resume``: what :meth:`load_state_dict` does with a checkpoint whose schedule differs, one
    of :data:`hf_sched.resume_modes.RESUME_MODES` (default from ``strict``: ``True`` refuses,
    ``False`` is ``"checkpoint"``); ``examples_per_step``: the global batch in examples (for
    ``"rescale"``; ``None``: unknown); ``decay_from_here``: on resume, start the checkpoint's
    decay at its step (:func:`hf_sched.horizon.decay_from_here`); ``last_epoch=k >= 0`` starts
    after ``k`` steps. A second ``ScheduledLR`` on an optimizer detaches the first. A list of
    optimizers is one :class:`~hf_sched.optimizer_set.OptimizerSet` (``s`` counts steps of the set);
    with a ``clock`` (:mod:`hf_sched.clock`) ``s`` is the tokens or samples the steps consumed,
    reported with :meth:`consume`.

    >>> import torch
    >>> from hf_sched.schedules import Linear
    >>> per_epoch = ScheduledLR(torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1),
    ...                         Linear(num_training_steps=4, num_warmup_steps=0), interval="epoch")
    >>> per_epoch.step(); round(per_epoch.get_last_lr()[0], 6)   # one call = one epoch
    0.075
    """

    base_lrs: list[float]  # type: ignore[assignment]
    interval: str
    resume_mode: str
    #: the line the last resume printed (rescale, replan), else None
    resume_note: str | None = None
    #: how a user of the owning tool types a mode, for the strict refusal
    resume_hint: str = 'resume="{mode}" / --lr_scheduler_resume {mode}'
    #: print :attr:`resume_note` on rank 0 when a resume makes one (an owner that says it itself turns this off)
    announce_resume: bool = True
    examples_per_step: int | None
    #: steps or a ratio of what is left: the checkpoint's stable phase decays from the resumed step
    decay_from_here: Any
    _examples_ref: tuple[int, int] | None
    _weight_decays: tuple[float | None, ...]
    _by_calls: bool
    _calls_without_steps: int
    _count: int
    _last_step: int
    _protocol: str | None
    _plain: bool  # the protocol is WHOLE and there is no clock: the hook only counts one more step
    _group_counter: GroupStepCounter | None
    _probe: tuple[int, ...] | None
    _one: tuple[int, int, Any, Any] | None  # the fast path of _apply, from the schedules setter
    _said_past_the_end = False
    _clock: Clock | None = None

    def __init__(self, optimizer: Optimizer | Sequence[Optimizer], schedule: Schedule | Sequence[Schedule], *,
                 interval: str = "step", strict: bool | None = None, resume: str | None = None,
                 examples_per_step: int | None = None, decay_from_here: Any = None, last_epoch: int = -1,
                 clock: Clock | None = None) -> None:
        optimizer = as_optimizer(optimizer)  # several optimizers: one OptimizerSet, one step count
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}")
        groups = optimizer.param_groups
        if not isinstance(schedule, (Schedule, list, tuple)):
            raise TypeError(f"schedule must be an hf_sched Schedule or a list of them (one per param group), "
                            f"got {type(schedule).__name__}")
        schedules = (schedule,) * len(groups) if isinstance(schedule, Schedule) else tuple(schedule)
        if len(schedules) != len(groups):
            raise ValueError(f"schedule must be one Schedule or one per param group: got {len(schedules)} schedules "
                             f"for {len(groups)} param groups")
        for i, s in enumerate(schedules):
            if not isinstance(s, Schedule):
                raise TypeError(f"schedule[{i}] must be an hf_sched Schedule, got {type(s).__name__}")
        if interval not in INTERVALS:
            raise ValueError("interval must be 'step' (count optimizer steps, the default) or 'epoch' (count step() "
                             f"calls), got {interval!r}")
        if isinstance(last_epoch, bool) or not isinstance(last_epoch, numbers.Integral) or last_epoch < -1:
            raise ValueError(f"last_epoch must be an integer >= -1, got {last_epoch!r}")
        if not groups:
            raise ValueError(f"the optimizer ({type(optimizer).__name__}) has no param groups: give it the model's "
                             "parameters before building the scheduler")
        for i, group in enumerate(groups):  # every LR that reaches the optimizer is finite and >= 0
            key = "initial_lr" if "initial_lr" in group else "lr"
            check_lr(f"param_groups[{i}][{key!r}]", group[key])
        mode = resolve_mode(strict, resume)
        if examples_per_step is not None:
            examples_per_step = check_int("examples_per_step", examples_per_step, minimum=1)
        if clock is not None and (not isinstance(clock, Clock) or interval != "step"):
            raise ValueError(f"clock must be an hf_sched.clock.Clock with interval='step', got clock={clock!r}, "
                             f"interval={interval!r}")
        self._clock = clock
        self.optimizer = optimizer
        self.interval = interval
        self._by_calls = interval == "epoch"
        self.resume_mode = mode
        self.examples_per_step = examples_per_step
        if decay_from_here is not None:
            check_decay_request(decay_from_here)  # refused here, not at the resume
        self.decay_from_here = decay_from_here
        self._examples_ref = None
        self._weight_decays = _weight_decays(groups)
        for i, group in enumerate(groups):
            lr = group["lr"]
            if last_epoch == -1:
                group.setdefault("initial_lr", lr.clone() if isinstance(lr, torch.Tensor) else lr)
            elif "initial_lr" not in group:
                raise KeyError(f"param_groups[{i}] has no 'initial_lr': cannot start at last_epoch={last_epoch}")
        self.base_lrs = [float(g["initial_lr"]) for g in groups]
        _check_largest_lrs(self.base_lrs, schedules)
        self.schedules = schedules
        self._step_count = 0  # torch's attribute; Accelerate adds to it between synced steps (unused here)
        self._calls_without_steps = 0
        self._handles: list[Any] = []
        self._forget_protocol()
        if interval == "step":
            self._attach()
            self._apply(step=max(last_epoch, 0))
        else:
            self._count = last_epoch  # step() below makes it 0 (torch's convention)
        self.step()

    def _attach(self) -> None:
        """Hook the innermost optimizer; detach any ScheduledLR already hooked to it."""
        inner = _innermost_optimizer(self.optimizer)
        previous = getattr(inner, _OWNER_ATTR, None)
        old = previous() if previous is not None else None
        if old is not None and old is not self:
            old._detach()
        # The groups as built, to recognise them when a wrapper steps them one at a time (group_steps.py).
        self._built_groups = list(inner.param_groups)
        # tensor LRs are what a compiled optimizer step needs: there the hook runs eagerly
        tensor_lr = any(isinstance(g["lr"], torch.Tensor) for g in inner.param_groups)
        hook = self._apply_eager if tensor_lr else self._apply
        self._handles = [inner.register_step_post_hook(hook),
                         # loading the optimizer's state makes new group dicts: know them again
                         inner.register_load_state_dict_post_hook(self._after_optimizer_load)]
        setattr(inner, _OWNER_ATTR, weakref.ref(self))

    def _detach(self) -> None:
        for h in self._handles:
            h.remove()
        self._handles = []

    def _apply_eager(self, optimizer: Any, args: Any, kwargs: Any) -> None:
        _apply_outside_graphs(self, optimizer)

    def _after_optimizer_load(self, optimizer: Any) -> None:
        self._built_groups = list(optimizer.param_groups)
        self._forget_protocol()

    def _group_step(self, groups: list[dict[str, Any]]) -> bool:
        """Count a step of an optimizer stepped group by group (DeepSpeed ZeRO); ``False`` if it is not one."""
        if self._protocol is None:
            if group_steps.protocol_of(groups, len(self.base_lrs)) == WHOLE:
                # One more step decides: the same tensors again (a whole step), or others (a group
                # stepped in parts: DeepSpeed ZeRO-3 sub-groups, which the hooks cannot count).
                self._protocol, self._probe = _PROBING, group_steps.tensor_ids(groups)
                return False
            self._protocol = group_steps.PER_GROUP
            self._group_counter = GroupStepCounter(self._built_groups, start=self._count)
        elif self._protocol is _PROBING:
            self._protocol = WHOLE
            self._plain = self._clock is None
            if group_steps.tensor_ids(groups) != self._probe:
                warnings.warn(group_steps.PARTS_WARNING.format(group="0"), RuntimeWarning, stacklevel=3)
            self._probe = None
            return False
        counter = self._group_counter
        if counter is None:
            return False
        stepped = counter.step(groups)
        self._apply(step=counter.count, stepped=[(g, i, counter.counts[i]) for i, g in stepped])
        return True

    @property
    def strict(self) -> bool:
        """True iff :attr:`resume_mode` is ``"strict"``; setting ``False`` means ``"checkpoint"``."""
        return self.resume_mode == "strict"

    @strict.setter
    def strict(self, value: bool) -> None:
        self.resume_mode = resolve_mode(value, None)

    @property
    def planned_weight_decays(self) -> tuple[float | None, ...]:
        """Each group's weight decay as this run built it (what ``replan`` writes; strict compares)."""
        return self._weight_decays

    @property
    def examples_seen(self) -> int | None:
        """Examples the run consumed up to :attr:`optimizer_step` (``None``: unknown).

        ``step * examples_per_step``, or counted on from the last exact count the owner set
        (``sched.examples_seen = n``) or a checkpoint recorded.
        """
        eps, ref = self.examples_per_step, self._examples_ref
        if ref is None:
            return None if eps is None else self._count * eps
        if eps is None:
            return ref[1] if self._count == ref[0] else None
        return ref[1] + (self._count - ref[0]) * eps

    @examples_seen.setter
    def examples_seen(self, value: int) -> None:
        self._examples_ref = (self._count, check_int("examples_seen", value, minimum=0))

    @property
    def optimizer_step(self) -> int:
        """Optimizer steps taken so far (``s``); with ``interval="epoch"``, ``step()`` calls."""
        return self._count if self._clock is None else self._clock.steps

    @property
    def clock(self) -> Clock | None:
        """The clock in tokens or samples (its position is :attr:`last_epoch`), or None: optimizer steps."""
        return self._clock

    def consume(self, tokens: int | None = None, *, samples: int | None = None) -> None:
        """Report what the coming optimizer step consumes, on a clock in tokens or samples (before ``step()``).

        The step then advances the position ``c`` by the amount, and the next step trains at
        ``base_lr_g * f_g(c)`` (:mod:`hf_sched.clock`).
        """
        if self._clock is None:
            raise ValueError(f"consume(tokens={tokens!r}, samples={samples!r}): this scheduler counts optimizer steps; "
                             "build it with the total or the warmup in tokens or samples (e.g. "
                             "num_training_steps='200M tok') to follow what each step consumed")
        self._clock.consume(tokens=tokens, samples=samples)

    @property
    def last_epoch(self) -> int:
        """torch's name for the count: optimizer steps taken (or ``step()`` calls per epoch)."""
        return self._count

    @last_epoch.setter
    def last_epoch(self, value: int) -> None:
        self._forget_protocol()
        self._apply(step=int(value))

    def _forget_protocol(self) -> None:
        """Judge the stepping protocol again at the next step (the count was set from outside)."""
        self._protocol = self._group_counter = self._probe = None
        self._plain = False

    def _apply(self, optimizer: Any = None, args: Any = None, kwargs: Any = None, step: int | None = None,
               stepped: list[tuple[dict[str, Any], int, int]] | None = None) -> None:
        """Write ``base_g * f_g(step)`` into every group (``stepped``: only these ``(group, g, step_g)``).

        The one write path: the post-step hook (``step`` None: one more than the count), or a set step.
        """
        if step is None:  # the hook: the optimizer took a step
            if self._plain:  # whole steps, counted one by one: every step after the first two
                step = self._count + 1
            elif self._clock is not None:  # a clock in tokens/samples: what this step consumed
                step = self._clock.tick(self._count)
            elif self._protocol is not WHOLE and self._group_step(optimizer.param_groups):
                return
            else:
                step = self._count + 1
        self._count = step
        one = self._one
        if one is not None and stepped is None:  # one schedule, float LRs: the common case, every step
            lo, hi, shape, call = one
            if lo <= step <= hi:
                v = shape(step)
            else:
                v = call(step)
                if step > self._end:
                    self._past_the_end(step)
            for group, base in zip(self.optimizer.param_groups, self.base_lrs):
                group["lr"] = base * v
            return
        if step > self._end:
            self._past_the_end(step)
        if stepped is None:
            stepped = [(g, i, step) for i, g in enumerate(self.optimizer.param_groups)]
        for group, i, s in stepped:
            set_group_lr(group, self.base_lrs[i] * self._schedules[i](s))

    def _past_the_end(self, step: int) -> None:
        """Say once that the run went past the schedule's total, and what usually causes it."""
        if self._said_past_the_end or (self._clock is not None and self._clock.start < self._end):
            return  # on a clock, the step that crosses the total trained inside it: say so from the next one
        self._said_past_the_end = True
        end, final = self._end, [f.final_value() for f in self._schedules]
        what = f"step() was called {step} times" if self._by_calls else f"the optimizer has taken {step} steps"
        why = ("Likely causes: get_scheduler was given a dataloader without num_epochs (it assumes one epoch), the "
               "dataloader is longer than planned, or max_steps / num_training_steps differ from the loop's steps")
        if self._clock is not None:
            what, why = self._clock.past_the_end(step), f"(the total is in {self._clock.unit})"
        warnings.warn(
            f"{what}, past the schedule's total of {end} (num_training_steps): it trains at the final LR "
            f"multiplier ({final[0] if len(set(final)) == 1 else final}) from here. {why}", UserWarning, stacklevel=3,
        )

    def step(self, epoch: int | None = None) -> None:
        """Take the current step's LRs as :meth:`get_last_lr`'s (``interval="epoch"``: advance one)."""
        if epoch is not None or self._by_calls or not self._count:
            self._step_rarely(epoch)
        self._last_step = self._count

    def _step_rarely(self, epoch: int | None) -> None:
        """:meth:`step` given an epoch, counting calls (``interval="epoch"``), or before any optimizer step."""
        if epoch is not None:
            raise TypeError("ScheduledLR.step() takes no epoch: it counts optimizer steps itself "
                            "(or step() calls with interval='epoch')")
        if self._by_calls:
            self._apply(step=self._count + 1)
            return
        self._calls_without_steps += 1
        if self._handles and self._calls_without_steps == _SILENT_CALLS:
            warnings.warn(
                f"ScheduledLR.step() was called {_SILENT_CALLS} times but the optimizer "
                f"({type(_innermost_optimizer(self.optimizer)).__name__}) has not taken a step: the LR stays "
                "at the schedule's first value. If your optimizer steps without torch's step hooks, build the "
                "scheduler with interval='epoch' and call step() once per optimizer step", UserWarning, stacklevel=3,
            )

    @property
    def schedules(self) -> tuple[Schedule, ...]:
        """The schedule of each param group."""
        return self._schedules

    @schedules.setter
    def schedules(self, value: tuple[Schedule, ...]) -> None:
        self._schedules = tuple(value)
        self._end = max(s.num_training_steps for s in self._schedules)
        first = self._schedules[0]
        shared = all(s is first for s in self._schedules)
        tensor_lr = any(isinstance(g["lr"], torch.Tensor) for g in self.optimizer.param_groups)
        # The fast path of _apply: one schedule for all groups and float LRs. Inside [W, T] the
        # frame's __call__ is the shape itself (its checks cannot fail for an int step).
        if not shared or tensor_lr:
            self._one = None
        elif type(first).__call__ is Schedule.__call__:
            self._one = (first.num_warmup_steps, first.num_training_steps, first._shape, first.__call__)
        else:
            self._one = (1, 0, first.__call__, first.__call__)

    def _lrs(self, s: int) -> list[float]:
        return [b * f(s) for b, f in zip(self.base_lrs, self._schedules)]

    _last_lr = property(lambda self: self._lrs(self._last_step))

    def get_last_lr(self) -> list[float]:  # type: ignore[override]
        """LRs last written into the optimizer (those the latest optimizer step used), as floats."""
        return self._last_lr

    def get_lr(self) -> list[float]:  # type: ignore[override]
        """LRs for the current count (computed, not read from the optimizer)."""
        return self._lrs(self._count)

    def __getstate__(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in _PICKLED}

    def __setstate__(self, state: dict[str, Any]) -> None:
        state = dict(state)
        if "strict" in state:  # pickled before the resume modes: its bool is the mode
            state["resume_mode"] = resolve_mode(state.pop("strict"), None)
        self.__dict__.update(state)
        for key, default in (("examples_per_step", None), ("_examples_ref", None), ("decay_from_here", None)):
            self.__dict__.setdefault(key, default)
        self.__dict__.setdefault("_weight_decays", _weight_decays(self.optimizer.param_groups))
        self._by_calls, self._handles = self.interval == "epoch", []
        self.schedules = state["_schedules"]
        self._forget_protocol()
        if self.interval == "step":
            self._attach()

    def state_dict(self) -> dict[str, Any]:
        """Plain-typed state: format, step, base LRs, interval, every group's schedule spec, and when known
        the examples seen, the global batch (``examples_per_step``) and the groups' weight decays."""
        state = {"format": _STATE_FORMAT, "step": int(self._count), "base_lrs": [float(b) for b in self.base_lrs],
                 "schedules": [s.to_dict() for s in self.schedules], "interval": self.interval}
        seen = self.examples_seen
        if seen is not None:
            state["examples_seen"] = int(seen)
        if self.examples_per_step is not None:
            state["examples_per_step"] = int(self.examples_per_step)
        decays = _weight_decays(self.optimizer.param_groups)
        if any(d is not None for d in decays):
            state["weight_decays"] = list(decays)
        if self._clock is not None:  # "step" is the clock's position, in its unit
            state["clock"] = self._clock.state_dict()
        return state

    def _validate_state(self, state_dict: Any) -> tuple[int, list[float], list[dict[str, Any]], str]:
        """Check every field of a state dict; change nothing. Returns the parsed fields."""
        if not isinstance(state_dict, dict) or state_dict.get("format") != _STATE_FORMAT:
            keys = sorted(map(str, state_dict)) if isinstance(state_dict, dict) else type(state_dict).__name__
            raise ValueError(f"state_dict is not a ScheduledLR state (format {_STATE_FORMAT!r}); got keys {keys}. "
                             "Was the checkpoint written by another scheduler?")
        missing = sorted({"step", "base_lrs", "schedules"} - set(state_dict))
        if missing:
            raise ValueError(f"the ScheduledLR state is incomplete: missing {missing} (it has {sorted(state_dict)})")
        unknown = sorted(set(map(str, state_dict)) - _STATE_KEYS)
        if unknown:
            raise ValueError(f"the ScheduledLR state has unknown keys {unknown}; allowed: {sorted(_STATE_KEYS)}")
        step = state_dict["step"]
        if isinstance(step, bool) or not isinstance(step, numbers.Integral) or step < 0:
            raise ValueError(f"state_dict['step'] must be an integer >= 0, got {step!r}")
        bases = state_dict["base_lrs"]
        n = len(self.optimizer.param_groups)
        if not isinstance(bases, (list, tuple)) or len(bases) != n:
            got = len(bases) if isinstance(bases, (list, tuple)) else type(bases).__name__
            raise ValueError(f"state_dict['base_lrs'] must be a list with one LR per param group ({n}), got {got}: "
                             f"{bases!r}")
        for i, b in enumerate(bases):
            check_lr(f"state_dict['base_lrs'][{i}]", b)
        specs = state_dict["schedules"]
        if not isinstance(specs, (list, tuple)) or not all(isinstance(d, dict) for d in specs):
            raise ValueError(f"state_dict['schedules'] must be a list of schedule specs (dicts), got {specs!r}")
        if len(specs) != n:
            raise ValueError(f"the checkpoint has schedules for {len(specs)} param groups, the optimizer has {n}")
        interval = state_dict.get("interval", "step")
        if interval not in INTERVALS:
            raise ValueError(f"state_dict['interval'] must be one of {INTERVALS}, got {interval!r}")
        for key, low in (("examples_seen", 0), ("examples_per_step", 1)):
            if key in state_dict:
                check_int(f"state_dict[{key!r}]", state_dict[key], minimum=low)
        decays = state_dict.get("weight_decays")
        if decays is not None and (not isinstance(decays, (list, tuple)) or len(decays) != n or not all(
                d is None or (isinstance(d, numbers.Real) and not isinstance(d, bool) and math.isfinite(d))
                for d in decays)):
            raise ValueError(f"state_dict['weight_decays'] must be a list with one weight decay (a finite number or "
                             f"None) per param group ({n}), got {decays!r}")
        return int(step), [float(b) for b in bases], list(specs), interval

    def load_state_dict(self, state_dict: dict[str, Any], strict: bool | None = None, *, resume: str | None = None,
                        at_step: int | None = None) -> None:
        """Restore the step and base LRs and write their LRs; a refused state changes nothing.

        ``resume`` (or ``strict``; default this scheduler's :attr:`resume_mode`) says what a
        changed schedule does (:mod:`hf_sched.resume_modes`); ``at_step`` is where a rescaled
        run resumes (the Trainer's ``global_step``). Load the optimizer's state first: the
        weight decays written here would otherwise be overwritten by it.
        """
        mode = self.resume_mode if strict is None and resume is None else resolve_mode(strict, resume)
        step, bases, specs, interval = self._validate_state(state_dict)
        if interval != self.interval:
            raise ValueError(f"the checkpoint counts interval={interval!r}, this scheduler interval={self.interval!r}: "
                             "build the scheduler with the same interval to resume")
        clock_state = self._check_clock_state(state_dict.get("clock"))
        decays = state_dict.get("weight_decays")
        seen = state_dict.get("examples_seen")
        ckpt = Checkpointed(step, tuple(specs), tuple(bases), schedule_from_dict,
                            None if decays is None else tuple(None if d is None else float(d) for d in decays),
                            None if seen is None else int(seen))
        run = Planned(self.schedules, tuple(self.base_lrs), self._weight_decays, self.examples_per_step,
                      self.decay_from_here)
        if at_step is None and self._clock is not None:  # a clock knows its place in the data: the same tokens
            at_step = step
        plan = plan_resume(mode, ckpt, run, at_step=at_step, how=self.resume_hint)
        _check_largest_lrs(plan.base_lrs, plan.schedules)
        # everything checked: apply
        if plan.warning is not None:
            warnings.warn(plan.warning, stacklevel=2)
        self.schedules = plan.schedules
        self.base_lrs = list(plan.base_lrs)
        for group, base in zip(self.optimizer.param_groups, self.base_lrs):
            init = group.get("initial_lr")
            if isinstance(init, torch.Tensor):
                init.fill_(base)
            else:
                group["initial_lr"] = base
        for group, decay in zip(self.optimizer.param_groups, plan.weight_decays or ()):
            if decay is not None and "weight_decay" in group:
                group["weight_decay"] = decay
        self._forget_protocol()
        if self._clock is not None and clock_state is not None:
            self._clock.steps, self._clock.pending, self._clock.reported = clock_state
        self._apply(step=plan.step)
        self._last_step = plan.step
        self._examples_ref = None if seen is None else (plan.step, int(seen))
        self.resume_note = plan.note
        if plan.note is not None and self.announce_resume and _is_main_process():
            print(f"hf_sched: {plan.note}", file=sys.stderr)

    def _check_clock_state(self, state: Any) -> tuple[int, int, bool] | None:
        """The checkpoint's clock, checked against this scheduler's (both in steps, or both in one unit)."""
        mine = "optimizer steps" if self._clock is None else self._clock.unit
        theirs = "optimizer steps" if state is None else state.get("unit") if isinstance(state, dict) else repr(state)
        if mine != theirs:
            raise ValueError(f"the checkpoint's schedule runs on a clock in {theirs}, this one in {mine}: build the "
                             "schedule with its total and warmup in the same unit to resume")
        return None if self._clock is None else self._clock.check_state(state)

    def __repr__(self) -> str:
        sched = self.schedules[0] if all(s is self.schedules[0] for s in self.schedules) else self.schedules
        return f"ScheduledLR(step={self.optimizer_step}, interval={self.interval!r}, schedules={sched})"


def get_scheduler(
    name: str, optimizer: Optimizer | Sequence[Optimizer], num_warmup_steps: Any = None,
    num_training_steps: int | str | None = None,
    scheduler_specific_kwargs: dict[str, Any] | str | None = None, *, warmup: Any = None, dataloader: Any = None,
    num_batches: int | None = None, num_epochs: float | None = None, gradient_accumulation_steps: int = 1,
    max_steps: int | None = None, num_processes: int | None = None, split_batches: bool | None = None,
    dataloader_prepared: bool | None = None, steps_per_epoch: int | None = None, accelerator: Any = None,
    interval: str = "step", strict: bool | None = None, resume: str | None = None, horizon: int | None = None,
    examples_per_step: int | None = None, decay_from_here: Any = None, **kwargs: Any,
) -> Any:
    """Build a scheduler from any registry name: a drop-in for ``transformers.get_scheduler``.

    ``lr_g(s) = base_lr_g * f(s)``, ``f`` the named schedule. The first five arguments are
    transformers' (``scheduler_specific_kwargs`` may be a JSON string or extra keywords);
    ``num_warmup_steps`` / ``warmup`` is any warmup request (default 10%); ``num_training_steps``
    may come from ``dataloader``/``num_batches`` with ``num_epochs``, or ``max_steps``
    (:func:`hf_sched.budget.compute_budget`); names that need no total run unbounded without one.
    ``optimizer`` may be a list (``[muon, adamw]``: one :class:`~hf_sched.optimizer_set.OptimizerSet`);
    a total or warmup given as an amount (``"200M tok"``) runs the schedule on a clock in that unit
    (:mod:`hf_sched.clock`, :meth:`ScheduledLR.consume`).
    ``resume`` is what a checkpoint whose schedule differs does (``"strict"`` by default, or
    ``strict=False`` for ``"checkpoint"``; :mod:`hf_sched.resume_modes`); ``examples_per_step``
    (the global batch) is read from ``dataloader`` when not given. ``horizon``: the schedule's
    own total when it is not the run's length (e.g. a short debug run on the full run's curve).
    ``decay_from_here`` (steps, a ratio of what is left, ``"20%"``): on resume, the checkpoint's
    stable phase decays from its step (:func:`hf_sched.horizon.decay_from_here`).

    >>> import torch
    >>> opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    >>> loader = torch.utils.data.DataLoader(range(100), batch_size=10)
    >>> s = get_scheduler("warmuplinear", opt, dataloader=loader, num_epochs=3)
    >>> s.schedules[0].num_training_steps, s.schedules[0].num_warmup_steps
    (30, 3)
    >>> get_scheduler("warmuplinear", opt, dataloader=loader, num_epochs=3, warmup="1ep").schedules[0].num_warmup_steps
    10
    >>> get_scheduler("constant", opt).get_last_lr()
    [1.0]
    """
    info = get_info(name)
    optimizer = as_optimizer(optimizer)  # [muon, adamw]: one OptimizerSet, stepped and scheduled as one
    mode = resolve_mode(strict, resume)
    spec_kwargs = check_kwargs("scheduler_specific_kwargs", scheduler_specific_kwargs)
    overlap = sorted(set(spec_kwargs) & set(kwargs))
    if overlap:
        raise ValueError(f"schedule argument(s) {overlap} given both in scheduler_specific_kwargs and as keywords")
    spec_kwargs.update(kwargs)
    request = _warmup_request(num_warmup_steps, warmup)
    # 0. the clock: optimizer steps, or tokens/samples when an amount like "200M tok" is given (clock.py)
    unit, given = clock_units(info.name, {"num_training_steps": num_training_steps, "max_steps": max_steps,
                                          "num_warmup_steps" if num_warmup_steps is not None else "warmup": request,
                                          **spec_kwargs})
    if unit is not None:
        _check_clock_run(info, optimizer, unit, interval, dataloader=dataloader, num_batches=num_batches,
                         num_epochs=num_epochs, steps_per_epoch=steps_per_epoch)
        num_training_steps, max_steps = given.pop("num_training_steps"), given.pop("max_steps")
        request = given.pop("num_warmup_steps" if num_warmup_steps is not None else "warmup")
        spec_kwargs = given
    # 1. the budget: the run's optimizer steps (None: a run without a total) and steps per epoch
    given_total: Any = num_training_steps  # an int by now; run_steps names anything else in one line
    total, spe = run_steps(
        info.name, info.needs_total, given_total, dataloader=dataloader, num_batches=num_batches,
        num_epochs=num_epochs, gradient_accumulation_steps=gradient_accumulation_steps, max_steps=max_steps,
        num_processes=num_processes, split_batches=split_batches, dataloader_prepared=dataloader_prepared,
        steps_per_epoch=steps_per_epoch, accelerator=accelerator,
    )
    spec_kwargs = kwargs_in_steps(spec_kwargs, spe)
    total = with_horizon(horizon, total)
    # another part schedules the LR: a schedule-free optimizer warms up itself
    # (schedule_free.py); plateau/greedy are a warmup then the metric-driven part (metric_schedulers.py)
    if is_schedule_free(optimizer) or info.adaptive:
        if is_epoch_request(request):
            request = epochs_to_steps(request, spe, name="warmup")
        handover = schedule_free_scheduler if is_schedule_free(optimizer) else metric_scheduler
        if mode not in ("strict", "checkpoint") or decay_from_here is not None:
            what = "a schedule-free optimizer" if is_schedule_free(optimizer) else f"the metric-driven {info.name!r}"
            asked = f"resume={mode!r}" if decay_from_here is None else f"decay_from_here={decay_from_here!r}"
            raise ValueError(f"{asked} is not available with {what} (it keeps no schedule to rescale, replan or "
                             "decay); use resume='strict' or resume='checkpoint'")
        return handover(info.name, optimizer, request, total, spec_kwargs, strict=mode == "strict")
    # 2. the warmup, resolved here and nowhere else
    w = schedule_warmup(info.name, info.has_warmup, request, total, optimizer, steps_per_epoch=spe, ignore=True)
    if total is None:
        total = total_without_one(info.name, w, spec_kwargs)
    # 3. the schedule
    lr_init = optimizer.defaults.get("lr") if hasattr(optimizer, "defaults") else None
    schedule = build_resolved(info, total, w, None if lr_init is None else float(lr_init),
                              check_schedule_kwargs(info.name, spec_kwargs))
    if examples_per_step is None and dataloader is not None:
        examples_per_step = batch_examples(dataloader, gradient_accumulation_steps=gradient_accumulation_steps,
                                           num_processes=num_processes, split_batches=split_batches,
                                           accelerator=accelerator)
    return ScheduledLR(optimizer, schedule, interval=interval, resume=mode, examples_per_step=examples_per_step,
                       decay_from_here=decay_from_here, clock=Clock(unit) if unit else None)



def _check_clock_run(info: Any, optimizer: Any, unit: str, interval: str, **counts: Any) -> None:
    """A run on a clock in tokens/samples: no step counts of the data, a pure schedule, counted per step."""
    for key, value in counts.items():
        if value is not None:
            raise ValueError(f"{key}={value!r} counts optimizer steps or epochs, but this run's clock counts {unit}: "
                             f"give num_training_steps in {unit} (e.g. '200M {'tok' if unit == 'tokens' else unit}') instead")
    if interval != "step":
        raise ValueError(f"interval={interval!r}: a clock in {unit} advances at each optimizer step by what it "
                         "consumed; use interval='step'")
    if info.adaptive or is_schedule_free(optimizer):
        what = "a schedule-free optimizer" if is_schedule_free(optimizer) else f"the metric-driven {info.name!r}"
        raise ValueError(f"{what} cannot run on a clock in {unit}: give its warmup and total in optimizer steps")


def _warmup_request(num_warmup_steps: Any, warmup: Any) -> Any:
    """The one warmup request of ``num_warmup_steps`` (transformers' name) or ``warmup``."""
    if num_warmup_steps is not None and warmup is not None:
        raise ValueError(f"give the warmup once: num_warmup_steps={num_warmup_steps!r} and warmup={warmup!r} were both "
                         "set")
    request = num_warmup_steps if num_warmup_steps is not None else warmup
    if isinstance(request, (str, dict)) and str(request).lstrip().startswith("{"):
        which = "num_warmup_steps (the third argument)" if num_warmup_steps is not None else "warmup"
        raise ValueError(f"{which}={request!r} looks like schedule arguments, not a warmup: pass them as "
                         "scheduler_specific_kwargs (the fifth argument, a dict or a JSON string) or as keywords, "
                         "e.g. get_scheduler(name, optimizer, num_warmup_steps, num_training_steps, {'num_cycles': 2})")
    return request
