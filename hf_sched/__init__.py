"""hf_sched: learning-rate schedules with warmup for fine-tuning Hugging Face models.

One registry of named schedules (``constantlr``, ``warmupconstant``, ``warmuplinear``,
``warmupcosine``, ``warmupcosinewithhardrestarts``, ``noam``, every transformers name, ...),
used from any training loop, the Trainer and Accelerate::

    from hf_sched import get_scheduler
    scheduler = get_scheduler("warmupcosine", optimizer, dataloader=train_dl, num_epochs=3)

Importing ``hf_sched`` is cheap: torch, numpy and transformers load only when a name
that needs them is first used.

>>> import hf_sched
>>> hf_sched.canonical_name("Warmup-Cosine")
'warmupcosine'
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# public name -> module that defines it (imported on first use)
_LAZY = {
    # pure schedules (the frame, then the shapes by what they are)
    # (Schedule and schedule_from_dict through hf_sched.schedules, which defines every kind)
    "Schedule": "schedules",
    "schedule_from_dict": "schedules",
    "Constant": "decays",
    "Linear": "decays",
    "Cosine": "decays",
    "Polynomial": "decays",
    "Bert": "decays",
    "CosineWarmupMinLR": "decays",
    "WarmupStableDecay": "compose",
    "InverseSqrt": "inverse_sqrt",
    "Noam": "inverse_sqrt",
    "SquareRoot": "inverse_sqrt",
    "Factor": "step_decays",
    "MultiStep": "step_decays",
    "CosineHardRestarts": "cycles",
    "OneCycle": "cycles",
    "CosineRestarts": "cycles",
    # composition
    "Join": "compose",
    "Product": "compose",
    "join": "compose",
    "product": "compose",
    "scale": "compose",
    "with_warmup": "compose",
    "WarmupScheduler": "warmup_scheduler",
    # registry
    "register": "registry",
    "unregister": "registry",
    "build_schedule": "registry",
    "available_schedules": "registry",
    "canonical_name": "registry",
    "get_info": "registry",
    "iter_schedules": "registry",
    "ScheduleInfo": "registry",
    # warmup and budget
    "resolve_warmup": "warmup",
    "auto_warmup_steps": "warmup",
    "training_steps": "budget",
    "compute_budget": "budget",
    "StepBudget": "budget",
    # torch
    "ScheduledLR": "lr_scheduler",
    "get_scheduler": "lr_scheduler",
    # a resume refused as asked (resume modes: hf_sched.resume_modes)
    "ResumeRefused": "checks",
    # several optimizers under one schedule (Muon + AdamW)
    "OptimizerSet": "optimizer_set",
    # optimizer param groups (no decay for norms/biases, layer-wise LR decay)
    "param_groups": "optim",
    "describe_param_groups": "optim",
    "layer_id_for": "optim",
    "find_layers": "optim",
    "is_norm_module": "optim",
    # stop a run whose loss or gradients turn non-finite (users' own loops)
    "DivergenceGuard": "divergence",
    "DivergenceError": "divergence",
    "gradient_norm": "divergence",
    # integrations (import transformers; hf_sched.integrations has the rest)
    "SchedTrainingArguments": "integrations.transformers",
    "SchedTrainer": "integrations.transformers",
    "LRCurveCallback": "integrations.lr_curve",
}

__all__ = sorted([*_LAZY, "__version__"])


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'hf_sched' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])
