"""``reduce_lr_on_plateau`` and ``greedy`` with a warmup prefix, counted from the optimizer's steps, cut once per evaluation.

:class:`MetricScheduler` puts a linear warmup of ``W`` optimizer steps in front of a
metric-driven scheduler (torch's ``ReduceLROnPlateau`` or transformers' ``GreedyLR``, the
*inner* one):

    ``lr_g(s) = inner_lr_g * w(s)``,  ``w(s) = s / W`` for ``s < W``, ``1`` after,

where ``s`` is the number of optimizer steps **taken**, counted by step hooks on the optimizer
(as :class:`~hf_sched.lr_scheduler.ScheduledLR` counts them), and ``inner_lr_g`` starts at the
group's LR (the peak) and changes only when the inner scheduler cuts (or, for ``greedy``,
raises) it. Optimizer step ``s + 1`` trains at ``lr_g(s)``: the LR in the groups between two
steps is the one the last step used (the Trainer logs it from there).

Metrics: ``step(metric)`` hands the metric to the inner scheduler **once per optimizer step
count**. Accelerate's ``AcceleratedScheduler`` calls ``step(metric)`` once per process, ``N``
times in a row at the same count: the first call is the evaluation, the others are the same
one and change nothing, so the LR is cut once per bad evaluation on any number of processes.
Metrics reported during the warmup (``s < W``) are not handed over: the metric-driven part
starts at the peak. ``step()`` with no metric only rewrites the LRs (any number of calls).

``state_dict()`` holds the step, the count of the last metric consumed, the inner LRs and the
inner scheduler's state (plain types: ``torch.load(..., weights_only=True)`` reads it);
``load_state_dict`` restores them and writes the restored step's LRs, so a resumed run cuts and
warms up exactly as the uninterrupted one. The class derives from ``ReduceLROnPlateau`` so that
the Trainer treats it as metric-driven (steps it with the evaluation metric, logs the group LR).

>>> import torch
>>> opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
>>> sched = metric_scheduler("reduce_lr_on_plateau", opt, 2, None, {"patience": 0, "factor": 0.5})
>>> lrs = []
>>> for metric in [1.0, 1.0, 1.0, 2.0, 2.0]:
...     opt.step(); lrs.append(opt.param_groups[0]["lr"])
...     for _ in range(2):          # two processes: the same evaluation twice
...         sched.step(metric)
>>> lrs     # warmup 0, 0.5, the peak; each bad evaluation (after steps 3 and 4) cuts once
[0.0, 0.5, 1.0, 0.5, 0.25]
"""

from __future__ import annotations

from typing import Any

from torch.optim.lr_scheduler import ReduceLROnPlateau

from .checks import check_int
from .handover import checkpoint_lrs, checkpoint_warmup, handover_warmup, set_group_lr
from .optimizer_chain import deepest_torch_optimizer
from .registry import check_schedule_kwargs, get_info
from .warmup import warmup_factor

__all__ = ["MetricScheduler", "metric_scheduler"]

_STATE_FORMAT = "hf_sched.MetricScheduler/1"


def metric_scheduler(
    name: str,
    optimizer: Any,
    request: Any,
    num_training_steps: int | None,
    scheduler_kwargs: dict[str, Any] | None = None,
    *,
    strict: bool = True,
) -> MetricScheduler:
    """Build ``name`` (a metric-driven registry name) with a warmup of ``request`` steps in front.

    ``request``: ``None`` or ``0`` = no warmup (the default of these names, as in
    transformers); whole steps; or, when ``num_training_steps`` is known, a ratio, ``"10%"`` or
    ``"auto"`` (:func:`hf_sched.warmup.resolve_warmup`). ``scheduler_kwargs`` go to the inner
    scheduler (checked against its arguments by name).

    >>> import torch
    >>> opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    >>> metric_scheduler("reduce_lr_on_plateau", opt, "10%", 200).num_warmup_steps
    20
    """
    info = get_info(name)
    if not info.adaptive:
        raise ValueError(f"{info.name!r} is not metric-driven; metric_scheduler builds reduce_lr_on_plateau and greedy")
    kwargs = check_schedule_kwargs(info.name, dict(scheduler_kwargs or {}))
    steps = handover_warmup(request, num_training_steps, optimizer, owner=repr(info.name), default=0)
    inner = info.factory(deepest_torch_optimizer(optimizer), **kwargs)
    return MetricScheduler(inner, steps, name=info.name, strict=strict)


