"""The LR curve a run actually used: read from the Trainer's log history, saved as a PNG.

* :func:`lr_curve_from_log_history` - ``(step, learning_rate)`` pairs from ``state.log_history``.
* :func:`save_lr_curve` - plot them (and, dashed, the planned schedule) to a PNG.
* :class:`LRCurveCallback` - a ``TrainerCallback`` that does both when training ends; works
  on a stock ``Trainer`` and on every trainer built with the hf_sched mixins (they add it
  when ``args.save_lr_curve`` is true).

The Trainer logs ``learning_rate`` after ``optimizer.step()`` and before
``scheduler.step()``, so the LR logged at step ``k`` is ``peak * f(k - 1)``.
"""

from __future__ import annotations

import os
from typing import Any, Optional

from transformers import TrainerCallback, TrainingArguments
from transformers.utils import logging as hf_logging

from ..lr_scheduler import ScheduledLR

__all__ = ["lr_curve_from_log_history", "save_lr_curve", "LRCurveCallback"]

logger = hf_logging.get_logger(__name__)



def lr_curve_from_log_history(log_history: list[dict[str, Any]]) -> list[tuple[int, float]]:
    """``(step, learning_rate)`` of every log entry that has a learning rate, in order.

    The Trainer logs ``learning_rate`` after ``optimizer.step()`` and before
    ``scheduler.step()``: the LR logged at step ``k`` is the one step ``k`` used.
    A step logged twice (a resumed run) keeps its last value.

    >>> lr_curve_from_log_history([{"loss": 1.0, "learning_rate": 0.0, "step": 1},
    ...                            {"eval_loss": 0.5, "step": 1}, {"learning_rate": 1e-3, "step": 2}])
    [(1, 0.0), (2, 0.001)]
    """
    points: dict[int, float] = {}
    for entry in log_history:
        if "learning_rate" in entry and "step" in entry:
            points[int(entry["step"])] = float(entry["learning_rate"])
    return sorted(points.items())


def save_lr_curve(
    points: list[tuple[int, float]],
    path: str,
    *,
    planned: Optional[tuple[list[int], list[float]]] = None,
    title: str = "learning rate",
) -> str:
    """Plot ``points`` (step, LR) to ``path`` (PNG) with matplotlib's Agg canvas; return ``path``.

    ``planned`` (steps, LRs) adds the schedule's own curve, dashed, for comparison.
    Raises ``ImportError`` if matplotlib is not installed.

    >>> import os, tempfile
    >>> p = save_lr_curve([(1, 0.0), (2, 1e-3), (3, 5e-4)], os.path.join(tempfile.mkdtemp(), "lr.png"))
    >>> open(p, "rb").read(8) == b"\\x89PNG\\r\\n\\x1a\\n"
    True
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 3.5), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    if planned is not None:
        ax.plot(planned[0], planned[1], linestyle="--", linewidth=1.0, color="0.6", label="schedule")
    steps = [s for s, _ in points]
    lrs = [lr for _, lr in points]
    ax.plot(steps, lrs, marker="." if len(points) <= 200 else None, linewidth=1.5, label="logged")
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("learning rate")
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    if planned is not None:
        ax.legend(loc="best")
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, format="png")
    return path


class LRCurveCallback(TrainerCallback):
    """Save the LR curve actually used as a PNG in ``args.output_dir`` when training ends.

    Reads ``(step, learning_rate)`` from ``state.log_history`` (so the curve has one point
    per logging step: use ``logging_steps=1`` for every step) and, when the scheduler is a
    :class:`~hf_sched.lr_scheduler.ScheduledLR`, draws its planned curve dashed behind it.
    Written by the main process only; skipped (with a log message) when matplotlib is not
    installed or nothing was logged. Works on a stock ``Trainer``:

    >>> from transformers import Trainer
    >>> callback = LRCurveCallback(filename="lr_curve.png")
    >>> # Trainer(model=..., args=..., train_dataset=..., callbacks=[callback]).train()

    After training, ``callback.path`` is the file written (or ``None``).
    """

    def __init__(self, filename: str = "lr_curve.png") -> None:
        if not isinstance(filename, str) or not filename.lower().endswith(".png"):
            raise ValueError(f"filename={filename!r} is invalid: it must be a file name ending in .png")
        self.filename = filename
        self.path: Optional[str] = None

    def on_train_end(self, args: TrainingArguments, state: Any, control: Any, **kwargs: Any) -> None:
        if not state.is_world_process_zero:
            return
        points = lr_curve_from_log_history(state.log_history)
        if not points:
            logger.warning("LRCurveCallback: no learning_rate in the log history; lr curve not saved")
            return
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            logger.info("LRCurveCallback: matplotlib is not installed; lr curve not saved")
            return
        planned = None
        title = "learning rate"
        sched = kwargs.get("lr_scheduler")
        if isinstance(sched, ScheduledLR):
            s = sched.schedules[0]
            total = s.num_training_steps
            if total <= 1_000_000:
                import numpy as np

                values = s.values(np.arange(total)) * sched.base_lrs[0]
                planned = (list(range(1, total + 1)), values.tolist())
            title = f"{s.kind}: {total} steps, {s.num_warmup_steps} warmup"
        path = os.path.join(args.output_dir or ".", self.filename)
        self.path = save_lr_curve(points, path, planned=planned, title=title)
        logger.info(f"LRCurveCallback: saved {self.path}")
