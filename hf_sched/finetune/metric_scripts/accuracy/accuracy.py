"""The ``accuracy`` metric for ``evaluate.load("<this directory>")``, offline.

The class lives in :mod:`hf_sched.finetune.classification_metrics` (formula and checks
there); this file only names it, because ``evaluate.load`` wants one script per metric
directory. Load it with ``hf_sched.finetune.metrics.load_metric("accuracy")``.
"""

from hf_sched.finetune.classification_metrics import Accuracy

__all__ = ["Accuracy"]