class MetricScheduler(ReduceLROnPlateau):
    """A warmup prefix, then a metric-driven scheduler; ``s`` counts the optimizer's steps.

    ``lr_g(s) = inner_lr_g * s / W`` for ``s < W``, ``inner_lr_g`` after, where the inner
    scheduler (built on the optimizer, before this wrapper) moves ``inner_lr_g`` at most once per
    optimizer step count, when :meth:`step` gets a metric at ``s >= W``.

    Args:
        scheduler: the inner metric-driven scheduler (``ReduceLROnPlateau``, ``GreedyLR``).
        num_warmup_steps: ``W >= 0``.
        name: the registry name, stored in the state to refuse a checkpoint of another kind.
        strict: refuse a checkpoint with another warmup (``False``: warn and take it).

    >>> import torch
    >>> opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    >>> s = MetricScheduler(torch.optim.lr_scheduler.ReduceLROnPlateau(opt), 4)
    >>> opt.step(); opt.step(); s.get_last_lr(), s.last_epoch
    ([0.025], 2)
    """

    def __init__(self, scheduler: Any, num_warmup_steps: int, *, name: str = "reduce_lr_on_plateau",
                 strict: bool = True) -> None:
        if not callable(getattr(scheduler, "step", None)) or getattr(scheduler, "optimizer", None) is None:
            raise TypeError(f"scheduler must be a metric-driven scheduler with .optimizer and .step(metric), "
                            f"got {type(scheduler).__name__}")
        self.scheduler = scheduler
        self.optimizer = deepest_torch_optimizer(scheduler.optimizer)
        self.num_warmup_steps = check_int("num_warmup_steps", num_warmup_steps, minimum=0)
        self.name = name
        self.strict = strict
        self._inner_lrs = [float(g["lr"]) for g in self.optimizer.param_groups]
        self.base_lrs = list(self._inner_lrs)
        self.last_epoch = 0  # optimizer steps taken
        self._consumed_at = -1  # optimizer step count of the last metric handed over
        self._step_count = 1
        self._handles = [
            self.optimizer.register_step_pre_hook(self._before_optimizer_step),
            self.optimizer.register_step_post_hook(self._after_optimizer_step),
        ]
        self._write()

    # -- counting and writing ---------------------------------------------------------

    def _before_optimizer_step(self, optimizer: Any, args: Any, kwargs: Any) -> None:
        self._write()

    def _after_optimizer_step(self, optimizer: Any, args: Any, kwargs: Any) -> None:
        self.last_epoch += 1

    def warmup_multiplier(self, step: int | None = None) -> float:
        """``w(s)``: ``s / W`` during the warmup, ``1`` after (default: the current step)."""
        s = self.last_epoch if step is None else step
        return 1.0 if s >= self.num_warmup_steps else warmup_factor(s, self.num_warmup_steps)

    def _write(self) -> None:
        w = self.warmup_multiplier()
        for group, lr in zip(self.optimizer.param_groups, self._inner_lrs):
            set_group_lr(group, lr * w)

    @property
    def inner_lrs(self) -> list[float]:
        """The inner scheduler's LRs (the peak, moved by its cuts), before the warmup factor."""
        return list(self._inner_lrs)

    # -- stepping ---------------------------------------------------------------------

    def step(self, metrics: Any = None, epoch: int | None = None) -> None:  # type: ignore[override]
        """Hand ``metrics`` to the inner scheduler once per optimizer step count (after the warmup)."""
        if epoch is not None:
            raise TypeError("MetricScheduler.step() takes no epoch: it counts the optimizer's steps itself")
        if metrics is not None and self.last_epoch != self._consumed_at:
            self._consumed_at = self.last_epoch
            if self.last_epoch >= self.num_warmup_steps:
                for group, lr in zip(self.optimizer.param_groups, self._inner_lrs):
                    set_group_lr(group, lr)
                self.scheduler.step(metrics)
                self._inner_lrs = [float(g["lr"]) for g in self.optimizer.param_groups]
        self._write()

    def get_last_lr(self) -> list[float]:  # type: ignore[override]  # plain floats, as ScheduledLR's
        """The LRs in the groups: those the last optimizer step used (before any step: the first step's)."""
        return [float(g["lr"]) for g in self.optimizer.param_groups]

    @property
    def _last_lr(self) -> list[float]:  # type: ignore[override]
        return self.get_last_lr()

    # -- state ------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """Plain types: format, name, warmup, step, last metric's step, inner LRs and the inner state."""
        return {
            "format": _STATE_FORMAT,
            "name": self.name,
            "num_warmup_steps": self.num_warmup_steps,
            "step": self.last_epoch,
            "consumed_at": self._consumed_at,
            "inner_lrs": [float(x) for x in self._inner_lrs],
            "inner": self.scheduler.state_dict(),
        }

    def load_state_dict(self, state_dict: dict[str, Any], strict: bool | None = None) -> None:
        """Restore the step, the inner scheduler and its LRs; write the restored step's LRs."""
        strict = self.strict if strict is None else strict
        if not isinstance(state_dict, dict) or state_dict.get("format") != _STATE_FORMAT:
            keys = sorted(map(str, state_dict)) if isinstance(state_dict, dict) else type(state_dict).__name__
            raise ValueError(f"state_dict is not a MetricScheduler state (format {_STATE_FORMAT!r}); got keys {keys}")
        if state_dict.get("name") != self.name:
            raise ValueError(f"the checkpoint's scheduler is {state_dict.get('name')!r}, this run's {self.name!r}: "
                             "build the same name to resume")
        inner_lrs = checkpoint_lrs(state_dict, self.optimizer)
        self.num_warmup_steps = checkpoint_warmup(state_dict, self.num_warmup_steps, strict)
        self.scheduler.load_state_dict(state_dict["inner"])
        self._inner_lrs = inner_lrs
        self.last_epoch = check_int("step", state_dict["step"], minimum=0)
        self._consumed_at = int(state_dict.get("consumed_at", -1))
        self._write()

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_handles"] = []
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._handles = [
            self.optimizer.register_step_pre_hook(self._before_optimizer_step),
            self.optimizer.register_step_post_hook(self._after_optimizer_step),
        ]

    def __repr__(self) -> str:
        return (f"MetricScheduler({type(self.scheduler).__name__}, step={self.last_epoch}, "
                f"num_warmup_steps={self.num_warmup_steps})")
