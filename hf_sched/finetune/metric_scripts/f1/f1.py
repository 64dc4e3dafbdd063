"""The ``f1`` metric for ``evaluate.load("<this directory>")``, offline.

The class lives in :mod:`hf_sched.finetune.classification_metrics` (formula and checks
there); this file only names it, because ``evaluate.load`` wants one script per metric
directory. Load it with ``hf_sched.finetune.metrics.load_metric("f1")``.
"""

from hf_sched.finetune.classification_metrics import F1

__all__ = ["F1"]
