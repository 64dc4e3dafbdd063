"""``ScheduledLR``, the one torch scheduler, and ``get_scheduler``, the drop-in factory.

:class:`ScheduledLR` writes ``lr_g = base_lr_g * f_g(s)`` into every param group ``g``
after ``s`` optimizer steps, where ``f_g`` is a pure :class:`~hf_sched.schedules.Schedule`
(one for all groups, or one per group). Its state dict holds only plain types (the step,
the base LRs and each schedule's spec), so ``torch.load(..., weights_only=True)`` reads it,
and loading refuses a checkpoint whose schedule differs from the one you built.

:func:`get_scheduler` takes the same positional arguments as
``transformers.get_scheduler`` and any registry name, and can compute the step budget
from a dataloader, epochs, gradient accumulation and an ``Accelerator``.

>>> import torch
>>> opt = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(2))], lr=1e-3)
>>> sched = get_scheduler("warmupcosine", opt, num_training_steps=100)
>>> sched.get_last_lr(), sched.schedules[0].num_warmup_steps
([0.0], 10)
>>> for _ in range(10):
...     opt.step(); sched.step()
>>> sched.get_last_lr()
[0.001]
"""

from __future__ import annotations

import warnings
from typing import Any, Sequence

import torch
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler

from .budget import compute_budget
from .registry import build_schedule, check_schedule_kwargs, get_info
from .schedules import Schedule, schedule_from_dict

__all__ = ["ScheduledLR", "get_scheduler", "accelerator_ticks_per_step", "describe_spec_change"]

_STATE_FORMAT = "hf_sched.ScheduledLR/1"
_UNBOUNDED_STEPS = 2**62


def describe_spec_change(old: dict[str, Any], new: dict[str, Any]) -> str:
    """``"num_training_steps: 100 -> 200"`` style list of what differs between two specs.

    >>> describe_spec_change({"kind": "linear", "num_training_steps": 100}, {"kind": "linear", "num_training_steps": 200})
    'num_training_steps: 100 -> 200'
    """
    keys = list(dict.fromkeys([*old, *new]))
    parts = [f"{k}: {old.get(k, '<unset>')!r} -> {new.get(k, '<unset>')!r}" for k in keys if old.get(k) != new.get(k)]
    return ", ".join(parts).replace("'", "") if parts else "nothing"


