"""Schedule-free optimizers: hf_sched resolves the warmup and hands it over; its own LR stays constant.

schedulefree's ``AdamWScheduleFree`` and ``SGDScheduleFree`` warm up by themselves: optimizer
step ``k + 1`` (``k`` steps taken) trains at

    ``lr_k = peak * min(1, (k + 1) / W)``      (``W = group["warmup_steps"]``)

and need no decay: their iterate averaging replaces it. Decaying the LR on top multiplies two
schedules, and a warmup given as a ratio (``0.1``) reaches them as a step count of 0.1 (ten
times the peak on the first step). So with a schedule-free optimizer:

* the warmup request (steps, ratio, ``"10%"``, ``"1ep"``, ``"auto"``; unset = the 10% default)
  is resolved into ``W`` steps by :func:`hf_sched.warmup.resolve_warmup` and written into every
  param group's ``warmup_steps``; hf_sched's own multiplier is ``1`` at every step;
* only ``constantlr`` (no warmup) and ``warmupconstant`` are accepted; a decaying name is
  refused in one line that says why;
* :class:`ScheduleFreeLR` reports (``get_last_lr``) the LR the optimizer really used:
  its ``scheduled_lr``, warmup included;
* ``ScheduleFreeWrapper`` (any base optimizer made schedule-free) has no warmup of its own:
  :class:`ScheduleFreeLR` writes the same ``lr_k`` into the base optimizer's groups before each step;
* ``RAdamScheduleFree`` needs no warmup (its rectification is one): a warmup request above 0 is
  refused.

:func:`averaged_weights` puts the model on the averaged weights (``optimizer.eval()``) for a
block of code, as schedulefree asks for saving; the Trainer already switches around evaluation
and training steps, and :class:`~hf_sched.integrations.trainer_mixin.SchedTrainerMixin` uses it
around checkpoint and model saving.

>>> import torch, schedulefree
>>> opt = schedulefree.AdamWScheduleFree([torch.nn.Parameter(torch.zeros(2))], lr=1e-3)
>>> sched = schedule_free_scheduler("warmupconstant", opt, "10%", 50)
>>> opt.param_groups[0]["warmup_steps"], sched.num_warmup_steps
(5, 5)
>>> opt.train()
>>> lrs = []
>>> for _ in range(7):
...     opt.step(); sched.step(); lrs.append(round(sched.get_last_lr()[0], 9))
>>> lrs          # peak * min(1, (k + 1) / 5): one warmup, then the peak, no decay
[0.0002, 0.0004, 0.0006, 0.0008, 0.001, 0.001, 0.001]
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from typing import Any

from torch.optim.lr_scheduler import LRScheduler

from .checks import check_int
from .handover import checkpoint_warmup, handover_warmup, set_group_lr
from .optimizer_chain import deepest_torch_optimizer, optimizer_chain
from .registry import get_info

__all__ = [
    "CONSTANT_NAMES",
    "ScheduleFreeLR",
    "averaged_weights",
    "check_schedule_free_arguments",
    "is_schedule_free",
    "schedule_free_optimizer",
    "schedule_free_scheduler",
    "trainer_schedule_free_name",
]

#: the names a schedule-free optimizer accepts (canonical registry names)
CONSTANT_NAMES = ("constantlr", "warmupconstant")
_TRAINER_DEFAULT = "warmuplinear"  # transformers' default lr_scheduler_type "linear"
_STATE_FORMAT = "hf_sched.ScheduleFreeLR/1"


def schedule_free_optimizer(optimizer: Any) -> Any | None:
    """The schedulefree optimizer in ``optimizer``'s wrapper chain (Accelerate's wrapper included), or ``None``.

    >>> import torch, schedulefree
    >>> schedule_free_optimizer(torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))])) is None
    True
    """
    for node in optimizer_chain(optimizer):
        if type(node).__module__.split(".")[0] == "schedulefree":
            return node
    return None


def is_schedule_free(optimizer: Any) -> bool:
    """True if ``optimizer`` is (or wraps) one of schedulefree's optimizers or its ``ScheduleFreeWrapper``."""
    return schedule_free_optimizer(optimizer) is not None


