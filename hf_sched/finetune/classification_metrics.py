"""Accuracy and F1 as ``evaluate.Metric`` classes that need no network.

Both share :class:`ClassificationMetric`: the features (``int64`` predictions and
references), the input checks (same length, at least one prediction) and the optional
per-example ``sample_weight``. A subclass only states its description and
``_score(preds, refs, weights, **options)``. ``evaluate.load`` finds them through the
one-line scripts in ``hf_sched/finetune/metric_scripts/<name>/<name>.py``; load them with
:func:`hf_sched.finetune.metrics.load_metric`.

Formulas, with ``w_i = 1`` unless ``sample_weight`` is given:

* accuracy ``= sum_i w_i [pred_i == ref_i] / sum_i w_i`` (``normalize=False``: the numerator).
* ``F1_c = 2 TP / (2 TP + FP + FN)`` for class ``c`` (weighted counts), 0 when the
  denominator is 0. ``average="binary"``: ``F1`` of ``pos_label``; ``"micro"``: counts summed
  over classes first; ``"macro"``: unweighted mean over every class seen; ``"weighted"``:
  mean weighted by each class's support in the references.

This module imports ``evaluate`` and ``datasets`` at the top: it is only imported by the
metric scripts (that is, by ``evaluate.load``).

Example:
    >>> Accuracy(keep_in_memory=True).compute(predictions=[0, 1, 1, 0], references=[0, 1, 0, 0])
    {'accuracy': 0.75}
    >>> F1(keep_in_memory=True).compute(predictions=[0, 1, 2], references=[0, 1, 1], average="macro")
    {'f1': 0.5555555555555555}
"""

from __future__ import annotations

from typing import Any, ClassVar

import datasets
import evaluate
import numpy as np

__all__ = ["AVERAGES", "ClassificationMetric", "Accuracy", "F1"]

#: The ``average`` values :class:`F1` accepts.
AVERAGES = ("binary", "macro", "micro", "weighted")

_COMMON_ARGS = """
Args:
    predictions (`list` of `int`): predicted class ids.
    references (`list` of `int`): true class ids, same length as `predictions`.
    sample_weight (`list` of `float`, optional): one non-negative weight per example.
"""


class ClassificationMetric(evaluate.Metric):
    """Base of the class-id metrics: features, input checks and sample weights.

    Subclasses set :attr:`metric_name`, :attr:`description`, :attr:`extra_args` (the
    text after the common arguments) and implement :meth:`_score`.
    """

    metric_name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    extra_args: ClassVar[str] = ""

    def _info(self) -> evaluate.MetricInfo:
        return evaluate.MetricInfo(
            description=self.description,
            citation="",
            inputs_description=_COMMON_ARGS + self.extra_args,
            features=datasets.Features(
                {"predictions": datasets.Value("int64"), "references": datasets.Value("int64")}
            ),
        )

    def _compute(self, predictions, references, sample_weight=None, **options: Any) -> dict[str, float]:
        preds = np.asarray(predictions).reshape(-1)
        refs = np.asarray(references).reshape(-1)
        if preds.shape != refs.shape:
            raise ValueError(f"predictions ({preds.shape[0]}) and references ({refs.shape[0]}) differ in length")
        if preds.shape[0] == 0:
            raise ValueError(f"{self.metric_name} needs at least one prediction; got none")
        return {self.metric_name: self._score(preds, refs, _weights(sample_weight, preds.shape[0]), **options)}

    def _score(self, preds: np.ndarray, refs: np.ndarray, weights: np.ndarray, **options: Any) -> float:
        raise NotImplementedError  # pragma: no cover - every subclass defines it


def _weights(sample_weight: Any, n: int) -> np.ndarray:
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