class ScheduledLR(LRScheduler):
    """A ``torch.optim.lr_scheduler.LRScheduler`` driven by pure schedules.

    ``lr_g(s) = base_lr_g * f_g(s)`` for each param group ``g`` after ``s`` optimizer steps.
    Tensor LRs are filled in place (a compiled optimizer step does not recompile).

    Args:
        optimizer: the wrapped optimizer; each group's ``lr`` is its peak (base) LR.
        schedule: one :class:`~hf_sched.schedules.Schedule` for every group, or a sequence
            with one per group.
        ticks_per_step: calls of :meth:`step` per optimizer step. Accelerate's
            ``AcceleratedScheduler`` steps a prepared scheduler ``num_processes`` times per
            optimizer step (unless batches are split): pass that number and the curve is
            the same for any number of processes (see :func:`accelerator_ticks_per_step`).
        strict: refuse (``ValueError``) to load a state whose schedules differ from these;
            ``False`` warns and continues with the checkpoint's schedules.
        last_epoch: ``-1`` for a fresh run (torch's convention).

    >>> import torch
    >>> from hf_sched.schedules import Linear
    >>> opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    >>> s = ScheduledLR(opt, Linear(num_training_steps=4, num_warmup_steps=0))
    >>> [round(s.step() or s.get_last_lr()[0], 6) for _ in range(5)]
    [0.075, 0.05, 0.025, 0.0, 0.0]
    """

    def __init__(
        self,
        optimizer: Optimizer,
        schedule: Schedule | Sequence[Schedule],
        *,
        ticks_per_step: int = 1,
        strict: bool = True,
        last_epoch: int = -1,
    ) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}")
        groups = optimizer.param_groups
        if isinstance(schedule, Schedule):
            schedules: tuple[Schedule, ...] = (schedule,) * len(groups)
        else:
            if not isinstance(schedule, (list, tuple)):
                raise TypeError(
                    f"schedule must be an hf_sched Schedule or a list of them (one per param group), "
                    f"got {type(schedule).__name__}"
                )
            schedules = tuple(schedule)
            if len(schedules) != len(groups):
                raise ValueError(
                    f"schedule must be one Schedule or one per param group: got {len(schedules)} schedules "
                    f"for {len(groups)} param groups"
                )
        for i, s in enumerate(schedules):
            if not isinstance(s, Schedule):
                raise TypeError(f"schedule[{i}] must be an hf_sched Schedule, got {type(s).__name__}")
        if isinstance(ticks_per_step, bool) or not isinstance(ticks_per_step, int) or ticks_per_step < 1:
            raise ValueError(f"ticks_per_step must be an integer >= 1, got {ticks_per_step!r}")
        self.optimizer = optimizer
        self.schedules = schedules
        self.ticks_per_step = ticks_per_step
        self.strict = strict
        if last_epoch == -1:
            for group in groups:
                lr = group["lr"]
                group.setdefault("initial_lr", lr.clone() if isinstance(lr, torch.Tensor) else lr)
        else:
            for i, group in enumerate(groups):
                if "initial_lr" not in group:
                    raise KeyError(f"param_groups[{i}] has no 'initial_lr': cannot start at last_epoch={last_epoch}")
        self.base_lrs = [float(g["initial_lr"]) for g in groups]
        self.last_epoch = last_epoch
        self._step_count = 0
        self._last_values: float | list[float] = 0.0
        self.step()

    # -- stepping ---------------------------------------------------------------------

    @property
    def optimizer_step(self) -> int:
        """Optimizer steps taken so far (``s``)."""
        return self.last_epoch // self.ticks_per_step

    def step(self, epoch: int | None = None) -> None:  # type: ignore[override]
        """Advance one tick and write the new LRs into the optimizer."""
        if epoch is not None:
            raise TypeError("ScheduledLR.step() takes no epoch: it counts optimizer steps itself")
        self._step_count += 1
        self.last_epoch += 1
        if self._fast:
            # The common case, written for speed (it runs on every optimizer step): one
            # schedule for all groups and float LRs. No comprehension, no isinstance.
            v = self._call0(self.last_epoch // self.ticks_per_step)
            for group, base in zip(self.optimizer.param_groups, self.base_lrs):
                group["lr"] = base * v
            self._last_values = v
        else:
            self._apply()

    def _apply(self) -> None:
        s = self.last_epoch // self.ticks_per_step
        values = [f(s) for f in self.schedules]
        for group, base, v in zip(self.optimizer.param_groups, self.base_lrs, values):
            cur = group["lr"]
            if isinstance(cur, torch.Tensor):
                cur.fill_(base * v)  # in place: a compiled optimizer step does not recompile
            else:
                group["lr"] = base * v
        self._last_values = values if not self._shared else values[0]

    def _refresh(self) -> None:
        """Recompute the cached dispatch flags (after schedules or the optimizer changed)."""
        self._shared = all(s is self._schedules[0] for s in self._schedules)
        self._call0 = self._schedules[0].__call__
        groups = getattr(self, "optimizer", None)
        tensor_lr = groups is not None and any(isinstance(g["lr"], torch.Tensor) for g in groups.param_groups)
        self._fast = self._shared and not tensor_lr

    @property
    def schedules(self) -> tuple[Schedule, ...]:
        """The schedule of each param group."""
        return self._schedules

    @schedules.setter
    def schedules(self, value: tuple[Schedule, ...]) -> None:
        self._schedules = tuple(value)
        self._refresh()

    @property
    def _last_lr(self) -> list[float]:  # type: ignore[override]
        v = self._last_values
        if isinstance(v, list):
            return [b * x for b, x in zip(self.base_lrs, v)]
        return [b * v for b in self.base_lrs]

    def get_last_lr(self) -> list[float]:
        """LRs written by the last :meth:`step`, as floats."""
        return self._last_lr

    def get_lr(self) -> list[float]:
        """LRs for the current step (computed, not read from the optimizer)."""
        s = self.last_epoch // self.ticks_per_step
        return [b * f(s) for b, f in zip(self.base_lrs, self.schedules)]

    # -- state ------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """Plain-typed state: format, step, base LRs and every group's schedule spec."""
        return {
            "format": _STATE_FORMAT,
            "step": int(self.last_epoch // self.ticks_per_step),
            "base_lrs": [float(b) for b in self.base_lrs],
            "schedules": [s.to_dict() for s in self.schedules],
        }

    def load_state_dict(self, state_dict: dict[str, Any], strict: bool | None = None) -> None:  # type: ignore[override]
        """Restore the step (and base LRs); refuse a different schedule unless not strict.

        The LRs of the restored step are written into the optimizer at once, so the next
        optimizer step uses exactly the LR the interrupted run would have used.
        """
        strict = self.strict if strict is None else strict
        if not isinstance(state_dict, dict) or state_dict.get("format") != _STATE_FORMAT:
            keys = sorted(state_dict) if isinstance(state_dict, dict) else type(state_dict).__name__
            raise ValueError(
                f"state_dict is not a ScheduledLR state (format {_STATE_FORMAT!r}); got keys {keys}. "
                "Was the checkpoint written by another scheduler?"
            )
        specs = state_dict["schedules"]
        if len(specs) != len(self.schedules):
            raise ValueError(
                f"the checkpoint has schedules for {len(specs)} param groups, the optimizer has {len(self.schedules)}"
            )
        mine = [s.to_dict() for s in self.schedules]
        changed = [(i, describe_spec_change(old, new)) for i, (old, new) in enumerate(zip(specs, mine)) if old != new]
        if changed:
            what = "; ".join(f"group {i}: {d}" for i, d in changed)
            msg = f"the schedule differs from the checkpoint's (checkpoint -> now): {what}"
            if strict:
                raise ValueError(
                    msg + ". Resuming would silently change the LR curve; rebuild the same schedule "
                    "(same steps, warmup, batch size, epochs), or load with strict=False to continue "
                    "with the checkpoint's schedule"
                )
            warnings.warn(msg + "; continuing with the checkpoint's schedule (strict=False)", stacklevel=2)
            loaded = tuple(schedule_from_dict(d) for d in specs)
            if all(s == loaded[0] for s in loaded):
                loaded = (loaded[0],) * len(loaded)
            self.schedules = loaded
        self.base_lrs = [float(b) for b in state_dict["base_lrs"]]
        for group, base in zip(self.optimizer.param_groups, self.base_lrs):
            init = group.get("initial_lr")
            if isinstance(init, torch.Tensor):
                init.fill_(base)
            else:
                group["initial_lr"] = base
        self.last_epoch = int(state_dict["step"]) * self.ticks_per_step
        self._refresh()
        self._apply()

    def __repr__(self) -> str:
        return f"ScheduledLR(step={self.optimizer_step}, schedules={self.schedules[0] if self._shared else self.schedules})"


def accelerator_ticks_per_step(accelerator: Any) -> int:
    """How many times ``AcceleratedScheduler`` steps a prepared scheduler per optimizer step.

    ``num_processes``, or 1 with ``split_batches`` or ``step_scheduler_with_optimizer=False``.
    """
    split = bool(getattr(accelerator, "split_batches", False))
    with_opt = bool(getattr(accelerator, "step_scheduler_with_optimizer", True))
    if split or not with_opt:
        return 1
    return int(getattr(accelerator, "num_processes", 1))


def get_scheduler(
    name: str,
    optimizer: Optimizer,
    num_warmup_steps: Any = None,
    num_training_steps: int | None = None,
    scheduler_specific_kwargs: dict[str, Any] | None = None,
    *,
    warmup: Any = None,
    dataloader: Any = None,
    num_batches: int | None = None,
    num_epochs: float | None = None,
    gradient_accumulation_steps: int = 1,
    max_steps: int | None = None,
    num_processes: int | None = None,
    split_batches: bool | None = None,
    dataloader_prepared: bool | None = None,
    accelerator: Any = None,
    strict: bool = True,
    **kwargs: Any,
) -> Any:
    """Build a scheduler from any registry name: a drop-in for ``transformers.get_scheduler``.

    The first five arguments are transformers'. ``num_warmup_steps`` (or ``warmup``) may be
    any warmup request: steps, a ratio in ``[0, 1)``, ``"10%"`` or ``"auto"``; unset means
    10% of the training steps for schedules with a warmup phase. ``num_training_steps`` may
    be left out when ``dataloader`` (or ``num_batches``) and ``num_epochs``, or ``max_steps``,
    are given: see :func:`hf_sched.budget.compute_budget`.

    With ``accelerator``, the processes and ``split_batches`` are read from it and the
    scheduler expects to be passed to ``accelerator.prepare`` (which steps it
    ``num_processes`` times per optimizer step): the LR curve is then the same on 1 and on
    N processes. Schedule arguments may come as ``scheduler_specific_kwargs`` or as extra
    keyword arguments.

    Formula: ``lr_g(s) = base_lr_g * f(s)`` with ``f`` the named schedule.

    >>> import torch
    >>> opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    >>> loader = torch.utils.data.DataLoader(range(100), batch_size=10)
    >>> s = get_scheduler("warmuplinear", opt, dataloader=loader, num_epochs=3)
    >>> s.schedules[0].num_training_steps, s.schedules[0].num_warmup_steps
    (30, 3)
    """
    info = get_info(name)
    spec_kwargs = dict(scheduler_specific_kwargs or {})
    overlap = sorted(set(spec_kwargs) & set(kwargs))
    if overlap:
        raise ValueError(f"schedule argument(s) {overlap} given both in scheduler_specific_kwargs and as keywords")
    spec_kwargs.update(kwargs)
    if num_warmup_steps is not None and warmup is not None:
        raise ValueError(
            f"give the warmup once: num_warmup_steps={num_warmup_steps!r} and warmup={warmup!r} were both set"
        )
    request = num_warmup_steps if num_warmup_steps is not None else warmup

    if info.adaptive:
        spec_kwargs = check_schedule_kwargs(info.name, spec_kwargs)
        if request not in (None, 0):
            warnings.warn(f"{info.name!r} has no warmup; ignoring the warmup request {request!r}", stacklevel=2)
        return info.factory(optimizer, **spec_kwargs)

    ticks = 1
    if accelerator is not None:
        num_processes = int(accelerator.num_processes) if num_processes is None else num_processes
        split_batches = bool(getattr(accelerator, "split_batches", False)) if split_batches is None else split_batches
        ticks = accelerator_ticks_per_step(accelerator)
    num_processes = 1 if num_processes is None else num_processes
    split_batches = bool(split_batches)

    if num_training_steps is None:
        if dataloader is None and num_batches is None and max_steps is None:
            if info.needs_total:
                raise ValueError(
                    f"schedule {info.name!r} needs num_training_steps, or a dataloader (or num_batches) with "
                    "num_epochs, or max_steps, to compute it"
                )
            num_training_steps = _UNBOUNDED_STEPS
            if request is None:
                raise ValueError(
                    f"{info.name!r} without num_training_steps needs an explicit num_warmup_steps (int): "
                    "a ratio of an unbounded run is undefined"
                )
        else:
            num_training_steps = compute_budget(
                dataloader,
                num_batches=num_batches,
                num_epochs=num_epochs,
                gradient_accumulation_steps=gradient_accumulation_steps,
                max_steps=max_steps,
                num_processes=num_processes,
                dataloader_prepared=dataloader_prepared,
                split_batches=split_batches,
            ).num_training_steps
    elif dataloader is not None or num_batches is not None or max_steps is not None:
        raise ValueError(
            f"num_training_steps={num_training_steps!r} was given together with a dataloader/num_batches/max_steps: "
            "give one or the other"
        )

    if not info.has_warmup and request is not None:
        from .warmup import resolve_warmup

        if resolve_warmup(request, num_training_steps, optimizer):
            warnings.warn(
                f"schedule {info.name!r} has no warmup phase; ignoring the warmup request {request!r} "
                "(as transformers does). Use 'warmupconstant' for warmup then a constant LR",
                stacklevel=2,
            )
        request = None

    lr_init = optimizer.defaults.get("lr") if hasattr(optimizer, "defaults") else None
    schedule = build_schedule(
        info.name,
        num_training_steps=num_training_steps,
        num_warmup_steps=request,
        lr_init=None if lr_init is None else float(lr_init),
        optimizer=optimizer,
        **spec_kwargs,
    )
    return ScheduledLR(optimizer, schedule, ticks_per_step=ticks, strict=strict)
