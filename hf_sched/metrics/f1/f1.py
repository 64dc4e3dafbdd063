"""F1 score as an offline ``evaluate`` metric module.

The module is self-contained (it only needs ``numpy``, ``datasets`` and ``evaluate``)
so that ``evaluate.load("<this directory>")`` works without network access. Load it with
``hf_sched.metrics.load_metric("f1")``.

For one class ``c`` with (weighted) true positives ``TP``, false positives ``FP`` and
false negatives ``FN``: ``F1_c = 2 TP / (2 TP + FP + FN)``, defined as 0 when the
denominator is 0 (the class was neither predicted nor present).

* ``average="binary"`` (default): ``F1`` of the class ``pos_label`` only.
* ``average="micro"``: ``TP``, ``FP``, ``FN`` summed over all classes first.
* ``average="macro"``: unweighted mean of ``F1_c`` over every class seen in
  predictions or references.
* ``average="weighted"``: mean of ``F1_c`` weighted by each class's (weighted) support
  in the references.
"""

from __future__ import annotations

import datasets
import evaluate
import numpy as np

AVERAGES = ("binary", "macro", "micro", "weighted")

_DESCRIPTION = """\
The F1 score is the harmonic mean of precision and recall:
F1 = 2 * precision * recall / (precision + recall) = 2 TP / (2 TP + FP + FN).
For more than two classes, per-class scores are combined with `average`.
"""

_INPUTS_DESCRIPTION = """
Args:
    predictions (`list` of `int`): predicted class ids.
    references (`list` of `int`): true class ids, same length as `predictions`.
    average (`str`, default `"binary"`): one of "binary", "macro", "micro", "weighted".
        "binary" scores only the class `pos_label` and needs at most two classes.
    pos_label (`int`, default `1`): the positive class for `average="binary"`.
    sample_weight (`list` of `float`, optional): one non-negative weight per example.

Returns:
    f1 (`float`): in [0, 1].

Example:
    >>> from hf_sched.metrics import load_metric
    >>> f1 = load_metric("f1")
    >>> f1.compute(predictions=[0, 1, 1, 0], references=[0, 1, 0, 0])
    {'f1': 0.6666666666666666}
"""

_CITATION = ""


def _weights(sample_weight, n: int) -> np.ndarray:
    if sample_weight is None:
        return np.ones(n, dtype=np.float64)
    weights = np.asarray(sample_weight, dtype=np.float64).reshape(-1)
    if weights.shape[0] != n:
        raise ValueError(
            f"sample_weight has {weights.shape[0]} values but there are {n} predictions; "
            "give exactly one weight per prediction"
        )
    if not np.all(np.isfinite(weights)) or np.any(weights < 0):
        raise ValueError("sample_weight must hold finite, non-negative numbers")
    return weights


def _counts(preds: np.ndarray, refs: np.ndarray, weights: np.ndarray, label) -> tuple[float, float, float]:
    """Weighted (TP, FP, FN) of one class."""
    is_pred = preds == label
    is_ref = refs == label
    tp = float(np.sum(weights[is_pred & is_ref]))
    fp = float(np.sum(weights[is_pred & ~is_ref]))
    fn = float(np.sum(weights[~is_pred & is_ref]))
    return tp, fp, fn


def _f1(tp: float, fp: float, fn: float) -> float:
    denominator = 2.0 * tp + fp + fn
    return 2.0 * tp / denominator if denominator > 0 else 0.0


class F1(evaluate.Metric):
    """F1 score with binary, micro, macro or support-weighted averaging."""

    def _info(self) -> evaluate.MetricInfo:
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_INPUTS_DESCRIPTION,
            features=datasets.Features(
                {
                    "predictions": datasets.Value("int64"),
                    "references": datasets.Value("int64"),
                }
            ),
        )

    def _compute(self, predictions, references, average: str = "binary", pos_label: int = 1, sample_weight=None):
        if average not in AVERAGES:
            raise ValueError(f"average={average!r} is not supported; use one of {', '.join(AVERAGES)}")
        preds = np.asarray(predictions).reshape(-1)
        refs = np.asarray(references).reshape(-1)
        if preds.shape != refs.shape:
            raise ValueError(
                f"predictions ({preds.shape[0]}) and references ({refs.shape[0]}) differ in length"
            )
        if preds.shape[0] == 0:
            raise ValueError("f1 needs at least one prediction; got none")
        weights = _weights(sample_weight, preds.shape[0])
        labels = np.unique(np.concatenate([preds, refs]))

        if average == "binary":
            if labels.shape[0] > 2:
                raise ValueError(
                    f"average='binary' needs at most two classes but found {labels.shape[0]} "
                    f"({labels.tolist()}); use average='macro', 'micro' or 'weighted'"
                )
            if labels.shape[0] == 2 and pos_label not in labels:
                raise ValueError(f"pos_label={pos_label!r} is not one of the classes {labels.tolist()}")
            return {"f1": _f1(*_counts(preds, refs, weights, pos_label))}

        counts = np.array([_counts(preds, refs, weights, label) for label in labels], dtype=np.float64)
        if average == "micro":
            tp, fp, fn = counts.sum(axis=0)
            return {"f1": _f1(tp, fp, fn)}
        per_class = np.array([_f1(*row) for row in counts])
        if average == "macro":
            return {"f1": float(per_class.mean())}
        support = counts[:, 0] + counts[:, 2]  # TP + FN = weighted count in the references
        total = float(support.sum())
        return {"f1": float(np.sum(per_class * support) / total) if total > 0 else 0.0}
