"""``StopOnDivergence``: the divergence guard as a Trainer callback (``SchedTrainer`` or any ``Trainer``).

The transformers ``Trainer`` trains on through NaN: with its default ``logging_nan_inf_filter``
it even logs a NaN step as the mean of the finite ones, so the run reports a finite
``train_loss`` over weights that are NaN. This callback applies :class:`hf_sched.divergence.DivergenceGuard`'s
rule: at the first optimizer step whose training loss (any of its micro-batches) or gradient
norm is NaN or infinite it raises :class:`~hf_sched.divergence.DivergenceError` from
``on_pre_optimizer_step``, before the optimizer applies the step, so the weights and every
checkpoint saved so far stay those of the last good step. ``trainer.train()`` raises it.

How it sees them: the loss through a forward hook on the model (the ``loss`` of each
training-mode forward; evaluation is not watched), the gradients through their norm just
before the optimizer step (after the Trainer's clipping, which turns an infinite norm into
NaN gradients). Under fp16 loss scaling (``--fp16``) an infinite gradient is the scaler's
business (it skips that step), so only the loss is checked. On several processes the
decision is shared (an all-reduce of one flag), so every rank stops at the same step.

    trainer = SchedTrainer(model=model, args=args, ..., callbacks=[StopOnDivergence()])

>>> StopOnDivergence(advice="Lower --learning_rate").guard.advice
'Lower --learning_rate'
"""

from __future__ import annotations

import math
from typing import Any, Optional

from transformers import TrainerCallback

from ..divergence import DEFAULT_ADVICE, DivergenceGuard, gradient_norm

__all__ = ["StopOnDivergence"]


class StopOnDivergence(TrainerCallback):
    """Raise ``DivergenceError`` before the first optimizer step whose loss or gradients are not finite."""

    def __init__(self, advice: str = DEFAULT_ADVICE) -> None:
        self.guard = DivergenceGuard(advice)
        self._bad_loss: Optional[float] = None
        self._hook: Any = None

    def _watch(self, module: Any, inputs: Any, output: Any) -> None:
        if not module.training:
            return
        loss = output.get("loss") if isinstance(output, dict) else getattr(output, "loss", None)
        if loss is None or not hasattr(loss, "detach") or loss.numel() != 1:
            return
        value = float(loss.detach().float())
        if not math.isfinite(value) and self._bad_loss is None:
            self._bad_loss = value

    def on_train_begin(self, args: Any, state: Any, control: Any, model: Any = None, **kwargs: Any) -> None:
        self.guard.last_good_step = state.global_step
        self._bad_loss = None
        if model is not None and self._hook is None:
            self._hook = model.register_forward_hook(self._watch)

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self._hook is not None:
            self._hook.remove()
            self._hook = None

    def on_pre_optimizer_step(self, args: Any, state: Any, control: Any, model: Any = None,
                              optimizer: Any = None, **kwargs: Any) -> None:
        import torch

        params = list(model.parameters()) if model is not None else []
        scaled = bool(getattr(args, "fp16", False))  # GradScaler: an inf gradient is a skipped step, not divergence
        norm = None if scaled or not params else gradient_norm(params)
        loss = self._bad_loss
        self._bad_loss = None
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            device = params[0].device if params else torch.device("cpu")
            values = torch.tensor([0.0 if loss is None else loss, 0.0 if norm is None else norm], device=device)
            flags = (~torch.isfinite(values)).float()
            torch.distributed.all_reduce(flags, op=torch.distributed.ReduceOp.MAX)
            if flags[0] and loss is None:
                loss = math.nan  # another rank's loss was not finite
            if flags[1] and norm is not None and math.isfinite(norm):
                norm = math.nan
        lr = max(float(g["lr"]) for g in optimizer.param_groups) if optimizer is not None else None
        self.guard.check(state.global_step + 1, loss=loss, grad_norm=norm, lr=lr)
