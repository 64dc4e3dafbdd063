"""Steps (and seconds) to a target accuracy.

The target of a task is the Trainer default's mean final validation accuracy over its
seeds. A run's **steps to target** is the first evaluated optimizer step ``s`` with
``accuracy(s) >= target`` (``None`` if no evaluation reaches it; evaluations are every 25
steps, so this is exact to one evaluation interval), and its **time to target** the
training seconds (evaluations excluded) and the wall seconds (from the run's start, model
load and evaluations included) up to that evaluation.

>>> evals = [{"step": 25, "accuracy": 0.80, "train_s": 10.0, "wall_s": 14.0},
...          {"step": 50, "accuracy": 0.88, "train_s": 20.0, "wall_s": 28.0}]
>>> steps_to_target(evals, 0.85)
{'step': 50, 'train_s': 20.0, 'wall_s': 28.0}
>>> steps_to_target(evals, 0.9) is None
True
"""

from __future__ import annotations

import math
from typing import Any, Sequence

__all__ = ["steps_to_target", "task_targets"]


def steps_to_target(evals: Sequence[dict[str, Any]], target: float) -> dict[str, Any] | None:
    """The first evaluation at or above ``target``: its ``step``, ``train_s`` and ``wall_s``; ``None`` if none.

    Raises:
        ValueError: ``target`` is not a finite number.
    """
    if isinstance(target, bool) or not isinstance(target, (int, float)) or not math.isfinite(target):
        raise ValueError(f"target={target!r} is invalid: it must be a finite accuracy")
    for row in evals:
        if row["accuracy"] >= target:
            return {"step": row["step"], "train_s": row.get("train_s"), "wall_s": row.get("wall_s")}
    return None


def task_targets(runs: Sequence[dict[str, Any]], reference_arm: str) -> dict[str, dict[str, Any]]:
    """Per task: ``{"target": mean final accuracy of the reference arm's runs, "seeds": [...]}``.

    Tasks where the reference arm has no run are left out.
    """
    finals: dict[str, list[tuple[int, float]]] = {}
    for run in runs:
        if run["arm"] == reference_arm:
            finals.setdefault(run["task"], []).append((run["seed"], run["final"]["accuracy"]))
    return {task: {"target": sum(a for _, a in pairs) / len(pairs), "seeds": sorted(s for s, _ in pairs)}
            for task, pairs in finals.items()}