def _refusal(name: str, optimizer_name: str) -> str:
    return (
        f"lr_scheduler_type={name!r} changes the LR during training, but {optimizer_name} is a schedule-free "
        "optimizer: its iterate averaging replaces the decay, and a schedule on top would multiply two schedules. "
        "Use 'warmupconstant' (hf_sched hands the warmup to the optimizer) or 'constantlr' (no warmup)"
    )


def trainer_schedule_free_name(name: str, optimizer: Any) -> str:
    """The name a Trainer should build: its default ``linear`` becomes ``warmupconstant`` for a schedule-free optimizer.

    ``TrainingArguments`` cannot tell its default ``lr_scheduler_type="linear"`` from one typed
    by the user, and transformers' own docs pair schedule-free optimizers with that default, so
    it is read as "warmup, then constant" (with a warning). Every other name is returned as is
    (a decaying one is refused by :func:`schedule_free_scheduler`).

    >>> import torch
    >>> trainer_schedule_free_name("linear", torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))]))
    'linear'
    """
    sf = schedule_free_optimizer(optimizer)
    if sf is None or get_info(name).name != _TRAINER_DEFAULT:
        return name
    warnings.warn(
        f"lr_scheduler_type={name!r} (the Trainer's default) is not applied on top of the schedule-free "
        f"{type(sf).__name__}: training uses its own warmup, then a constant LR ('warmupconstant'). "
        "Pass lr_scheduler_type='warmupconstant' or 'constantlr' to say so and silence this warning",
        UserWarning,
        stacklevel=2,
    )
    return "warmupconstant"


def check_schedule_free_arguments(optim: Any, lr_scheduler_type: Any) -> None:
    """Refuse a decaying ``lr_scheduler_type`` with a schedule-free ``--optim`` when the Trainer arguments are made.

    The same line as :func:`schedule_free_scheduler` gives at ``train()``, before anything loads.
    The Trainer's default ``linear`` passes (it becomes ``warmupconstant``, see
    :func:`trainer_schedule_free_name`).

    >>> check_schedule_free_arguments("schedule_free_adamw", "warmupconstant")
    >>> check_schedule_free_arguments("adamw_torch", "warmupcosine")
    """
    optim = str(getattr(optim, "value", optim))
    if not optim.startswith("schedule_free"):
        return
    name = str(getattr(lr_scheduler_type, "value", lr_scheduler_type))
    if get_info(name).name not in (*CONSTANT_NAMES, _TRAINER_DEFAULT):
        optimizer = {"schedule_free_sgd": "SGDScheduleFree", "schedule_free_radam": "RAdamScheduleFree"}.get(
            optim, "AdamWScheduleFree")
        raise ValueError(_refusal(name, optimizer))


def schedule_free_scheduler(
    name: str,
    optimizer: Any,
    request: Any,
    num_training_steps: int | None,
    scheduler_kwargs: dict[str, Any] | None = None,
    *,
    strict: bool = True,
) -> ScheduleFreeLR:
    """Resolve the warmup for a schedule-free optimizer, hand it over, and return its constant :class:`ScheduleFreeLR`.

    ``W = resolve_warmup(request, T)`` (``request`` ``None`` = the 10% default) for
    ``warmupconstant``, ``W = 0`` for ``constantlr``; ``num_training_steps=None`` (a run with no
    total) needs ``request`` as whole steps. Epoch requests must already be steps
    (:func:`hf_sched.lr_scheduler.get_scheduler` converts them).

    >>> import torch, schedulefree
    >>> opt = schedulefree.SGDScheduleFree([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    >>> schedule_free_scheduler("constant_with_warmup", opt, 0.1, 35).num_warmup_steps   # ceil(0.1 * 35)
    4
    """
    sf = schedule_free_optimizer(optimizer)
    if sf is None:
        raise TypeError(f"optimizer must be (or wrap) a schedulefree optimizer, got {type(optimizer).__name__}")
    info = get_info(name)
    if info.name not in CONSTANT_NAMES:
        raise ValueError(_refusal(name, type(sf).__name__))
    if scheduler_kwargs:
        raise ValueError(
            f"lr_scheduler_kwargs={scheduler_kwargs!r} cannot be used with the schedule-free {type(sf).__name__}: "
            "the LR is constant after the optimizer's own warmup; leave them out"
        )
    steps = 0 if not info.has_warmup else handover_warmup(request, num_training_steps, sf,
                                                          owner=f"the schedule-free {type(sf).__name__}")
    return ScheduleFreeLR(optimizer, steps, strict=strict)


