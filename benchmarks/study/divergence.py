"""Did a fine-tuning run diverge, and a moving average for noisy training losses.

Shared by both schedule studies (``benchmarks/schedule_study.py`` and
``benchmarks/schedule_study_v2.py``).

>>> detect_divergence([0.7, float("nan")], [0, 1])["reason"]
'nonfinite_loss'
"""

from __future__ import annotations

import math
from typing import Any, Sequence

__all__ = ["detect_divergence", "smooth"]


def detect_divergence(
    losses: Sequence[float | None],
    predictions: Sequence[int] | None,
    *,
    max_class_share: float = 0.99,
) -> dict[str, Any]:
    """Did a run diverge? Yes if a training loss is NaN/inf, or the predictions collapsed onto one class.

    "Collapsed" means at least ``max_class_share`` of the final validation predictions are
    one class (for the majority class, accuracy is then about the majority fraction: the
    model learned nothing but the prior).

    Args:
        losses: the training loss of every step, in order (``None`` = not finite).
        predictions: the final validation predictions (class ids), or ``None`` if there
            was no evaluation.
        max_class_share: share of one class in the predictions from which a run counts as
            collapsed, in ``(0, 1]``.

    Returns:
        ``{"diverged": bool, "reason": None | "nonfinite_loss" | "single_class",
        "nonfinite_loss_step": 1-based step of the first NaN/inf loss or None,
        "top_class": most predicted class or None, "top_class_share": its share or None,
        "max_class_share": the threshold used}``.

    >>> detect_divergence([0.7, 0.6, float("nan")], [0, 1])["reason"]
    'nonfinite_loss'
    >>> detect_divergence([0.7, 0.6], [1, 1, 1, 1])["reason"]
    'single_class'
    >>> detect_divergence([0.7, 0.5], [0, 1, 1, 0])["diverged"]
    False
    """
    if isinstance(max_class_share, bool) or not isinstance(max_class_share, (int, float)) or not (
        0.0 < max_class_share <= 1.0
    ):
        raise ValueError(f"max_class_share={max_class_share!r} is invalid: it must be in (0, 1]")
    bad_step = next((i + 1 for i, v in enumerate(losses) if v is None or not math.isfinite(float(v))), None)
    top_class = top_share = None
    if predictions is not None and len(predictions) > 0:
        counts: dict[int, int] = {}
        for p in predictions:
            counts[int(p)] = counts.get(int(p), 0) + 1
        top_class, top_count = max(counts.items(), key=lambda kv: (kv[1], -kv[0]))
        top_share = top_count / len(predictions)
    reason = None
    if bad_step is not None:
        reason = "nonfinite_loss"
    elif top_share is not None and top_share >= max_class_share:
        reason = "single_class"
    return {"diverged": reason is not None, "reason": reason, "nonfinite_loss_step": bad_step,
            "top_class": top_class, "top_class_share": top_share, "max_class_share": float(max_class_share)}


def smooth(values: Sequence[float | None], window: int) -> list[float]:
    """Trailing moving average over ``window`` steps; NaN/None values are skipped (NaN if none left).

    ``out[i] = mean(finite values[max(0, i - window + 1) : i + 1])``.

    >>> smooth([1.0, 3.0, None, 5.0], 2)
    [1.0, 2.0, 3.0, 5.0]
    """
    if isinstance(window, bool) or not isinstance(window, int) or window < 1:
        raise ValueError(f"window={window!r} is invalid: it must be an integer >= 1")
    out = []
    for i in range(len(values)):
        chunk = [float(v) for v in values[max(0, i - window + 1): i + 1] if v is not None and math.isfinite(float(v))]
        out.append(sum(chunk) / len(chunk) if chunk else float("nan"))
    return out
