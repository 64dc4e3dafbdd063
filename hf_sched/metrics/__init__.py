"""Evaluation metrics that work offline.

``evaluate.load("accuracy")`` fetches its metric script from the Hugging Face Hub, so it
fails without network access. This package ships its own ``evaluate.Metric`` modules,
one directory each (``accuracy/accuracy.py``, ``f1/f1.py``), written with plain numpy.
``evaluate`` copies a module into its cache (under ``HF_HOME``) when it loads it.

Example:
    >>> from hf_sched.metrics import load_metric
    >>> load_metric("accuracy").compute(predictions=[1, 0, 1], references=[1, 1, 1])
    {'accuracy': 0.6666666666666666}
    >>> load_metric("f1").compute(predictions=[0, 1, 2], references=[0, 1, 1], average="macro")
    {'f1': 0.5555555555555555}
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["METRIC_NAMES", "metric_path", "load_metric"]

_HERE = Path(__file__).resolve().parent

#: Names of the metric modules shipped in this package.
METRIC_NAMES: tuple[str, ...] = ("accuracy", "f1")


def metric_path(name: str) -> str:
    """Return the local directory of the metric module ``name``.

    The directory holds ``<name>/<name>.py`` and can be given to ``evaluate.load``.

    Args:
        name: one of :data:`METRIC_NAMES` (case-insensitive, surrounding spaces ignored).

    Raises:
        ValueError: for an unknown name; the message lists the available ones.

    Example:
        >>> import os
        >>> os.path.basename(metric_path("f1"))
        'f1'
    """
    key = name.strip().lower() if isinstance(name, str) else name
    if key not in METRIC_NAMES:
        raise ValueError(
            f"unknown metric name={name!r}; available metrics: {', '.join(METRIC_NAMES)}"
        )
    path = _HERE / key
    if not (path / f"{key}.py").is_file():  # pragma: no cover - broken installation
        raise ValueError(f"metric module {key!r} is missing from {path}; reinstall hf_sched")
    return str(path)


def load_metric(name: str, **kwargs: Any):
    """Load one of the offline metric modules with ``evaluate.load``.

    Args:
        name: one of :data:`METRIC_NAMES`.
        **kwargs: passed on to ``evaluate.load`` (e.g. ``experiment_id``, ``keep_in_memory``).

    Returns:
        An ``evaluate.EvaluationModule``; call ``.compute(predictions=..., references=...)``.

    Example:
        >>> acc = load_metric("accuracy")
        >>> acc.compute(predictions=[0, 1], references=[1, 1])["accuracy"]
        0.5
    """
    path = metric_path(name)  # an unknown name fails before the slow import below

    import evaluate  # imported lazily: it pulls in transformers and takes seconds

    return evaluate.load(path, **kwargs)
