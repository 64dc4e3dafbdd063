"""The recipe's LR-curve figure: the LR each optimizer step used, over the closed form.

Example:
    >>> import tempfile, pathlib
    >>> from hf_sched.registry import build_schedule
    >>> schedule = build_schedule("warmupcosine", num_training_steps=10)
    >>> log = [{"step": s, "lr": 1e-3 * schedule(s - 1)} for s in range(1, 11)]
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "lr.png"
    >>> plot_lr_curve(path, log, schedule, 1e-3, "warmupcosine")
    >>> path.read_bytes()[:4]
    b'\x89PNG'
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["plot_lr_curve"]


def plot_lr_curve(path: Path, lr_log: list[dict[str, Any]], schedule: Any, peak: float, title: str) -> None:
    """Write the logged LR per optimizer step over the closed form ``peak * f(step - 1)`` (PNG)."""
    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7.5, 4.0), dpi=120)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    steps = np.arange(1, schedule.num_training_steps + 1)
    ax.plot(steps, peak * schedule.values(steps - 1), color="0.65", lw=2.5, label="schedule: peak * f(step - 1)")
    if lr_log:
        ax.plot([e["step"] for e in lr_log], [e["lr"] for e in lr_log], ".-", color="C0", ms=4, lw=1,
                label="logged LR (main process)")
    if schedule.num_warmup_steps:
        ax.axvline(schedule.num_warmup_steps + 0.5, color="C3", ls=":", lw=1,
                   label=f"end of warmup ({schedule.num_warmup_steps} steps)")
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("learning rate")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