class Accuracy(ClassificationMetric):
    """Fraction (or weighted count) of predictions equal to their reference."""

    metric_name = "accuracy"
    description = (
        "Accuracy is the fraction of predictions that equal their reference label:\n"
        "accuracy = (number of correct predictions) / (number of predictions).\n"
        "With `sample_weight`, each example counts with its weight. With `normalize=False`\n"
        "the (weighted) count of correct predictions is returned instead of the fraction.\n"
    )
    extra_args = """    normalize (`bool`, default `True`): return the fraction of correct predictions;
        `False` returns the (weighted) number of correct predictions.

Returns:
    accuracy (`float`): in [0, 1] when `normalize=True`, else in [0, sum(weights)].
"""

    # Each metric takes its own options (as evaluate's _compute does): narrower than the base's **options.
    def _score(self, preds, refs, weights, normalize: bool = True) -> float:  # type: ignore[override]
        correct = float(np.sum(weights * (preds == refs)))
        if not normalize:
            return correct
        total = float(np.sum(weights))
        if total == 0.0:
            raise ValueError("sample_weight sums to 0: accuracy is undefined")
        return correct / total


def _counts(preds: np.ndarray, refs: np.ndarray, weights: np.ndarray, label: Any) -> tuple[float, float, float]:
    """Weighted (TP, FP, FN) of one class."""
    is_pred = preds == label
    is_ref = refs == label
    return (
        float(np.sum(weights[is_pred & is_ref])),
        float(np.sum(weights[is_pred & ~is_ref])),
        float(np.sum(weights[~is_pred & is_ref])),
    )


def _f1(tp: float, fp: float, fn: float) -> float:
    denominator = 2.0 * tp + fp + fn
    return 2.0 * tp / denominator if denominator > 0 else 0.0


class F1(ClassificationMetric):
    """F1 score with binary, micro, macro or support-weighted averaging."""

    metric_name = "f1"
    description = (
        "The F1 score is the harmonic mean of precision and recall:\n"
        "F1 = 2 * precision * recall / (precision + recall) = 2 TP / (2 TP + FP + FN).\n"
        "For more than two classes, per-class scores are combined with `average`.\n"
    )
    extra_args = """    average (`str`, default `"binary"`): one of "binary", "macro", "micro", "weighted".
        "binary" scores only the class `pos_label` and needs at most two classes.
    pos_label (`int`, default `1`): the positive class for `average="binary"`.

Returns:
    f1 (`float`): in [0, 1].
"""

    # Each metric takes its own options (as evaluate's _compute does): narrower than the base's **options.
    def _compute(  # type: ignore[override]
        self, predictions, references, sample_weight=None, average: str = "binary", pos_label: int = 1
    ) -> dict[str, float]:
        if average not in AVERAGES:  # checked before the inputs, as a bad option is the likelier mistake
            raise ValueError(f"average={average!r} is not supported; use one of {', '.join(AVERAGES)}")
        return super()._compute(predictions, references, sample_weight, average=average, pos_label=pos_label)

    def _score(self, preds, refs, weights, average: str = "binary", pos_label: int = 1) -> float:  # type: ignore[override]
        labels = np.unique(np.concatenate([preds, refs]))
        if average == "binary":
            if labels.shape[0] > 2:
                raise ValueError(
                    f"average='binary' needs at most two classes but found {labels.shape[0]} "
                    f"({labels.tolist()}); use average='macro', 'micro' or 'weighted'"
                )
            if labels.shape[0] == 2 and pos_label not in labels:
                raise ValueError(f"pos_label={pos_label!r} is not one of the classes {labels.tolist()}")
            return _f1(*_counts(preds, refs, weights, pos_label))
        counts = np.array([_counts(preds, refs, weights, label) for label in labels], dtype=np.float64)
        if average == "micro":
            return _f1(*counts.sum(axis=0))
        per_class = np.array([_f1(*row) for row in counts])
        if average == "macro":
            return float(per_class.mean())
        support = counts[:, 0] + counts[:, 2]  # TP + FN = weighted count in the references
        total = float(support.sum())
        return float(np.sum(per_class * support) / total) if total > 0 else 0.0
