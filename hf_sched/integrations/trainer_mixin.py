"""The trainer half of the one mechanism: hf_sched schedules in any ``transformers.Trainer`` subclass.

:class:`SchedTrainerMixin` goes **first** in the bases of a class that also derives from
``Trainer`` (or any subclass of it: ``Seq2SeqTrainer``, ``SentenceTransformerTrainer``,
TRL's ``SFTTrainer``, ``DPOTrainer``, ...). Paired with arguments built with
:class:`~hf_sched.integrations.arguments.SchedArgumentsMixin`, the trainer:

* builds its scheduler from the hf_sched registry in ``create_scheduler`` with the
  Trainer's own step count ``T``: ``lr_g(k) = base_lr_g * f(k - 1)`` for optimizer step
  ``k`` (1-based, as logged), ``f`` the named schedule over ``T`` steps with the resolved
  warmup. The Trainer steps its scheduler once per optimizer step in any world size;
* builds param groups by rule when ``args.layer_decay``, ``args.lr_mapping`` or
  ``args.loraplus_lr_ratio`` is set (:func:`hf_sched.optim.param_groups`);
* resumes a run whose schedule, peak LR or weight decay changed as ``--lr_scheduler_resume``
  says (:mod:`hf_sched.resume_modes`): ``strict`` refuses naming the change and the other
  modes; ``checkpoint`` warns and continues with the checkpoint's schedule; ``rescale``
  continues the checkpoint's plan over this run's steps from the Trainer's ``global_step``;
  ``replan`` takes this run's schedule, peak LR and weight decay from there. When the global
  batch changed, the resume line also says where the Trainer's data resumes (it skips
  ``global_step`` batches of the new size) (:mod:`hf_sched.integrations.resume`);
* keeps a schedule total of its own with ``--lr_scheduler_horizon`` and starts a decay at
  the resumed step with ``--lr_scheduler_decay_from_here``;
* writes the resolved warmup steps into the model card and adds an
  :class:`~hf_sched.integrations.lr_curve.LRCurveCallback` (``args.save_lr_curve``).

The trainer's own features (losses, evaluators, collators, packing, model cards, saved
args) are untouched: only ``create_scheduler``, ``create_optimizer`` (with an LR rule),
``create_model_card`` and the resume load are wrapped.

Any trainer, in two short classes::

    from dataclasses import dataclass
    from hf_sched.integrations import SchedArgumentsMixin, SchedTrainerMixin

    @dataclass
    class MyConfig(SchedArgumentsMixin, KTOConfig):
        pass

    class MyTrainer(SchedTrainerMixin, KTOTrainer):
        pass
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import json
import os
import sys
import warnings
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Optional

import torch
from transformers.utils import logging as hf_logging

from ..budget import has_len
from ..checks import ResumeRefused
from ..horizon import with_horizon
from ..lr_scheduler import ScheduledLR, get_scheduler
from ..registry import get_info
from ..schedule_free import averaged_weights, trainer_schedule_free_name
from .arguments import RESUME_FLAG, SchedArgumentsMixin, _check_mixin_first, parse_scheduler_kwargs
from .lr_curve import LRCurveCallback
from .resume import resume_changes, resume_refusal, resume_warning

__all__ = ["SchedTrainerMixin"]

logger = hf_logging.get_logger(__name__)

if TYPE_CHECKING:  # the type checker sees the Trainer the mixin is always combined with
    from transformers import Trainer as _TrainerBase
else:
    _TrainerBase = object

_SCHEDULER_FILE = "scheduler.pt"  # the name the Trainer saves its scheduler state under
_TRAINER_TOTAL = (
    "The total comes from num_train_epochs/max_steps, per_device_train_batch_size, gradient_accumulation_steps, "
    "the number of processes and the dataset size"
)
# ScheduledLR's own warning when it adopts the checkpoint's schedule: said here in the Trainer's words.
_SCHEDULED_LR_WARNING = "the schedule differs from the checkpoint's"


def _create_optimizer_takes_model(method: Any) -> bool:
    """``Trainer.create_optimizer(model=None)`` from transformers 5.3; before, it takes no argument."""
    return "model" in inspect.signature(method).parameters


def _is_optimizer_factory(optimizer_cls: Any) -> bool:
    """transformers' check for optimizers that build their own groups (5.2+; none exist before)."""
    try:
        from transformers.trainer_optimizer import is_optimizer_factory
    except ImportError:  # transformers < 5.2: optimizer factories do not exist
        return False
    return bool(is_optimizer_factory(optimizer_cls))


