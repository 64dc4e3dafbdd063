"""hf_sched in PyTorch Lightning: one call in ``configure_optimizers``.

:func:`lr_scheduler_config` returns Lightning's scheduler config dict for any hf_sched
name, with the total number of optimizer steps read from
``trainer.estimated_stepping_batches`` (``max_epochs`` or ``max_steps``, the train
dataloader's length, ``limit_train_batches``, ``accumulate_grad_batches``, ``devices`` and
``num_nodes`` all included) and ``"interval": "step"``::

    import lightning as L
    from hf_sched.integrations.lightning import lr_scheduler_config

    class Model(L.LightningModule):
        def configure_optimizers(self):
            optimizer = torch.optim.AdamW(self.parameters(), lr=1e-3)
            return {"optimizer": optimizer,
                    "lr_scheduler": lr_scheduler_config(self, optimizer, "warmupcosine")}

The LR of optimizer step ``k`` (1-based) is ``lr * f(k - 1)``, ``f`` the named schedule
over ``T = trainer.estimated_stepping_batches`` with the warmup requested (default 10%).
The scheduler counts the optimizer's own steps, so it is exact whatever ``interval`` says,
on one device or many (each DDP process has its own optimizer and takes the same steps).

Resume with ``trainer.fit(model, ckpt_path=...)`` is exact: Lightning saves and restores the
scheduler's state. A checkpoint whose schedule differs (a changed batch size,
``max_epochs``, devices, peak LR, ...) follows ``resume=`` (:mod:`hf_sched.resume_modes`):
``"strict"`` refuses with a message that names the ``ckpt_path`` and the other modes;
``"checkpoint"`` (or the older ``strict_resume=False``) continues the checkpoint's schedule
from its step; ``"rescale"`` continues the checkpoint's plan over this run's steps at the same
fraction of training (the scheduler counts its own steps, so it ends at the final value on the
last step Lightning takes); ``"replan"`` takes this run's schedule and peak LR from the step.
"""

from __future__ import annotations

import math
from typing import Any, Optional

from ..resume_modes import resolve_mode
from .resume import hinted_scheduler

__all__ = ["lr_scheduler_config"]

_LIGHTNING_TOTAL = (
    "The total comes from trainer.estimated_stepping_batches: max_epochs/max_steps, the train dataloader's length "
    "(dataset size and batch size), limit_train_batches, accumulate_grad_batches, devices and num_nodes"
)


def _the_trainer(trainer: Any) -> Any:
    """A Lightning ``Trainer`` from a Trainer or a LightningModule attached to one."""
    if hasattr(trainer, "estimated_stepping_batches"):
        return trainer
    inner = getattr(trainer, "_trainer", None)  # LightningModule.trainer raises when not attached
    if inner is not None and hasattr(inner, "estimated_stepping_batches"):
        return inner
    raise TypeError(
        f"trainer must be a lightning Trainer or a LightningModule attached to one (call this in "
        f"configure_optimizers), got {type(trainer).__name__}"
    )


def lr_scheduler_config(
    trainer: Any,
    optimizer: Any,
    name: str = "warmupcosine",
    *,
    warmup: Any = None,
    num_training_steps: Optional[int] = None,
    scheduler_kwargs: Optional[dict[str, Any]] = None,
    strict_resume: Optional[bool] = None,
    frequency: int = 1,
    resume: Optional[str] = None,
    decay_from_here: Any = None,
) -> dict[str, Any]:
    """Lightning's ``lr_scheduler`` config for the hf_sched schedule ``name``.

    Args:
        trainer: the Lightning ``Trainer``, or the LightningModule (``self``) attached to it.
        optimizer: the optimizer built in ``configure_optimizers``; its ``lr`` is the peak.
        name: any hf_sched schedule name or alias (``"warmupcosine"``, ``"noam"``,
            ``"hard-restarts"``, every transformers name except the metric-driven ones).
        warmup: any warmup request: steps (``int``), a ratio in ``[0, 1)``, ``"10%"``,
            ``"auto"``; ``None`` = 10% of the steps for schedules with a warmup phase.
        num_training_steps: the total; default ``trainer.estimated_stepping_batches``.
        scheduler_kwargs: the schedule's arguments, e.g. ``{"num_cycles": 2}``.
        strict_resume: the older spelling of ``resume``: ``True`` is ``"strict"``, ``False``
            is ``"checkpoint"`` (warn and continue with the checkpoint's schedule).
        frequency: Lightning's ``frequency`` key (the scheduler counts optimizer steps
            itself, so this changes nothing but how often ``step()`` is called).
        resume: what resuming from a checkpoint whose schedule differs does: ``"strict"``
            (refuse, the default), ``"checkpoint"``, ``"rescale"`` or ``"replan"``.
        decay_from_here: on resume, start the checkpoint's decay at its step (steps, a ratio
            of what is left or ``"20%"``; :func:`hf_sched.horizon.decay_from_here`).

    Returns:
        ``{"scheduler": <ScheduledLR>, "interval": "step", "frequency": frequency}``.

    ``lr(k) = lr_peak * f(k - 1)`` for optimizer step ``k``.

    >>> import lightning as L, torch
    >>> trainer = L.Trainer(max_steps=50, logger=False, enable_checkpointing=False, enable_progress_bar=False,
    ...                     enable_model_summary=False)
    >>> opt = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))], lr=1e-3)
    >>> config = lr_scheduler_config(trainer, opt, "hard-restarts", scheduler_kwargs={"num_cycles": 2})
    >>> config["interval"], config["scheduler"].schedules[0].num_training_steps, opt.param_groups[0]["lr"]
    ('step', 50, 0.0)
    """
    lightning_trainer = _the_trainer(trainer)
    if strict_resume is not None and not isinstance(strict_resume, bool):
        raise TypeError(f"strict_resume must be True or False, got {strict_resume!r}")
    mode = resolve_mode(strict_resume, resume, strict_name="strict_resume")
    if isinstance(frequency, bool) or not isinstance(frequency, int) or frequency < 1:
        raise ValueError(f"frequency={frequency!r} is invalid: it must be an int >= 1")
    if num_training_steps is None:
        total = lightning_trainer.estimated_stepping_batches
        if not isinstance(total, int) and not (isinstance(total, float) and math.isfinite(total)):
            raise ValueError(
                f"trainer.estimated_stepping_batches is {total!r}: the run has no known length. Set max_steps (or "
                "max_epochs with a sized train dataloader), or pass num_training_steps="
            )
        total = int(total)
    else:
        if isinstance(num_training_steps, bool) or not isinstance(num_training_steps, int) or num_training_steps < 1:
            raise ValueError(f"num_training_steps={num_training_steps!r} is invalid: it must be an int >= 1")
        total = num_training_steps

    def where() -> str:
        return f"ckpt_path={getattr(lightning_trainer, 'ckpt_path', None)!r}"

    sched = hinted_scheduler(
        name,
        optimizer,
        num_training_steps=total,
        warmup=warmup,
        scheduler_kwargs=scheduler_kwargs,
        resume=mode,
        how='resume="{mode}" in lr_scheduler_config()',
        total=_LIGHTNING_TOTAL,
        flag=f"resume={mode!r}" if strict_resume is None else "strict_resume=False",
        where=where,
        decay_from_here=decay_from_here,
    )
    return {"scheduler": sched, "interval": "step", "frequency": frequency}
