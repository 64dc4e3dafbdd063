"""What the installed transformers does, where its versions differ (the suite runs on 4.x and 5.x).

Tests that compare with transformers or rely on its behaviour pick the running version's
semantics from here instead of skipping: each flag names the version that changed it.
"""

from __future__ import annotations

from typing import Any

import transformers
import transformers.optimization
from packaging.version import Version

__all__ = ["TRANSFORMERS", "RATIO_IN_WARMUP_STEPS", "RESTORES_BATCH_SIZE", "TIMESCALE_IN_GET_SCHEDULER", "HAS_GREEDY",
           "stock_warmup_ratio"]

TRANSFORMERS = Version(transformers.__version__)
#: 5.0: ``warmup_ratio`` is gone and ``warmup_steps < 1`` is a ratio (4.x: an int of steps, plus ``warmup_ratio``)
RATIO_IN_WARMUP_STEPS = TRANSFORMERS >= Version("5.0")
#: 4.x: on resume the Trainer takes the checkpoint's batch size (trainer_state.json) over the arguments'
RESTORES_BATCH_SIZE = TRANSFORMERS < Version("5.0")
#: 5.4: ``get_scheduler("inverse_sqrt", ...)`` passes ``timescale`` on (before, it dropped it)
TIMESCALE_IN_GET_SCHEDULER = TRANSFORMERS >= Version("5.4")
#: 5.4: ``GreedyLR`` and the ``greedy`` scheduler name
HAS_GREEDY = hasattr(transformers.optimization, "GreedyLR")


def stock_warmup_ratio(ratio: float) -> dict[str, Any]:
    """Keyword arguments that give stock ``TrainingArguments`` a warmup of ``ceil(ratio * T)`` steps.

    >>> stock_warmup_ratio(0.1) in ({"warmup_steps": 0.1}, {"warmup_ratio": 0.1})
    True
    """
    return {"warmup_steps": ratio} if RATIO_IN_WARMUP_STEPS else {"warmup_ratio": ratio}