class SchedTrainerMixin(_TrainerBase):
    """Put first in the bases of any ``Trainer`` subclass: its scheduler comes from hf_sched.

    ``create_scheduler(num_training_steps, optimizer)`` builds
    ``hf_sched.get_scheduler(args.lr_scheduler_type, optimizer, warmup, T, kwargs)`` with
    the Trainer's own ``T``, for whatever optimizer the Trainer made (or was given with
    ``optimizers=(opt, None)``); a scheduler given in ``optimizers`` is used as is.
    Metric-driven names (``reduce_lr_on_plateau``, ``greedy``) give the torch/transformers
    objects the Trainer steps with the eval metric. With plain ``TrainingArguments`` it
    reads transformers' fields with transformers' meaning and gives the stock LR values.

    >>> from transformers import Trainer
    >>> class MyTrainer(SchedTrainerMixin, Trainer):
    ...     pass
    >>> [c.__name__ for c in MyTrainer.__mro__[:3]]
    ['MyTrainer', 'SchedTrainerMixin', 'Trainer']
    """

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        from transformers import Trainer

        _check_mixin_first(cls, SchedTrainerMixin, Trainer)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if getattr(self.args, "save_lr_curve", False) and not any(
            isinstance(cb, LRCurveCallback) for cb in self.callback_handler.callbacks
        ):
            self.add_callback(LRCurveCallback())

    # -- optimizer --------------------------------------------------------------------

    def create_optimizer(self, model: Optional[torch.nn.Module] = None) -> torch.optim.Optimizer:
        """The Trainer's optimizer; with any LR rule set, over hf_sched's param groups.

        The optimizer class and its arguments are the Trainer's (``args.optim``, betas,
        eps, ...); with ``args.layer_decay``, ``args.lr_mapping`` (or sentence-transformers'
        ``learning_rate_mapping``) or ``args.loraplus_lr_ratio`` set, the param groups are
        ``hf_sched.optim.param_groups(model, **args.param_group_rules())``: a parameter's
        peak is ``(its regex's LR, or learning_rate) * layer_decay ** (L + 1 - k) *
        (loraplus_lr_ratio for LoRA B matrices)``, no weight decay for norms and biases.
        Groups a trainer hands in ``optimizer_dict`` as a list (sentence-transformers' own
        decay split and mapping) are replaced by these; an optimizer that builds its own
        groups (GaLore, LOMO, layer-wise, Muon factories) is refused.
        """
        args = self.args
        rules: dict[str, Any] = args.param_group_rules() if isinstance(args, SchedArgumentsMixin) else {}
        if not rules or self.optimizer is not None:
            if _create_optimizer_takes_model(super().create_optimizer):
                return super().create_optimizer(model)  # type: ignore[call-arg,unused-ignore]  # 5.3+ only
            return super().create_optimizer()  # transformers < 5.3 optimizes self.model
        from ..optim import describe_param_groups, param_groups

        opt_model: Any = self.model if model is None else model
        optimizer_cls, optimizer_kwargs = (
            self.optimizer_cls_and_kwargs
            if self.optimizer_cls_and_kwargs is not None
            else self.get_optimizer_cls_and_kwargs(args, opt_model)
        )
        optimizer_kwargs = dict(optimizer_kwargs)
        if isinstance(optimizer_kwargs.get("optimizer_dict"), list):  # the trainer's own param groups: ours replace them
            del optimizer_kwargs["optimizer_dict"]
        special = sorted({"params", "model", "optimizer_dict"} & set(optimizer_kwargs))
        if _is_optimizer_factory(optimizer_cls) or special:
            given = ", ".join(f"{k}={v!r}" for k, v in rules.items() if k not in ("lr", "weight_decay") and v is not None)
            raise ValueError(
                f"{given} cannot be used with optim={getattr(args.optim, 'value', args.optim)!r}: "
                "that optimizer builds its own parameter groups. Use a plain optimizer (adamw_torch, sgd, "
                "adafactor, ...) or leave these unset"
            )
        groups = param_groups(self._param_group_model(opt_model), **rules)
        logger.info("hf_sched param groups:\n" + describe_param_groups(groups))
        self.optimizer = optimizer_cls(groups, **optimizer_kwargs)
        return self.optimizer

    def _param_group_model(self, model: torch.nn.Module) -> torch.nn.Module:
        """The module whose parameters the optimizer trains (a trainer with trainable loss modules overrides it)."""
        return model

    # -- scheduler --------------------------------------------------------------------

    def _schedule_request(self, num_training_steps: int) -> tuple[str, Any, dict[str, Any], str]:
        """(name, warmup request, schedule kwargs, resume mode) from the arguments."""
        args = self.args
        if isinstance(args, SchedArgumentsMixin):
            return (
                args.lr_scheduler_type.value,
                args.schedule_warmup_request(),
                dict(args.lr_scheduler_kwargs or {}),
                str(args.lr_scheduler_resume),
            )
        # Stock TrainingArguments: transformers' meaning of every field.
        name = getattr(args.lr_scheduler_type, "value", args.lr_scheduler_type)
        info = get_info(name)
        request = None if info.adaptive else args.get_warmup_steps(num_training_steps)
        kwargs = args.lr_scheduler_kwargs
        if isinstance(kwargs, str):
            kwargs = parse_scheduler_kwargs(kwargs)
        return name, request, dict(kwargs or {}), "strict"

    def _global_batch(self) -> int:
        """Examples per optimizer step: per-device batch x devices x processes x accumulation."""
        args = self.args
        return int(args.train_batch_size * args.gradient_accumulation_steps * max(1, args.world_size))

    def set_initial_training_values(self, args: Any, dataloader: Any, *rest: Any, **kw: Any) -> Any:
        """transformers' own budget, with its optimizer steps per epoch kept for warmup in epochs."""
        values = super().set_initial_training_values(args, dataloader, *rest, **kw)
        # (num_train_epochs, num_update_steps_per_epoch, ...): per epoch only if the data has a length
        self._hf_sched_steps_per_epoch = values[1] if has_len(dataloader) else None
        return values

    def create_scheduler(self, num_training_steps: int, optimizer: Optional[torch.optim.Optimizer] = None) -> Any:
        """Build the scheduler from the registry for a run of ``num_training_steps`` steps.

        ``lr(k) = base_lr_g * f(k - 1)`` for optimizer step ``k`` and param group ``g``,
        ``f`` the schedule named by ``args.lr_scheduler_type`` with ``T =
        num_training_steps`` and the resolved warmup. Does nothing if a scheduler exists.
        """
        if self.lr_scheduler is None:
            optimizer = self.optimizer if optimizer is None else optimizer
            if optimizer is None:
                raise ValueError(
                    "create_scheduler needs an optimizer: call create_optimizer() first or pass optimizer="
                )
            name, request, kwargs, mode = self._schedule_request(num_training_steps)
            name = trainer_schedule_free_name(name, optimizer)  # default 'linear' -> constant
            horizon = getattr(self.args, "lr_scheduler_horizon", None)
            self.lr_scheduler = get_scheduler(
                name,
                optimizer,
                num_warmup_steps=request,
                num_training_steps=with_horizon(horizon, num_training_steps, name="lr_scheduler_horizon"),
                scheduler_specific_kwargs=kwargs,
                steps_per_epoch=getattr(self, "_hf_sched_steps_per_epoch", None),
                resume=mode,
                examples_per_step=self._global_batch(),
                decay_from_here=getattr(self.args, "lr_scheduler_decay_from_here", None),
            )
            self._created_lr_scheduler = True
            if isinstance(self.lr_scheduler, ScheduledLR):
                self.lr_scheduler.resume_hint = RESUME_FLAG
                s = self.lr_scheduler.schedules[0]
                logger.info(
                    f"hf_sched: {name} over {s.num_training_steps} optimizer steps, {s.num_warmup_steps} warmup steps"
                )
        return self.lr_scheduler

    # -- model card -------------------------------------------------------------------

    def create_model_card(self, *args: Any, **kwargs: Any) -> Any:
        """The trainer's own model card, with the warmup steps this run actually used.

        transformers reads ``args.warmup_steps`` for the card; with hf_sched arguments that
        field may be unset or a ratio, so the resolved number of warmup steps is shown.
        """
        if not isinstance(self.args, SchedArgumentsMixin):
            return super().create_model_card(*args, **kwargs)
        saved = self.args.warmup_steps
        sched = self.lr_scheduler
        if isinstance(sched, ScheduledLR):
            shown: Any = sched.schedules[0].num_warmup_steps
        elif hasattr(sched, "num_warmup_steps"):  # schedule-free / metric-driven
            shown = sched.num_warmup_steps
        elif saved is not None:
            shown = saved
        else:
            shown = 0 if self.args.warmup_request() is None else self.args.warmup_request()
        self.args.warmup_steps = shown
        try:
            return super().create_model_card(*args, **kwargs)
        finally:
            self.args.warmup_steps = saved

    # -- saving: a schedule-free optimizer's averaged weights (schedule_free.py) --

    def _save_checkpoint(self, model: Any, trial: Any) -> None:
        with averaged_weights(self.optimizer):
            super()._save_checkpoint(model, trial)

    def save_model(self, output_dir: Optional[str] = None, _internal_call: bool = False) -> None:
        with averaged_weights(self.optimizer):
            super().save_model(output_dir, _internal_call)

    # -- resume -----------------------------------------------------------------------

    def _load_optimizer_and_scheduler(self, checkpoint: Optional[str]) -> None:
        sched = self.lr_scheduler
        state = None
        if checkpoint is not None and isinstance(sched, ScheduledLR):
            state = self._checkpoint_schedule(checkpoint)
        if state is None or checkpoint is None or not isinstance(sched, ScheduledLR):
            super()._load_optimizer_and_scheduler(checkpoint)
            return
        step = self._resumed_global_step(checkpoint)
        self._check_resume_schedule(checkpoint, sched, state, step)  # a refusal comes before anything is loaded
        with _loading_at(sched, step):
            super()._load_optimizer_and_scheduler(checkpoint)
        line = sched.resume_note
        data = _data_position(state, sched, step)
        if line is not None and self.is_world_process_zero():
            print(f"hf_sched: {line}{data}", file=sys.stderr)
        elif data and self.is_world_process_zero():
            print(f"hf_sched: resuming from {checkpoint} with another global batch{data}", file=sys.stderr)

    def _resumed_global_step(self, checkpoint: str) -> int:
        """The Trainer's ``global_step`` once resumed: the checkpoint's ``trainer_state.json`` (transformers 4.x
        loads it only after the scheduler, so ``self.state`` still says 0 there)."""
        try:
            with open(os.path.join(checkpoint, "trainer_state.json"), encoding="utf-8") as f:
                return int(json.load(f)["global_step"])
        except (OSError, ValueError, KeyError, TypeError):
            return int(self.state.global_step)

    def _checkpoint_schedule(self, checkpoint: str) -> Optional[dict[str, Any]]:
        """The checkpoint's scheduler state (``None`` without one); another scheduler's is refused."""
        path = os.path.join(checkpoint, _SCHEDULER_FILE)
        if not os.path.isfile(path):
            return None
        state = torch.load(path, map_location="cpu", weights_only=True)
        if not isinstance(state, dict) or "schedules" not in state or "format" not in state:
            keys = sorted(state) if isinstance(state, dict) else type(state).__name__
            raise ResumeRefused(
                f"cannot resume the LR schedule from {path}: it was written by another scheduler (state keys {keys}), "
                "not by hf_sched's ScheduledLR. Resume it with the Trainer that wrote it, or start a new run"
            )
        return state

    def _check_resume_schedule(self, checkpoint: str, sched: ScheduledLR, state: dict[str, Any],
                               global_step: int) -> None:
        """Compare the checkpoint's schedule, peak LRs and weight decays with this run's: refuse (strict) or warn
        (checkpoint) in the Trainer's words; rescale and replan say what they did after loading."""
        theirs, mine = state["schedules"], sched.schedules
        if len(theirs) != len(mine):
            raise ResumeRefused(
                f"cannot resume from {checkpoint}: its scheduler has {len(theirs)} param groups, this run's optimizer "
                f"has {len(mine)}"
            )
        what = resume_changes(state, sched)
        if what is None or sched.decay_from_here is not None:
            return
        if sched.resume_mode == "strict":
            total = f"{_TRAINER_TOTAL} (now T={sched.schedules[0].num_training_steps})"
            how = RESUME_FLAG
            if not isinstance(self.args, SchedArgumentsMixin):
                how = "SchedTrainingArguments(lr_scheduler_resume='{mode}')"
            raise ResumeRefused(resume_refusal(checkpoint, what, total=total, how=how))
        if sched.resume_mode == "checkpoint":
            msg = resume_warning(checkpoint, what, flag="lr_scheduler_resume=checkpoint", step=int(state.get("step", 0)))
            msg += _data_position(state, sched, global_step)
            warnings.warn(msg, UserWarning, stacklevel=4)
            logger.warning(f"hf_sched: {msg}")


def _data_position(state: dict[str, Any], sched: ScheduledLR, global_step: int) -> str:
    """What the Trainer does with the data when the global batch changed (``""`` when it did not, or unknown)."""
    old, new = state.get("examples_per_step"), sched.examples_per_step
    if old is None or new is None or old == new:
        return ""
    seen = state.get("examples_seen")
    had = f"; the checkpoint's run had seen {seen}" if seen is not None else ""
    return (f"; the global batch changed ({old} -> {new} examples per step): the Trainer resumes its data at step "
            f"{global_step}, skipping {global_step} batches of the new size ({global_step * new} examples{had})")


@contextlib.contextmanager
def _loading_at(sched: ScheduledLR, global_step: int) -> Iterator[None]:
    """While the Trainer loads the scheduler: rescale from its ``global_step``, quietly (the mixin says it)."""
    vars(sched)["load_state_dict"] = functools.partial(type(sched).load_state_dict, sched, at_step=global_step)
    sched.announce_resume = False
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=_SCHEDULED_LR_WARNING, category=UserWarning)
            yield
    finally:
        del vars(sched)["load_state_dict"]
        del sched.announce_resume
