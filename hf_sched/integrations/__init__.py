"""hf_sched in the trainers people fine-tune with; one shared mechanism, backends imported lazily.

The mechanism (:mod:`~hf_sched.integrations.arguments`, :mod:`~hf_sched.integrations.trainer_mixin`):
``SchedArgumentsMixin`` for any ``TrainingArguments`` subclass and ``SchedTrainerMixin`` for
any ``Trainer`` subclass. Ready classes, one module per tool:

=======================  =====================================================================
``transformers``         ``SchedTrainer(Arguments)``, ``SchedSeq2SeqTrainer(Arguments)``
``sentence_transformers`` ``SchedSentenceTransformerTrainer(Arguments)``, ``fit_with_schedule``
``trl``                  ``SchedSFTTrainer``/``SchedSFTConfig``, ``SchedDPOTrainer``/``SchedDPOConfig``,
                         ``SchedRewardTrainer``/``SchedRewardConfig``
``lightning``            ``lr_scheduler_config`` for ``configure_optimizers``
``lr_curve``             ``LRCurveCallback``, ``save_lr_curve``, ``lr_curve_from_log_history``
``resume``               the one resume rule and its messages
``divergence_callback``  ``StopOnDivergence``: stop at the first non-finite loss or gradient
``token_clock``          ``TokenClockCallback``: a schedule in tokens follows the Trainer's token count
=======================  =====================================================================

Importing this package imports none of them (nor torch); each name loads its module on
first use.

>>> import hf_sched.integrations as integ
>>> integ.SchedTrainer.__module__
'hf_sched.integrations.transformers'
"""

from __future__ import annotations

import importlib
from typing import Any

# public name -> module that defines it (imported on first use)
_LAZY = {
    "SchedArgumentsMixin": "arguments",
    "SchedulerName": "scheduler_name",
    "SchedTrainerMixin": "trainer_mixin",
    "SchedTrainingArguments": "transformers",
    "SchedTrainer": "transformers",
    "SchedSeq2SeqTrainingArguments": "transformers",
    "SchedSeq2SeqTrainer": "transformers",
    "SchedSentenceTransformerTrainingArguments": "sentence_transformers",
    "SchedSentenceTransformerTrainer": "sentence_transformers",
    "fit_with_schedule": "sentence_transformers",
    "SchedSFTConfig": "trl",
    "SchedSFTTrainer": "trl",
    "SchedDPOConfig": "trl",
    "SchedDPOTrainer": "trl",
    "SchedRewardConfig": "trl",
    "SchedRewardTrainer": "trl",
    "lr_scheduler_config": "lightning",
    "LRCurveCallback": "lr_curve",
    "lr_curve_from_log_history": "lr_curve",
    "save_lr_curve": "lr_curve",
    "StopOnDivergence": "divergence_callback",
    "TokenClockCallback": "token_clock",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'hf_sched.integrations' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])
