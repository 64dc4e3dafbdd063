"""A clock in tokens under the Trainer: ``TokenClockCallback`` reports each step's tokens to the schedule.

The Trainer counts the tokens it trains on in ``state.num_input_tokens_seen`` (with
``include_num_input_tokens_seen="non_padding"`` or ``"all"``; gathered over the processes),
adding each micro-batch before the optimizer step. A schedule on a clock in tokens
(``get_scheduler(..., num_training_steps="200M tok")``, passed as ``optimizers=(optimizer,
scheduler)``) is at ``c``, the tokens of the steps already taken, so before each optimizer step
the callback reports ``num_input_tokens_seen - c``: what this step holds. Both numbers are in the
checkpoint (``trainer_state.json``, ``scheduler.pt``), so a resumed run reports on from there.

The LR of optimizer step ``k`` (what the Trainer logs at step ``k``) is then
``peak * f(tokens of steps 1..k-1)``.

>>> TokenClockCallback().__class__.__name__
'TokenClockCallback'
"""

from __future__ import annotations

from typing import Any

import transformers
from transformers import TrainerCallback, TrainingArguments

__all__ = ["TokenClockCallback", "counts_non_padding"]


def counts_non_padding() -> bool:
    """Whether this transformers counts real tokens apart (``include_num_input_tokens_seen="non_padding"``).

    Older releases (4.x) have a bool field: any true value counts every token of the padded batches.

    >>> isinstance(counts_non_padding(), bool)
    True
    """
    field = TrainingArguments.__dataclass_fields__.get("include_num_input_tokens_seen")
    return field is not None and "non_padding" in str(field.metadata.get("help", ""))


class TokenClockCallback(TrainerCallback):
    """Before each optimizer step, ``scheduler.consume(tokens=state.num_input_tokens_seen - c)``.

    ``scheduler``: the ``ScheduledLR`` on a clock in tokens (default: the Trainer's ``lr_scheduler``).
    """

    def __init__(self, scheduler: Any = None) -> None:  # noqa: D107 - the class says it
        self.scheduler = scheduler

    def _clocked(self, kwargs: dict[str, Any]) -> Any:
        sched = self.scheduler if self.scheduler is not None else kwargs.get("lr_scheduler")
        clock = getattr(sched, "clock", None)
        if clock is None or clock.unit != "tokens":
            unit = "optimizer steps" if clock is None else clock.unit
            raise ValueError(f"TokenClockCallback needs a scheduler on a clock in tokens, got {type(sched).__name__} "
                             f"counting {unit}: build it with get_scheduler(..., num_training_steps='200M tok') and pass "
                             "it as Trainer(optimizers=(optimizer, scheduler))")
        return sched

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        """Refuse a run that counts no tokens, or a scheduler without a token clock, before the first step."""
        counting = getattr(args, "include_num_input_tokens_seen", "no")
        if counting in ("no", False, None):
            raise ValueError(f"include_num_input_tokens_seen={counting!r}: the Trainer counts no tokens, so a schedule in "
                             "tokens cannot know where it is; set include_num_input_tokens_seen='non_padding' (real "
                             "tokens) or 'all'")
        if counting == "non_padding" and not counts_non_padding():
            raise ValueError(f"include_num_input_tokens_seen='non_padding': transformers {transformers.__version__} has no "
                             "such count (its field is a bool: any true value counts every token of the padded "
                             "batches), so the schedule would run on padding; set include_num_input_tokens_seen=True "
                             "and give the totals in padded tokens, or use a transformers that counts real tokens (5.x)")
        self._clocked(kwargs)

    def on_pre_optimizer_step(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        """Report the tokens this step holds: those seen minus the clock's position and what is already reported."""
        sched = self._clocked(kwargs)
        held = int(state.num_input_tokens_seen) - sched.last_epoch - sched.clock.pending
        sched.consume(tokens=held)
