"""Evaluation metrics for the recipes: offline ``evaluate`` modules and ``compute_metrics``.

``evaluate.load("accuracy")`` fetches its metric script from the Hugging Face Hub, so it
fails without network access. This package ships its own ``evaluate.Metric`` classes
(:mod:`hf_sched.finetune.classification_metrics`), each named by a one-line script in
``metric_scripts/<name>/<name>.py`` that ``evaluate.load(<that directory>)`` reads.
``evaluate`` copies the script into its cache (under ``HF_HOME``) when it loads it.
:func:`compute_metrics` returns accuracy and F1 of predictions or logits, the Trainer's
``compute_metrics`` hook included.

Example:
    >>> from hf_sched.finetune.metrics import load_metric
    >>> load_metric("accuracy").compute(predictions=[1, 0, 1], references=[1, 1, 1])
    {'accuracy': 0.6666666666666666}
    >>> load_metric("f1").compute(predictions=[0, 1, 2], references=[0, 1, 1], average="macro")
    {'f1': 0.5555555555555555}
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["METRIC_NAMES", "metric_path", "load_metric", "compute_metrics"]

_SCRIPTS = Path(__file__).resolve().parent / "metric_scripts"

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
    path = _SCRIPTS / key
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


def compute_metrics(
    predictions: Any,
    references: Any = None,
    *,
    num_labels: int | None = None,
) -> dict[str, float]:
    """Accuracy and F1 of class predictions, with the offline metric modules.

    ``predictions`` may be class ids (shape ``(n,)``) or logits (shape ``(n, k)``, the
    arg-max is taken). Called with one ``transformers.EvalPrediction`` (as the Trainer's
    ``compute_metrics`` hook does), its ``predictions`` and ``label_ids`` are used.

    F1 is binary (positive class 1) for two classes and macro-averaged otherwise; the
    number of classes is ``num_labels``, or the logits' width, or 2 when all ids are 0 or 1.

    Returns:
        ``{"accuracy": float, "f1": float}``.

    Example:
        >>> compute_metrics([0, 1, 1, 0], [0, 1, 0, 0])
        {'accuracy': 0.75, 'f1': 0.6666666666666666}
        >>> compute_metrics([[2.0, -1.0], [0.1, 0.3]], [0, 1])
        {'accuracy': 1.0, 'f1': 1.0}
    """
    import numpy as np

    if references is None:
        if not (hasattr(predictions, "predictions") and hasattr(predictions, "label_ids")):
            raise ValueError("references is None: pass references, or one EvalPrediction with label_ids")
        predictions, references = predictions.predictions, predictions.label_ids
    if isinstance(predictions, tuple) and predictions and isinstance(predictions[0], np.ndarray):
        predictions = predictions[0]  # (logits, hidden states, ...) from a model
    preds = np.asarray(predictions)
    refs = np.asarray(references).reshape(-1)
    classes = num_labels
    if preds.ndim == 2:
        classes = classes or preds.shape[1]
        preds = preds.argmax(axis=-1)
    elif preds.ndim != 1:
        raise ValueError(f"predictions must be class ids (n,) or logits (n, k); got shape {preds.shape}")
    if preds.shape[0] != refs.shape[0]:
        raise ValueError(f"predictions ({preds.shape[0]}) and references ({refs.shape[0]}) differ in length")
    if classes is None:
        binary = set(np.unique(np.concatenate([preds, refs])).tolist()) <= {0, 1}
    else:
        binary = classes == 2
    pred_ids, ref_ids = preds.astype(np.int64).tolist(), refs.astype(np.int64).tolist()
    accuracy = load_metric("accuracy", keep_in_memory=True).compute(predictions=pred_ids, references=ref_ids)["accuracy"]
    average = "binary" if binary else "macro"
    f1 = load_metric("f1", keep_in_memory=True).compute(predictions=pred_ids, references=ref_ids, average=average)["f1"]
    return {"accuracy": float(accuracy), "f1": float(f1)}
