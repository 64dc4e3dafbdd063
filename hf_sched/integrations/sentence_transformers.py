"""hf_sched in sentence-transformers: its Trainer, and the legacy ``model.fit(scheduler=...)``.

sentence-transformers is where the names ``warmupcosine`` & co. come from, but its
``SentenceTransformerTrainingArguments(lr_scheduler_type="warmupcosine")`` is refused
("not a valid SchedulerType") and ``model.fit`` knows only its five legacy names.

* :class:`SchedSentenceTransformerTrainingArguments` / :class:`SchedSentenceTransformerTrainer`:
  the one mechanism (:mod:`hf_sched.integrations.trainer_mixin`) on sentence-transformers'
  classes. Its losses, evaluators, batch samplers, prompts, router mapping and model card
  keep working; ``lr_scheduler_type`` takes every hf_sched name.
* :func:`fit_with_schedule`: ``model.fit(...)`` with ``scheduler=<any hf_sched name>``,
  schedule arguments and any warmup request. It gives this one call an hf_sched scheduler
  and leaves nothing patched when it returns (or raises).

>>> args = SchedSentenceTransformerTrainingArguments(output_dir="/tmp/hf_sched_doc",
...     lr_scheduler_type="warmupcosine", report_to=[])
>>> args.lr_scheduler_type, args.warmup_request(), args.batch_sampler.value
('warmupcosine', 0.1, 'batch_sampler')
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any, Iterable, Optional

from sentence_transformers import SentenceTransformerTrainer, SentenceTransformerTrainingArguments

from ..resume_modes import resolve_mode
from .arguments import SchedArgumentsMixin
from .resume import HintedScheduledLR, hinted_scheduler
from .trainer_mixin import SchedTrainerMixin

__all__ = [
    "SchedSentenceTransformerTrainingArguments",
    "SchedSentenceTransformerTrainer",
    "fit_with_schedule",
]

logger = logging.getLogger(__name__)

_FIT_TOTAL = (
    "The total comes from epochs/steps_per_epoch, the DataLoaders' batch size and length and the number of "
    "train objectives"
)


@dataclass
# (mypy [misc] ignored on the next line: hf_sched redeclares warmup_steps (None: unset) and lr_scheduler_kwargs on purpose.)
class SchedSentenceTransformerTrainingArguments(SchedArgumentsMixin, SentenceTransformerTrainingArguments):  # type: ignore[misc]
    """``SentenceTransformerTrainingArguments`` with every hf_sched schedule name and warmup request.

    ``warmup_ratio`` is hf_sched's (default ``0.1``, ``ceil(r * T)`` steps); ``warmup_steps``
    keeps transformers 5.x's meaning (``>= 1`` steps, ``< 1`` a ratio). See
    :class:`~hf_sched.integrations.arguments.SchedArgumentsMixin`.
    """


class SchedSentenceTransformerTrainer(SchedTrainerMixin, SentenceTransformerTrainer):
    """``SentenceTransformerTrainer`` whose LR scheduler comes from the hf_sched registry.

    The LR logged at optimizer step ``k`` is ``learning_rate * f(k - 1)`` over the
    Trainer's own total; a resume with a changed schedule is refused unless
    ``--lr_scheduler_strict_resume false``. Use it with
    :class:`SchedSentenceTransformerTrainingArguments`.
    """


def fit_with_schedule(
    model: Any,
    train_objectives: Iterable[Any],
    *,
    scheduler: str = "warmuplinear",
    warmup_steps: Any = None,
    scheduler_kwargs: Optional[dict[str, Any]] = None,
    strict_resume: Optional[bool] = None,
    resume: Optional[str] = None,
    **fit_kwargs: Any,
) -> HintedScheduledLR:
    """Run ``model.fit(train_objectives, **fit_kwargs)`` with any hf_sched schedule; return it.

    ``scheduler`` is any hf_sched name or alias (``"noam"``, ``"hard-restarts"``, every
    transformers name); ``scheduler_kwargs`` its arguments (``{"num_cycles": 2}``);
    ``warmup_steps`` any warmup request: steps (``int``), a ratio in ``[0, 1)``, ``"10%"``,
    ``"auto"``; ``None`` means 10% of the steps (not fit's own default of 10,000 steps).
    The schedule runs over the optimizer steps the run really takes:
    ``epochs * len(train_objectives) * min(ceil(len(dataset) / batch_size))`` (fit's own
    ``t_total`` rounds each dataset down, so with a remainder batch its last steps would run
    past the schedule's end; a warning says when the two differ), or ``steps_per_epoch``
    when given. ``lr(s) = base_lr * f(s)`` after ``s`` optimizer steps.

    With ``checkpoint_path=..., resume_from_checkpoint=True`` (fit's own arguments) a
    checkpoint whose schedule differs follows ``resume=`` (:mod:`hf_sched.resume_modes`):
    ``"strict"`` (the default) refuses, ``"checkpoint"`` (or the older ``strict_resume=False``)
    continues the checkpoint's schedule from its step, ``"rescale"`` the checkpoint's plan over
    this run's steps (from the step fit's Trainer resumes at), ``"replan"`` this run's schedule
    and peak.

    For this one call the model gets an instance attribute ``_get_scheduler`` (the hook
    ``fit`` calls); it is removed before this function returns or raises, so the model
    and the class are exactly as before. Returns the scheduler used (its
    ``optimizer_step``, ``schedules``).

    Example (the tiny model of the tests; a real one works the same)::

        from sentence_transformers import InputExample, losses
        loader = DataLoader([InputExample(texts=[a, p]) for a, p in pairs], batch_size=8, shuffle=True)
        sched = fit_with_schedule(model, [(loader, losses.MultipleNegativesRankingLoss(model))],
                                  scheduler="noam", warmup_steps="10%", epochs=2, show_progress_bar=False)
    """
    for bad in ("scheduler_obj", "warmup"):
        if bad in fit_kwargs:
            raise TypeError(f"fit_with_schedule() got an unexpected keyword argument {bad!r}")
    if not hasattr(type(model), "_get_scheduler") or not callable(getattr(model, "fit", None)):
        raise TypeError(
            f"model must be a sentence_transformers SentenceTransformer (with fit()), got {type(model).__name__}"
        )
    if "_get_scheduler" in vars(model):
        raise RuntimeError("fit_with_schedule is already running on this model (its _get_scheduler is replaced)")
    if strict_resume is not None and not isinstance(strict_resume, bool):
        raise TypeError(f"strict_resume must be True or False, got {strict_resume!r}")
    mode = resolve_mode(strict_resume, resume, strict_name="strict_resume")
    from ..registry import check_schedule_kwargs, get_info

    try:
        info = get_info(scheduler)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"scheduler={scheduler!r} is invalid: {exc}") from None
    kwargs = dict(scheduler_kwargs or {})
    try:
        check_schedule_kwargs(info.name, kwargs)
    except ValueError as exc:
        raise ValueError(f"scheduler_kwargs={kwargs!r} is invalid: {exc}") from None
    train_objectives = list(train_objectives)
    checkpoint_path = fit_kwargs.get("checkpoint_path")
    steps = _steps_fit_takes(train_objectives, fit_kwargs.get("epochs", 1), fit_kwargs.get("steps_per_epoch"))
    used: list[HintedScheduledLR] = []

    def _get_scheduler(optimizer: Any, scheduler: str, warmup_steps: Any, t_total: int) -> HintedScheduledLR:
        total = int(t_total) if steps is None else steps
        if total != int(t_total):
            logger.warning(
                f"fit_with_schedule: model.fit computes t_total={int(t_total)} (each dataset rounded down to whole "
                f"batches) but its Trainer takes {total} optimizer steps (a remainder batch is a step); the schedule "
                f"runs over {total}"
            )
        sched = hinted_scheduler(
            info.name,
            optimizer,
            num_training_steps=total,
            warmup=request,
            scheduler_kwargs=kwargs,
            resume=mode,
            how='resume="{mode}" in fit_with_schedule()',
            total=_FIT_TOTAL,
            flag=f"resume={mode!r}" if strict_resume is None else "strict_resume=False",
            # fit's Trainer resumes its global_step at the checkpoint's step and runs to its own total
            at_step=lambda state: int(state["step"]),
            where=lambda: f"the latest checkpoint in checkpoint_path={checkpoint_path!r}",
            param="scheduler",
        )
        used.append(sched)
        return sched

    request = warmup_steps
    vars(model)["_get_scheduler"] = _get_scheduler  # shadows the class's staticmethod, for this call only
    try:
        model.fit(train_objectives, scheduler=info.name, **fit_kwargs)
    finally:
        del vars(model)["_get_scheduler"]
    return used[-1]


def _steps_fit_takes(objectives: list[Any], epochs: Any, steps_per_epoch: Any) -> Optional[int]:
    """Optimizer steps of ``model.fit``'s Trainer: ``epochs * n * min(ceil(len_i / b))``, or ``None``.

    ``fit`` trains with one batch size (the last DataLoader's), round robin over the ``n``
    objectives for as many batches as the smallest dataset has, remainder batches included
    (``dataloader_drop_last`` is off). ``None`` when that cannot be read (unsized data, or
    ``steps_per_epoch``, which ``fit`` turns into ``max_steps`` itself).
    """
    if steps_per_epoch or not objectives or isinstance(epochs, bool) or not isinstance(epochs, int):
        return None
    try:
        batch_size = None
        for loader, _ in objectives:
            batch_size = getattr(loader, "batch_size", None) or getattr(loader.batch_sampler, "batch_size", None)
        if not batch_size:
            return None
        per_epoch = len(objectives) * min(math.ceil(len(loader.dataset) / batch_size) for loader, _ in objectives)
    except (TypeError, AttributeError, ValueError):
        return None
    return epochs * per_epoch if per_epoch > 0 else None