class ScheduleFreeLR(LRScheduler):
    """The constant scheduler of a schedule-free optimizer, which warms up by itself.

    ``lr_k = peak_g * min(1, (k + 1) / W)`` for optimizer step ``k + 1`` (the optimizer's own
    formula, ``W = 0`` meaning none). For ``AdamWScheduleFree`` / ``SGDScheduleFree``, ``W`` is
    written into every group's ``warmup_steps`` and the optimizer applies it; for
    ``ScheduleFreeWrapper`` this scheduler writes ``lr_k`` into the base optimizer's groups before
    each step (and in :meth:`step`); ``RAdamScheduleFree`` takes no warmup (``W`` must be 0).
    :meth:`step` changes nothing else, so calling it any number of times per optimizer step is
    harmless. :meth:`get_last_lr` is the LR the last optimizer step used (before the first
    step: the LR the first step will use). The state dict holds plain types only.

    >>> import torch, schedulefree
    >>> opt = schedulefree.AdamWScheduleFree([torch.nn.Parameter(torch.zeros(1))], lr=0.01)
    >>> ScheduleFreeLR(opt, 4).get_last_lr(), opt.param_groups[0]["warmup_steps"]
    ([0.0025], 4)
    """

    def __init__(self, optimizer: Any, num_warmup_steps: int, *, strict: bool = True) -> None:
        sf = schedule_free_optimizer(optimizer)
        if sf is None:
            raise TypeError(f"optimizer must be (or wrap) a schedulefree optimizer, got {type(optimizer).__name__}")
        self.optimizer = sf
        self.num_warmup_steps = check_int("num_warmup_steps", num_warmup_steps, minimum=0)
        self.strict = strict
        groups = sf.param_groups
        self._hands_over = "warmup_steps" in groups[0]  # AdamW / SGD: the optimizer warms up itself
        self._wrapper = not hasattr(sf, "defaults")  # ScheduleFreeWrapper is no torch optimizer
        if not self._hands_over and not self._wrapper and self.num_warmup_steps:
            raise ValueError(
                f"warmup of {self.num_warmup_steps} steps cannot be given to {type(sf).__name__}: it has no warmup "
                "(its rectification is one). Leave the warmup unset or 0, or use AdamWScheduleFree (schedule_free_adamw)"
            )
        self.base_lrs = [float(g.get("initial_lr", g["lr"])) for g in groups]
        for group, peak in zip(groups, self.base_lrs):
            group.setdefault("initial_lr", peak)
            if self._hands_over:
                group["warmup_steps"] = self.num_warmup_steps
        self._handle = None
        if self._wrapper:
            self._handle = deepest_torch_optimizer(sf).register_step_pre_hook(lambda *_: self._write())
            self._write()
        self.last_epoch = 0
        self._step_count = 1

    def factor(self, k: int) -> float:
        """``min(1, (k + 1) / W)``: the warmup factor of optimizer step ``k + 1``.

        >>> import torch, schedulefree
        >>> opt = schedulefree.AdamWScheduleFree([torch.nn.Parameter(torch.zeros(1))])
        >>> [ScheduleFreeLR(opt, 4).factor(k) for k in range(5)]
        [0.25, 0.5, 0.75, 1.0, 1.0]
        """
        w = self.num_warmup_steps
        return 1.0 if k >= w else (k + 1) / w

    def _write(self) -> None:
        """For the wrapper: the LR of the next step into the base optimizer's groups."""
        for group, peak in zip(self.optimizer.param_groups, self.base_lrs):
            lr = float(peak) * self.factor(int(group.get("k", 0)))
            set_group_lr(group, lr)
            group["scheduled_lr"] = lr

    def step(self, epoch: int | None = None) -> None:
        """Nothing to schedule (the optimizer warms up itself); the wrapper's next LR is rewritten."""
        if self._wrapper:
            self._write()
        self.last_epoch = int(self.optimizer.param_groups[0].get("k", 0))

    def get_last_lr(self) -> list[float]:  # type: ignore[override]  # plain floats, as ScheduledLR's
        """The LR the last optimizer step used in each group (its ``scheduled_lr``), warmup included."""
        out = []
        for group, peak in zip(self.optimizer.param_groups, self.base_lrs):
            k = int(group.get("k", 0))
            out.append(float(group["scheduled_lr"]) if k > 0 else float(peak) * self.factor(0))
        return out

    def get_lr(self) -> list[float]:  # type: ignore[override]  # plain floats, as ScheduledLR's
        """The LRs of the next optimizer step."""
        return [float(peak) * self.factor(int(g.get("k", 0))) for g, peak in zip(self.optimizer.param_groups, self.base_lrs)]

    def state_dict(self) -> dict[str, Any]:
        """Plain types: format, the optimizer's class, the warmup handed over, the peak LRs."""
        return {
            "format": _STATE_FORMAT,
            "optimizer": type(self.optimizer).__name__,
            "num_warmup_steps": self.num_warmup_steps,
            "base_lrs": [float(b) for b in self.base_lrs],
        }

    def load_state_dict(self, state_dict: dict[str, Any], strict: bool | None = None) -> None:
        """Restore the peaks; refuse another warmup (the optimizer's state holds its step count)."""
        strict = self.strict if strict is None else strict
        if not isinstance(state_dict, dict) or state_dict.get("format") != _STATE_FORMAT:
            keys = sorted(map(str, state_dict)) if isinstance(state_dict, dict) else type(state_dict).__name__
            raise ValueError(f"state_dict is not a ScheduleFreeLR state (format {_STATE_FORMAT!r}); got keys {keys}")
        self.num_warmup_steps = checkpoint_warmup(state_dict, self.num_warmup_steps, strict, what="schedule-free warmup")
        bases = state_dict.get("base_lrs")
        if not isinstance(bases, list) or len(bases) != len(self.optimizer.param_groups):
            raise ValueError(f"state_dict['base_lrs'] must hold one LR per param group, got {bases!r}")
        self.base_lrs = [float(b) for b in bases]
        for group in self.optimizer.param_groups:
            if self._hands_over:
                group["warmup_steps"] = self.num_warmup_steps
        if self._wrapper:
            self._write()

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_handle"] = None
        return state

    def __repr__(self) -> str:
        return f"ScheduleFreeLR({type(self.optimizer).__name__}, num_warmup_steps={self.num_warmup_steps})"


def _in_train_mode(sf: Any) -> bool:
    if hasattr(sf, "train_mode"):  # the wrapper
        return bool(sf.train_mode)
    return bool(sf.param_groups[0].get("train_mode", False))


@contextlib.contextmanager
def averaged_weights(optimizer: Any) -> Iterator[None]:
    """Within the block the parameters hold a schedule-free optimizer's averaged weights (``optimizer.eval()``).

    schedulefree asks for ``eval()`` before evaluating and saving; the mode found is restored
    after the block. Does nothing for ``None`` or any other optimizer.

    >>> import torch
    >>> with averaged_weights(torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)):
    ...     pass
    """
    sf = None if optimizer is None else schedule_free_optimizer(optimizer)
    if sf is None or not _in_train_mode(sf):
        yield
        return
    sf.eval()
    try:
        yield
    finally:
        sf.train()
